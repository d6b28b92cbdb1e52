//! `edgeport quantize` takes what `convert` takes: a channels-last float .tflite quantizes
//! straight to ONNX (the `nchw` pass runs first, as in `convert`), an MXNet symbol with
//! `--input-shape`, and an already-quantized model is refused with a message that says so (and
//! no output file).

use edgeport_cli::commands::quantize::{QuantizeOptions, run};
use edgeport_ir::Op;
use std::path::{Path, PathBuf};

fn fixture(dir: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures").join(dir).join(name)
}

fn count(g: &edgeport_ir::Graph, f: impl Fn(&Op) -> bool) -> usize {
    g.node_ids().filter(|&id| f(&g.node(id).op)).count()
}

#[test]
fn a_float_tflite_quantizes_to_qdq_onnx() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("small_int8.onnx");
    let r = run(&QuantizeOptions {
        input: fixture("tflite", "small_float.tflite"),
        output: out.clone(),
        ..Default::default()
    })
    .unwrap();
    assert!(r.error.as_ref().unwrap().cosine > 0.999, "{:?}", r.error);
    let g = edgeport_onnx::import_path(&out, &Default::default()).unwrap();
    let convs = count(&g, |op| matches!(op, Op::Conv(_)));
    assert!(convs > 0);
    // Every Conv reads its weight through a DequantizeLinear, channels-first (no Transpose on a
    // weight: the layout pass ran before the quantizer).
    for id in g.node_ids().filter(|&id| matches!(g.node(id).op, Op::Conv(_))) {
        let w = g.inputs_of(id)[1].unwrap();
        assert!(matches!(g.node(w.node).op, Op::DequantizeLinear(_)), "{}", g.node(id).name);
    }
    assert!(count(&g, |op| matches!(op, Op::QuantizeLinear(_))) > 0);
}

#[test]
fn an_mxnet_symbol_takes_input_shape() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mobilenet_int8.onnx");
    let o = QuantizeOptions {
        input: fixture("mxnet", "mobilenet0.25-symbol.json"),
        output: out.clone(),
        ..Default::default()
    };
    let e = run(&o).unwrap_err().to_string();
    assert!(e.contains("give its shape"), "{e}");
    let r = run(&QuantizeOptions {
        input_shapes: vec!["data=1,3,224,224".into()],
        ..o
    })
    .unwrap();
    assert!(r.error.as_ref().unwrap().cosine > 0.999, "{:?}", r.error);
    assert!(out.exists());
}

#[test]
fn an_already_quantized_model_is_refused_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("again.onnx");
    let e = run(&QuantizeOptions {
        input: fixture("tflite", "small_int8.tflite"),
        output: out.clone(),
        ..Default::default()
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("already quantized") && e.contains("edgeport convert"), "{e}");
    assert!(!out.exists());
}
