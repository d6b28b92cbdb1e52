//! Imports the MXNet fixtures (made by tests/fixtures/mxnet/make_mxnet.py with mxnet 1.9.1) and
//! checks the evaluator against MXNet's saved outputs. The big model-zoo nets live in
//! /work/cache/fixtures/mxnet (or $MX_FIXTURES); their tests are `#[ignore]`d and run with
//! `cargo test -p edgeport-mxnet -- --ignored`.

mod common;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/mxnet")
}

fn check(symbol: &Path, npz: &Path, inputs: &[&str]) -> f32 {
    let ref_ = common::read_npz(npz);
    let shapes = inputs.iter().map(|n| (n.to_string(), ref_[*n].shape().to_vec())).collect();
    let opts = edgeport_mxnet::Options {
        params: None,
        input_shapes: shapes,
    };
    let g = edgeport_mxnet::import_path(symbol, &opts).unwrap_or_else(|e| panic!("{e}"));
    edgeport_ir::validate::validate(&g).unwrap_or_else(|e| panic!("invalid graph: {e}"));
    let xs = inputs.iter().map(|n| ref_[*n].clone()).collect();
    // A single head is compared with `out`, several with `out0`, `out1`, ….
    let mut want = HashMap::new();
    if g.outputs().len() == 1 {
        want.insert(g.outputs()[0].0.clone(), ref_["out"].clone());
    } else {
        for (i, (name, _)) in g.outputs().iter().enumerate() {
            want.insert(name.clone(), ref_[format!("out{i}").as_str()].clone());
        }
    }
    let d = common::run_and_compare(&g, xs, &want);
    eprintln!("{}: max abs diff {d:e}", symbol.display());
    d
}

#[test]
fn tiny_symbolic_net_matches_mxnet() {
    let d = dir();
    let diff = check(&d.join("tiny-symbol.json"), &d.join("tiny.npz"), &["data", "idx"]);
    assert!(diff <= 1e-4, "max abs diff {diff}");
}

#[test]
fn bilinear_upsampling_matches_mxnet() {
    let d = dir();
    let diff = check(&d.join("upsample-symbol.json"), &d.join("upsample.npz"), &["data"]);
    assert!(diff <= 1e-4, "max abs diff {diff}");
}

#[test]
fn mobilenet025_matches_mxnet() {
    let d = dir();
    let diff = check(&d.join("mobilenet0.25-symbol.json"), &d.join("mobilenet0.25.npz"), &["data"]);
    assert!(diff <= 1e-4, "max abs diff {diff}");
}

fn big() -> PathBuf {
    std::env::var_os("MX_FIXTURES").map_or_else(|| PathBuf::from("/work/cache/fixtures/mxnet"), PathBuf::from)
}

#[test]
#[ignore = "needs the model-zoo files made by make_mxnet.py in $MX_FIXTURES"]
fn mobilenet10_matches_mxnet() {
    let diff = check(&big().join("mobilenet1.0-symbol.json"), &dir().join("mobilenet1.0.npz"), &["data"]);
    assert!(diff <= 1e-4, "max abs diff {diff}");
}

#[test]
#[ignore = "needs the model-zoo files made by make_mxnet.py in $MX_FIXTURES"]
fn resnet18_matches_mxnet() {
    let diff = check(&big().join("resnet18_v1-symbol.json"), &dir().join("resnet18_v1.npz"), &["data"]);
    assert!(diff <= 1e-4, "max abs diff {diff}");
}

#[test]
fn newest_params_epoch_is_picked() {
    let d = dir();
    let (_, p) = edgeport_mxnet::companions(&d.join("tiny-symbol.json"), None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.as_deref(), Some(d.join("tiny-0003.params").as_path()));
}
