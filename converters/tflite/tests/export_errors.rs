//! TFLite export on hand-built graphs: every unsupported op is listed before anything is
//! written (no partial output), the buffer offset scheme reads back with the same numbers, and
//! the file's header, alignment and signature are as the schema wants.

use edgeport_eval::{Tensor as ETensor, Value, run_graph};
use edgeport_ir::ops::Custom;
use edgeport_ir::ops::defs::math::{Add, Relu};
use edgeport_ir::ops::defs::nn::Conv;
use edgeport_ir::{DType, Graph, Op, Shape, Tensor, ValueId, ValueType};
use edgeport_tflite::export::{TfliteExportOptions, check, export_bytes, export_path};

fn f32_input(g: &mut Graph, name: &str, dims: &[u64]) -> ValueId {
    g.add_input(name, Some(ValueType::tensor(DType::F32, Some(Shape::known(dims)))))
}

fn out(id: edgeport_ir::NodeId) -> ValueId {
    ValueId { node: id, port: 0 }
}

/// x[1,4] + c[4] → relu → y
fn add_graph(n: usize) -> Graph {
    let mut g = Graph::new("add");
    let x = f32_input(&mut g, "x", &[1, n as u64]);
    let vals: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 1.0).collect();
    let c = g.add_constant("c", Tensor::from_f32(vec![n], &vals).unwrap());
    let a = g.add_op("add", Op::Add(Add::default()), &[Some(x), Some(c)], &["sum"]).unwrap();
    let r = g.add_op("relu", Op::Relu(Relu::default()), &[Some(out(a))], &["y"]).unwrap();
    g.add_output("y", out(r)).unwrap();
    edgeport_ir::infer::infer_types(&mut g).unwrap();
    g
}

fn run(g: &Graph, x: &[f32], shape: Vec<usize>) -> Vec<f32> {
    let t = Tensor::from_f32(shape, x).unwrap();
    let outs = run_graph(g, vec![Value::Tensor(ETensor::from_ir(&t).unwrap())]).unwrap();
    outs[0].as_tensor().unwrap().to_f32_array().unwrap().iter().copied().collect()
}

#[test]
fn header_signature_and_fused_activation() {
    let g = add_graph(4);
    let v = edgeport_ir::validate::validate(&g).unwrap();
    let bytes = export_bytes(&v, &TfliteExportOptions::default()).unwrap();
    assert_eq!(&bytes[4..8], b"TFL3");
    assert_eq!(bytes.len() % 16, 0);
    let back = edgeport_tflite::import_bytes(bytes, "add.tflite").unwrap();
    // Names and order of inputs/outputs are kept.
    let in_names: Vec<String> = back.inputs().iter().map(|&i| back.node(i).outputs[0].name.clone()).collect();
    assert_eq!(in_names, ["x"]);
    assert_eq!(back.outputs()[0].0, "y");
    let x = [3.0f32, -2.0, 0.25, -7.0];
    assert_eq!(run(&back, &x, vec![1, 4]), run(&g, &x, vec![1, 4]));
    // ADD with fused RELU: one operator.
    let ops: Vec<String> = back.node_ids().map(|n| back.node(n).op.name().to_string()).collect();
    assert!(
        !ops.iter().any(|o| o == "Relu") || ops.iter().filter(|o| *o == "Add").count() == 1,
        "{ops:?}"
    );
}

#[test]
fn offset_scheme_reads_back() {
    let g = add_graph(1000);
    let v = edgeport_ir::validate::validate(&g).unwrap();
    let opts = TfliteExportOptions {
        external_buffers: true,
        ..Default::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ext.tflite");
    export_path(&v, &p, &opts).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    // The constant's 4000 bytes sit after the flatbuffer, 16-aligned, in the file's tail.
    let c: Vec<u8> = (0..1000).flat_map(|i| (i as f32 * 0.5 - 1.0).to_le_bytes()).collect();
    let pos = bytes.windows(c.len()).position(|w| w == c.as_slice()).expect("data present");
    assert_eq!(pos % 16, 0);
    assert!(pos + c.len() <= bytes.len() && bytes.len() - pos < 4096 + 16);
    let back = edgeport_tflite::import_path(&p).unwrap();
    let x: Vec<f32> = (0..1000).map(|i| (i % 7) as f32 - 3.0).collect();
    assert_eq!(run(&back, &x, vec![1, 1000]), run(&g, &x, vec![1, 1000]));
}

#[test]
fn every_unsupported_op_is_listed_and_nothing_is_written() {
    let mut g = Graph::new("bad");
    let x = f32_input(&mut g, "x", &[1, 3, 8, 8]);
    let w = f32_input(&mut g, "w", &[4, 3, 3, 3]);
    let conv = g
        .add_op("conv_dyn_w", Op::Conv(Conv::default()), &[Some(x), Some(w), None], &["c"])
        .unwrap();
    let cu = g
        .add_op(
            "mystery",
            Op::Custom(Custom {
                domain: "acme".into(),
                name: "Frobnicate".into(),
                attrs: vec![],
            }),
            &[Some(out(conv))],
            &["f"],
        )
        .unwrap();
    g.add_output("f", out(cu)).unwrap();
    let _ = edgeport_ir::infer::infer_types(&mut g);
    let problems = check(&g, &TfliteExportOptions::default());
    assert!(
        problems.iter().any(|p| p.contains("conv_dyn_w") && p.contains("constant")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("mystery") && p.contains("Frobnicate")),
        "{problems:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.tflite");
    if let Ok(v) = edgeport_ir::validate::validate(&g) {
        let e = export_path(&v, &p, &TfliteExportOptions::default()).unwrap_err().to_string();
        assert!(e.contains("conv_dyn_w") && e.contains("mystery"), "{e}");
    }
    assert!(!p.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no temporary file is left");
}

#[test]
fn f16_weights_add_dequantize() {
    let g = add_graph(64);
    let v = edgeport_ir::validate::validate(&g).unwrap();
    let opts = TfliteExportOptions {
        f16_weights: true,
        ..Default::default()
    };
    let bytes = export_bytes(&v, &opts).unwrap();
    let back = edgeport_tflite::import_bytes(bytes, "f16.tflite").unwrap();
    let x: Vec<f32> = (0..64).map(|i| i as f32 / 8.0 - 4.0).collect();
    // The constants (k/2 - 1) are exact in f16.
    assert_eq!(run(&back, &x, vec![1, 64]), run(&g, &x, vec![1, 64]));
}
