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
