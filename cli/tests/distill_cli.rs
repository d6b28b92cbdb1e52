//! `edgeport distill` end to end on the digits CNN (tests/fixtures/quant/make_digits.py): the
//! teacher pruned to half its channels (`prune --structured 0.5`) loses accuracy, and a short
//! distillation from the teacher's outputs alone (no labels) wins it back, measured on the
//! held-out split; the written model re-imports and scores the same. Bad inputs are refused.

use edgeport_cli::commands::distill::{DistillArgs, run};
use edgeport_cli::commands::prune::{PruneArgs, run as prune};
use edgeport_passes::prune::{Criterion, PruneMode, PruneOptions};
use edgeport_train::{Schedule, TrainConfig, trainer::Quiet};
use std::path::{Path, PathBuf};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures").join(rel)
}

fn pruned_teacher(dir: &Path) -> PathBuf {
    let out = dir.join("pruned.onnx");
    prune(&PruneArgs {
        input: fixture("quant/digits_cnn.onnx"),
        output: Some(out.clone()),
        from: None,
        to: None,
        opts: PruneOptions {
            mode: PruneMode::Structured(0.5),
            criterion: Criterion::L1,
            keep: vec![],
            global: false,
            round_to: 8,
            heads: None,
            expansion_only: false,
            latency: None,
        },
        dry_run: false,
    })
    .unwrap();
    out
}

fn args(student: PathBuf, out: PathBuf, steps: usize) -> DistillArgs {
    DistillArgs {
        teacher: fixture("quant/digits_cnn.onnx"),
        student,
        data: fixture("distill/digits_unlabeled.npz"),
        output: out,
        to: None,
        cfg: TrainConfig {
            steps,
            batch: 32,
            lr: 3e-3,
            schedule: Schedule::Cosine,
            ..Default::default()
        },
        eval: Some(fixture("quant/digits_heldout.npz")),
    }
}

#[test]
fn distillation_recovers_the_pruned_students_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let pruned = pruned_teacher(dir.path());
    let out = dir.path().join("distilled.onnx");
    let r = run(&args(pruned, out.clone(), 80), &mut Quiet).unwrap();
    let e = r.eval.clone().unwrap();
    let (t, b, a) = (
        e.teacher_top1.unwrap(),
        e.student_top1_before.unwrap(),
        e.student_top1_after.unwrap(),
    );
    eprintln!(
        "teacher {t:.4}, pruned {b:.4}, distilled {a:.4}; loss {} -> {}",
        r.first_loss, r.final_loss
    );
    assert!(a > b, "top-1 should improve: {b} -> {a}");
    assert!(a >= t - 0.03, "distilled {a} should come close to the teacher {t}");
    assert!(e.agreement_after > e.agreement_before);
    // The written model scores the same when imported again.
    let g = edgeport_onnx::import_path(&out, &Default::default()).unwrap();
    let teacher = edgeport_onnx::import_path(&fixture("quant/digits_cnn.onnx"), &Default::default()).unwrap();
    let s = edgeport_cli::commands::distill::score(&teacher, &g, &g, &fixture("quant/digits_heldout.npz")).unwrap();
    assert_eq!(s.student_top1_after, Some(a));
}

#[test]
fn bad_inputs_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    // Data that does not fit the student's inputs.
    let mut a = args(fixture("distill/ops_mix.onnx"), dir.path().join("o.onnx"), 1);
    a.eval = None;
    let m = run(&a, &mut Quiet).unwrap_err().to_string();
    assert!(m.contains("data for the student") && m.contains("no array for model input"), "{m}");
    // A NaN-producing learning rate.
    let mut a = args(fixture("distill/digits_student_init.onnx"), dir.path().join("o.onnx"), 50);
    a.cfg.lr = 1e12;
    a.cfg.optimizer = edgeport_train::OptimizerKind::Sgd { momentum: 0.9 };
    a.eval = None;
    let e = run(&a, &mut Quiet).unwrap_err();
    assert!(e.to_string().contains("the loss became"), "{e}");
    assert!(!dir.path().join("o.onnx").exists(), "nothing is written after a NaN loss");
    // Missing data file.
    let mut a = args(fixture("distill/digits_student_init.onnx"), dir.path().join("o.onnx"), 1);
    a.data = dir.path().join("nope.npz");
    assert!(run(&a, &mut Quiet).unwrap_err().to_string().contains("no such file"));
}

#[test]
fn compress_chains_prune_distill_quantize_with_one_report() {
    use edgeport_cli::commands::compress::{CompressArgs, run as compress};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("small.onnx");
    let r = compress(
        &CompressArgs {
            model: fixture("quant/digits_cnn.onnx"),
            output: out.clone(),
            prune: 0.5,
            criterion: Criterion::L1,
            latency_aware: false,
            distill_data: fixture("distill/digits_unlabeled.npz"),
            quantize: Some("int8".into()),
            eval: Some(fixture("quant/digits_heldout.npz")),
            cfg: TrainConfig {
                steps: 80,
                batch: 32,
                lr: 3e-3,
                schedule: Schedule::Cosine,
                ..Default::default()
            },
        },
        &mut Quiet,
    )
    .unwrap();
    eprintln!("{r}");
    let names: Vec<&str> = r.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["original", "pruned", "distilled", "quantized"]);
    let (o, p, d, q) = (&r.stages[0], &r.stages[1], &r.stages[2], &r.stages[3]);
    assert!(p.params < o.params / 2 && p.macs < o.macs / 2, "pruning halves parameters and MACs");
    assert!(
        d.vs_original.agreement_after > p.vs_original.agreement_after,
        "distillation wins agreement back"
    );
    assert!(q.file_bytes < d.file_bytes, "int8 shrinks the file");
    assert!(
        q.vs_original.agreement_after > 0.9,
        "quantized agreement {}",
        q.vs_original.agreement_after
    );
    assert!(out.exists());
}
