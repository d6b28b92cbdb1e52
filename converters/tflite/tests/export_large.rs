//! A model over the 2 GB flatbuffer limit: a 2.2 GB constant held by a memory map of a sparse
//! temporary file is exported with the buffer offset scheme, then read back — by the TFLite
//! importer (the constant's bytes checked at a few places) and the evaluator (a GATHER of those
//! places), and, when `EDGEPORT_LITERT_PYTHON` names a Python with ai-edge-litert, by LiteRT's
//! interpreter. Ignored by default (it writes 2.2 GB twice); run with
//! `cargo test -p edgeport-tflite --test export_large -- --ignored`. The files go to a temporary
//! folder under `EDGEPORT_LARGE_TMP` (default: the system's), removed at the end.

use edgeport_eval::{Tensor as ETensor, Value, run_graph};
use edgeport_ir::ops::defs::tensor::Gather;
use edgeport_ir::{Bytes, DType, Graph, Op, Shape, Tensor, TensorData, ValueId, ValueType};
use edgeport_tflite::export::{TfliteExportOptions, export_path};
use std::io::{Seek, SeekFrom, Write};
use std::sync::Arc;

#[test]
#[ignore = "writes and reads back two 2.2 GB files"]
fn over_two_gigabytes_uses_buffer_offsets_and_reads_back() {
    let n: usize = 550 * 1024 * 1024; // f32 elements: 2.2 GB
    let base = std::env::var_os("EDGEPORT_LARGE_TMP").map_or_else(std::env::temp_dir, std::path::PathBuf::from);
    let dir = tempfile::tempdir_in(base).unwrap();
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
    // y = big[idx]: the output stays small, so LiteRT can run it without 2.2 GB of arena.
    let mut g = Graph::new("big");
    let idx = g.add_input("idx", Some(ValueType::tensor(DType::I64, Some(Shape::known(&[4])))));
    let k = g.add_constant("big_constant", c);
    let a = g
        .add_op("gather", Op::Gather(Gather::default()), &[Some(k), Some(idx)], &["y"])
        .unwrap();
    g.add_output("y", ValueId { node: a, port: 0 }).unwrap();
    edgeport_ir::infer::infer_types(&mut g).unwrap();
    let v = edgeport_ir::validate::validate(&g).unwrap();
    let out = dir.path().join("big.tflite");
    export_path(&v, &out, &TfliteExportOptions::default()).unwrap();
    let len = std::fs::metadata(&out).unwrap().len();
    assert!(len > (n * 4) as u64, "file has {len} bytes");
    drop(g);
    std::fs::remove_file(&src).unwrap();

    // Our importer: the constant's bytes, then the evaluator on the imported graph.
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
    let picks: Vec<i64> = vec![0, (n / 2) as i64, (n - 1) as i64, 12345];
    let it = Tensor::from_i64(vec![4], &picks).unwrap();
    let outs = run_graph(&back, vec![Value::Tensor(ETensor::from_ir(&it).unwrap())]).unwrap();
    let got: Vec<f32> = outs[0].as_tensor().unwrap().to_f32_array().unwrap().iter().copied().collect();
    assert_eq!(got, vec![1.5, -2.25, 7.0, 0.0]);

    // LiteRT, when a Python with ai-edge-litert is named.
    if let Some(py) = std::env::var_os("EDGEPORT_LITERT_PYTHON") {
        let script = "import sys, numpy as np\n\
from ai_edge_litert.interpreter import Interpreter\n\
it = Interpreter(model_path=sys.argv[1])\n\
r = it.get_signature_runner('serving_default')\n\
y = r(idx=np.array([0, int(sys.argv[2]) // 2, int(sys.argv[2]) - 1, 12345], dtype=np.int64))['y']\n\
assert y.tolist() == [1.5, -2.25, 7.0, 0.0], y\n\
print('litert ok', y.tolist())\n";
        let o = std::process::Command::new(py)
            .arg("-c")
            .arg(script)
            .arg(&out)
            .arg(n.to_string())
            .output()
            .unwrap();
        let msg = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert!(o.status.success(), "LiteRT: {msg}");
        assert!(msg.contains("litert ok"), "{msg}");
    }
}
