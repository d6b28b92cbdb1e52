//! A model over the 2 GB flatbuffer limit: a 2.2 GB constant held by a memory map of a sparse
//! temporary file is exported with the buffer offset scheme and read back by the TFLite
//! importer, with its bytes checked at a few places. Ignored by default (it writes 2.2 GB);
//! run with `cargo test -p edgeport-tflite --test export_large -- --ignored`.

use edgeport_ir::ops::defs::math::Add;
use edgeport_ir::{Bytes, DType, Graph, Op, Shape, Tensor, TensorData, ValueId, ValueType};
use edgeport_tflite::export::{TfliteExportOptions, export_path};
use std::io::{Seek, SeekFrom, Write};
use std::sync::Arc;

#[test]
#[ignore]
fn over_two_gigabytes_uses_buffer_offsets() {
    let n: usize = 550 * 1024 * 1024; // f32 elements: 2.2 GB
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("weights.bin");
    let marks = [(0usize, 1.5f32), (n / 2, -2.25), (n - 1, 7.0)];
    {
        let mut f = std::fs::File::create(&src).unwrap();
        f.set_len((n * 4) as u64).unwrap();
        for (i, v) in marks {
            f.seek(SeekFrom::Start((i * 4) as u64)).unwrap();
            f.write_all(&v.to_le_bytes()).unwrap();
        }
    }
    let file = std::fs::File::open(&src).unwrap();
    // SAFETY: the file is private to this test and not modified while mapped.
    let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
    let bytes = Bytes::from_owner(Arc::new(map), 0, n * 4).unwrap();
    let c = Tensor {
        dtype: DType::F32,
        shape: vec![n],
        data: TensorData::Raw(bytes),
        quant: None,
    };
    let mut g = Graph::new("big");
    let x = g.add_input("x", Some(ValueType::tensor(DType::F32, Some(Shape::known(&[1])))));
    let k = g.add_constant("big_constant", c);
    let a = g.add_op("add", Op::Add(Add::default()), &[Some(x), Some(k)], &["y"]).unwrap();
    g.add_output("y", ValueId { node: a, port: 0 }).unwrap();
    edgeport_ir::infer::infer_types(&mut g).unwrap();
    let v = edgeport_ir::validate::validate(&g).unwrap();
    let out = dir.path().join("big.tflite");
    export_path(&v, &out, &TfliteExportOptions::default()).unwrap();
    let len = std::fs::metadata(&out).unwrap().len();
    assert!(len > (n * 4) as u64, "file has {len} bytes");
    let back = edgeport_tflite::import_path(&out).unwrap();
    let t = back
        .node_ids()
        .find_map(|id| match &back.node(id).op {
            Op::Constant(c) if c.value.shape == vec![n] => Some(c.value.clone()),
            _ => None,
        })
        .expect("the big constant is imported");
    let raw = t.raw().unwrap();
    for (i, v) in marks {
        assert_eq!(&raw[i * 4..i * 4 + 4], &v.to_le_bytes());
    }
}
