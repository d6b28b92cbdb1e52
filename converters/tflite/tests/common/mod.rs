//! Test helpers: fixture paths, a minimal `.npz`/`.npy` reader (little-endian numeric arrays),
//! and running an imported graph on the evaluator against LiteRT's saved outputs.

#![allow(dead_code)]

use edgeport_ir::{Bytes, DType, Graph, Tensor};
use std::io::Read;
use std::path::PathBuf;

/// `tests/fixtures/tflite/<name>` in the repository.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/tflite")
        .join(name)
}

fn dtype_of(descr: &str) -> DType {
    match descr.trim_start_matches(['<', '|', '=']) {
        "f4" => DType::F32,
        "f8" => DType::F64,
        "f2" => DType::F16,
        "i1" => DType::I8,
        "u1" => DType::U8,
        "i2" => DType::I16,
        "i4" => DType::I32,
        "i8" => DType::I64,
        "b1" => DType::Bool,
        d => panic!("npy dtype {d} not handled by the test reader"),
    }
}

/// Parses one `.npy` file.
pub fn parse_npy(b: &[u8]) -> Tensor {
    assert_eq!(&b[..6], b"\x93NUMPY");
    let (hlen, start) = if b[6] == 1 {
        (u16::from_le_bytes([b[8], b[9]]) as usize, 10)
    } else {
        (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12)
    };
    let header = std::str::from_utf8(&b[start..start + hlen]).unwrap();
    let field = |k: &str| {
        let i = header.find(k).unwrap() + k.len();
        header[i..].trim_start_matches([':', ' ', '\'']).to_string()
    };
    let descr = field("'descr'");
    let descr = &descr[..descr.find('\'').unwrap()];
    assert!(field("'fortran_order'").starts_with("False"));
    let shape_s = field("'shape'");
    let shape_s = &shape_s[shape_s.find('(').unwrap() + 1..shape_s.find(')').unwrap()];
    let shape: Vec<usize> = shape_s
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    let data = b[start + hlen..].to_vec();
    Tensor::from_bytes(dtype_of(descr), shape, Bytes::from_vec(data)).unwrap()
}

/// All arrays of an `.npz` file, by name.
pub fn read_npz(path: &std::path::Path) -> Vec<(String, Tensor)> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut z = zip::ZipArchive::new(f).unwrap();
    let mut out = Vec::new();
    for i in 0..z.len() {
        let mut m = z.by_index(i).unwrap();
        let name = m.name().trim_end_matches(".npy").to_string();
        let mut b = Vec::new();
        m.read_to_end(&mut b).unwrap();
        out.push((name, parse_npy(&b)));
    }
    out
}

/// The arrays named `prefix0`, `prefix1`, … in order.
pub fn numbered(arrays: &[(String, Tensor)], prefix: &str) -> Vec<Tensor> {
    (0..)
        .map_while(|i| arrays.iter().find(|(n, _)| *n == format!("{prefix}{i}")).map(|(_, t)| t.clone()))
        .collect()
}

/// Runs `g` on the evaluator with `inputs`; returns the outputs as IR tensors.
pub fn run(g: &Graph, inputs: &[Tensor]) -> Vec<edgeport_eval::Tensor> {
    let ins = inputs
        .iter()
        .map(|t| edgeport_eval::Value::Tensor(edgeport_eval::Tensor::from_ir(t).unwrap()))
        .collect();
    edgeport_eval::run_graph(g, ins)
        .unwrap_or_else(|e| panic!("evaluation failed: {e}"))
        .into_iter()
        .map(|v| v.as_tensor().expect("tensor output").clone())
        .collect()
}

/// Max abs difference between an evaluator output and an expected array (shapes must match).
pub fn max_diff(got: &edgeport_eval::Tensor, want: &Tensor) -> f64 {
    assert_eq!(got.shape(), want.shape.as_slice(), "shape mismatch");
    let g = got.to_f64_vec().unwrap();
    let w = edgeport_eval::Tensor::from_ir(want).unwrap().to_f64_vec().unwrap();
    g.iter().zip(&w).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max)
}

/// Imports a fixture, runs it on the saved inputs and returns (output index, max abs diff).
pub fn check_fixture(path: &std::path::Path, npz: &std::path::Path) -> Vec<f64> {
    let g = edgeport_tflite::import_path(path).unwrap_or_else(|e| panic!("import failed: {e}"));
    edgeport_ir::validate::validate(&g).unwrap_or_else(|e| panic!("imported graph does not validate: {e}"));
    let arrays = read_npz(npz);
    let xs = numbered(&arrays, "x");
    let ys = numbered(&arrays, "y");
    let got = run(&g, &xs);
    assert_eq!(got.len(), ys.len(), "output count");
    got.iter().zip(&ys).map(|(a, b)| max_diff(a, b)).collect()
}
