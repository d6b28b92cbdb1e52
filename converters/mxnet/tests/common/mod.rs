//! Test helpers: a reader for the `.npz` files that NumPy's `savez` writes (a stored zip of
//! `.npy` arrays, little-endian f32/i64/i32 only), and a runner that evaluates a graph on the
//! saved input and compares every saved output by max abs difference.

#![allow(dead_code)]

use edgeport_eval::{Tensor, Value, run_graph};
use edgeport_ir::Graph;
use ndarray::{ArrayD, IxDyn};
use std::collections::HashMap;

fn u16le(b: &[u8], at: usize) -> usize {
    u16::from_le_bytes([b[at], b[at + 1]]) as usize
}
fn u32le(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize
}

/// Arrays of an npz file by name (without `.npy`), as f32 (i64/i32 converted).
pub fn read_npz(path: &std::path::Path) -> HashMap<String, ArrayD<f32>> {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = HashMap::new();
    let mut at = 0;
    while at + 30 <= b.len() && u32le(&b, at) == 0x0403_4b50 {
        let method = u16le(&b, at + 8);
        assert_eq!(method, 0, "npz entries must be stored");
        let mut size = u32le(&b, at + 18);
        let nlen = u16le(&b, at + 26);
        let xlen = u16le(&b, at + 28);
        let name = String::from_utf8_lossy(&b[at + 30..at + 30 + nlen]).to_string();
        let data_at = at + 30 + nlen + xlen;
        if size == 0xFFFF_FFFF {
            // zip64 extra: the sizes follow the header id and length.
            let x = &b[at + 30 + nlen..data_at];
            size = u64::from_le_bytes(x[4..12].try_into().unwrap()) as usize;
        }
        let npy = &b[data_at..data_at + size];
        out.insert(name.trim_end_matches(".npy").to_string(), parse_npy(npy));
        at = data_at + size;
    }
    out
}

fn parse_npy(b: &[u8]) -> ArrayD<f32> {
    assert_eq!(&b[..6], b"\x93NUMPY");
    let (hlen, start) = if b[6] == 1 { (u16le(b, 8), 10) } else { (u32le(b, 8), 12) };
    let header = String::from_utf8_lossy(&b[start..start + hlen]).to_string();
    let data = &b[start + hlen..];
    let descr = header
        .split("'descr':")
        .nth(1)
        .unwrap()
        .trim()
        .split('\'')
        .nth(1)
        .unwrap()
        .to_string();
    assert!(header.contains("'fortran_order': False"));
    let shape_s = header.split("'shape':").nth(1).unwrap();
    let shape_s = &shape_s[shape_s.find('(').unwrap() + 1..shape_s.find(')').unwrap()];
    let shape: Vec<usize> = shape_s
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let vals: Vec<f32> = match descr.as_str() {
        "<f4" => data.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect(),
        "<f8" => data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()) as f32)
            .collect(),
        "<i8" => data
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as f32)
            .collect(),
        "<i4" => data
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()) as f32)
            .collect(),
        other => panic!("npy dtype {other} not handled"),
    };
    let n: usize = shape.iter().product();
    ArrayD::from_shape_vec(IxDyn(&shape), vals[..n].to_vec()).unwrap()
}

/// Runs `g` on the given inputs and compares each graph output with the saved array of the
/// same name; returns the largest max-abs difference. Panics on a shape mismatch.
pub fn run_and_compare(g: &Graph, inputs: Vec<ArrayD<f32>>, expected: &HashMap<String, ArrayD<f32>>) -> f32 {
    let ins = inputs.into_iter().map(|a| Value::Tensor(Tensor::F32(a))).collect();
    let outs = run_graph(g, ins).unwrap_or_else(|e| panic!("evaluation failed: {e}"));
    let mut worst = 0f32;
    let mut compared = 0;
    for ((name, _), v) in g.outputs().iter().zip(outs) {
        let Some(want) = expected.get(name) else { continue };
        let got = match v {
            Value::Tensor(Tensor::F32(a)) => a,
            other => panic!("output {name}: {}", other.describe()),
        };
        assert_eq!(got.shape(), want.shape(), "output {name}: shape");
        let d = got.iter().zip(want.iter()).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        eprintln!("  {name}: max abs diff {d:e}");
        worst = worst.max(d);
        compared += 1;
    }
    assert!(compared > 0, "no output of the graph has a saved reference");
    worst
}
