//! Static int8 with `float_where_faster` keeps float the layers whose float kernels the latency
//! model prices below their int8 ones: an RGB 3×3 stem (its int8 kernel reduces over 27 values
//! only, and it spares the graph input's conversion) and its neighbours up to a smaller
//! activation; by default every layer is int8. A 7×7 stem (147 values) stays int8.

use edgeport_eval::Value;
use edgeport_ir::ops::defs::math::Relu;
use edgeport_ir::ops::defs::nn::Conv;
use edgeport_ir::{DType, Graph, Shape, Tensor, ValueId, ValueType};
use edgeport_passes::quantize::{self, Options};

mod common;
use common::rng;

/// A conv layer: output channels, input channels per group, kernel, groups, stride.
struct Spec(usize, usize, usize, usize, i64);

fn conv(g: &mut Graph, name: &str, x: ValueId, Spec(cout, cin_g, k, group, stride): Spec, s: &mut u64) -> ValueId {
    let w: Vec<f32> = (0..cout * cin_g * k * k).map(|_| rng(s) * 0.5).collect();
    let w = g.add_constant(format!("{name}_w"), Tensor::from_f32(vec![cout, cin_g, k, k], &w).unwrap());
    let c = Conv {
        group: group as i64,
        strides: vec![stride, stride],
        pads: vec![(k / 2) as i64; 4],
        ..Default::default()
    };
    let id = g.add_op(name, edgeport_ir::Op::Conv(c), &[Some(x), Some(w)], &[name]).unwrap();
    let r = g
        .add_op(
            format!("{name}_relu"),
            edgeport_ir::Op::Relu(Relu {}),
            &[Some(id.out(0))],
            &[&format!("{name}_r")],
        )
        .unwrap();
    r.out(0)
}

/// x[1,3,32,32] → stem (k×k, stride 2, 16) → depthwise 3×3 → pointwise 16→8 → expand 8→48 →
/// depthwise → pointwise 48→8 → y.
fn model(stem_k: usize) -> Graph {
    let mut s = 21u64;
    let mut g = Graph::new("mobile");
    let x = g.add_input("x", Some(ValueType::tensor(DType::F32, Some(Shape::known(&[1, 3, 32, 32])))));
    let a = conv(&mut g, "stem", x, Spec(16, 3, stem_k, 1, 2), &mut s);
    let b = conv(&mut g, "dw1", a, Spec(16, 1, 3, 16, 1), &mut s);
    let c = conv(&mut g, "pw1", b, Spec(8, 16, 1, 1, 1), &mut s);
    let d = conv(&mut g, "exp2", c, Spec(48, 8, 1, 1, 1), &mut s);
    let e = conv(&mut g, "dw2", d, Spec(48, 1, 3, 48, 1), &mut s);
    let f = conv(&mut g, "pw2", e, Spec(8, 48, 1, 1, 1), &mut s);
    g.add_output("y", f).unwrap();
    edgeport_ir::infer::infer_types(&mut g).unwrap();
    g
}

fn samples(n: usize, seed: u64) -> Vec<Vec<Value>> {
    common::samples(n, seed, &[1, 3, 32, 32], 1.0)
}

fn float_layers(rep: &quantize::Report) -> Vec<&str> {
    rep.layers
        .iter()
        .filter(|l| l.precision.starts_with("float"))
        .map(|l| l.name.as_str())
        .collect()
}

#[test]
fn an_rgb_stem_and_its_block_stay_float_where_faster() {
    let float = model(3);
    let mut g = model(3);
    let o = Options {
        float_where_faster: true,
        ..Default::default()
    };
    let rep = quantize::quantize(&mut g, &samples(8, 1), &[], &o).unwrap();
    edgeport_ir::validate::validate(&g).unwrap();
    assert_eq!(float_layers(&rep), ["stem", "dw1", "pw1"], "{:?}", rep.layers);
    assert!(
        rep.warnings.iter().any(|w| w.contains("3 layer(s) stay float")),
        "{:?}",
        rep.warnings
    );
    let held = samples(4, 50);
    let m = quantize::compare(&quantize::run_all(&float, &held).unwrap(), &quantize::run_all(&g, &held).unwrap());
    assert!(m.cosine > 0.999, "{m:?}");

    let mut h = model(3);
    let rep = quantize::quantize(&mut h, &samples(8, 1), &[], &Options::default()).unwrap();
    assert!(float_layers(&rep).is_empty(), "{:?}", rep.layers);
}

#[test]
fn a_seven_by_seven_stem_stays_int8() {
    let mut g = model(7);
    let o = Options {
        float_where_faster: true,
        ..Default::default()
    };
    let rep = quantize::quantize(&mut g, &samples(8, 1), &[], &o).unwrap();
    assert!(float_layers(&rep).is_empty(), "{:?}", rep.layers);
}
