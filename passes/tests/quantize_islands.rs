//! Mixed-precision static int8 with dynamic int8 islands: a MatMul whose activation has an
//! outlier channel (a static per-tensor range erases the other channels) keeps float
//! activations in the IR's sense, emitted as an 8-bit `MatMulNBits` (onnxruntime quantizes its
//! input per row and block at run time). The island computes exactly what the
//! DequantizeLinear → MatMul form computes, and survives the ONNX round trip.

use edgeport_eval::{Tensor as ETensor, Value};
use edgeport_ir::ops::defs::math::{Add, MatMul};
use edgeport_ir::{AttrValue, DType, Graph, Op, OpKind, Shape, Tensor, ValueType};
use edgeport_passes::quantize::{self, Options, nbits8};

mod common;
use common::rng;

const K: usize = 64;
const N: usize = 48;

/// x[4,64] → MatMul(W[64,48]) → Add(b) → y[4,48]
fn model() -> Graph {
    let mut s = 11u64;
    let mut g = Graph::new("island");
    let x = g.add_input("x", Some(ValueType::tensor(DType::F32, Some(Shape::known(&[4, K as u64])))));
    let w: Vec<f32> = (0..K * N).map(|_| rng(&mut s) * 0.2).collect();
    let b: Vec<f32> = (0..N).map(|_| rng(&mut s) * 0.1).collect();
    let w = g.add_constant("w", Tensor::from_f32(vec![K, N], &w).unwrap());
    let b = g.add_constant("b", Tensor::from_f32(vec![N], &b).unwrap());
    let mm = g.add_op("proj", Op::MatMul(MatMul {}), &[Some(x), Some(w)], &["h"]).unwrap();
    let add = g.add_op("bias", Op::Add(Add {}), &[Some(mm.out(0)), Some(b)], &["y"]).unwrap();
    g.add_output("y", add.out(0)).unwrap();
    edgeport_ir::infer::infer_types(&mut g).unwrap();
    g
}

/// Inputs whose channel 0 is ~300× the others (the outlier channel of transformer activations).
fn samples(n: usize, seed: u64) -> Vec<Vec<Value>> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            let v: Vec<f64> = (0..4 * K)
                .map(|i| {
                    let x = rng(&mut s) as f64;
                    if i % K == 0 { 300.0 + 30.0 * x } else { x }
                })
                .collect();
            vec![Value::Tensor(ETensor::from_f64(DType::F32, &[4, K], v).unwrap())]
        })
        .collect()
}

fn quantized(nbits: bool) -> (Graph, quantize::Report) {
    let mut g = model();
    let o = Options {
        min_cosine: Some(0.99995),
        nbits,
        ..Default::default()
    };
    let r = quantize::quantize(&mut g, &samples(16, 3), &samples(6, 7), &o).unwrap();
    edgeport_ir::validate::validate(&g).unwrap();
    (g, r)
}

fn nbits_nodes(g: &Graph) -> Vec<Vec<(String, AttrValue)>> {
    g.node_ids()
        .filter_map(|id| match &g.node(id).op {
            Op::Custom(c) if c.name == "MatMulNBits" => Some(c.attrs.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn static_range_fails_so_the_matmul_becomes_an_island() {
    // Without mixed precision the static activation range costs accuracy.
    let float = model();
    let held = samples(6, 99);
    let reference = quantize::run_all(&float, &held).unwrap();
    let mut all_static = model();
    quantize::quantize(&mut all_static, &samples(16, 3), &[], &Options::default()).unwrap();
    let m_static = quantize::compare(&reference, &quantize::run_all(&all_static, &held).unwrap());
    assert!(m_static.cosine < 0.99995, "the test needs a layer static int8 hurts: {m_static:?}");

    let (g, r) = quantized(true);
    let nodes = nbits_nodes(&g);
    assert_eq!(nodes.len(), 1, "one island expected");
    let attr = |k: &str| nodes[0].iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(attr("bits"), Some(AttrValue::Int(8)));
    assert_eq!(attr("accuracy_level"), Some(AttrValue::Int(4)));
    assert_eq!(attr("K"), Some(AttrValue::Int(K as i64)));
    assert_eq!(attr("N"), Some(AttrValue::Int(N as i64)));
    assert_eq!(attr("block_size"), Some(AttrValue::Int(64)));
    assert_eq!(g.node_ids().filter(|&id| g.node(id).op.kind() == OpKind::MatMul).count(), 0);
    let proj = r.layers.iter().find(|l| l.name == "proj").unwrap();
    assert!(proj.precision.contains("dynamic int8 activations"), "{}", proj.precision);
    let m = quantize::compare(&reference, &quantize::run_all(&g, &held).unwrap());
    assert!(m.cosine >= 0.99995 && m.cosine > m_static.cosine, "{m:?} vs static {m_static:?}");
}

#[test]
fn island_computes_what_the_dequantize_form_computes() {
    let (island, _) = quantized(true);
    let (dq_form, r) = quantized(false);
    assert!(nbits_nodes(&dq_form).is_empty());
    let proj = r.layers.iter().find(|l| l.name == "proj").unwrap();
    assert!(proj.precision.contains("float activations"), "{}", proj.precision);
    let held = samples(4, 5);
    let a = quantize::run_all(&dq_form, &held).unwrap();
    let b = quantize::run_all(&island, &held).unwrap();
    let m = quantize::compare(&a, &b);
    assert!(m.max_abs < 1e-3 && m.cosine > 0.9999999, "{m:?}");
}

#[test]
fn island_survives_the_onnx_round_trip() {
    let (g, _) = quantized(true);
    let v = edgeport_ir::validate::validate(&g).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("island.onnx");
    edgeport_onnx::export_path(&v, &p, &Default::default()).unwrap();
    let back = edgeport_onnx::import_path(&p, &Default::default()).unwrap();
    assert_eq!(nbits_nodes(&back).len(), 1);
    let held = samples(3, 21);
    let m = quantize::compare(&quantize::run_all(&g, &held).unwrap(), &quantize::run_all(&back, &held).unwrap());
    assert!(m.max_abs < 1e-6, "{m:?}");
}

#[test]
fn column_packing_round_trips() {
    let (k, n) = (4, 3);
    let codes: Vec<i8> = vec![-128, -1, 0, 1, 127, -127, 5, -5, 64, -64, 100, -100];
    let b = nbits8::pack_columns(&codes, k, n).unwrap();
    assert_eq!(b.len(), k * n);
    for c in 0..n {
        for r in 0..k {
            assert_eq!(b[c * k + r] - 128, i32::from(codes[r * n + c]), "column {c} row {r}");
            assert!((0..=255).contains(&b[c * k + r]));
        }
    }
    // A shape that does not match the codes is refused, not indexed out of range.
    assert!(nbits8::pack_columns(&codes, 5, 3).is_none());
    assert!(nbits8::pack_columns(&codes, usize::MAX, 2).is_none());
}
