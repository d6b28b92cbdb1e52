//! Committed Paddle fixtures (made by tests/fixtures/paddle/make_models.py with paddlepaddle
//! 3.3.1): import each model in both forms, run the evaluator, compare to Paddle's own outputs.
//! The full-size mobilenet_v2 and resnet18 (generated into /work/cache/fixtures/paddle or
//! $EDGEPORT_PADDLE_BIG) are checked when present.

mod common;
use common::{check_model, fixtures};

const TOL: f64 = 1e-4;

fn both(name: &str) {
    let dir = fixtures();
    check_model(
        &dir.join(format!("{name}.pir.json")),
        &dir.join(format!("{name}.pir.npz")),
        TOL,
        false,
    );
    check_model(
        &dir.join(format!("{name}.legacy.pdmodel")),
        &dir.join(format!("{name}.legacy.npz")),
        TOL,
        false,
    );
}

#[test]
fn mobilenet_v2_small() {
    both("mobilenet_v2_small");
}

#[test]
fn det_head() {
    both("det_head");
}

#[test]
fn zoo() {
    both("zoo");
}

#[test]
fn rec_head() {
    both("rec_head");
}

#[test]
fn big_models_when_present() {
    let dir = std::env::var("EDGEPORT_PADDLE_BIG").unwrap_or_else(|_| "/work/cache/fixtures/paddle".into());
    let dir = std::path::Path::new(&dir);
    for name in ["mobilenet_v2", "resnet18"] {
        for (form, ext) in [("pir", "json"), ("legacy", "pdmodel")] {
            let m = dir.join(format!("{name}.{form}.{ext}"));
            let n = dir.join(format!("{name}.{form}.npz"));
            if m.exists() && n.exists() {
                // BatchNorm statistics come from data (make_models.py big): absolute 1e-4.
                check_model(&m, &n, TOL, false);
            } else {
                eprintln!("skipped {} (not generated)", m.display());
            }
        }
    }
}
