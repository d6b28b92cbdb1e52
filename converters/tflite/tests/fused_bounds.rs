//! Fused activation bounds in int8 export: LiteRT quantizes a fused RELU6's bound with the
//! output scale and refuses the model when `6 / scale` overflows int32 (its built-in and
//! reference kernels; XNNPACK does not check). A layer whose activations vanish (an untrained
//! network) has such a scale; the exporter then fuses RELU, which clamps the same int8 range.
//! Checked by reading the written file back: the importer turns RELU6 into Clip(0, 6) and RELU
//! into Relu.

use edgeport_eval::{Tensor as ETensor, Value};
use edgeport_ir::ops::defs::math::Clip;
use edgeport_ir::ops::defs::nn::Conv;
use edgeport_ir::{DType, Graph, Op, Shape, Tensor, ValueType};
use edgeport_passes::quantize::{Mode, Options, quantize};
use edgeport_tflite::export::{TfliteExportOptions, export_path};

/// x[1,8,6,6] → conv 3×3 (8, weights × `scale`) → Clip(0, 6), quantized full-integer.
fn quantized(scale: f32) -> Graph {
    let mut g = Graph::new("relu6");
    let x = g.add_input("x", Some(ValueType::tensor(DType::F32, Some(Shape::known(&[1, 8, 6, 6])))));
    let w: Vec<f32> = (0..8 * 8 * 9).map(|i| (((i * 7919) % 101) as f32 / 50.0 - 1.0) * scale).collect();
    let w = g.add_constant("w", Tensor::from_f32(vec![8, 8, 3, 3], &w).unwrap());
    let b = g.add_constant("b", Tensor::from_f32(vec![8], &[0.0; 8]).unwrap());
    let lo = g.add_constant("lo", Tensor::from_f32(vec![], &[0.0]).unwrap());
    let hi = g.add_constant("hi", Tensor::from_f32(vec![], &[6.0]).unwrap());
    let conv = Op::Conv(Conv {
        pads: vec![1, 1, 1, 1],
        ..Default::default()
    });
    let c = g.add_op("conv", conv, &[Some(x), Some(w), Some(b)], &["c"]).unwrap();
    let r = g
        .add_op("relu6", Op::Clip(Clip {}), &[Some(c.out(0)), Some(lo), Some(hi)], &["y"])
        .unwrap();
    g.add_output("y", r.out(0)).unwrap();
    edgeport_ir::infer::infer_types(&mut g).unwrap();
    let calib: Vec<Vec<Value>> = (0..4)
        .map(|k| {
            let v: Vec<f32> = (0..8 * 36).map(|i| (((i + k * 31) * 37 % 97) as f32) / 48.0 - 1.0).collect();
            vec![Value::Tensor(
                ETensor::from_ir(&Tensor::from_f32(vec![1, 8, 6, 6], &v).unwrap()).unwrap(),
            )]
        })
        .collect();
    let opts = Options {
        mode: Mode::Int8,
        act_dtype: DType::I8,
        full_integer: true,
        ..Default::default()
    };
    quantize(&mut g, &calib, &[], &opts).expect("quantize");
    edgeport_ir::infer::infer_types(&mut g).unwrap();
    g
}

/// (Clip(0, 6) nodes, Relu nodes) in the graph read back from the exported file.
fn fused_kinds(g: &Graph) -> (usize, usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.tflite");
    let v = edgeport_ir::validate::validate(g).unwrap();
    export_path(&v, &path, &TfliteExportOptions::default()).expect("export");
    let back = edgeport_tflite::import_path(&path).expect("re-import");
    let clips = back.node_ids().filter(|&id| matches!(back.node(id).op, Op::Clip(_))).count();
    let relus = back.node_ids().filter(|&id| matches!(back.node(id).op, Op::Relu(_))).count();
    (clips, relus)
}

#[test]
fn relu6_stays_fused_at_ordinary_scales() {
    let (clips, relus) = fused_kinds(&quantized(0.2));
    assert_eq!((clips, relus), (1, 0), "RELU6 expected");
}

#[test]
fn relu6_bound_that_overflows_int32_becomes_relu() {
    // Weights of 1e-12: the output scale is about 1e-13, and 6 / scale is far past i32::MAX.
    let (clips, relus) = fused_kinds(&quantized(1e-12));
    assert_eq!((clips, relus), (0, 1), "RELU expected in place of RELU6");
}
