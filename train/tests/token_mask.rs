//! MSE over real tokens only (`TrainConfig::token_mask`): on the tiny BERT export, the first
//! step's loss equals the squared difference of teacher and student outputs averaged over the
//! positions where attention_mask is 1 (computed here with the evaluator), padding positions
//! carry no loss, and a mask name the student does not have is an error naming it.

mod common;
use common::*;
use edgeport_ir::Op;
use edgeport_train::trainer::Quiet;
use edgeport_train::{LossKind, TrainConfig, distill};

/// The teacher with its 2-D MatMul weights scaled by 0.9.
fn perturbed(g: &edgeport_ir::Graph) -> edgeport_ir::Graph {
    let mut s = g.clone();
    let ids: Vec<_> = s.node_ids().collect();
    for id in ids {
        let Op::Constant(c) = &s.node(id).op else { continue };
        let to_matmul = s.consumers(id.out(0)).iter().any(|u| matches!(s.node(u.0).op, Op::MatMul(_)));
        if c.value.dtype != edgeport_ir::DType::F32 || c.value.shape.len() != 2 || !to_matmul {
            continue;
        }
        let t = edgeport_eval::Tensor::from_ir(&c.value).unwrap();
        let v: Vec<f64> = t.to_f64_vec().unwrap().into_iter().map(|x| x * 0.9).collect();
        let mut c = c.clone();
        c.value = edgeport_eval::Tensor::from_f64(t.dtype(), t.shape(), v).unwrap().to_ir();
        s.node_mut(id).op = Op::Constant(c);
    }
    s
}

fn samples() -> Vec<Vec<edgeport_eval::Tensor>> {
    let rows = |name: &str| -> Vec<edgeport_eval::Tensor> {
        split(&npz("distill/tiny_bert.npz", name))
            .into_iter()
            .map(|t| edgeport_eval::Tensor::from_f64(t.dtype(), &[1, 16], t.to_f64_vec().unwrap()).unwrap())
            .collect()
    };
    rows("input_ids")
        .into_iter()
        .zip(rows("attention_mask"))
        .map(|(a, b)| vec![a, b])
        .collect()
}

fn first_loss(mask: Option<&str>, data: &[Vec<edgeport_eval::Tensor>]) -> f64 {
    let teacher = import("distill/tiny_bert.onnx");
    let student = perturbed(&teacher);
    let cfg = TrainConfig {
        steps: 1,
        batch: 1,
        lr: 1e-12,
        loss: LossKind::Mse,
        token_mask: mask.map(String::from),
        ..Default::default()
    };
    distill(&teacher, &student, data, data, &cfg, &mut Quiet).unwrap().1.first_loss
}

#[test]
fn masked_loss_counts_real_tokens_only() {
    let all = samples();
    // A sample with padding.
    let i = all
        .iter()
        .position(|s| s[1].to_f64_vec().unwrap().contains(&0.0))
        .expect("a padded sample");
    let one = vec![all[i].clone()];
    let teacher = import("distill/tiny_bert.onnx");
    let student = perturbed(&teacher);
    let t = eval(&teacher, &one[0])[0].to_f64_vec().unwrap();
    let s = eval(&student, &one[0])[0].to_f64_vec().unwrap();
    let mask = one[0][1].to_f64_vec().unwrap();
    let h = t.len() / mask.len();
    let (mut num, mut den, mut full) = (0.0, 0.0, 0.0);
    for (k, (a, b)) in t.iter().zip(&s).enumerate() {
        let d = (a - b) * (a - b);
        full += d;
        if mask[k / h] != 0.0 {
            num += d;
            den += 1.0;
        }
    }
    let want_masked = num / den;
    let want_full = full / t.len() as f64;
    let got_masked = first_loss(Some("attention_mask"), &one);
    let got_full = first_loss(None, &one);
    assert!(
        (got_masked - want_masked).abs() < 1e-5 * want_masked.max(1e-6),
        "{got_masked} vs {want_masked}"
    );
    assert!(
        (got_full - want_full).abs() < 1e-5 * want_full.max(1e-6),
        "{got_full} vs {want_full}"
    );
    assert!(
        (want_masked - want_full).abs() > 1e-4 * want_full,
        "padding must change the unmasked loss"
    );
}

#[test]
fn unknown_mask_input_is_an_error() {
    let teacher = import("distill/tiny_bert.onnx");
    let student = perturbed(&teacher);
    let cfg = TrainConfig {
        steps: 1,
        batch: 1,
        loss: LossKind::Mse,
        token_mask: Some("segment_ids".into()),
        ..Default::default()
    };
    let data = samples();
    let e = distill(&teacher, &student, &data, &data, &cfg, &mut Quiet).unwrap_err();
    assert!(e.to_string().contains("segment_ids"), "{e}");
}
