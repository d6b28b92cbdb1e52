//! The distillation loop on the digits CNNs: the loss falls and the student agrees with the
//! teacher more often; checkpoints are written; a diverging run stops with a clear error and
//! keeps its last good checkpoint; mismatched teacher/student shapes and bad names are errors.

mod common;
use common::*;
use edgeport_ir::Op;
use edgeport_train::{LossKind, OptimizerKind, Schedule, TrainConfig, TrainError, distill, trainer::Quiet};

fn data(n: usize) -> Vec<Vec<edgeport_eval::Tensor>> {
    split(&npz("distill/digits_unlabeled.npz", "image"))
        .into_iter()
        .take(n)
        .map(|t| vec![t])
        .collect()
}

fn argmax(v: &[f64]) -> usize {
    (0..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b })
}

fn agreement(t: &edgeport_ir::Graph, s: &edgeport_ir::Graph) -> f64 {
    let x = npz("quant/digits_heldout.npz", "image");
    let (a, b) = (eval(t, std::slice::from_ref(&x)), eval(s, std::slice::from_ref(&x)));
    let (a, b) = (a[0].to_f64_vec().unwrap(), b[0].to_f64_vec().unwrap());
    let n = a.len() / 10;
    (0..n)
        .filter(|&i| argmax(&a[i * 10..i * 10 + 10]) == argmax(&b[i * 10..i * 10 + 10]))
        .count() as f64
        / n as f64
}

#[test]
fn distilling_the_small_student_lowers_the_loss_and_raises_agreement() {
    let teacher = import("quant/digits_cnn.onnx");
    let student = import("distill/digits_student_init.onnx");
    let d = data(256);
    let dir = tempfile::tempdir().unwrap();
    let cfg = TrainConfig {
        steps: 150,
        batch: 32,
        lr: 1e-2,
        schedule: Schedule::Cosine,
        checkpoint_dir: Some(dir.path().to_path_buf()),
        checkpoint_every: 50,
        ..Default::default()
    };
    let (trained, rep) = distill(&teacher, &student, &d, &d, &cfg, &mut Quiet).unwrap();
    assert!(rep.stacked);
    assert!(
        rep.final_loss < 0.5 * rep.first_loss,
        "loss {} -> {}",
        rep.first_loss,
        rep.final_loss
    );
    let (before, after) = (agreement(&teacher, &student), agreement(&teacher, &trained));
    assert!(after > before + 0.3, "agreement {before} -> {after}");
    assert!(dir.path().join("last.safetensors").exists());
    assert!(dir.path().join("best.safetensors").exists());
    // The checkpoint holds the trained weights by name.
    let w = candle_core::safetensors::load(dir.path().join("last.safetensors"), &candle_core::Device::Cpu).unwrap();
    assert_eq!(w.len(), rep.trainable_tensors);
}

#[test]
fn same_seed_same_result_and_sgd_runs() {
    let teacher = import("quant/digits_cnn.onnx");
    let student = import("distill/digits_student_init.onnx");
    let d = data(64);
    let cfg = TrainConfig {
        steps: 5,
        batch: 16,
        lr: 0.05,
        optimizer: OptimizerKind::Sgd { momentum: 0.9 },
        schedule: Schedule::Step { every: 2, gamma: 0.5 },
        loss: LossKind::Mse,
        seed: 7,
        ..Default::default()
    };
    let (a, ra) = distill(&teacher, &student, &d, &d, &cfg, &mut Quiet).unwrap();
    let (b, rb) = distill(&teacher, &student, &d, &d, &cfg, &mut Quiet).unwrap();
    assert_eq!(ra.final_loss, rb.final_loss);
    assert_eq!(edgeport_ir::text::print_graph(&a), edgeport_ir::text::print_graph(&b));
}

#[test]
fn diverging_loss_stops_and_keeps_the_last_good_checkpoint() {
    let teacher = import("quant/digits_cnn.onnx");
    let student = import("distill/digits_student_init.onnx");
    let d = data(64);
    let dir = tempfile::tempdir().unwrap();
    let cfg = TrainConfig {
        steps: 200,
        batch: 16,
        lr: 1e12,
        optimizer: OptimizerKind::Sgd { momentum: 0.9 },
        checkpoint_dir: Some(dir.path().to_path_buf()),
        checkpoint_every: 1,
        ..Default::default()
    };
    match distill(&teacher, &student, &d, &d, &cfg, &mut Quiet) {
        Err(TrainError::NonFinite(m)) => {
            assert!(m.contains("training stopped") && m.contains("last good checkpoint"), "{m}");
            assert!(dir.path().join("last.safetensors").exists());
        }
        other => panic!("expected a non-finite loss error, got {:?}", other.map(|r| r.1)),
    }
}

#[test]
fn mismatched_outputs_and_bad_match_names_are_errors() {
    let teacher = import("quant/digits_cnn.onnx");
    let mut student = import("distill/digits_student_init.onnx");
    // Append a MatMul to 5 classes to the student.
    let (name, out) = student.outputs()[0].clone();
    let w = student.add_constant("extra_w", edgeport_ir::Tensor::from_f32(vec![10, 5], &[0.1; 50]).unwrap());
    let mm = student
        .add_op("extra", Op::MatMul(Default::default()), &[Some(out), Some(w)], &["y5"])
        .unwrap();
    student.set_outputs(vec![(name, mm.out(0))]).unwrap();
    let d = data(8);
    let cfg = TrainConfig {
        steps: 1,
        batch: 4,
        ..Default::default()
    };
    let e = distill(&teacher, &student, &d, &d, &cfg, &mut Quiet).map(|r| r.1).unwrap_err();
    let m = e.to_string();
    assert!(
        m.contains("teacher output 'logits' has shape [1, 10]") && m.contains("[1, 5]"),
        "{m}"
    );

    let student = import("distill/digits_student_init.onnx");
    let cfg = TrainConfig {
        steps: 1,
        batch: 4,
        matches: vec![("nope".into(), "x".into())],
        ..Default::default()
    };
    let m = distill(&teacher, &student, &d, &d, &cfg, &mut Quiet)
        .map(|r| r.1)
        .unwrap_err()
        .to_string();
    assert!(m.contains("teacher has no node or value named 'nope'"), "{m}");
    let e = distill(&teacher, &student, &d, &[], &TrainConfig::default(), &mut Quiet)
        .map(|r| r.1)
        .unwrap_err();
    assert!(e.to_string().contains("same non-zero number of samples"), "{e}");
}
