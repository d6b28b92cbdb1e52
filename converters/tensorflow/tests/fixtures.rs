//! Imports the TensorFlow fixtures (made by tests/fixtures/tensorflow/make_fixtures.py with
//! TensorFlow 2.21 / Keras 3) and checks the evaluator's outputs against TensorFlow's own.

mod common;
use common::*;
use edgeport_tensorflow::{TfImportOptions, import_path};
use std::path::Path;

const TOL: f64 = 1e-4;

fn check_frozen(pb: &Path, npz: &Path) {
    let g = import_path(pb, &TfImportOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    edgeport_ir::validate::validate(&g).unwrap_or_else(|e| panic!("{e}"));
    let m = read_npz(npz);
    let diffs = run_and_compare(&g, &m, "pb_in", "pb_out");
    assert!(!diffs.is_empty());
    for (n, d) in diffs {
        println!("{}: {n} max abs diff {d:e}", pb.display());
        assert!(d <= TOL, "{}: output {n} differs by {d}", pb.display());
    }
}

fn check_saved(dir: &Path, npz: &Path, signature_order: bool) {
    let g = import_path(dir, &TfImportOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    edgeport_ir::validate::validate(&g).unwrap_or_else(|e| panic!("{e}"));
    let m = read_npz(npz);
    if signature_order {
        let ins: Vec<String> = g.inputs().iter().map(|&n| g.node(n).name.clone()).collect();
        assert_eq!(ins, strings(&m, "sig_inputs"), "input names and order");
        let outs: Vec<String> = g.outputs().iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(outs, strings(&m, "sig_outputs"), "output names and order");
    }
    let diffs = run_and_compare(&g, &m, "in", "out");
    assert!(!diffs.is_empty());
    for (n, d) in diffs {
        println!("{}: {n} max abs diff {d:e}", dir.display());
        assert!(d <= TOL, "{}: output {n} differs by {d}", dir.display());
    }
}

#[test]
fn keras_small_frozen() {
    let f = fixtures();
    check_frozen(&f.join("keras_small.pb"), &f.join("keras_small.npz"));
}

#[test]
fn keras_small_saved_model() {
    let f = fixtures();
    check_saved(&f.join("keras_small_saved"), &f.join("keras_small.npz"), true);
}

#[test]
fn flow_frozen() {
    let f = fixtures();
    check_frozen(&f.join("flow.pb"), &f.join("flow.npz"));
}

#[test]
fn flow_saved_model_both_branches() {
    let f = fixtures();
    check_saved(&f.join("flow_saved"), &f.join("flow.npz"), true);
    check_saved(&f.join("flow_saved"), &f.join("flow_neg.npz"), false);
}

/// MobileNetV2 (alpha 0.35, 96x96): the model files live in the fixture cache (7 MB); the
/// expected outputs are committed. Skipped with a notice when the cache was not made.
#[test]
fn mobilenet_v2() {
    let big = large_fixtures();
    let npz = fixtures().join("mobilenet_v2_035_96.npz");
    if !big.join("mobilenet_v2_035_96.pb").exists() {
        eprintln!(
            "SKIPPED: run tests/fixtures/tensorflow/make_fixtures.py to create {}",
            big.display()
        );
        return;
    }
    check_frozen(&big.join("mobilenet_v2_035_96.pb"), &npz);
    check_saved(&big.join("mobilenet_v2_035_96_saved"), &npz, true);
}

/// Many raw TF ops in one frozen graph (tests/fixtures/tensorflow/make_ops.py), one output per
/// op family; every mismatch is listed with the op family it checks.
#[test]
fn op_coverage_frozen() {
    let f = fixtures();
    let g = import_path(&f.join("ops.pb"), &TfImportOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    edgeport_ir::validate::validate(&g).unwrap_or_else(|e| panic!("{e}"));
    let m = read_npz(&f.join("ops.npz"));
    let keys = strings(&m, "pb_keys");
    let names = strings(&m, "pb_names");
    let diffs = run_and_compare(&g, &m, "pb_in", "pb_out");
    assert_eq!(diffs.len(), keys.len());
    let mut bad = Vec::new();
    for (n, d) in diffs {
        let key = names.iter().position(|x| *x == n).map(|i| keys[i].clone()).unwrap_or_default();
        println!("ops.pb: {key} ({n}) max abs diff {d:e}");
        if d > TOL {
            bad.push(format!("{key}: {d}"));
        }
    }
    assert!(bad.is_empty(), "mismatches: {bad:?}");
}
