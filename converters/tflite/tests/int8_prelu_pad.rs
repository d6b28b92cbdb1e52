//! Full-integer export of PRelu and Pad. A zero Pad reading an int8 value shares its parameters
//! and is written as an int8 PAD (padding with the zero point). PRelu is written as an int8 PRELU (int8 slope
//! with its own scale) only for integer-only models: LiteRT's int8 PRELU is a slow reference
//! kernel on CPU, so otherwise it stays a float PRELU between DEQUANTIZE and QUANTIZE. Checked on
//! the written file's operators and tensor types, and on the numbers of the graph read back.

use edgeport_eval::{Tensor as ETensor, Value};
use edgeport_ir::ops::defs::math::PRelu;
use edgeport_ir::ops::defs::nn::Conv;
use edgeport_ir::ops::defs::tensor::Pad;
use edgeport_ir::{DType, Graph, Op, Shape, Tensor, ValueType};
use edgeport_passes::quantize::{self, Mode, Options};
use edgeport_tflite::codes::{BuiltinOperator, TensorType};
use edgeport_tflite::export::{TfliteExportOptions, export_path};
use edgeport_tflite::model::decode;

fn values(n: usize, seed: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|i| ((((i + seed) * 7919) % 101) as f32 / 50.0 - 1.0) * scale).collect()
}

/// x[1,4,6,6] → conv 1×1 → PRelu (per-channel slope) → Pad 1 → conv 1×1 → y.
fn model() -> Graph {
    let mut g = Graph::new("prelu_pad");
    let x = g.add_input("x", Some(ValueType::tensor(DType::F32, Some(Shape::known(&[1, 4, 6, 6])))));
    let w1 = g.add_constant("w1", Tensor::from_f32(vec![4, 4, 1, 1], &values(16, 1, 1.0)).unwrap());
    let c1 = g.add_op("conv1", Op::Conv(Conv::default()), &[Some(x), Some(w1)], &["c1"]).unwrap();
    let slope = g.add_constant("slope", Tensor::from_f32(vec![4, 1, 1], &[0.25, 0.1, 0.02, 0.3]).unwrap());
    let p = g
        .add_op("prelu", Op::PRelu(PRelu {}), &[Some(c1.out(0)), Some(slope)], &["p"])
        .unwrap();
    let pads = g.add_constant("pads", Tensor::from_i64(vec![8], &[0, 0, 1, 1, 0, 0, 1, 1]).unwrap());
    let pd = g
        .add_op("pad", Op::Pad(Pad::default()), &[Some(p.out(0)), Some(pads)], &["padded"])
        .unwrap();
    let w2 = g.add_constant("w2", Tensor::from_f32(vec![4, 4, 1, 1], &values(16, 5, 1.0)).unwrap());
    let c2 = g
        .add_op("conv2", Op::Conv(Conv::default()), &[Some(pd.out(0)), Some(w2)], &["y"])
        .unwrap();
    g.add_output("y", c2.out(0)).unwrap();
    edgeport_ir::infer::infer_types(&mut g).unwrap();
    g
}

fn samples(n: usize, seed: usize) -> Vec<Vec<Value>> {
    (0..n)
        .map(|k| {
            let t = Tensor::from_f32(vec![1, 4, 6, 6], &values(144, seed + 13 * k, 2.0)).unwrap();
            vec![Value::Tensor(ETensor::from_ir(&t).unwrap())]
        })
        .collect()
}

/// A written operator: its code and its first two inputs' types.
type WrittenOp = (BuiltinOperator, TensorType, Option<TensorType>);

/// The float model quantized full-integer (`integer_only` or not) and written: the file's
/// (operator, first input's type, second input's type) list, the graph read back, the report.
fn written(integer_only: bool) -> (Vec<WrittenOp>, Graph, quantize::Report) {
    let mut g = model();
    let opts = Options {
        mode: Mode::Int8,
        act_dtype: DType::I8,
        full_integer: true,
        integer_only,
        ..Default::default()
    };
    let rep = quantize::quantize(&mut g, &samples(8, 0), &[], &opts).expect("quantize");
    edgeport_ir::infer::infer_types(&mut g).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.tflite");
    let v = edgeport_ir::validate::validate(&g).unwrap();
    export_path(&v, &path, &TfliteExportOptions::default()).expect("export");
    let bytes = std::fs::read(&path).unwrap();
    let m = decode(&bytes).unwrap();
    let sg = &m.subgraphs[0];
    let ty = |i: Option<&i32>| i.filter(|&&i| i >= 0).map(|&i| sg.tensors[i as usize].ty);
    let ops = sg
        .operators
        .iter()
        .map(|o| {
            (
                m.opcodes[o.opcode_index as usize].builtin,
                ty(o.inputs.first()).unwrap(),
                ty(o.inputs.get(1)),
            )
        })
        .collect();
    (ops, edgeport_tflite::import_path(&path).expect("re-import"), rep)
}

fn find(ops: &[WrittenOp], b: BuiltinOperator) -> (TensorType, Option<TensorType>) {
    let hits: Vec<_> = ops.iter().filter(|o| o.0 == b).collect();
    assert_eq!(hits.len(), 1, "{b:?} in {ops:?}");
    (hits[0].1, hits[0].2)
}

fn close_to_float(back: &Graph) {
    let held = samples(4, 500);
    let m = quantize::compare(
        &quantize::run_all(&model(), &held).unwrap(),
        &quantize::run_all(back, &held).unwrap(),
    );
    assert!(m.cosine > 0.995, "{m:?}");
}

#[test]
fn integer_only_writes_int8_prelu_and_pad() {
    let (ops, back, rep) = written(true);
    assert_eq!(find(&ops, BuiltinOperator::PRELU), (TensorType::INT8, Some(TensorType::INT8)));
    assert_eq!(find(&ops, BuiltinOperator::PAD).0, TensorType::INT8);
    assert!(!rep.warnings.iter().any(|w| w.contains("PRelu")), "{:?}", rep.warnings);
    close_to_float(&back);
}

#[test]
fn otherwise_prelu_stays_float_with_a_warning() {
    let (ops, back, rep) = written(false);
    assert_eq!(find(&ops, BuiltinOperator::PRELU), (TensorType::FLOAT32, Some(TensorType::FLOAT32)));
    assert!(
        rep.warnings.iter().any(|w| w.contains("1 PRelu op(s) stay float")),
        "{:?}",
        rep.warnings
    );
    close_to_float(&back);
}
