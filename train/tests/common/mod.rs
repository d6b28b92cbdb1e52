//! Shared test helpers: fixture paths, npz arrays as evaluator tensors, comparisons.
#![allow(dead_code)]

use edgeport_eval::Tensor as ETensor;
use edgeport_ir::Graph;
use std::path::PathBuf;

pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures").join(rel)
}

pub fn import(rel: &str) -> Graph {
    edgeport_onnx::import_path(&fixture(rel), &Default::default()).expect("fixture imports")
}

/// Reads one array of an npz as an evaluator tensor (f32 or i64).
pub fn npz(rel: &str, name: &str) -> ETensor {
    let all = candle_core::Tensor::read_npz(fixture(rel)).expect("npz reads");
    let (_, t) = all.into_iter().find(|(n, _)| n == name).expect("array present");
    let shape = t.dims().to_vec();
    match t.dtype() {
        candle_core::DType::I64 => {
            let v: Vec<i64> = t.flatten_all().unwrap().to_vec1().unwrap();
            ETensor::from_f64(edgeport_ir::DType::I64, &shape, v.into_iter().map(|x| x as f64).collect()).unwrap()
        }
        _ => {
            let v: Vec<f32> = t
                .to_dtype(candle_core::DType::F32)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            ETensor::from_f64(edgeport_ir::DType::F32, &shape, v.into_iter().map(f64::from).collect()).unwrap()
        }
    }
}

pub fn max_diff(a: &ETensor, b: &ETensor) -> f64 {
    assert_eq!(a.shape(), b.shape(), "shapes differ");
    let (a, b) = (a.to_f64_vec().unwrap(), b.to_f64_vec().unwrap());
    a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

pub fn eval(g: &Graph, inputs: &[ETensor]) -> Vec<ETensor> {
    edgeport_eval::run_graph(g, inputs.iter().cloned().map(edgeport_eval::Value::Tensor).collect())
        .expect("evaluator runs")
        .into_iter()
        .map(|v| match v {
            edgeport_eval::Value::Tensor(t) => t,
            _ => panic!("non-tensor output"),
        })
        .collect()
}

/// Splits a stacked array into samples of leading size 1.
pub fn split(t: &ETensor) -> Vec<ETensor> {
    let n = t.shape()[0];
    let mut shape = t.shape().to_vec();
    shape[0] = 1;
    let per: usize = shape.iter().product();
    let v = t.to_f64_vec().unwrap();
    (0..n)
        .map(|i| ETensor::from_f64(t.dtype(), &shape, v[i * per..(i + 1) * per].to_vec()).unwrap())
        .collect()
}
