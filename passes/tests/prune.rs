//! Pruning tests: a residual CNN built in code whose unimportant channels are exactly zero, so
//! structured pruning must keep the outputs bit-for-bit close while the weights shrink; the
//! sparsity modes and the error cases.

use edgeport_eval::{Tensor as ETensor, Value, run_graph};
use edgeport_ir::ops::defs::math::{Add, Gemm, Relu};
use edgeport_ir::ops::defs::nn::{BatchNormalization, Conv, Flatten, GlobalAveragePool};
use edgeport_ir::{DType, Graph, Op, Shape, Tensor, ValueType};
use edgeport_passes::prune::{Criterion, PruneError, PruneMode, PruneOptions, prune};

mod common;
use common::rand;

/// Zeroes `chans` along axis 0 of a [C, rest…] buffer.
fn zero_rows(v: &mut [f32], c: usize, chans: &[usize]) {
    let per = v.len() / c;
    for &k in chans {
        v[k * per..(k + 1) * per].iter_mut().for_each(|x| *x = 0.0);
    }
}

fn konst(g: &mut Graph, name: &str, shape: Vec<usize>, v: &[f32]) -> edgeport_ir::ValueId {
    g.add_constant(name, Tensor::from_f32(shape, v).unwrap())
}

/// x → conv1 → BN → relu → conv2 → (+ relu) → relu → depthwise conv3 → conv4 → relu → GAP →
/// flatten → gemm. Channels 1 and 5 of the conv1/conv2 group and 3, 7, 11, 15 of conv4 are zero.
fn residual_cnn() -> Graph {
    let mut g = Graph::new("res");
    let x = g.add_input("x", Some(ValueType::tensor(DType::F32, Some(Shape::known(&[1, 3, 8, 8])))));
    let dead = [1usize, 5];
    let mut w1 = rand(8 * 27, 1);
    zero_rows(&mut w1, 8, &dead);
    let mut b1 = rand(8, 2);
    zero_rows(&mut b1, 8, &dead);
    let w1 = konst(&mut g, "w1", vec![8, 3, 3, 3], &w1);
    let b1 = konst(&mut g, "b1", vec![8], &b1);
    let pads = vec![1, 1, 1, 1];
    let conv = |group: i64| {
        Op::Conv(Conv {
            pads: pads.clone(),
            group,
            ..Default::default()
        })
    };
    let c1 = g.add_op("conv1", conv(1), &[Some(x), Some(w1), Some(b1)], &["c1"]).unwrap();
    let mut beta = rand(8, 3);
    zero_rows(&mut beta, 8, &dead);
    let gamma = konst(
        &mut g,
        "gamma",
        vec![8],
        &rand(8, 4).iter().map(|v| v.abs() + 0.5).collect::<Vec<_>>(),
    );
    let beta = konst(&mut g, "beta", vec![8], &beta);
    let mean = konst(&mut g, "mean", vec![8], &[0.0; 8]);
    let var = konst(&mut g, "var", vec![8], &[1.0; 8]);
    let bn = g
        .add_op(
            "bn",
            Op::BatchNormalization(BatchNormalization::default()),
            &[Some(c1.out(0)), Some(gamma), Some(beta), Some(mean), Some(var)],
            &["bn"],
        )
        .unwrap();
    let r1 = g.add_op("relu1", Op::Relu(Relu {}), &[Some(bn.out(0))], &["r1"]).unwrap();
    let mut w2 = rand(8 * 8 * 9, 5);
    zero_rows(&mut w2, 8, &dead);
    let w2 = konst(&mut g, "w2", vec![8, 8, 3, 3], &w2);
    let c2 = g.add_op("conv2", conv(1), &[Some(r1.out(0)), Some(w2)], &["c2"]).unwrap();
    let add = g
        .add_op("add", Op::Add(Add {}), &[Some(r1.out(0)), Some(c2.out(0))], &["add"])
        .unwrap();
    let r2 = g.add_op("relu2", Op::Relu(Relu {}), &[Some(add.out(0))], &["r2"]).unwrap();
    let mut b3 = rand(8, 6);
    zero_rows(&mut b3, 8, &dead);
    let w3 = konst(&mut g, "w3", vec![8, 1, 3, 3], &rand(72, 7));
    let b3 = konst(&mut g, "b3", vec![8], &b3);
    let c3 = g.add_op("dw3", conv(8), &[Some(r2.out(0)), Some(w3), Some(b3)], &["c3"]).unwrap();
    let dead4 = [3usize, 7, 11, 15];
    let mut w4 = rand(16 * 8, 8);
    zero_rows(&mut w4, 16, &dead4);
    let mut b4 = rand(16, 9);
    zero_rows(&mut b4, 16, &dead4);
    let w4 = konst(&mut g, "w4", vec![16, 8, 1, 1], &w4);
    let b4 = konst(&mut g, "b4", vec![16], &b4);
    let c4 = g
        .add_op("conv4", Op::Conv(Conv::default()), &[Some(c3.out(0)), Some(w4), Some(b4)], &["c4"])
        .unwrap();
    let r4 = g.add_op("relu4", Op::Relu(Relu {}), &[Some(c4.out(0))], &["r4"]).unwrap();
    let gap = g
        .add_op(
            "gap",
            Op::GlobalAveragePool(GlobalAveragePool::default()),
            &[Some(r4.out(0))],
            &["gap"],
        )
        .unwrap();
    let fl = g
        .add_op("flat", Op::Flatten(Flatten { axis: 1 }), &[Some(gap.out(0))], &["flat"])
        .unwrap();
    let w5 = konst(&mut g, "w5", vec![10, 16], &rand(160, 10));
    let b5 = konst(&mut g, "b5", vec![10], &rand(10, 11));
    let fc = g
        .add_op(
            "fc",
            Op::Gemm(Gemm {
                transB: 1,
                ..Default::default()
            }),
            &[Some(fl.out(0)), Some(w5), Some(b5)],
            &["logits"],
        )
        .unwrap();
    g.add_output("logits", fc.out(0)).unwrap();
    edgeport_ir::infer::infer_types(&mut g).unwrap();
    g
}

fn run(g: &Graph) -> Vec<f64> {
    let x = ETensor::vec_f32(rand(192, 42)).reshape(&[1, 3, 8, 8]).unwrap();
    let out = run_graph(g, vec![Value::Tensor(x)]).unwrap();
    out[0].as_tensor().unwrap().to_f64_vec().unwrap()
}

fn opts(mode: PruneMode) -> PruneOptions {
    PruneOptions {
        round_to: 1,
        mode,
        criterion: Criterion::L1,
        keep: vec![],
        global: false,
        heads: None,
        expansion_only: false,
        latency: None,
    }
}

fn weight_shape(g: &Graph, node: &str, port: usize) -> Vec<usize> {
    let id = g.node_ids().find(|&n| g.node(n).name == node).unwrap();
    let v = g.inputs_of(id)[port].unwrap();
    match &g.node(v.node).op {
        Op::Constant(c) => c.value.shape.clone(),
        _ => panic!("not a constant"),
    }
}

#[test]
fn structured_removes_zero_channels_exactly() {
    let mut g = residual_cnn();
    let before = run(&g);
    let r = prune(&mut g, &opts(PruneMode::Structured(0.25))).unwrap();
    edgeport_ir::validate::validate(&g).unwrap();
    let after = run(&g);
    let diff = before.iter().zip(&after).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(diff < 1e-5, "outputs moved by {diff}");
    // conv1+conv2 are one group (residual add), 8 → 6; conv4 16 → 12; fc is the output.
    let g1 = r.groups.iter().find(|x| x.producers.contains(&"conv1".to_string())).unwrap();
    assert_eq!(g1.producers, vec!["conv1".to_string(), "conv2".to_string()]);
    assert_eq!((g1.before, g1.after), (8, 6));
    let fc = r.groups.iter().find(|x| x.producers == vec!["fc".to_string()]).unwrap();
    assert!(fc.locked.as_deref().unwrap().contains("graph output"), "{fc:?}");
    assert_eq!(weight_shape(&g, "conv1", 1), vec![6, 3, 3, 3]);
    assert_eq!(weight_shape(&g, "conv2", 1), vec![6, 6, 3, 3]);
    assert_eq!(weight_shape(&g, "dw3", 1), vec![6, 1, 3, 3]);
    assert_eq!(weight_shape(&g, "bn", 1), vec![6]);
    assert_eq!(weight_shape(&g, "conv4", 1), vec![12, 6, 1, 1]);
    assert_eq!(weight_shape(&g, "fc", 1), vec![10, 12]);
    let dw = g.node_ids().find(|&n| g.node(n).name == "dw3").unwrap();
    assert!(matches!(&g.node(dw).op, Op::Conv(c) if c.group == 6));
}

#[test]
fn keep_protects_a_group_and_bn_criterion_works() {
    let mut g = residual_cnn();
    let mut o = opts(PruneMode::Structured(0.5));
    o.keep = vec!["conv2".into()];
    o.criterion = Criterion::Bn;
    let r = prune(&mut g, &o).unwrap();
    let g1 = r.groups.iter().find(|x| x.producers.contains(&"conv1".to_string())).unwrap();
    assert_eq!(g1.after, 8);
    assert_eq!(weight_shape(&g, "conv4", 1), vec![8, 8, 1, 1]);
}

#[test]
fn magnitude_and_two_of_four() {
    let mut g = residual_cnn();
    let r = prune(&mut g, &opts(PruneMode::Sparsity(0.5))).unwrap();
    for l in &r.layers {
        assert!(l.zeros_after * 2 >= l.params, "{l:?}");
    }
    let mut g = residual_cnn();
    let r = prune(&mut g, &opts(PruneMode::NOfM(2, 4))).unwrap();
    let conv2 = r.layers.iter().find(|l| l.name == "conv2").unwrap();
    assert!(conv2.skipped.is_none());
    assert!(conv2.zeros_after * 2 >= conv2.params);
    let conv1 = r.layers.iter().find(|l| l.name == "conv1").unwrap();
    assert!(conv1.skipped.as_deref().unwrap().contains("not a multiple of 4"), "{conv1:?}");
    // Every run of 4 along conv2's input channels keeps at most 2 non-zeros.
    let id = g.node_ids().find(|&n| g.node(n).name == "conv2").unwrap();
    let w = match &g.node(g.inputs_of(id)[1].unwrap().node).op {
        Op::Constant(c) => c.value.to_f64_vec().unwrap(),
        _ => unreachable!(),
    };
    for o in 0..8 {
        for k in 0..9 {
            for start in [0, 4] {
                let nz = (start..start + 4).filter(|i| w[(o * 8 + i) * 9 + k] != 0.0).count();
                assert!(nz <= 2);
            }
        }
    }
}

#[test]
fn bad_requests_are_errors() {
    let mut g = residual_cnn();
    assert!(matches!(
        prune(&mut g, &opts(PruneMode::Structured(1.0))),
        Err(PruneError::BadRatio(_))
    ));
    assert!(matches!(
        prune(&mut g, &opts(PruneMode::Sparsity(-0.1))),
        Err(PruneError::BadRatio(_))
    ));
    assert!(matches!(prune(&mut g, &opts(PruneMode::NOfM(4, 4))), Err(PruneError::BadNm(_))));
    let mut plain = Graph::new("plain");
    let x = plain.add_input("x", None);
    let r = plain.add_op("r", Op::Relu(Relu {}), &[Some(x)], &["r"]).unwrap();
    plain.add_output("r", r.out(0)).unwrap();
    let e = prune(&mut plain, &opts(PruneMode::Structured(0.3))).unwrap_err();
    assert!(e.to_string().contains("nothing to prune"), "{e}");
}
