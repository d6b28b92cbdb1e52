//! Mixed precision on a small conv net (stem → pointwise → pointwise): the layers the search
//! keeps float are float through and through in the ONNX form (float16 weights behind a Cast,
//! float bias), or keep int8 weights as a Cast → Mul of the codes with `float_layer_weights`
//! off (never a DequantizeLinear in front of a float conv, which onnxruntime would run on every
//! call). Both meet the budget, compute what their graphs promise, and survive the ONNX round
//! trip.

use edgeport_eval::{Tensor as ETensor, Value};
use edgeport_ir::ops::defs::math::Relu;
use edgeport_ir::ops::defs::nn::Conv;
use edgeport_ir::{DType, Graph, NodeId, Op, OpKind, Shape, Tensor, ValueType};
use edgeport_passes::quantize::{self, Options, Report};

mod common;
use common::rng;

const HW: u64 = 12;

fn conv_layer(g: &mut Graph, name: &str, x: edgeport_ir::ValueId, cin: usize, cout: usize, k: usize, s: &mut u64) -> edgeport_ir::ValueId {
    let scale = (2.0 / (cin * k * k) as f32).sqrt() * 1.7;
    let w: Vec<f32> = (0..cout * cin * k * k).map(|_| rng(s) * scale).collect();
    let b: Vec<f32> = (0..cout).map(|_| rng(s) * 0.1).collect();
    let w = g.add_constant(format!("{name}.w"), Tensor::from_f32(vec![cout, cin, k, k], &w).unwrap());
    let b = g.add_constant(format!("{name}.b"), Tensor::from_f32(vec![cout], &b).unwrap());
    let c = Conv {
        pads: vec![(k / 2) as i64; 4],
        ..Default::default()
    };
    let id = g
        .add_op(name, Op::Conv(c), &[Some(x), Some(w), Some(b)], &[&format!("{name}.y")])
        .unwrap();
    let r = g
        .add_op(
            format!("{name}.relu"),
            Op::Relu(Relu {}),
            &[Some(id.out(0))],
            &[&format!("{name}.r")],
        )
        .unwrap();
    r.out(0)
}

/// x[1,3,12,12] → 3×3 conv 3→8 → 1×1 conv 8→16 → 1×1 conv 16→8 → y
fn model() -> Graph {
    let mut s = 5u64;
    let mut g = Graph::new("convnet");
    let x = g.add_input("x", Some(ValueType::tensor(DType::F32, Some(Shape::known(&[1, 3, HW, HW])))));
    let a = conv_layer(&mut g, "stem", x, 3, 8, 3, &mut s);
    let b = conv_layer(&mut g, "expand", a, 8, 16, 1, &mut s);
    let c = conv_layer(&mut g, "project", b, 16, 8, 1, &mut s);
    g.add_output("y", c).unwrap();
    edgeport_ir::infer::infer_types(&mut g).unwrap();
    g
}

fn samples(n: usize, seed: u64) -> Vec<Vec<Value>> {
    let mut s = seed;
    let len = (3 * HW * HW) as usize;
    (0..n)
        .map(|_| {
            let v: Vec<f64> = (0..len).map(|_| rng(&mut s) as f64 * 2.0).collect();
            vec![Value::Tensor(
                ETensor::from_f64(DType::F32, &[1, 3, HW as usize, HW as usize], v).unwrap(),
            )]
        })
        .collect()
}

fn cosine_of(g: &Graph) -> f64 {
    let held = samples(6, 99);
    let a = quantize::run_all(&model(), &held).unwrap();
    let b = quantize::run_all(g, &held).unwrap();
    quantize::compare(&a, &b).cosine
}

fn quantized(min_cosine: Option<f64>, float_layer_weights: bool) -> (Graph, Report) {
    let mut g = model();
    let o = Options {
        min_cosine,
        float_layer_weights,
        ..Default::default()
    };
    let r = quantize::quantize(&mut g, &samples(16, 3), &samples(6, 99), &o).unwrap();
    edgeport_ir::validate::validate(&g).unwrap();
    (g, r)
}

fn conv_named(g: &Graph, name: &str) -> NodeId {
    g.node_ids().find(|&id| g.node(id).name == name).unwrap()
}

/// The op making a conv's weight input, and the dtype of the constant behind it.
fn weight_form(g: &Graph, conv: NodeId) -> (OpKind, Option<DType>) {
    let w = g.inputs_of(conv)[1].unwrap();
    let maker = g.node(w.node);
    let src = g.inputs_of(w.node).first().copied().flatten();
    let src_dtype = src.and_then(|v| match &g.node(v.node).op {
        Op::Constant(c) => Some(c.value.dtype),
        Op::Cast(_) => g.inputs_of(v.node)[0].and_then(|c| match &g.node(c.node).op {
            Op::Constant(c) => Some(c.value.dtype),
            _ => None,
        }),
        _ => None,
    });
    (maker.op.kind(), src_dtype)
}

/// A budget halfway between full int8 and float: some layers must stay float, not all.
fn budget() -> f64 {
    let (g, _) = quantized(None, true);
    let full = cosine_of(&g);
    assert!(full < 0.99999, "the test needs int8 to cost something: {full}");
    full + (1.0 - full) * 0.5
}

#[test]
fn float_layers_get_float16_weights_and_meet_the_budget() {
    let want = budget();
    let (g, r) = quantized(Some(want), true);
    let c = cosine_of(&g);
    assert!(c >= want - 1e-9, "{c} < {want}");
    let float: Vec<&str> = r
        .layers
        .iter()
        .filter(|l| l.precision == "float (float16 weights)")
        .map(|l| l.name.as_str())
        .collect();
    let int8: Vec<&str> = r.layers.iter().filter(|l| l.precision == "int8").map(|l| l.name.as_str()).collect();
    assert!(!float.is_empty() && !int8.is_empty(), "{:?}", r.layers);
    assert_eq!(float.len() + int8.len(), 3, "{:?}", r.layers);
    for name in &float {
        // Cast(float16 constant) → Conv, and the bias stays a float constant.
        assert_eq!(weight_form(&g, conv_named(&g, name)), (OpKind::Cast, Some(DType::F16)), "{name}");
        let b = g.inputs_of(conv_named(&g, name))[2].unwrap();
        assert!(
            matches!(&g.node(b.node).op, Op::Constant(c) if c.value.dtype == DType::F32),
            "{name}"
        );
    }
    for name in &int8 {
        assert_eq!(weight_form(&g, conv_named(&g, name)), (OpKind::DequantizeLinear, Some(DType::I8)));
    }
    assert!(
        r.warnings.iter().any(|w| w.contains(&format!(
            "{} of 3 layers stay float ({} with float16 weights)",
            float.len(),
            float.len()
        ))),
        "{:?}",
        r.warnings
    );
    // Every layer's sensitivity (cosine with only it quantized) is reported.
    assert!(
        r.layers.iter().all(|l| l.sensitivity.is_some_and(|s| s > 0.9 && s <= 1.0)),
        "{:?}",
        r.layers
    );
}

#[test]
fn int8_float_layers_are_a_cast_and_mul_of_the_codes() {
    let want = budget();
    let (g, r) = quantized(Some(want), false);
    assert!(cosine_of(&g) >= want - 1e-9);
    let kept: Vec<&str> = r
        .layers
        .iter()
        .filter(|l| l.precision.contains("float activations"))
        .map(|l| l.name.as_str())
        .collect();
    assert!(!kept.is_empty(), "{:?}", r.layers);
    for name in kept {
        let conv = conv_named(&g, name);
        // Mul(Cast(int8 codes), per-channel scales shaped to broadcast over [C, 1, 1, 1]).
        let (kind, _) = weight_form(&g, conv);
        assert_eq!(kind, OpKind::Mul, "{name}");
        let mul = g.inputs_of(conv)[1].unwrap().node;
        let ins = g.inputs_of(mul);
        let cast = ins[0].unwrap().node;
        assert_eq!(g.node(cast).op.kind(), OpKind::Cast);
        let codes = g.inputs_of(cast)[0].unwrap().node;
        assert!(matches!(&g.node(codes).op, Op::Constant(c) if c.value.dtype == DType::I8 && c.value.quant.is_none()));
        let scales = ins[1].unwrap().node;
        match &g.node(scales).op {
            Op::Constant(c) => assert_eq!(c.value.shape[1..], [1, 1, 1]),
            other => panic!("scales made by {}", other.name()),
        }
    }
    // Nothing reads a DequantizeLinear weight with a float activation input.
    for id in g.node_ids().filter(|&id| g.node(id).op.kind() == OpKind::Conv) {
        let x = g.inputs_of(id)[0].unwrap();
        if g.node(x.node).op.kind() != OpKind::DequantizeLinear {
            assert_ne!(weight_form(&g, id).0, OpKind::DequantizeLinear, "{}", g.node(id).name);
        }
    }
}

#[test]
fn both_forms_survive_the_onnx_round_trip() {
    let want = budget();
    for fw in [true, false] {
        let (g, _) = quantized(Some(want), fw);
        let v = edgeport_ir::validate::validate(&g).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("mixed.onnx");
        edgeport_onnx::export_path(&v, &p, &Default::default()).unwrap();
        let back = edgeport_onnx::import_path(&p, &Default::default()).unwrap();
        let held = samples(3, 21);
        let m = quantize::compare(&quantize::run_all(&g, &held).unwrap(), &quantize::run_all(&back, &held).unwrap());
        assert!(m.max_abs < 1e-5, "float weights {fw}: {m:?}");
    }
}
