//! MXNet fixtures → ONNX: imported, exported with the ONNX backend (to
//! `$CARGO_TARGET_TMPDIR/mxnet-onnx/<net>.onnx`, for onnxruntime checks with
//! tests/fixtures/caffe/ort_check.py), imported back and evaluated against MXNet's outputs.

mod common;
use std::collections::HashMap;
use std::path::PathBuf;

fn roundtrip(net: &str, inputs: &[&str]) {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/mxnet");
    let npz = common::read_npz(&d.join(format!("{net}.npz")));
    let shapes = inputs.iter().map(|n| (n.to_string(), npz[*n].shape().to_vec())).collect();
    let opts = edgeport_mxnet::Options {
        params: None,
        input_shapes: shapes,
    };
    let g = edgeport_mxnet::import_path(&d.join(format!("{net}-symbol.json")), &opts).unwrap_or_else(|e| panic!("{e}"));
    let v = edgeport_ir::validate::validate(&g).unwrap_or_else(|e| panic!("{net}: {e}"));
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mxnet-onnx");
    std::fs::create_dir_all(&out).unwrap();
    let path = out.join(format!("{net}.onnx"));
    edgeport_onnx::export_path(&v, &path, &Default::default()).unwrap_or_else(|e| panic!("{net}: export: {e}"));
    let back = edgeport_onnx::import_path(&path, &Default::default()).unwrap_or_else(|e| panic!("{net}: re-import: {e}"));
    let mut want = HashMap::new();
    want.insert(back.outputs()[0].0.clone(), npz["out"].clone());
    let xs = inputs.iter().map(|n| npz[*n].clone()).collect();
    let diff = common::run_and_compare(&back, xs, &want);
    eprintln!("{net} via ONNX: max abs diff {diff:e}");
    assert!(diff <= 1e-4, "{net}: {diff}");
}

#[test]
fn tiny_via_onnx() {
    roundtrip("tiny", &["data", "idx"]);
}

#[test]
fn mobilenet025_via_onnx() {
    roundtrip("mobilenet0.25", &["data"]);
}
