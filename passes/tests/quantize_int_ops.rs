//! Static int8 puts the points where runtimes fuse integer kernels: a residual Add's Relu6 that
//! the following QuantizeLinear already saturates to is dropped (so `Add → QuantizeLinear` runs as
//! one QLinearAdd), and a pool reading a quantized value gets its own point (QLinearGlobalAveragePool).

use edgeport_eval::Value;
use edgeport_ir::ops::defs::math::{Add, Clip, Gemm};
use edgeport_ir::ops::defs::nn::{Conv, Flatten, GlobalAveragePool};
use edgeport_ir::{DType, Graph, NodeId, Op, OpKind, Shape, Tensor, ValueType};
use edgeport_passes::quantize::{self, Options};

mod common;
use common::rng;

fn conv(g: &mut Graph, name: &str, x: edgeport_ir::ValueId, cout: usize, cin: usize, s: &mut u64) -> NodeId {
    let w: Vec<f32> = (0..cout * cin).map(|_| rng(s)).collect();
    let w = g.add_constant(format!("{name}_w"), Tensor::from_f32(vec![cout, cin, 1, 1], &w).unwrap());
    g.add_op(name, Op::Conv(Conv::default()), &[Some(x), Some(w)], &[name]).unwrap()
}

/// x[1,4,6,6] → conv a, conv b → Add → Clip(0, 6) → conv c → GlobalAveragePool → Flatten →
/// Gemm → y.
fn model() -> Graph {
    let mut s = 11u64;
    let mut g = Graph::new("residual");
    let x = g.add_input("x", Some(ValueType::tensor(DType::F32, Some(Shape::known(&[1, 4, 6, 6])))));
    let a = conv(&mut g, "a", x, 4, 4, &mut s);
    let b = conv(&mut g, "b", x, 4, 4, &mut s);
    let add = g
        .add_op("add", Op::Add(Add {}), &[Some(a.out(0)), Some(b.out(0))], &["sum"])
        .unwrap();
    let lo = g.add_constant("lo", Tensor::from_f32(vec![], &[0.0]).unwrap());
    let hi = g.add_constant("hi", Tensor::from_f32(vec![], &[6.0]).unwrap());
    let clip = g
        .add_op("relu6", Op::Clip(Clip {}), &[Some(add.out(0)), Some(lo), Some(hi)], &["act"])
        .unwrap();
    let c = conv(&mut g, "c", clip.out(0), 8, 4, &mut s);
    let p = g
        .add_op(
            "gap",
            Op::GlobalAveragePool(GlobalAveragePool::default()),
            &[Some(c.out(0))],
            &["pooled"],
        )
        .unwrap();
    let f = g
        .add_op("flat", Op::Flatten(Flatten { axis: 1 }), &[Some(p.out(0))], &["flat"])
        .unwrap();
    let w: Vec<f32> = (0..3 * 8).map(|_| rng(&mut s)).collect();
    let w = g.add_constant("fc_w", Tensor::from_f32(vec![3, 8], &w).unwrap());
    let fc = g
        .add_op(
            "fc",
            Op::Gemm(Gemm {
                transB: 1,
                ..Default::default()
            }),
            &[Some(f.out(0)), Some(w)],
            &["y"],
        )
        .unwrap();
    g.add_output("y", fc.out(0)).unwrap();
    edgeport_ir::infer::infer_types(&mut g).unwrap();
    g
}

fn samples(n: usize, seed: u64) -> Vec<Vec<Value>> {
    common::samples(n, seed, &[1, 4, 6, 6], 2.0)
}

fn only_consumer(g: &Graph, name: &str) -> OpKind {
    let id = g.node_ids().find(|&id| g.node(id).name == name).unwrap();
    let cons = g.consumers(id.out(0));
    assert_eq!(cons.len(), 1, "{name} has {} consumers", cons.len());
    g.node(cons[0].0).op.kind()
}

#[test]
fn residual_relu6_is_dropped_and_the_pool_is_quantized() {
    let float = model();
    let mut g = model();
    quantize::quantize(&mut g, &samples(16, 5), &[], &Options::default()).unwrap();
    edgeport_ir::validate::validate(&g).unwrap();
    // The Relu6 after the Add is gone: its QuantizeLinear reads the Add (range [0, 6] or less,
    // zero point 0, so the saturation is the clip).
    assert_eq!(g.node_ids().filter(|&id| g.node(id).op.kind() == OpKind::Clip).count(), 0);
    assert_eq!(only_consumer(&g, "add"), OpKind::QuantizeLinear);
    // The pool's output is quantized, and so is what the classifier reads.
    assert_eq!(only_consumer(&g, "gap"), OpKind::QuantizeLinear);
    // Numbers: close to the float model on held-out inputs.
    let held = samples(4, 77);
    let m = quantize::compare(&quantize::run_all(&float, &held).unwrap(), &quantize::run_all(&g, &held).unwrap());
    assert!(m.cosine > 0.999, "{m:?}");
}

#[test]
fn a_relu6_that_is_a_graph_output_stays() {
    let mut g = model();
    let act = g.find_value("act").unwrap();
    let y = g.find_value("y").unwrap();
    g.set_outputs(vec![("y".into(), y), ("act".into(), act)]).unwrap();
    quantize::quantize(&mut g, &samples(16, 5), &[], &Options::default()).unwrap();
    edgeport_ir::validate::validate(&g).unwrap();
    assert_eq!(g.node_ids().filter(|&id| g.node(id).op.kind() == OpKind::Clip).count(), 1);
}
