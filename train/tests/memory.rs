//! Training memory stays flat over steps on a transformer (tiny BERT, the same graph shape as
//! the MiniLM export): the optimizer must not keep each step's forward graph alive through
//! the gradients it stores. Its own test binary, so no other test allocates alongside.

mod common;
use common::*;
use edgeport_ir::Op;
use edgeport_train::{LossKind, Observer, TrainConfig, distill};

/// Resident set size of this process in bytes (Linux).
fn rss() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = s.split_whitespace().nth(1).and_then(|x| x.parse().ok()).unwrap_or(0);
    pages * 4096
}

struct Rss(Vec<u64>);
impl Observer for Rss {
    fn step(&mut self, _step: usize, _loss: f64, _lr: f64) {
        self.0.push(rss());
    }
}

/// The teacher with its MatMul weights scaled by 0.9, so the student has something to learn.
fn perturbed(g: &edgeport_ir::Graph) -> edgeport_ir::Graph {
    let mut s = g.clone();
    let ids: Vec<_> = s.node_ids().collect();
    let mut n = 0;
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
        n += 1;
    }
    assert!(n >= 12, "tiny BERT has 12 2-D weights, found {n}");
    s
}

#[test]
fn rss_is_flat_over_training_steps_on_a_transformer() {
    let teacher = import("distill/tiny_bert.onnx");
    let student = perturbed(&teacher);
    // Stored [N, 1, 16]: sample i is [1, 16].
    let rows = |name: &str| -> Vec<edgeport_eval::Tensor> {
        split(&npz("distill/tiny_bert.npz", name))
            .into_iter()
            .map(|t| edgeport_eval::Tensor::from_f64(t.dtype(), &[1, 16], t.to_f64_vec().unwrap()).unwrap())
            .collect()
    };
    let (ids, mask) = (rows("input_ids"), rows("attention_mask"));
    let data: Vec<Vec<_>> = ids.into_iter().zip(mask).map(|(a, b)| vec![a, b]).collect();
    let cfg = TrainConfig {
        steps: 80,
        batch: 8,
        lr: 1e-3,
        loss: LossKind::Mse,
        ..Default::default()
    };
    let mut obs = Rss(Vec::new());
    let (_, rep) = distill(&teacher, &student, &data, &data, &cfg, &mut obs).unwrap();
    assert!(!rep.stacked, "[1, 16] inputs are accumulated per sample");
    assert!(rep.final_loss < rep.first_loss, "loss {} -> {}", rep.first_loss, rep.final_loss);
    // After warm-up (optimizer moments, allocator pools), later steps must not add memory.
    let (a, b) = (obs.0[19], obs.0[79]);
    let growth = b.saturating_sub(a) as f64 / 60.0;
    eprintln!(
        "RSS step 20 {} KB, step 80 {} KB, {:.1} KB/step",
        a / 1024,
        b / 1024,
        growth / 1024.0
    );
    assert!(
        growth < 64.0 * 1024.0,
        "RSS grows {:.1} KB per step ({a} -> {b} bytes)",
        growth / 1024.0
    );
}
