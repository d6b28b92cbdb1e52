//! A channels-last Conv whose weight reads the way a .tflite import gives it —
//! `Transpose(Cast(float16 constant in OHWI))` — is quantized: the quantizer folds the Cast and
//! the Transpose of the constant first (before, such a model had "no quantizable op").

use edgeport_ir::ops::Layout;
use edgeport_ir::ops::defs::math::Relu;
use edgeport_ir::ops::defs::nn::Conv;
use edgeport_ir::ops::defs::tensor::{Cast, Transpose};
use edgeport_ir::{DType, Graph, Op, OpKind, Shape, Tensor, ValueType};
use edgeport_passes::quantize::{self, Options};

mod common;

fn model() -> Graph {
    let mut g = Graph::new("tflite_like");
    let x = g.add_input("x", Some(ValueType::tensor(DType::F32, Some(Shape::known(&[1, 6, 6, 2])))));
    let w: Vec<half::f16> = common::rand(4 * 3 * 3 * 2, 7).into_iter().map(half::f16::from_f32).collect();
    let bytes: Vec<u8> = w.iter().flat_map(|v| v.to_le_bytes()).collect();
    let w16 = Tensor::from_bytes(DType::F16, vec![4, 3, 3, 2], edgeport_ir::Bytes::from_vec(bytes)).unwrap();
    let w16 = g.add_constant("w_f16", w16);
    let cast = Cast {
        to: DType::F32.onnx_code() as i64,
        ..Default::default()
    };
    let cast = g.add_op("dequantize", Op::Cast(cast), &[Some(w16)], &["w_f32"]).unwrap();
    let t = Transpose { perm: vec![0, 3, 1, 2] };
    let t = g.add_op("w_oihw", Op::Transpose(t), &[Some(cast.out(0))], &["w"]).unwrap();
    let conv = Conv {
        pads: vec![1, 1, 1, 1],
        layout: Layout::ChannelsLast,
        ..Default::default()
    };
    let c = g.add_op("conv", Op::Conv(conv), &[Some(x), Some(t.out(0))], &["c"]).unwrap();
    let r = g.add_op("relu", Op::Relu(Relu {}), &[Some(c.out(0))], &["y"]).unwrap();
    g.add_output("y", r.out(0)).unwrap();
    edgeport_ir::infer::infer_types(&mut g).unwrap();
    g
}

#[test]
fn a_transposed_float16_weight_is_quantized() {
    let float = model();
    let mut g = model();
    let cal = common::samples(16, 3, &[1, 6, 6, 2], 1.0);
    let rep = quantize::quantize(&mut g, &cal, &[], &Options::default()).unwrap();
    edgeport_ir::validate::validate(&g).unwrap();
    assert!(
        rep.layers.iter().any(|l| l.name == "conv" && l.precision == "int8"),
        "{:?}",
        rep.layers
    );
    // The Conv reads an int8 constant through a DequantizeLinear; no Cast or Transpose is left.
    let conv = g.node_ids().find(|&id| g.node(id).name == "conv").unwrap();
    let w = g.inputs_of(conv)[1].unwrap();
    assert_eq!(g.node(w.node).op.kind(), OpKind::DequantizeLinear);
    let codes = g.constant_of(g.inputs_of(w.node)[0].unwrap()).unwrap();
    assert_eq!((codes.dtype, codes.shape.clone()), (DType::I8, vec![4, 2, 3, 3]));
    for k in [OpKind::Cast, OpKind::Transpose] {
        assert_eq!(g.node_ids().filter(|&id| g.node(id).op.kind() == k).count(), 0, "{k:?}");
    }
    let held = common::samples(4, 99, &[1, 6, 6, 2], 1.0);
    let m = quantize::compare(&quantize::run_all(&float, &held).unwrap(), &quantize::run_all(&g, &held).unwrap());
    assert!(m.cosine > 0.999, "{m:?}");
}
