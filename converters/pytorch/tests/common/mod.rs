//! Test helpers: fixture paths and a small `.npz`/`.npy` reader (numpy's own files, read with the
//! crate's zip reader) giving f64 values for numeric comparison.

#![allow(dead_code)]

use edgeport_ir::{Bytes, Tensor};
use std::collections::BTreeMap;
use std::path::PathBuf;

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/pytorch")
        .join(name)
}

/// A numpy array as (numpy dtype string, shape, values as f64).
#[derive(Debug, Clone)]
pub struct Arr {
    pub dtype: String,
    pub shape: Vec<usize>,
    pub values: Vec<f64>,
    pub raw: Vec<u8>,
}

fn parse_npy(b: &[u8]) -> Arr {
    assert_eq!(&b[..6], b"\x93NUMPY");
    let (hlen, start) = if b[6] == 1 {
        (u16::from_le_bytes([b[8], b[9]]) as usize, 10)
    } else {
        (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12)
    };
    let h = std::str::from_utf8(&b[start..start + hlen]).unwrap();
    let descr = h.split("'descr': '").nth(1).unwrap().split('\'').next().unwrap().to_string();
    assert!(h.contains("'fortran_order': False"));
    let shp = h.split("'shape': (").nth(1).unwrap().split(')').next().unwrap();
    let shape: Vec<usize> = shp
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    let data = &b[start + hlen..];
    let values: Vec<f64> = match descr.as_str() {
        "<f4" => data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect(),
        "<f8" => data.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect(),
        "<f2" => data
            .chunks_exact(2)
            .map(|c| half::f16::from_bits(u16::from_le_bytes(c.try_into().unwrap())).to_f64())
            .collect(),
        "<i8" => data
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect(),
        "<i4" => data
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect(),
        "<i2" => data
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect(),
        "|i1" => data.iter().map(|&c| c as i8 as f64).collect(),
        "|u1" | "|b1" => data.iter().map(|&c| c as f64).collect(),
        d => panic!("npy dtype {d} not handled by the test reader"),
    };
    Arr {
        dtype: descr,
        shape,
        values,
        raw: data.to_vec(),
    }
}

/// Reads every array of an `.npz` file.
pub fn npz(path: &std::path::Path) -> BTreeMap<String, Arr> {
    let data = Bytes::from_vec(std::fs::read(path).unwrap());
    let ar = edgeport_pytorch::zip::Archive::parse("npz", data).unwrap();
    let mut out = BTreeMap::new();
    for e in ar.entries() {
        let b = ar.read(&e.name).unwrap();
        out.insert(e.name.trim_end_matches(".npy").to_string(), parse_npy(&b));
    }
    out
}

/// Decodes float8 e4m3fn (no infinities; 0x7f/0xff are NaN).
fn f8e4m3fn(b: u8) -> f64 {
    let s = if b & 0x80 != 0 { -1.0 } else { 1.0 };
    let e = ((b >> 3) & 0xf) as i32;
    let m = (b & 7) as f64;
    if e == 0 {
        s * m / 8.0 * 2f64.powi(-6)
    } else {
        s * (1.0 + m / 8.0) * 2f64.powi(e - 7)
    }
}

/// A tensor's values as f64 (including float8 e4m3fn).
pub fn values(t: &Tensor) -> Vec<f64> {
    if t.dtype == edgeport_ir::DType::F8E4M3FN {
        return t.raw().unwrap().iter().map(|&b| f8e4m3fn(b)).collect();
    }
    t.to_f64_vec().unwrap_or_else(|| panic!("no f64 view of {}", t.dtype))
}

pub fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "element counts differ");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

/// The npy array as an IR tensor (f32, i64, bool and the other plain dtypes).
pub fn to_ir(a: &Arr) -> Tensor {
    let dt = match a.dtype.as_str() {
        "<f4" => edgeport_ir::DType::F32,
        "<f8" => edgeport_ir::DType::F64,
        "<i8" => edgeport_ir::DType::I64,
        "<i4" => edgeport_ir::DType::I32,
        "|b1" => edgeport_ir::DType::Bool,
        "|u1" => edgeport_ir::DType::U8,
        d => panic!("npy dtype {d} not handled"),
    };
    Tensor::from_bytes(dt, a.shape.clone(), Bytes::from_vec(a.raw.clone())).unwrap()
}

/// Imports a `.pt2`, runs it on the evaluator with the inputs saved beside it and returns the
/// largest absolute difference from torch eager over all outputs.
pub fn pt2_max_diff(path: &std::path::Path, npz_path: &std::path::Path) -> f64 {
    let g = edgeport_pytorch::import_pt2(path).unwrap_or_else(|e| panic!("{e}"));
    graph_max_diff(&g, path, npz_path)
}

/// Runs an imported graph on the evaluator with the inputs saved in `npz_path` (`in_<name>`)
/// and returns the largest absolute difference from the saved outputs (`out_<i>`).
pub fn graph_max_diff(g: &edgeport_ir::Graph, path: &std::path::Path, npz_path: &std::path::Path) -> f64 {
    let data = npz(npz_path);
    let mut inputs = Vec::new();
    for id in g.inputs() {
        let name = &g.node(*id).outputs[0].name;
        let a = data
            .get(&format!("in_{name}"))
            .unwrap_or_else(|| panic!("no input {name} in {}", npz_path.display()));
        inputs.push(edgeport_eval::Value::Tensor(edgeport_eval::Tensor::from_ir(&to_ir(a)).unwrap()));
    }
    let outs = edgeport_eval::run_graph(g, inputs).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut worst = 0f64;
    for (i, o) in outs.iter().enumerate() {
        let edgeport_eval::Value::Tensor(t) = o else {
            panic!("output {i} is not a tensor")
        };
        let got = values(&t.to_ir());
        let want = &data[&format!("out_{i}")];
        assert_eq!(t.to_ir().shape, want.shape, "{}: output {i} shape", path.display());
        worst = worst.max(max_abs_diff(&got, &want.values));
    }
    assert_eq!(outs.len(), data.keys().filter(|k| k.starts_with("out_")).count());
    worst
}
