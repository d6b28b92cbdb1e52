//! The residual Add in front of a LayerNormalization is written as Sum (onnxruntime's
//! Add+LayerNormalization fusion is the slower kernel): only Adds read solely by
//! LayerNormalization data inputs change, the numbers do not, and static int8 applies it.

use edgeport_eval::{Tensor as ETensor, Value};
use edgeport_ir::ops::defs::math::{Add, MatMul, Relu};
use edgeport_ir::ops::defs::nn::LayerNormalization;
use edgeport_ir::{DType, Graph, Op, OpKind, Shape, Tensor, ValueType};
use edgeport_passes::quantize::{self, Options, ln_sum};

mod common;
use common::rng;

/// x[2,16] → MatMul(W) → h;  Add(h, x) → LayerNorm → y1;  Add(h, x) → Relu → y2
fn model() -> Graph {
    let mut s = 4u64;
    let mut g = Graph::new("ln");
    let x = g.add_input("x", Some(ValueType::tensor(DType::F32, Some(Shape::known(&[2, 16])))));
    let w: Vec<f32> = (0..16 * 16).map(|_| rng(&mut s) * 0.3).collect();
    let w = g.add_constant("w", Tensor::from_f32(vec![16, 16], &w).unwrap());
    let gamma = g.add_constant("gamma", Tensor::from_f32(vec![16], &[1.5; 16]).unwrap());
    let beta = g.add_constant("beta", Tensor::from_f32(vec![16], &[0.25; 16]).unwrap());
    let h = g.add_op("mm", Op::MatMul(MatMul {}), &[Some(x), Some(w)], &["h"]).unwrap();
    let a1 = g.add_op("res", Op::Add(Add {}), &[Some(h.out(0)), Some(x)], &["r"]).unwrap();
    let ln = g
        .add_op(
            "ln",
            Op::LayerNormalization(LayerNormalization::default()),
            &[Some(a1.out(0)), Some(gamma), Some(beta)],
            &["y1"],
        )
        .unwrap();
    let a2 = g.add_op("other", Op::Add(Add {}), &[Some(h.out(0)), Some(x)], &["o"]).unwrap();
    let r = g.add_op("relu", Op::Relu(Relu {}), &[Some(a2.out(0))], &["y2"]).unwrap();
    g.add_output("y1", ln.out(0)).unwrap();
    g.add_output("y2", r.out(0)).unwrap();
    edgeport_ir::infer::infer_types(&mut g).unwrap();
    g
}

fn samples(n: usize, seed: u64) -> Vec<Vec<Value>> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            let v: Vec<f64> = (0..32).map(|_| f64::from(rng(&mut s))).collect();
            vec![Value::Tensor(ETensor::from_f64(DType::F32, &[2, 16], v).unwrap())]
        })
        .collect()
}

fn count(g: &Graph, k: OpKind) -> usize {
    g.node_ids().filter(|&id| g.node(id).op.kind() == k).count()
}

#[test]
fn only_the_add_before_layer_norm_becomes_sum() {
    let float = model();
    let mut g = model();
    assert_eq!(ln_sum::rewrite(&mut g), 1);
    edgeport_ir::validate::validate(&g).unwrap();
    assert_eq!(count(&g, OpKind::Sum), 1);
    assert_eq!(count(&g, OpKind::Add), 1);
    let sum = g.node_ids().find(|&id| g.node(id).op.kind() == OpKind::Sum).unwrap();
    assert_eq!(g.node(sum).name, "res");
    let held = samples(3, 8);
    let m = quantize::compare(&quantize::run_all(&float, &held).unwrap(), &quantize::run_all(&g, &held).unwrap());
    assert_eq!(m.max_abs, 0.0, "{m:?}");
    // Idempotent: nothing left to rewrite.
    assert_eq!(ln_sum::rewrite(&mut g), 0);
}

#[test]
fn static_int8_writes_the_sum_form() {
    let mut g = model();
    quantize::quantize(&mut g, &samples(8, 1), &[], &Options::default()).unwrap();
    edgeport_ir::validate::validate(&g).unwrap();
    assert_eq!(count(&g, OpKind::Sum), 1);
    // A full-integer (TFLite) target keeps its Add.
    let mut t = model();
    let o = Options {
        full_integer: true,
        act_dtype: DType::I8,
        ..Default::default()
    };
    quantize::quantize(&mut t, &samples(8, 1), &[], &o).unwrap();
    assert_eq!(count(&t, OpKind::Sum), 0);
}
