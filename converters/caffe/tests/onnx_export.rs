//! Caffe fixtures → ONNX: each net is imported, exported with the ONNX backend (to
//! `$CARGO_TARGET_TMPDIR/caffe-onnx/<net>.onnx`, where tests/fixtures/caffe/ort_check.py can run
//! them in onnxruntime), imported back and evaluated against the saved OpenCV/NumPy outputs.

mod common;
use std::path::PathBuf;

fn roundtrip(net: &str) {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/caffe");
    let g = edgeport_caffe::import_path(&d.join(format!("{net}.prototxt")), &Default::default()).unwrap_or_else(|e| panic!("{e}"));
    let v = edgeport_ir::validate::validate(&g).unwrap_or_else(|e| panic!("{net}: {e}"));
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("caffe-onnx");
    std::fs::create_dir_all(&out).unwrap();
    let path = out.join(format!("{net}.onnx"));
    edgeport_onnx::export_path(&v, &path, &Default::default()).unwrap_or_else(|e| panic!("{net}: export: {e}"));
    let back = edgeport_onnx::import_path(&path, &Default::default()).unwrap_or_else(|e| panic!("{net}: re-import: {e}"));
    let npz = common::read_npz(&d.join(format!("{net}.npz")));
    let diff = common::run_and_compare(&back, vec![npz["data"].clone()], &npz);
    eprintln!("{net} via ONNX: max abs diff {diff:e}");
    assert!(diff <= 1e-4, "{net}: {diff}");
}

#[test]
fn cnn_via_onnx() {
    roundtrip("cnn");
}

#[test]
fn v1net_via_onnx() {
    roundtrip("v1net");
}

#[test]
fn misc_via_onnx() {
    roundtrip("misc");
}

#[test]
fn misc2_via_onnx() {
    roundtrip("misc2");
}
