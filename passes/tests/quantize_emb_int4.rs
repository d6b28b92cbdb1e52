//! int4 embedding tables with float16 block scales: the table is stored as uint4 codes with
//! float16 scales behind a blocked DequantizeLinear (float16 out) → Gather → Cast; the codes
//! and scales round-trip (dequantizing them by hand gives the evaluator's output), the result
//! stays close to the float table, it takes fewer bytes than float32 scales, and it survives
//! the ONNX round trip.

use edgeport_eval::{Tensor as ETensor, Value};
use edgeport_ir::ops::defs::tensor::Gather;
use edgeport_ir::{DType, Graph, Op, Shape, Tensor, ValueType};
use edgeport_passes::quantize::{self, Mode, Options, emb_int4, layers};

mod common;
use common::rng;

const ROWS: usize = 40;
const DIM: usize = 64;

/// ids[1,7] → Gather(table[40,64]) → y[1,7,64]
fn table_model() -> (Graph, Vec<f32>) {
    let mut s = 9u64;
    let mut g = Graph::new("emb");
    let ids = g.add_input("ids", Some(ValueType::tensor(DType::I64, Some(Shape::known(&[1, 7])))));
    // Rows of very different norms, and one all-zero row (its blocks need a usable scale).
    let table: Vec<f32> = (0..ROWS * DIM)
        .map(|i| {
            if i / DIM == 3 {
                0.0
            } else {
                rng(&mut s) * (0.01 + (i / DIM) as f32 * 0.2)
            }
        })
        .collect();
    let t = g.add_constant("table", Tensor::from_f32(vec![ROWS, DIM], &table).unwrap());
    let ga = g
        .add_op("emb", Op::Gather(Gather { axis: 0 }), &[Some(t), Some(ids)], &["y"])
        .unwrap();
    g.add_output("y", ga.out(0)).unwrap();
    edgeport_ir::infer::infer_types(&mut g).unwrap();
    (g, table)
}

fn ids(n: usize, seed: u64) -> Vec<Vec<Value>> {
    let mut s = seed;
    (0..n)
        .map(|i| {
            let mut v: Vec<f64> = (0..7).map(|_| f64::from(((rng(&mut s) + 1.0) * 19.99).floor())).collect();
            v[0] = (i % ROWS) as f64;
            v[1] = 3.0;
            vec![Value::Tensor(ETensor::from_f64(DType::I64, &[1, 7], v).unwrap())]
        })
        .collect()
}

fn quantized(f16: bool, block: usize) -> Graph {
    let (mut g, _) = table_model();
    let o = Options {
        mode: Mode::Int4Weights,
        block_size: 32,
        emb_block_size: Some(block),
        emb_f16_scales: f16,
        ..Default::default()
    };
    let r = quantize::quantize(&mut g, &[], &[], &o).unwrap();
    let row = r.layers.iter().find(|l| l.name == "emb").unwrap();
    assert!(row.precision.contains("uint4"), "{row:?}");
    assert_eq!(row.precision.contains("float16"), f16, "{row:?}");
    edgeport_ir::validate::validate(&g).unwrap();
    g
}

fn consts(g: &Graph) -> Vec<&Tensor> {
    g.node_ids()
        .filter_map(|id| match &g.node(id).op {
            Op::Constant(c) => Some(&c.value),
            _ => None,
        })
        .collect()
}

#[test]
fn codes_and_float16_scales_round_trip() {
    let g = quantized(true, 16);
    let cs = consts(&g);
    let codes = cs.iter().find(|t| t.dtype == DType::U4 && t.shape == [ROWS, DIM]).unwrap();
    let q = codes.quant.as_ref().unwrap();
    assert_eq!(q.scale_dtype, DType::F16);
    let scales = cs.iter().find(|t| t.dtype == DType::F16).unwrap();
    assert_eq!(scales.shape, [ROWS, DIM / 16]);
    let s: Vec<f64> = scales.to_f64_vec().unwrap();
    assert!(s.iter().all(|&x| x > 0.0 && x.is_finite()), "every block has a usable scale");
    // The annotation carries the same (float16-exact) scales as the scale tensor.
    assert!(q.scale.iter().zip(&s).all(|(&a, &b)| f64::from(a) == b));
    // uint4 is read through the evaluator's tensor (the IR reads whole bytes only).
    let ints = |t: &Tensor| -> Vec<i64> {
        ETensor::from_ir(t)
            .unwrap()
            .to_f64_vec()
            .unwrap()
            .into_iter()
            .map(|x| x as i64)
            .collect()
    };
    let c: Vec<i64> = ints(codes);
    assert!(c.iter().all(|&x| (0..16).contains(&x)));
    let zp: Vec<i64> = cs
        .iter()
        .find(|t| t.dtype == DType::U4 && t.shape == [ROWS, DIM / 16])
        .map(|t| ints(t))
        .unwrap_or_else(|| vec![0; ROWS * DIM / 16]);
    assert_eq!(zp, q.zero_point);
    // Dequantize by hand (in f32, rounded to f16 like the DequantizeLinear output) and gather.
    let held = ids(5, 4);
    let out = quantize::run_all(&g, &held).unwrap();
    for (sample, o) in held.iter().zip(&out) {
        let Value::Tensor(idt) = &sample[0] else { panic!() };
        let idv: Vec<f64> = idt.to_f64_vec().unwrap();
        let Value::Tensor(y) = &o[0] else { panic!() };
        let y = y.to_f64_vec().unwrap();
        for (p, &id) in idv.iter().enumerate() {
            let r = id as usize;
            for d in 0..DIM {
                let b = r * (DIM / 16) + d / 16;
                let v = ((c[r * DIM + d] - zp[b]) as f32) * (s[b] as f32);
                let v16 = ETensor::from_f64(DType::F16, &[1], vec![f64::from(v)])
                    .unwrap()
                    .to_f64_vec()
                    .unwrap()[0];
                assert_eq!(y[p * DIM + d], v16, "row {r} col {d}");
            }
        }
    }
}

#[test]
fn float16_scales_stay_close_and_are_smaller() {
    let (float, table) = table_model();
    let held = ids(8, 12);
    let reference = quantize::run_all(&float, &held).unwrap();
    let g16 = quantized(true, 16);
    let g32 = quantized(false, 16);
    let m16 = quantize::compare(&reference, &quantize::run_all(&g16, &held).unwrap());
    let m32 = quantize::compare(&reference, &quantize::run_all(&g32, &held).unwrap());
    assert!(m16.cosine > 0.99, "{m16:?}");
    // float16 scales cost (almost) nothing in accuracy against float32 ones.
    assert!(m16.cosine > m32.cosine - 1e-4, "{m16:?} vs {m32:?}");
    let b16 = layers::weight_bytes(&g16);
    let b32 = layers::weight_bytes(&g32);
    let float_bytes = table.len() * 4;
    assert!(b16 < b32 && b32 < float_bytes, "{b16} {b32} {float_bytes}");
    // The scale tensor alone: half the bytes.
    let sb = |g: &Graph, d: DType| {
        consts(g)
            .iter()
            .filter(|t| t.dtype == d && t.shape == [ROWS, DIM / 16])
            .map(|t| t.nbytes())
            .sum::<usize>()
    };
    assert_eq!(sb(&g16, DType::F16) * 2, sb(&g32, DType::F32));
}

#[test]
fn float16_table_survives_the_onnx_round_trip() {
    let g = quantized(true, 32);
    let v = edgeport_ir::validate::validate(&g).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("emb.onnx");
    // Blocked uint4 DequantizeLinear with float16 scales needs opset 21.
    let opts = edgeport_onnx::ExportOptions {
        opset: 21,
        ..Default::default()
    };
    edgeport_onnx::export_path(&v, &p, &opts).unwrap();
    let back = edgeport_onnx::import_path(&p, &Default::default()).unwrap();
    let held = ids(3, 8);
    let m = quantize::compare(&quantize::run_all(&g, &held).unwrap(), &quantize::run_all(&back, &held).unwrap());
    assert!(m.max_abs == 0.0, "{m:?}");
}

#[test]
fn a_block_that_does_not_divide_the_row_is_refused() {
    let (mut g, _) = table_model();
    let l = layers::find(&g).into_iter().find(|l| l.name == "emb").unwrap();
    let e = emb_int4::int4_f16(&mut g, &l, 48).unwrap_err().to_string();
    assert!(e.contains("emb") && e.contains("48") && e.contains("64"), "{e}");
    // Scales outside the float16 range are clamped into it, never zero or infinite.
    let (_, back) = emb_int4::f16_scales(&[0.0, 1e-9, 1e9, f32::NAN, 0.5], &[5]).unwrap();
    assert!(back.iter().all(|&x| x > 0.0 && x.is_finite()), "{back:?}");
    assert_eq!(back[4], 0.5);
}
