//! Test helpers: a small `.npz` reader (numpy's uncompressed zip of `.npy` files; f32/i64/i32
//! little-endian, C order) and the fixture runner comparing the evaluator to Paddle's outputs.

#![allow(dead_code)]

use edgeport_eval::{Tensor, Value};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The committed fixtures folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/paddle")
}

/// One array from an npz: dtype descr, shape, raw little-endian data.
pub struct Npy {
    pub descr: String,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

fn parse_npy(b: &[u8]) -> Npy {
    assert_eq!(&b[..6], b"\x93NUMPY");
    let (hlen, start) = if b[6] == 1 {
        (u16::from_le_bytes([b[8], b[9]]) as usize, 10)
    } else {
        (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12)
    };
    let header = std::str::from_utf8(&b[start..start + hlen]).unwrap();
    assert!(header.contains("'fortran_order': False"), "{header}");
    let descr = header.split("'descr': '").nth(1).unwrap().split('\'').next().unwrap().to_string();
    let shape_s = header.split("'shape': (").nth(1).unwrap().split(')').next().unwrap();
    let shape = shape_s
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().unwrap())
        .collect();
    Npy {
        descr,
        shape,
        data: b[start + hlen..].to_vec(),
    }
}

/// Reads every array of an npz file, by name (without `.npy`).
pub fn read_npz(path: &Path) -> Vec<(String, Npy)> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut z = zip::ZipArchive::new(f).unwrap();
    let mut out = Vec::new();
    for i in 0..z.len() {
        let mut e = z.by_index(i).unwrap();
        let name = e.name().trim_end_matches(".npy").to_string();
        let mut b = Vec::new();
        e.read_to_end(&mut b).unwrap();
        out.push((name, parse_npy(&b)));
    }
    out
}

pub fn to_tensor(a: &Npy) -> Tensor {
    let shape = ndarray_shape(&a.shape);
    match a.descr.as_str() {
        "<f4" => {
            let v: Vec<f32> = a.data.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
            Tensor::F32(ndarray::ArrayD::from_shape_vec(shape, v).unwrap())
        }
        "<i8" => {
            let v: Vec<i64> = a.data.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect();
            Tensor::I64(ndarray::ArrayD::from_shape_vec(shape, v).unwrap())
        }
        "<i4" => {
            let v: Vec<i32> = a.data.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect();
            Tensor::I32(ndarray::ArrayD::from_shape_vec(shape, v).unwrap())
        }
        d => panic!("dtype {d} not handled by the test reader"),
    }
}

fn ndarray_shape(s: &[usize]) -> ndarray::IxDyn {
    ndarray::IxDyn(s)
}

/// Max abs difference between two tensors (as f64), asserting equal shapes.
pub fn max_abs_diff(got: &Tensor, want: &Tensor, what: &str) -> f64 {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    let g = got.to_ir().to_f64_vec().unwrap();
    let w = want.to_ir().to_f64_vec().unwrap();
    g.iter().zip(&w).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max)
}

/// Imports `model`, runs the evaluator on the npz's `x` and compares every `outN`: max abs diff
/// ≤ `tol`, or with `scaled`, ≤ `tol` × max(1, max |reference|) (float32 rounding of large
/// logits). Returns the worst max abs diff.
pub fn check_model(model: &Path, npz: &Path, tol: f64, scaled: bool) -> f64 {
    let g = edgeport_paddle::import_path(model, &Default::default()).unwrap_or_else(|e| panic!("{e}"));
    edgeport_ir::validate::validate(&g).unwrap_or_else(|e| panic!("{}: invalid graph: {e:?}", model.display()));
    let arrays = read_npz(npz);
    let x = arrays.iter().find(|(n, _)| n == "x").expect("x in npz");
    let outs = edgeport_eval::run_graph(&g, vec![Value::Tensor(to_tensor(&x.1))]).unwrap_or_else(|e| panic!("{}: {e}", model.display()));
    let mut worst = 0.0f64;
    for (i, o) in outs.iter().enumerate() {
        let want = arrays
            .iter()
            .find(|(n, _)| *n == format!("out{i}"))
            .unwrap_or_else(|| panic!("out{i} in npz"));
        let Value::Tensor(got) = o else {
            panic!("output {i} is not a tensor")
        };
        let want = to_tensor(&want.1);
        let d = max_abs_diff(got, &want, &format!("{} out{i}", model.display()));
        let peak = want.to_ir().to_f64_vec().unwrap().iter().fold(0.0f64, |a, v| a.max(v.abs()));
        let tol = if scaled { tol * peak.max(1.0) } else { tol };
        eprintln!(
            "{}: out{i} {:?} max abs diff {d:.3e} (max |ref| {peak:.3})",
            model.display(),
            got.shape()
        );
        assert!(d <= tol, "{}: out{i} max abs diff {d} > {tol}", model.display());
        worst = worst.max(d);
    }
    assert_eq!(outs.len(), arrays.iter().filter(|(n, _)| n.starts_with("out")).count());
    worst
}
