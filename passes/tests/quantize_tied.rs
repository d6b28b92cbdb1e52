//! Static int8 keeps data in integers through pooling and data-movement ops: a MaxPool, a zero
//! Pad and a Resize share their input's scale and zero point (onnxruntime drops the QDQ around a
//! MaxPool only then; the Pad and a nearest Resize are moved onto the integers by the quantizer),
//! and an Add whose output reaches a pool gets its own point (QLinearAdd, then the pool on the
//! integers).

use edgeport_eval::Value;
use edgeport_ir::ops::defs::math::{Add, Gemm, Relu};
use edgeport_ir::ops::defs::nn::{Conv, Flatten, GlobalAveragePool, MaxPool};
use edgeport_ir::ops::defs::tensor::{Pad, Resize};
use edgeport_ir::{DType, Graph, NodeId, Op, OpKind, Shape, Tensor, ValueId, ValueType};
use edgeport_passes::quantize::{self, Options};

mod common;
use common::rng;

fn conv(g: &mut Graph, name: &str, x: ValueId, cout: usize, cin: usize, s: &mut u64) -> NodeId {
    let w: Vec<f32> = (0..cout * cin).map(|_| rng(s)).collect();
    let w = g.add_constant(format!("{name}_w"), Tensor::from_f32(vec![cout, cin, 1, 1], &w).unwrap());
    g.add_op(name, Op::Conv(Conv::default()), &[Some(x), Some(w)], &[name]).unwrap()
}

/// x[1,4,8,8] → conv a → Relu → MaxPool 2×2 = m[1,4,4,4];
/// m → Pad 1 → conv b = [1,4,6,6]; m → conv c → Resize ×1.5 (`mode`) = [1,4,6,6];
/// their Add → Relu → GlobalAveragePool → Flatten → Gemm → y.
fn model(mode: &str) -> Graph {
    let mut s = 5u64;
    let mut g = Graph::new("tied");
    let x = g.add_input("x", Some(ValueType::tensor(DType::F32, Some(Shape::known(&[1, 4, 8, 8])))));
    let a = conv(&mut g, "a", x, 4, 4, &mut s);
    let r = g.add_op("relu_a", Op::Relu(Relu {}), &[Some(a.out(0))], &["ra"]).unwrap();
    let mp = MaxPool {
        kernel_shape: vec![2, 2],
        strides: vec![2, 2],
        ..Default::default()
    };
    let m = g.add_op("pool", Op::MaxPool(mp), &[Some(r.out(0))], &["m"]).unwrap();
    let pads = g.add_constant("pads", Tensor::from_i64(vec![8], &[0, 0, 1, 1, 0, 0, 1, 1]).unwrap());
    let p = g
        .add_op("pad", Op::Pad(Pad::default()), &[Some(m.out(0)), Some(pads)], &["padded"])
        .unwrap();
    let b = conv(&mut g, "b", p.out(0), 4, 4, &mut s);
    let c = conv(&mut g, "c", m.out(0), 4, 4, &mut s);
    let scales = g.add_constant("scales", Tensor::from_f32(vec![4], &[1.0, 1.0, 1.5, 1.5]).unwrap());
    let rz = Resize {
        mode: mode.into(),
        ..Default::default()
    };
    let up = g
        .add_op("up", Op::Resize(rz), &[Some(c.out(0)), None, Some(scales)], &["up"])
        .unwrap();
    let add = g
        .add_op("add", Op::Add(Add {}), &[Some(b.out(0)), Some(up.out(0))], &["sum"])
        .unwrap();
    let relu = g.add_op("relu", Op::Relu(Relu {}), &[Some(add.out(0))], &["act"]).unwrap();
    let gap = g
        .add_op(
            "gap",
            Op::GlobalAveragePool(GlobalAveragePool::default()),
            &[Some(relu.out(0))],
            &["pooled"],
        )
        .unwrap();
    let f = g
        .add_op("flat", Op::Flatten(Flatten { axis: 1 }), &[Some(gap.out(0))], &["flat"])
        .unwrap();
    let w: Vec<f32> = (0..3 * 4).map(|_| rng(&mut s)).collect();
    let w = g.add_constant("fc_w", Tensor::from_f32(vec![3, 4], &w).unwrap());
    let gemm = Gemm {
        transB: 1,
        ..Default::default()
    };
    let fc = g.add_op("fc", Op::Gemm(gemm), &[Some(f.out(0)), Some(w)], &["y"]).unwrap();
    g.add_output("y", fc.out(0)).unwrap();
    edgeport_ir::infer::infer_types(&mut g).unwrap();
    g
}

fn samples(n: usize, seed: u64) -> Vec<Vec<Value>> {
    common::samples(n, seed, &[1, 4, 8, 8], 2.0)
}

fn node(g: &Graph, name: &str) -> NodeId {
    g.node_ids().find(|&id| g.node(id).name == name).unwrap()
}

fn dtype(g: &Graph, v: ValueId) -> Option<DType> {
    g.value(v)?.ty.as_ref()?.as_tensor().map(|t| t.dtype)
}

/// The (scale, zero point) constants a QuantizeLinear/DequantizeLinear node reads.
fn params(g: &Graph, q: NodeId) -> (f64, f64) {
    let ins = g.inputs_of(q);
    let c = |i: usize| g.constant_of(ins[i].unwrap()).unwrap().to_f64_vec().unwrap()[0];
    (c(1), c(2))
}

/// The only consumer of `id`'s output.
fn consumer(g: &Graph, id: NodeId) -> NodeId {
    let cons = g.consumers(id.out(0));
    assert_eq!(cons.len(), 1, "{} has {} consumers", g.node(id).name, cons.len());
    cons[0].0
}

fn quantized(mode: &str) -> (Graph, Graph) {
    let float = model(mode);
    let mut g = model(mode);
    quantize::quantize(&mut g, &samples(16, 3), &[], &Options::default()).unwrap();
    edgeport_ir::validate::validate(&g).unwrap();
    (float, g)
}

fn close(float: &Graph, g: &Graph) {
    let held = samples(4, 91);
    let m = quantize::compare(&quantize::run_all(float, &held).unwrap(), &quantize::run_all(g, &held).unwrap());
    assert!(m.cosine > 0.999, "{m:?}");
}

#[test]
fn maxpool_pad_and_nearest_resize_stay_in_integers() {
    let (float, g) = quantized("nearest");
    // MaxPool: DequantizeLinear → MaxPool → QuantizeLinear with the same parameters on both sides.
    let pool = node(&g, "pool");
    let dq = g.inputs_of(pool)[0].unwrap().node;
    assert_eq!(g.node(dq).op.kind(), OpKind::DequantizeLinear);
    let q = consumer(&g, pool);
    assert_eq!(g.node(q).op.kind(), OpKind::QuantizeLinear);
    assert_eq!(params(&g, dq), params(&g, q));
    // The Pad and the nearest Resize read the integers and feed a DequantizeLinear.
    for name in ["pad", "up"] {
        let id = node(&g, name);
        let x = g.inputs_of(id)[0].unwrap();
        assert_eq!(dtype(&g, x), Some(DType::U8), "{name} input");
        assert_eq!(dtype(&g, id.out(0)), Some(DType::U8), "{name} output");
        assert_eq!(g.node(consumer(&g, id)).op.kind(), OpKind::DequantizeLinear, "{name}");
    }
    // The Pad pads with the zero point.
    let pad = node(&g, "pad");
    let zp = g.constant_of(g.inputs_of(pad)[2].unwrap()).unwrap().to_f64_vec().unwrap()[0];
    let src = g.inputs_of(pad)[0].unwrap().node;
    assert_eq!(g.node(src).op.kind(), OpKind::QuantizeLinear);
    assert_eq!(zp, params(&g, src).1);
    // The Add's Relu is folded into its QuantizeLinear, and the pool reads integers.
    assert_eq!(g.node_ids().filter(|&id| g.node(id).op.kind() == OpKind::Relu).count(), 0);
    assert_eq!(g.node(consumer(&g, node(&g, "add"))).op.kind(), OpKind::QuantizeLinear);
    assert_eq!(g.node(consumer(&g, node(&g, "gap"))).op.kind(), OpKind::QuantizeLinear);
    close(&float, &g);
}

#[test]
fn a_linear_resize_stays_float_between_tied_points() {
    let (float, g) = quantized("linear");
    let up = node(&g, "up");
    let dq = g.inputs_of(up)[0].unwrap().node;
    assert_eq!(g.node(dq).op.kind(), OpKind::DequantizeLinear);
    assert_eq!(dtype(&g, up.out(0)), Some(DType::F32));
    let q = consumer(&g, up);
    assert_eq!(g.node(q).op.kind(), OpKind::QuantizeLinear);
    assert_eq!(params(&g, dq), params(&g, q));
    close(&float, &g);
}
