//! SmoothQuant migration: the rewrite (`X → Mul(1/s)`, `W' = diag(s)·W`) leaves the float
//! function unchanged, shares one Mul between the MatMuls reading the same activation, makes
//! static int8 of an outlier-channel activation more accurate, and the quantized result
//! survives the ONNX round trip.

use edgeport_eval::{Tensor as ETensor, Value};
use edgeport_ir::ops::defs::math::{Add, MatMul};
use edgeport_ir::{DType, Graph, Op, OpKind, Shape, Tensor, ValueType};
use edgeport_passes::quantize::{self, Options, QuantError, smooth};

mod common;
use common::rng;

const K: usize = 32;
const N: usize = 24;

/// x[3,32] → MatMul(Wa) ─┐
///          → MatMul(Wb) ─┴→ Add → y[3,24]
fn model() -> Graph {
    let mut s = 21u64;
    let mut g = Graph::new("smooth");
    let x = g.add_input("x", Some(ValueType::tensor(DType::F32, Some(Shape::known(&[3, K as u64])))));
    let wa: Vec<f32> = (0..K * N).map(|_| rng(&mut s) * 0.3).collect();
    let wb: Vec<f32> = (0..K * N).map(|_| rng(&mut s) * 0.3).collect();
    let wa = g.add_constant("wa", Tensor::from_f32(vec![K, N], &wa).unwrap());
    let wb = g.add_constant("wb", Tensor::from_f32(vec![K, N], &wb).unwrap());
    let a = g.add_op("a", Op::MatMul(MatMul {}), &[Some(x), Some(wa)], &["ya"]).unwrap();
    let b = g.add_op("b", Op::MatMul(MatMul {}), &[Some(x), Some(wb)], &["yb"]).unwrap();
    let add = g.add_op("sum", Op::Add(Add {}), &[Some(a.out(0)), Some(b.out(0))], &["y"]).unwrap();
    g.add_output("y", add.out(0)).unwrap();
    edgeport_ir::infer::infer_types(&mut g).unwrap();
    g
}

/// Channels 0 and 5 are ~100× the others.
fn samples(n: usize, seed: u64) -> Vec<Vec<Value>> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            let v: Vec<f64> = (0..3 * K)
                .map(|i| {
                    let x = rng(&mut s) as f64;
                    if i % K == 0 || i % K == 5 { 100.0 * x } else { x }
                })
                .collect();
            vec![Value::Tensor(ETensor::from_f64(DType::F32, &[3, K], v).unwrap())]
        })
        .collect()
}

#[test]
fn smoothing_keeps_the_float_function() {
    let float = model();
    let mut g = model();
    let done = smooth::apply(&mut g, &samples(8, 1), 0.5, &[]).unwrap();
    edgeport_ir::validate::validate(&g).unwrap();
    // One group (both MatMuls read x): one Mul, both layers listed.
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].layers, vec!["a".to_string(), "b".to_string()]);
    assert_eq!(g.node_ids().filter(|&id| g.node(id).op.kind() == OpKind::Mul).count(), 1);
    // The outlier channels get the largest factors.
    let f = &done[0].factors;
    let big = f[0].min(f[5]);
    assert!(f.iter().enumerate().all(|(i, &x)| i == 0 || i == 5 || x < big), "{f:?}");
    let held = samples(4, 50);
    let a = quantize::run_all(&float, &held).unwrap();
    let b = quantize::run_all(&g, &held).unwrap();
    let m = quantize::compare(&a, &b);
    // Exact up to f32 rounding (outputs are O(100)).
    assert!(m.max_abs < 1e-3 && m.cosine > 0.9999999, "{m:?}");
}

#[test]
fn smoothing_makes_static_int8_more_accurate() {
    let float = model();
    let held = samples(6, 77);
    let reference = quantize::run_all(&float, &held).unwrap();
    let cal = samples(16, 3);
    let run = |alpha: Option<f64>| {
        let mut g = model();
        let r = quantize::quantize(
            &mut g,
            &cal,
            &[],
            &Options {
                smooth_alpha: alpha,
                ..Default::default()
            },
        )
        .unwrap();
        edgeport_ir::validate::validate(&g).unwrap();
        let m = quantize::compare(&reference, &quantize::run_all(&g, &held).unwrap());
        (g, r, m)
    };
    let (_, _, plain) = run(None);
    let (g, r, smoothed) = run(Some(0.5));
    assert!(r.warnings.iter().any(|w| w.contains("smoothing")), "{:?}", r.warnings);
    assert!(
        smoothed.cosine > plain.cosine && 1.0 - smoothed.cosine < 0.5 * (1.0 - plain.cosine),
        "smoothed {smoothed:?} vs plain {plain:?}"
    );
    // Both layers are integer MatMuls reading one QuantizeLinear of the smoothed activation.
    assert_eq!(g.node_ids().filter(|&id| g.node(id).op.kind() == OpKind::MatMulInteger).count(), 2);
    assert_eq!(g.node_ids().filter(|&id| g.node(id).op.kind() == OpKind::QuantizeLinear).count(), 1);

    // The ONNX round trip gives the same numbers.
    let v = edgeport_ir::validate::validate(&g).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("smooth.onnx");
    edgeport_onnx::export_path(&v, &p, &Default::default()).unwrap();
    let back = edgeport_onnx::import_path(&p, &Default::default()).unwrap();
    let m = quantize::compare(&quantize::run_all(&g, &held).unwrap(), &quantize::run_all(&back, &held).unwrap());
    assert!(m.max_abs < 1e-5, "{m:?}");
}

#[test]
fn factors_and_bad_options() {
    // A channel that is zero in the activation or in the weights keeps factor 1; the rest are
    // max|x|^α / max|w|^(1-α), bounded.
    let f = smooth::factors(&[4.0, 0.0, 9.0, 1e30], &[1.0, 2.0, 0.0, 1e-30], 0.5);
    assert_eq!(f[0], 2.0);
    assert_eq!(f[1], 1.0);
    assert_eq!(f[2], 1.0);
    assert!(f[3].is_finite() && f[3] <= 1e4);
    let mut g = model();
    let e = smooth::apply(&mut g, &samples(2, 1), 1.5, &[]).unwrap_err();
    assert!(matches!(e, QuantError::Options(_)), "{e}");
    assert!(e.to_string().contains("1.5"), "{e}");
    // Excluded layers' groups are left alone; no samples means nothing to measure.
    let mut g2 = model();
    assert!(smooth::apply(&mut g2, &samples(2, 1), 0.5, &["a".into()]).unwrap().is_empty());
    assert!(smooth::apply(&mut g2, &[], 0.5, &[]).unwrap().is_empty());
    // NaN in a calibration sample is an error naming the activation.
    let bad = vec![vec![Value::Tensor(
        ETensor::from_f64(DType::F32, &[3, K], vec![f64::NAN; 3 * K]).unwrap(),
    )]];
    let e = smooth::apply(&mut g2, &bad, 0.5, &[]).unwrap_err().to_string();
    assert!(e.contains("NaN") && e.contains('x'), "{e}");
}
