//! `edgeport prune --structured --calibration` on the tiny BERT export: the MLP hidden size is
//! halved, every output projection is refitted (its relative output error on the calibration
//! tokens falls), the written model re-imports and stays closer to the original on its tokens
//! than the weight-norm pruning; a token mask the model lacks, or calibration with a sparsity
//! mode, is refused.

use edgeport_cli::commands::prune::{CalibrationArgs, PruneArgs, run_with};
use edgeport_eval::{Value, run_graph};
use edgeport_passes::prune::{Criterion, PruneMode, PruneOptions};
use std::path::{Path, PathBuf};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures").join(rel)
}

fn args(mode: PruneMode, out: Option<PathBuf>) -> PruneArgs {
    let dry_run = out.is_none();
    PruneArgs {
        input: fixture("distill/tiny_bert.onnx"),
        output: out,
        from: None,
        to: None,
        opts: PruneOptions {
            mode,
            criterion: Criterion::L1,
            keep: vec![],
            global: false,
            round_to: 8,
            heads: Some(0.0),
            expansion_only: false,
            latency: None,
        },
        dry_run,
    }
}

fn cal(mask: Option<&str>) -> CalibrationArgs {
    CalibrationArgs {
        path: fixture("distill/tiny_bert.npz"),
        samples: 0,
        token_mask: mask.map(String::from),
        refit: true,
        ridge: 1e-3,
    }
}

/// Squared output error against the original on real tokens, over the fixture's sequences.
fn error(path: &Path) -> f64 {
    let orig = edgeport_onnx::import_path(&fixture("distill/tiny_bert.onnx"), &Default::default()).unwrap();
    let g = edgeport_onnx::import_path(path, &Default::default()).unwrap();
    let arrays = edgeport_cli::io::npz::read(&fixture("distill/tiny_bert.npz")).unwrap();
    let get = |n: &str| arrays.iter().find(|(k, _)| k == n).unwrap().1.to_f64_vec().unwrap();
    let (ids, mask) = (get("input_ids"), get("attention_mask"));
    let mut err = 0.0;
    for (i, m) in ids.chunks(16).zip(mask.chunks(16)) {
        let t = |v: &[f64]| Value::Tensor(edgeport_eval::Tensor::from_f64(edgeport_ir::DType::I64, &[1, 16], v.to_vec()).unwrap());
        let a = run_graph(&orig, vec![t(i), t(m)]).unwrap()[0]
            .as_tensor()
            .unwrap()
            .to_f64_vec()
            .unwrap();
        let b = run_graph(&g, vec![t(i), t(m)]).unwrap()[0]
            .as_tensor()
            .unwrap()
            .to_f64_vec()
            .unwrap();
        for (k, (x, y)) in a.iter().zip(&b).enumerate() {
            if m[k / 32] != 0.0 {
                err += (x - y) * (x - y);
            }
        }
    }
    err
}

#[test]
fn calibrated_pruning_refits_and_beats_weight_norms() {
    let dir = tempfile::tempdir().unwrap();
    let (with, without) = (dir.path().join("cal.onnx"), dir.path().join("l1.onnx"));
    let r = run_with(&args(PruneMode::Structured(0.5), Some(with.clone())), Some(&cal(None))).unwrap();
    assert!(
        r.mode.contains("8 calibration samples") && r.mode.contains("refitted"),
        "{}",
        r.mode
    );
    let refits: Vec<_> = r.lines.iter().filter(|l| l.name.starts_with("inputs of")).collect();
    assert_eq!(refits.len(), 2, "{:?}", r.lines);
    for l in &refits {
        assert_eq!((l.before, l.after), (64, 32));
        let note = l.note.as_deref().unwrap();
        assert!(
            note.contains("after least-squares refit") && note.contains("'attention_mask' is set"),
            "{note}"
        );
    }
    run_with(&args(PruneMode::Structured(0.5), Some(without.clone())), None).unwrap();
    let (e_cal, e_l1) = (error(&with), error(&without));
    assert!(e_cal < 0.5 * e_l1, "calibrated {e_cal}, weight norm {e_l1}");
}

#[test]
fn bad_calibration_requests_are_refused() {
    let e = run_with(&args(PruneMode::Structured(0.5), None), Some(&cal(Some("segment_ids")))).unwrap_err();
    assert!(e.to_string().contains("segment_ids"), "{e}");
    let e = run_with(&args(PruneMode::Sparsity(0.5), None), Some(&cal(None))).unwrap_err();
    assert!(e.to_string().contains("--structured only"), "{e}");
    let mut c = cal(None);
    c.path = fixture("distill/ops_mix.npz");
    let e = run_with(&args(PruneMode::Structured(0.5), None), Some(&c)).unwrap_err();
    assert!(e.to_string().contains("--calibration"), "{e}");
}
