//! Data-aware MLP pruning on the tiny BERT export (tests/fixtures/distill/tiny_bert.onnx, MLP
//! 64 wide): calibration samples rank hidden neurons by activation (dead neurons with large
//! output weights go first, where the weight norm keeps them), the least-squares refit of the
//! output projection lowers the block's output error on held-out token sequences against the
//! same pruning without refit, and bad calibration data is refused with a clear error.

use edgeport_eval::{EvalOptions, Tensor as ETensor, Value, run_graph, run_graph_with};
use edgeport_ir::{DType, Graph, Op, Tensor};
use edgeport_passes::prune::{Criterion, PruneData, PruneError, PruneMode, PruneOptions, prune_with_data};
use std::path::PathBuf;

fn tiny_bert() -> Graph {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/distill/tiny_bert.onnx");
    edgeport_onnx::import_path(&p, &Default::default()).unwrap()
}

fn node(g: &Graph, name: &str) -> edgeport_ir::NodeId {
    g.node_ids()
        .find(|&n| g.node(n).name == name)
        .unwrap_or_else(|| panic!("no node {name}"))
}

/// Token sequences of length 16 (ids in the vocabulary, a masked padding tail), seeded.
fn samples(n: usize, seed: u64) -> (Vec<Vec<Value>>, Vec<Vec<bool>>) {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = move || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 33) as usize
    };
    let t = |v: Vec<f64>| Value::Tensor(ETensor::from_f64(DType::I64, &[1, 16], v).unwrap());
    let mut out = Vec::new();
    let mut masks = Vec::new();
    for _ in 0..n {
        let len = 6 + next() % 11;
        let ids: Vec<f64> = (0..16).map(|i| if i < len { (5 + next() % 190) as f64 } else { 0.0 }).collect();
        let m: Vec<bool> = (0..16).map(|i| i < len).collect();
        out.push(vec![t(ids), t(m.iter().map(|&b| f64::from(u8::from(b))).collect())]);
        masks.push(m);
    }
    (out, masks)
}

fn opts(ratio: f64) -> PruneOptions {
    PruneOptions {
        mode: PruneMode::Structured(ratio),
        criterion: Criterion::L1,
        keep: vec![],
        global: false,
        round_to: 1,
        heads: Some(0.0),
        expansion_only: false,
        latency: None,
    }
}

fn data(n: usize, refit: bool) -> PruneData {
    let (samples, masks) = samples(n, 1);
    PruneData {
        samples,
        row_masks: Some(masks),
        refit,
        ridge: 1e-3,
    }
}

/// Values of `name`'s first output on real tokens, for every held-out sample.
fn tap(g: &Graph, name: &str, held: &[Vec<Value>], masks: &[Vec<bool>]) -> Vec<f64> {
    let v = node(g, name).out(0);
    let opts = EvalOptions {
        keep_all: true,
        ..Default::default()
    };
    let mut out = Vec::new();
    for (s, m) in held.iter().zip(masks) {
        let (_, kept) = run_graph_with(g, s.clone(), &opts).unwrap();
        let x = kept[&v].as_tensor().unwrap().to_f64_vec().unwrap();
        let w = x.len() / m.len();
        for (r, &on) in m.iter().enumerate() {
            if on {
                out.extend_from_slice(&x[r * w..(r + 1) * w]);
            }
        }
    }
    out
}

fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    let d: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
    let n: f64 = b.iter().map(|y| y * y).sum();
    d / n
}

fn hidden_width(g: &Graph, layer: usize) -> usize {
    let id = node(g, &format!("/m/encoder/layer.{layer}/output/dense/MatMul"));
    let v = g.inputs_of(id)[1].unwrap();
    match &g.node(v.node).op {
        Op::Constant(c) => c.value.shape[0],
        _ => panic!("not a constant"),
    }
}

const MLP_OUT: &str = "/m/encoder/layer.0/output/dense/Add";

#[test]
fn refit_lowers_the_block_output_error() {
    let orig = tiny_bert();
    let (held, hm) = samples(12, 99);
    let want = tap(&orig, MLP_OUT, &held, &hm);
    let mut errs = Vec::new();
    for refit in [false, true] {
        let mut g = tiny_bert();
        let r = prune_with_data(&mut g, &opts(0.5), Some(&data(48, refit))).unwrap();
        assert_eq!((hidden_width(&g, 0), hidden_width(&g, 1)), (32, 32));
        assert_eq!(r.refits.len(), 2, "{:?}", r.refits);
        for f in &r.refits {
            assert_eq!((f.of, f.kept), (64, 32), "{f:?}");
            assert!(f.rows > 48 * 5, "{f:?}");
            match f.error_refit {
                Some(e) => assert!(refit && e < f.error_pruned, "{f:?}"),
                None => assert!(!refit, "{f:?}"),
            }
        }
        let got = tap(&g, MLP_OUT, &held, &hm);
        errs.push(rel_err(&got, &want));
    }
    // Held-out sequences the refit never saw.
    assert!(
        errs[1] < 0.7 * errs[0],
        "relative error without refit {}, with {}",
        errs[0],
        errs[1]
    );
}

/// Makes hidden neurons 0..16 of layer 0 dead (GELU input far below zero) with large input
/// weights, so a weight-norm ranking keeps them.
fn with_dead_neurons() -> Graph {
    let mut g = tiny_bert();
    let edit = |g: &mut Graph, name: &str, f: &dyn Fn(&mut [f32], &[usize])| {
        let id = node(g, name);
        let port = (0..2)
            .find(|&p| matches!(g.node(g.inputs_of(id)[p].unwrap().node).op, Op::Constant(_)))
            .unwrap();
        let v = g.inputs_of(id)[port].unwrap();
        let Op::Constant(c) = &g.node(v.node).op else { unreachable!() };
        let mut c = c.clone();
        let mut x: Vec<f32> = c.value.to_f64_vec().unwrap().into_iter().map(|v| v as f32).collect();
        f(&mut x, &c.value.shape);
        c.value = Tensor::from_f32(c.value.shape.clone(), &x).unwrap();
        g.node_mut(v.node).op = Op::Constant(c);
    };
    edit(&mut g, "/m/encoder/layer.0/intermediate/dense/MatMul", &|x, s| {
        for (i, v) in x.iter_mut().enumerate() {
            if i % s[1] < 16 {
                *v *= 5.0;
            }
        }
    });
    edit(&mut g, "/m/encoder/layer.0/intermediate/dense/Add", &|x, _| {
        x[..16].iter_mut().for_each(|v| *v = -1000.0)
    });
    g
}

#[test]
fn activation_ranking_drops_dead_neurons_that_weight_norms_keep() {
    let base = with_dead_neurons();
    let (held, hm) = samples(8, 7);
    let want = tap(&base, MLP_OUT, &held, &hm);
    // By weight norm: the dead neurons' large input columns keep them, live ones go.
    let mut by_norm = with_dead_neurons();
    edgeport_passes::prune::prune(&mut by_norm, &opts(0.25)).unwrap();
    let e_norm = rel_err(&tap(&by_norm, MLP_OUT, &held, &hm), &want);
    // By activation (no refit): exactly the 16 dead neurons go; the block output stays.
    let mut by_act = with_dead_neurons();
    let r = prune_with_data(&mut by_act, &opts(0.25), Some(&data(16, false))).unwrap();
    assert_eq!(hidden_width(&by_act, 0), 48);
    let f0 = r.refits.iter().find(|f| f.node.contains("layer.0")).unwrap();
    assert!(f0.error_pruned < 1e-12, "{f0:?}");
    let e_act = rel_err(&tap(&by_act, MLP_OUT, &held, &hm), &want);
    assert!(e_act < 1e-10, "activation ranking error {e_act}");
    assert!(e_norm > 1e-3, "weight-norm ranking error {e_norm}");
    // The whole model still runs.
    let out = run_graph(&by_act, held[0].clone()).unwrap();
    assert_eq!(out[0].as_tensor().unwrap().shape(), &[1, 16, 32]);
}

#[test]
fn bad_calibration_data_is_refused() {
    let mut d = data(4, true);
    d.row_masks.as_mut().unwrap()[2].truncate(10);
    let e = prune_with_data(&mut tiny_bert(), &opts(0.5), Some(&d)).unwrap_err();
    assert!(matches!(e, PruneError::Data(_)), "{e}");
    assert!(e.to_string().contains("sample 2") && e.to_string().contains("10 entries"), "{e}");

    let mut d = data(4, true);
    d.row_masks.as_mut().unwrap().pop();
    let e = prune_with_data(&mut tiny_bert(), &opts(0.5), Some(&d)).unwrap_err();
    assert!(e.to_string().contains("3 row masks for 4"), "{e}");

    let d = PruneData {
        samples: vec![],
        row_masks: None,
        refit: true,
        ridge: 1e-3,
    };
    let e = prune_with_data(&mut tiny_bert(), &opts(0.5), Some(&d)).unwrap_err();
    assert!(e.to_string().contains("no samples"), "{e}");

    // A sample with one input instead of two.
    let mut d = data(3, true);
    d.samples[1].pop();
    let e = prune_with_data(&mut tiny_bert(), &opts(0.5), Some(&d)).unwrap_err();
    assert!(matches!(e, PruneError::Data(_)) && e.to_string().contains("sample 1"), "{e}");
}
