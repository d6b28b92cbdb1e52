//! Quantization on small graphs built in code: every mode keeps the outputs close to the float
//! model on the evaluator, emits the QDQ/contrib form it promises, and refuses bad input.

use edgeport_eval::{Tensor as ETensor, Value};
use edgeport_ir::ops::defs::math::{Gemm, MatMul, Relu};
use edgeport_ir::{DType, Graph, Op, OpKind, Shape, Tensor, ValueType};
use edgeport_passes::quantize::{self, Mode, Options, QuantError};

mod common;
use common::rng;

/// x[2,32] → Gemm(W1[16,32]ᵀ, b1) → Relu → MatMul(W2[16,32]) → y[2,32]
fn mlp() -> Graph {
    let mut s = 1u64;
    let mut g = Graph::new("mlp");
    let x = g.add_input("x", Some(ValueType::tensor(DType::F32, Some(Shape::known(&[2, 32])))));
    let w1: Vec<f32> = (0..16 * 32).map(|_| rng(&mut s) * 0.3).collect();
    let b1: Vec<f32> = (0..16).map(|_| rng(&mut s) * 0.1).collect();
    let w2: Vec<f32> = (0..16 * 32).map(|_| rng(&mut s) * 0.3).collect();
    let w1 = g.add_constant("w1", Tensor::from_f32(vec![16, 32], &w1).unwrap());
    let b1 = g.add_constant("b1", Tensor::from_f32(vec![16], &b1).unwrap());
    let w2 = g.add_constant("w2", Tensor::from_f32(vec![16, 32], &w2).unwrap());
    let gm = g
        .add_op(
            "fc1",
            Op::Gemm(Gemm {
                transB: 1,
                ..Default::default()
            }),
            &[Some(x), Some(w1), Some(b1)],
            &["h"],
        )
        .unwrap();
    let r = g.add_op("relu", Op::Relu(Relu {}), &[Some(gm.out(0))], &["hr"]).unwrap();
    let mm = g.add_op("fc2", Op::MatMul(MatMul {}), &[Some(r.out(0)), Some(w2)], &["y"]).unwrap();
    g.add_output("y", mm.out(0)).unwrap();
    edgeport_ir::infer::infer_types(&mut g).unwrap();
    g
}

fn samples(n: usize, seed: u64) -> Vec<Vec<Value>> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            let v: Vec<f64> = (0..64).map(|_| rng(&mut s) as f64).collect();
            vec![Value::Tensor(ETensor::from_f64(DType::F32, &[2, 32], v).unwrap())]
        })
        .collect()
}

fn count(g: &Graph, k: OpKind) -> usize {
    g.node_ids().filter(|&id| g.node(id).op.kind() == k).count()
}

fn error_after(mode: Mode, o: Options) -> (Graph, quantize::Metrics) {
    let float = mlp();
    let mut g = float.clone();
    let cal = samples(16, 3);
    quantize::quantize(&mut g, &cal, &[], &Options { mode, ..o }).unwrap();
    edgeport_ir::validate::validate(&g).unwrap();
    let held = samples(4, 99);
    let a = quantize::run_all(&float, &held).unwrap();
    let b = quantize::run_all(&g, &held).unwrap();
    (g, quantize::compare(&a, &b))
}

#[test]
fn static_int8_inserts_qdq_and_stays_close() {
    let (g, m) = error_after(Mode::Int8, Options::default());
    assert!(m.cosine > 0.999, "{m:?}");
    assert!(count(&g, OpKind::QuantizeLinear) >= 2);
    // The Gemm's weight and int32 bias are dequantized, plus activations; the MatMul (no output
    // QuantizeLinear) is in the MatMulInteger form.
    assert!(count(&g, OpKind::DequantizeLinear) >= 3);
    assert_eq!(count(&g, OpKind::MatMulInteger), 1);
    // Both weights are int8; the one behind a DequantizeLinear carries its per-channel parameters.
    let int8: Vec<_> = g
        .node_ids()
        .filter_map(|id| match &g.node(id).op {
            Op::Constant(c) if c.value.dtype == DType::I8 && !g.node(id).outputs[0].name.ends_with("_zero_point") => {
                Some(c.value.quant.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(int8.len(), 2);
    // The Gemm's weight DequantizeLinear carries its (all-zero) zero points: onnxruntime fuses
    // DequantizeLinear → Gemm into QGemm only then.
    let gemm = g.node_ids().find(|&id| g.node(id).op.kind() == OpKind::Gemm).unwrap();
    let wdq = g.inputs_of(gemm)[1].unwrap().node;
    assert_eq!(g.node(wdq).op.kind(), OpKind::DequantizeLinear);
    let zp = g.inputs_of(wdq).get(2).copied().flatten().expect("Gemm weight zero point");
    match &g.node(zp.node).op {
        Op::Constant(c) => {
            assert_eq!(c.value.dtype, DType::I8);
            assert_eq!(c.value.numel(), 16);
            assert!(c.value.to_i64_vec().unwrap().iter().all(|&z| z == 0));
        }
        other => panic!("zero point is {}", other.name()),
    }
    let qw: Vec<_> = int8.into_iter().flatten().collect();
    assert_eq!(qw.len(), 1);
    assert_eq!(qw[0].scale.len(), 16);
    assert!(
        g.node_ids()
            .any(|id| matches!(&g.node(id).op, Op::Constant(c) if c.value.dtype == DType::I32))
    );
}

#[test]
fn every_estimator_works() {
    for m in ["minmax", "percentile", "entropy", "mse"] {
        let (_, e) = error_after(
            Mode::Int8,
            Options {
                method: quantize::Method::parse(m).unwrap(),
                ..Default::default()
            },
        );
        assert!(e.cosine > 0.99, "{m}: {e:?}");
    }
}

#[test]
fn weight_only_int4_gptq_and_rtn() {
    for (gptq, nbits) in [(true, true), (false, false)] {
        let (g, m) = error_after(
            Mode::Int4Weights,
            Options {
                block_size: 16,
                gptq,
                nbits,
                ..Default::default()
            },
        );
        // 4-bit blocks of random (incompressible) weights: ~0.99 cosine.
        assert!(m.cosine > 0.98, "gptq={gptq}: {m:?}");
        eprintln!("int4 gptq={gptq}: {m:?}");
        let custom = g
            .node_ids()
            .filter(|&id| matches!(&g.node(id).op, Op::Custom(c) if c.name == "MatMulNBits"))
            .count();
        assert_eq!(custom, usize::from(nbits), "MatMulNBits count");
        assert!(
            g.node_ids()
                .any(|id| matches!(&g.node(id).op, Op::Constant(c) if c.value.dtype == DType::U4 || c.value.dtype == DType::U8))
        );
    }
}

#[test]
fn dynamic_int8_uses_matmul_integer() {
    let (g, m) = error_after(Mode::Int8Dynamic, Options::default());
    assert!(m.cosine > 0.999, "{m:?}");
    assert_eq!(count(&g, OpKind::MatMulInteger), 2);
    assert_eq!(count(&g, OpKind::DynamicQuantizeLinear), 2);
}

#[test]
fn fp16_and_bf16_cast_at_the_boundaries() {
    for mode in [Mode::Fp16, Mode::Bf16] {
        let (g, m) = error_after(mode, Options::default());
        assert!(m.cosine > 0.999, "{mode:?}: {m:?}");
        assert!(count(&g, OpKind::Cast) >= 2, "{mode:?}");
    }
}

#[test]
fn mixed_precision_meets_the_budget() {
    let float = mlp();
    let mut g = float.clone();
    let r = quantize::quantize(
        &mut g,
        &samples(16, 3),
        &[],
        &Options {
            min_cosine: Some(0.999),
            ..Default::default()
        },
    )
    .unwrap();
    let m = r.budget_check.unwrap();
    assert!(m.cosine >= 0.999, "{m:?}");
    assert!(r.layers.iter().all(|l| l.sensitivity.is_some()));
}

#[test]
fn bad_inputs_are_refused() {
    // Block size not dividing the reduction axis.
    let mut g = mlp();
    let e = quantize::quantize(
        &mut g,
        &[],
        &[],
        &Options {
            mode: Mode::Int4Weights,
            block_size: 24,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("does not divide"), "{e}");
    // NaN in calibration data.
    let mut g = mlp();
    let mut bad = samples(1, 5);
    bad[0][0] = Value::Tensor(ETensor::from_f64(DType::F32, &[2, 32], vec![f64::NAN; 64]).unwrap());
    let e = quantize::quantize(&mut g, &bad, &[], &Options::default()).unwrap_err();
    assert!(matches!(e, QuantError::Calibration(_) | QuantError::Eval { .. }), "{e}");
    // No quantizable op.
    let mut g = Graph::new("relu");
    let x = g.add_input("x", Some(ValueType::tensor(DType::F32, Some(Shape::known(&[2])))));
    let r = g.add_op("r", Op::Relu(Relu {}), &[Some(x)], &["y"]).unwrap();
    g.add_output("y", r.out(0)).unwrap();
    let e = quantize::quantize(&mut g, &samples(1, 1), &[], &Options::default()).unwrap_err();
    assert!(matches!(e, QuantError::NothingToQuantize(_)), "{e}");
}

/// ids[1,6] → Gather(table[50,16]) → MatMul(W[16,8]) → y: an embedding and a projection.
fn embed() -> Graph {
    let mut s = 5u64;
    let mut g = Graph::new("embed");
    let ids = g.add_input("ids", Some(ValueType::tensor(DType::I64, Some(Shape::known(&[1, 6])))));
    // Rows of very different norms: per-row scales matter.
    let table: Vec<f32> = (0..50 * 16).map(|i| rng(&mut s) * (1.0 + (i / 16) as f32 * 0.5)).collect();
    let w: Vec<f32> = (0..16 * 8).map(|_| rng(&mut s) * 0.3).collect();
    let t = g.add_constant("table", Tensor::from_f32(vec![50, 16], &table).unwrap());
    let w = g.add_constant("w", Tensor::from_f32(vec![16, 8], &w).unwrap());
    let ga = g
        .add_op(
            "emb",
            Op::Gather(edgeport_ir::ops::defs::tensor::Gather { axis: 0 }),
            &[Some(t), Some(ids)],
            &["e"],
        )
        .unwrap();
    let mm = g
        .add_op("proj", Op::MatMul(MatMul {}), &[Some(ga.out(0)), Some(w)], &["y"])
        .unwrap();
    g.add_output("y", mm.out(0)).unwrap();
    edgeport_ir::infer::infer_types(&mut g).unwrap();
    g
}

fn id_samples(n: usize, seed: u64) -> Vec<Vec<Value>> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            let v: Vec<f64> = (0..6).map(|_| ((rng(&mut s) + 1.0) * 24.9).floor() as f64).collect();
            vec![Value::Tensor(ETensor::from_f64(DType::I64, &[1, 6], v).unwrap())]
        })
        .collect()
}

#[test]
fn static_int8_quantizes_embeddings_per_row() {
    let float = embed();
    let mut g = float.clone();
    let r = quantize::quantize(&mut g, &id_samples(8, 1), &[], &Options::default()).unwrap();
    edgeport_ir::validate::validate(&g).unwrap();
    let row = r.layers.iter().find(|l| l.name == "emb").unwrap();
    assert!(row.precision.contains("per-row"), "{row:?}");
    // The float table is gone: an int8 [50,16] table and [50,1] row scales are gathered.
    let consts: Vec<(DType, Vec<usize>)> = g
        .node_ids()
        .filter_map(|id| match &g.node(id).op {
            Op::Constant(c) => Some((c.value.dtype, c.value.shape.clone())),
            _ => None,
        })
        .collect();
    assert!(consts.contains(&(DType::I8, vec![50, 16])), "{consts:?}");
    assert!(consts.contains(&(DType::F32, vec![50, 1])), "{consts:?}");
    assert!(!consts.contains(&(DType::F32, vec![50, 16])), "{consts:?}");
    let held = id_samples(4, 77);
    let m = quantize::compare(&quantize::run_all(&float, &held).unwrap(), &quantize::run_all(&g, &held).unwrap());
    assert!(m.cosine > 0.999, "{m:?}");
    // The MatMul output gets no QuantizeLinear (transformer residual streams); its input does.
    assert_eq!(count(&g, OpKind::QuantizeLinear), 1);
}

#[test]
fn full_integer_quantizes_relu_and_graph_outputs() {
    let float = mlp();
    let (g, m) = error_after(
        Mode::Int8,
        Options {
            full_integer: true,
            act_dtype: DType::I8,
            ..Default::default()
        },
    );
    assert!(m.cosine > 0.999, "{m:?}");
    // The graph output is now a DequantizeLinear output that kept the name "y".
    let (name, y) = g.outputs()[0].clone();
    assert_eq!(name, "y");
    assert!(matches!(g.node(y.node).op, Op::DequantizeLinear(_)));
    assert_eq!(g.value(y).unwrap().name, "y");
    // int8 activations: every QuantizeLinear zero point is an i8 constant.
    assert!(count(&g, OpKind::QuantizeLinear) >= 3, "{}", count(&g, OpKind::QuantizeLinear));
    assert_eq!(float.outputs().len(), g.outputs().len());
}

#[test]
fn quantized_graph_exports_to_onnx_with_its_annotations() {
    let (g, _) = error_after(Mode::Int8, Options::default());
    let annotated = g
        .node_ids()
        .filter(|&id| match &g.node(id).op {
            Op::Constant(c) => c.value.quant.is_some(),
            _ => g.node(id).outputs.iter().any(|v| v.quant.is_some()),
        })
        .count();
    assert!(annotated >= 3, "{annotated}");
    let v = edgeport_ir::validate::validate(&g).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("q.onnx");
    edgeport_onnx::export_path(&v, &p, &Default::default()).unwrap();
    let back = edgeport_onnx::import_path(&p, &Default::default()).unwrap();
    let held = samples(2, 5);
    let m = quantize::compare(&quantize::run_all(&g, &held).unwrap(), &quantize::run_all(&back, &held).unwrap());
    assert!(m.max_abs < 1e-6, "{m:?}");
}

#[test]
fn annotation_the_writer_cannot_carry_is_refused() {
    // An annotated int8 constant read directly by a MatMul: ONNX has no place for its scale.
    let mut g = Graph::new("bad");
    let x = g.add_input("x", Some(ValueType::tensor(DType::F32, Some(Shape::known(&[1, 4])))));
    let mut t = Tensor::from_bytes(DType::I8, vec![4, 2], edgeport_ir::Bytes::from_vec(vec![1u8; 8])).unwrap();
    t.quant = Some(edgeport_ir::QuantParams::per_tensor(DType::I8, 0.5, 0));
    let w = g.add_constant("w", t);
    let c = g
        .add_op(
            "cast",
            Op::Cast(edgeport_ir::ops::defs::tensor::Cast {
                to: 1,
                ..Default::default()
            }),
            &[Some(w)],
            &["wf"],
        )
        .unwrap();
    let mm = g.add_op("mm", Op::MatMul(MatMul {}), &[Some(x), Some(c.out(0))], &["y"]).unwrap();
    g.add_output("y", mm.out(0)).unwrap();
    edgeport_ir::infer::infer_types(&mut g).unwrap();
    let v = edgeport_ir::validate::validate(&g).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let e = edgeport_onnx::export_path(&v, &dir.path().join("b.onnx"), &Default::default()).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("quantization parameters") && msg.contains("Cast"), "{msg}");
}

/// Two Gemms reading one bias constant (torch deduplicates equal initializers, such as the
/// all-zero biases of folded BatchNorms): every node the quantizer adds gets its own name,
/// which ONNX requires.
#[test]
fn shared_bias_gets_distinct_node_names() {
    let mut s = 5u64;
    let mut g = Graph::new("shared");
    let x = g.add_input("x", Some(ValueType::tensor(DType::F32, Some(Shape::known(&[2, 16])))));
    let w1: Vec<f32> = (0..16 * 16).map(|_| rng(&mut s) * 0.3).collect();
    let w2: Vec<f32> = (0..16 * 16).map(|_| rng(&mut s) * 0.3).collect();
    let w1 = g.add_constant("w1", Tensor::from_f32(vec![16, 16], &w1).unwrap());
    let w2 = g.add_constant("w2", Tensor::from_f32(vec![16, 16], &w2).unwrap());
    let b = g.add_constant("b", Tensor::from_f32(vec![16], &[0.0; 16]).unwrap());
    let gemm = || {
        Op::Gemm(Gemm {
            transB: 1,
            ..Default::default()
        })
    };
    let a = g.add_op("fc1", gemm(), &[Some(x), Some(w1), Some(b)], &["h"]).unwrap();
    let r = g.add_op("relu", Op::Relu(Relu {}), &[Some(a.out(0))], &["hr"]).unwrap();
    let c = g.add_op("fc2", gemm(), &[Some(r.out(0)), Some(w2), Some(b)], &["y"]).unwrap();
    g.add_output("y", c.out(0)).unwrap();
    edgeport_ir::infer::infer_types(&mut g).unwrap();
    let cal: Vec<Vec<Value>> = (0..8)
        .map(|_| {
            let v: Vec<f64> = (0..32).map(|_| rng(&mut s) as f64).collect();
            vec![Value::Tensor(ETensor::from_f64(DType::F32, &[2, 16], v).unwrap())]
        })
        .collect();
    quantize::quantize(&mut g, &cal, &[], &Options::default()).unwrap();
    let mut names: Vec<&str> = g.node_ids().map(|id| g.node(id).name.as_str()).collect();
    let n = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), n, "repeated node names after quantize");
    assert!(count(&g, OpKind::DequantizeLinear) >= 4);
}
