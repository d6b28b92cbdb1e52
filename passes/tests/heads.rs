//! Attention-head pruning on a tiny BERT export (tests/fixtures/distill/tiny_bert.onnx, 2
//! layers × 4 heads of 8): heads whose Q/K/V columns and output-projection rows are zero are
//! the ones removed, and the pruned graph computes the same outputs with smaller weights; a
//! block whose probabilities leave it is reported as locked; bad ratios are errors.

use edgeport_eval::{Tensor as ETensor, Value, run_graph};
use edgeport_ir::{Graph, Op, Tensor};
use edgeport_passes::prune::{Criterion, PruneError, PruneMode, PruneOptions, prune};
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

/// Applies `f(values, shape)` to the constant feeding `name`'s input `port`.
fn edit(g: &mut Graph, name: &str, port: usize, f: impl Fn(&mut [f32], &[usize])) {
    let id = node(g, name);
    let v = g.inputs_of(id)[port].unwrap();
    let Op::Constant(c) = &g.node(v.node).op else {
        panic!("{name}: input {port} is not a constant")
    };
    let mut c = c.clone();
    let mut x: Vec<f32> = c.value.to_f64_vec().unwrap().into_iter().map(|v| v as f32).collect();
    f(&mut x, &c.value.shape);
    c.value = Tensor::from_f32(c.value.shape.clone(), &x).unwrap();
    g.node_mut(v.node).op = Op::Constant(c);
}

/// Zeroes heads 1 and 3 of every layer (Q/K/V columns with biases, output-projection rows).
fn with_dead_heads() -> Graph {
    let mut g = tiny_bert();
    let dead = |i: usize| (8..16).contains(&i) || (24..32).contains(&i);
    for l in 0..2 {
        for p in ["query", "key", "value"] {
            let base = format!("/m/encoder/layer.{l}/attention/self/{p}");
            edit(&mut g, &format!("{base}/MatMul"), 1, |x, s| {
                for (i, v) in x.iter_mut().enumerate() {
                    if dead(i % s[1]) {
                        *v = 0.0;
                    }
                }
            });
            let add = node(&g, &format!("{base}/Add"));
            let port = (0..2)
                .find(|&p| matches!(g.node(g.inputs_of(add)[p].unwrap().node).op, Op::Constant(_)))
                .unwrap();
            edit(&mut g, &format!("{base}/Add"), port, |x, _| {
                for (i, v) in x.iter_mut().enumerate() {
                    if dead(i) {
                        *v = 0.0;
                    }
                }
            });
        }
        edit(&mut g, &format!("/m/encoder/layer.{l}/attention/output/dense/MatMul"), 1, |x, s| {
            for (i, v) in x.iter_mut().enumerate() {
                if dead(i / s[1]) {
                    *v = 0.0;
                }
            }
        });
    }
    g
}

fn run(g: &Graph) -> Vec<f64> {
    let ids: Vec<f64> = (0..16).map(|i| ((i * 37 + 11) % 190 + 5) as f64).collect();
    let mask: Vec<f64> = (0..16).map(|i| if i < 12 { 1.0 } else { 0.0 }).collect();
    let t = |v: Vec<f64>| Value::Tensor(ETensor::from_f64(edgeport_ir::DType::I64, &[1, 16], v).unwrap());
    let out = run_graph(g, vec![t(ids), t(mask)]).unwrap();
    out[0].as_tensor().unwrap().to_f64_vec().unwrap()
}

fn opts(heads: f64) -> PruneOptions {
    PruneOptions {
        mode: PruneMode::Structured(0.0),
        criterion: Criterion::L1,
        keep: vec![],
        global: false,
        round_to: 1,
        heads: Some(heads),
        expansion_only: false,
        latency: None,
    }
}

fn weight_shape(g: &Graph, name: &str, port: usize) -> Vec<usize> {
    let v = g.inputs_of(node(g, name))[port].unwrap();
    match &g.node(v.node).op {
        Op::Constant(c) => c.value.shape.clone(),
        _ => panic!("not a constant"),
    }
}

#[test]
fn zero_heads_are_removed_and_outputs_stay() {
    let mut g = with_dead_heads();
    let before = run(&g);
    let r = prune(&mut g, &opts(0.5)).unwrap();
    assert_eq!(r.heads.len(), 2, "{:?}", r.heads);
    for h in &r.heads {
        assert_eq!(
            (h.heads_before, h.heads_after, h.head_dim, h.locked.clone()),
            (4, 2, 8, None),
            "{h:?}"
        );
    }
    for l in 0..2 {
        assert_eq!(
            weight_shape(&g, &format!("/m/encoder/layer.{l}/attention/self/query/MatMul"), 1),
            vec![32, 16]
        );
        assert_eq!(
            weight_shape(&g, &format!("/m/encoder/layer.{l}/attention/self/value/MatMul"), 1),
            vec![32, 16]
        );
        assert_eq!(
            weight_shape(&g, &format!("/m/encoder/layer.{l}/attention/output/dense/MatMul"), 1),
            vec![16, 32]
        );
    }
    let after = run(&g);
    let diff = before.iter().zip(&after).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(diff < 1e-5, "max abs diff {diff}");
}

#[test]
fn pruning_live_heads_changes_outputs_but_runs() {
    let mut g = tiny_bert();
    let before = run(&g);
    let r = prune(&mut g, &opts(0.25)).unwrap();
    assert!(r.heads.iter().all(|h| h.heads_after == 3), "{:?}", r.heads);
    let after = run(&g);
    assert_eq!(before.len(), after.len());
    let diff = before.iter().zip(&after).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(
        diff > 1e-3 && diff.is_finite(),
        "removing a live head must change the output ({diff})"
    );
}

#[test]
fn probabilities_used_outside_lock_the_block() {
    let mut g = tiny_bert();
    let sm = node(&g, "/m/encoder/layer.0/attention/self/Softmax");
    g.add_output("probs", sm.out(0)).unwrap();
    let r = prune(&mut g, &opts(0.5)).unwrap();
    let locked: Vec<_> = r.heads.iter().filter(|h| h.locked.is_some()).collect();
    let cut: Vec<_> = r.heads.iter().filter(|h| h.heads_after < h.heads_before).collect();
    assert_eq!((locked.len(), cut.len()), (1, 1), "{:?}", r.heads);
    assert!(locked[0].locked.as_deref().unwrap().contains("Softmax"), "{:?}", locked[0]);
}

#[test]
fn bad_head_ratio_is_an_error() {
    let mut g = tiny_bert();
    assert!(matches!(prune(&mut g, &opts(1.0)), Err(PruneError::BadRatio(_))));
    assert!(matches!(prune(&mut g, &opts(-0.5)), Err(PruneError::BadRatio(_))));
}
