//! Imports the committed Caffe fixtures (made by tests/fixtures/caffe/make_caffe.py) and checks
//! the evaluator's outputs against OpenCV dnn's saved outputs.

mod common;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/caffe")
}

fn check(net: &str) {
    let d = dir();
    let opts = edgeport_caffe::Options {
        weights: Some(d.join(format!("{net}.caffemodel"))),
        ..Default::default()
    };
    let g = edgeport_caffe::import_path(&d.join(format!("{net}.prototxt")), &opts).unwrap_or_else(|e| panic!("{e}"));
    edgeport_ir::validate::validate(&g).unwrap_or_else(|e| panic!("{net}: invalid graph: {e}"));
    let npz = common::read_npz(&d.join(format!("{net}.npz")));
    let x = npz["data"].clone();
    let diff = common::run_and_compare(&g, vec![x], &npz);
    eprintln!("{net}: max abs diff {diff:e}");
    assert!(diff <= 1e-4, "{net}: max abs diff {diff}");
}

#[test]
fn cnn_matches_opencv() {
    check("cnn");
}

#[test]
fn v1_net_matches_opencv() {
    check("v1net");
}

#[test]
fn misc_layers_match_opencv() {
    check("misc");
}

/// Caffe's DetectionOutput lists detections by label, then score; OpenCV's by score alone. The
/// rows are compared after sorting both by (image, label, −score).
#[test]
fn ssd_head_matches_opencv() {
    use edgeport_eval::{Tensor, Value};
    let d = dir();
    let g = edgeport_caffe::import_path(&d.join("ssd.prototxt"), &Default::default()).unwrap_or_else(|e| panic!("{e}"));
    edgeport_ir::validate::validate(&g).unwrap_or_else(|e| panic!("invalid graph: {e}"));
    let npz = common::read_npz(&d.join("ssd.npz"));
    let outs = edgeport_eval::run_graph(&g, vec![Value::Tensor(Tensor::F32(npz["data"].clone()))]).unwrap_or_else(|e| panic!("{e}"));
    let Some(Value::Tensor(Tensor::F32(got))) = outs.into_iter().next() else {
        panic!("no f32 output")
    };
    let want = &npz["detection_out"];
    assert_eq!(got.shape(), want.shape());
    let rows = |a: &ndarray::ArrayD<f32>| {
        let mut r: Vec<Vec<f32>> = a.as_slice().unwrap().chunks(7).map(|c| c.to_vec()).collect();
        r.sort_by(|x, y| (x[0], x[1], -x[2]).partial_cmp(&(y[0], y[1], -y[2])).unwrap());
        r
    };
    let (g_rows, w_rows) = (rows(&got), rows(want));
    let diff = g_rows
        .iter()
        .flatten()
        .zip(w_rows.iter().flatten())
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    eprintln!("ssd: {} detections, max abs diff {diff:e}", g_rows.len());
    assert!(diff <= 1e-4, "max abs diff {diff}");
}

/// Log, Bias, LRN within channel, Upsample, Interp, InnerProduct (transpose), ArgMax (with and
/// without axis) and Threshold against the NumPy reimplementation in make_caffe.py.
#[test]
fn misc2_layers_match_numpy() {
    check("misc2");
}
