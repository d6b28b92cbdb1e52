//! Fixtures made by TensorFlow's converter (tests/fixtures/tflite/make_fixtures.py): import →
//! evaluator, compared with LiteRT's own outputs saved beside each model.

mod common;
use common::*;

fn check_float(name: &str) {
    let diffs = check_fixture(&fixture(&format!("{name}.tflite")), &fixture(&format!("{name}.npz")));
    eprintln!("{name}: max abs diff per output {diffs:?}");
    for (i, d) in diffs.iter().enumerate() {
        assert!(*d <= 1e-4, "{name} output {i}: max abs diff {d} > 1e-4");
    }
}

#[test]
fn small_float_matches_litert() {
    check_float("small_float");
}

#[test]
fn ops_match_litert() {
    check_float("ops");
}

#[test]
fn while_and_if_match_litert() {
    check_float("while");
}

#[test]
fn sparse_weights_densified() {
    check_float("sparse");
}

/// Full-integer model: int8 in, int8 out; must match LiteRT within one quantization step.
#[test]
fn small_int8_within_one_step() {
    let diffs = check_fixture(&fixture("small_int8.tflite"), &fixture("small_int8.npz"));
    eprintln!("small_int8: max abs diff (int8 steps) {diffs:?}");
    for d in diffs {
        assert!(d <= 1.0, "int8 output differs by {d} steps");
    }
}

/// MobileNetV2 (alpha 0.35, 96×96): the models are generated into /work/cache (6.7 MB), only their
/// expected outputs are committed; skipped when the model file is absent.
#[test]
fn mobilenet_v2_matches_litert() {
    let path = std::path::PathBuf::from("/work/cache/fixtures/tflite/mobilenet_v2_035_96.tflite");
    if !path.exists() {
        eprintln!("skipped: {} not generated (run make_fixtures.py mobilenet)", path.display());
        return;
    }
    let diffs = check_fixture(&path, &fixture("mobilenet_v2_035_96.npz"));
    eprintln!("mobilenet_v2_035_96: {diffs:?}");
    assert!(diffs[0] <= 1e-4, "max abs diff {}", diffs[0]);
}

/// MobileNetV2 full-int8 (int8 in/out): within one quantization step of LiteRT's int8 output.
#[test]
fn mobilenet_v2_int8_within_one_step() {
    let path = std::path::PathBuf::from("/work/cache/fixtures/tflite/mobilenet_v2_035_96_int8.tflite");
    if !path.exists() {
        eprintln!("skipped: {} not generated (run make_fixtures.py mobilenet)", path.display());
        return;
    }
    let diffs = check_fixture(&path, &fixture("mobilenet_v2_035_96_int8.npz"));
    eprintln!("mobilenet_v2_035_96_int8: max abs diff (int8 steps) {diffs:?}");
    assert!(diffs[0] <= 1.0, "int8 output differs by {} steps", diffs[0]);
}
