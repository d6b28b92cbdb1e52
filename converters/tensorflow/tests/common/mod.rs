//! Test helpers: a small `.npz` reader (numpy's uncompressed zip of `.npy` files) and the
//! import → evaluate → compare loop against TensorFlow's saved outputs.
#![allow(dead_code)]

use edgeport_ir::tensor::Bytes;
use edgeport_ir::{DType, Graph, Tensor};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

pub enum NpyArray {
    Tensor(Tensor),
    Strings(Vec<String>),
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tensorflow")
}

/// Folder of the large fixtures (made by make_fixtures.py; not committed).
pub fn large_fixtures() -> PathBuf {
    std::env::var_os("EDGEPORT_TF_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/cache/fixtures/tensorflow"))
}

fn parse_npy(b: &[u8]) -> NpyArray {
    assert_eq!(&b[..6], b"\x93NUMPY");
    let (hlen, start) = if b[6] == 1 {
        (u16::from_le_bytes([b[8], b[9]]) as usize, 10)
    } else {
        (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12)
    };
    let header = std::str::from_utf8(&b[start..start + hlen]).unwrap();
    let data = &b[start + hlen..];
    let descr = header.split("'descr': '").nth(1).unwrap().split('\'').next().unwrap();
    assert!(header.contains("'fortran_order': False"));
    let shape_s = header.split("'shape': (").nth(1).unwrap().split(')').next().unwrap();
    let shape: Vec<usize> = shape_s
        .split(',')
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    if let Some(w) = descr.strip_prefix("<U") {
        let w: usize = w.parse().unwrap();
        let n: usize = shape.iter().product();
        let strs = (0..n)
            .map(|i| {
                data[i * w * 4..(i + 1) * w * 4]
                    .chunks(4)
                    .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .filter(|&c| c != 0)
                    .map(|c| char::from_u32(c).unwrap())
                    .collect()
            })
            .collect();
        return NpyArray::Strings(strs);
    }
    let dtype = match descr {
        "<f4" => DType::F32,
        "<f8" => DType::F64,
        "<i4" => DType::I32,
        "<i8" => DType::I64,
        "|b1" => DType::Bool,
        d => panic!("unsupported npy dtype {d}"),
    };
    NpyArray::Tensor(Tensor::from_bytes(dtype, shape, Bytes::from_vec(data.to_vec())).unwrap())
}

pub fn read_npz(path: &Path) -> HashMap<String, NpyArray> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut z = zip::ZipArchive::new(f).unwrap();
    let mut out = HashMap::new();
    for i in 0..z.len() {
        let mut e = z.by_index(i).unwrap();
        let name = e.name().trim_end_matches(".npy").to_string();
        let mut b = Vec::new();
        e.read_to_end(&mut b).unwrap();
        out.insert(name, parse_npy(&b));
    }
    out
}

pub fn tensor<'a>(m: &'a HashMap<String, NpyArray>, k: &str) -> &'a Tensor {
    match m.get(k) {
        Some(NpyArray::Tensor(t)) => t,
        _ => panic!("no array '{k}'"),
    }
}

pub fn strings(m: &HashMap<String, NpyArray>, k: &str) -> Vec<String> {
    match m.get(k) {
        Some(NpyArray::Strings(s)) => s.clone(),
        _ => panic!("no string array '{k}'"),
    }
}

/// Runs `g` on the arrays `in_prefix.<graph input name>` and returns, per graph output, the max
/// abs difference to `out_prefix.<output name>`.
pub fn run_and_compare(g: &Graph, npz: &HashMap<String, NpyArray>, in_prefix: &str, out_prefix: &str) -> Vec<(String, f64)> {
    let names: Vec<String> = g.inputs().iter().map(|&n| g.node(n).name.clone()).collect();
    let inputs = names
        .iter()
        .map(|n| edgeport_eval::Value::Tensor(edgeport_eval::Tensor::from_ir(tensor(npz, &format!("{in_prefix}.{n}"))).unwrap()))
        .collect();
    let outs = edgeport_eval::run_graph(g, inputs).unwrap_or_else(|e| panic!("evaluation failed: {e}"));
    let mut diffs = Vec::new();
    for ((name, _), v) in g.outputs().iter().zip(outs) {
        let edgeport_eval::Value::Tensor(t) = v else {
            panic!("output {name} is not a tensor")
        };
        let want = tensor(npz, &format!("{out_prefix}.{name}"));
        assert_eq!(t.shape(), &want.shape[..], "output {name}: shape");
        let got = t.to_f64_vec().unwrap();
        let exp = edgeport_eval::Tensor::from_ir(want).unwrap().to_f64_vec().unwrap();
        let d = got.iter().zip(&exp).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        diffs.push((name.clone(), d));
    }
    diffs
}
