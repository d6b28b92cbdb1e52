//! Sparse tensors on the import side: a sparse weight written by the exporter reads back to the
//! right numbers, and the same file with its segments or indices pushed out of range (or out of
//! order) is refused with an error naming the file, the tensor and the cause — never a panic
//! or an out-of-bounds write.

use edgeport_eval::{Tensor as ETensor, Value, run_graph};
use edgeport_ir::ops::defs::math::MatMul;
use edgeport_ir::{DType, Graph, Op, Shape, Tensor, ValueId, ValueType};
use edgeport_tflite::export::{TfliteExportOptions, export_bytes};
use edgeport_tflite::import_bytes;

const K: usize = 200;
const N: usize = 8;
const FILE: &str = "hostile_sparse.tflite";

/// x[1,200] · W[200,8] with one non-zero per output column: W[7n+3][n] = n+1. Exported as
/// FULLY_CONNECTED with a [8,200] sparse weight: segments 0..=8 and indices 3,10,…,52 (uint8).
fn model() -> (Graph, Vec<u8>) {
    let mut g = Graph::new("fc");
    let x = g.add_input("x", Some(ValueType::tensor(DType::F32, Some(Shape::known(&[1, K as u64])))));
    let mut w = vec![0f32; K * N];
    for n in 0..N {
        w[(7 * n + 3) * N + n] = (n + 1) as f32;
    }
    let c = g.add_constant("w", Tensor::from_f32(vec![K, N], &w).unwrap());
    let m = g.add_op("fc", Op::MatMul(MatMul {}), &[Some(x), Some(c)], &["y"]).unwrap();
    g.add_output("y", ValueId { node: m, port: 0 }).unwrap();
    edgeport_ir::infer::infer_types(&mut g).unwrap();
    let v = edgeport_ir::validate::validate(&g).unwrap();
    let bytes = export_bytes(&v, &TfliteExportOptions::default()).unwrap();
    (g, bytes)
}

fn segments_pattern() -> Vec<u8> {
    let mut p = (N as u32 + 1).to_le_bytes().to_vec();
    p.extend((0..=N as u8).collect::<Vec<u8>>());
    p
}

fn indices_pattern() -> Vec<u8> {
    let mut p = (N as u32).to_le_bytes().to_vec();
    p.extend((0..N).map(|n| (7 * n + 3) as u8));
    p
}

/// The position of the only occurrence of `pat` in `b`.
fn find(b: &[u8], pat: &[u8]) -> usize {
    let hits: Vec<usize> = (0..=b.len() - pat.len()).filter(|&i| b[i..i + pat.len()] == pat[..]).collect();
    assert_eq!(hits.len(), 1, "pattern {pat:?} found {} times", hits.len());
    hits[0]
}

fn error_of(b: Vec<u8>) -> String {
    match import_bytes(b, FILE) {
        Ok(_) => panic!("the hostile file imported"),
        Err(e) => e.to_string(),
    }
}

fn expect(b: Vec<u8>, needles: &[&str]) {
    let e = error_of(b);
    eprintln!("refused: {e}");
    for n in needles {
        assert!(e.contains(n), "error does not mention '{n}': {e}");
    }
}

#[test]
fn exported_sparse_weight_reads_back() {
    let (g, b) = model();
    // Both index arrays are where the format puts them.
    find(&b, &segments_pattern());
    find(&b, &indices_pattern());
    let back = import_bytes(b, FILE).unwrap();
    let xs: Vec<f32> = (0..K).map(|i| i as f32 * 0.01 - 0.5).collect();
    let x = Tensor::from_f32(vec![1, K], &xs).unwrap();
    let run = |g: &Graph| -> Vec<f32> {
        let out = run_graph(g, vec![Value::Tensor(ETensor::from_ir(&x).unwrap())]).unwrap();
        out[0].as_tensor().unwrap().to_f32_array().unwrap().iter().copied().collect()
    };
    let want: Vec<f32> = (0..N).map(|n| xs[7 * n + 3] * (n + 1) as f32).collect();
    assert_eq!(run(&back), want);
    assert_eq!(run(&g), want);
}

#[test]
fn index_past_the_dimension() {
    let (_, mut b) = model();
    let at = find(&b, &indices_pattern()) + 4 + N - 1;
    b[at] = 250;
    expect(b, &[FILE, "'w'", "sparse index 250 out of range for dimension 1 of size 200"]);
}

#[test]
fn segment_past_the_indices() {
    let (_, mut b) = model();
    let at = find(&b, &segments_pattern()) + 4 + N;
    b[at] = 200;
    expect(b, &[FILE, "'w'", "bad sparse segments"]);
}

#[test]
fn segments_out_of_order() {
    let (_, mut b) = model();
    let at = find(&b, &segments_pattern()) + 4 + 5;
    b[at] = 1;
    expect(b, &[FILE, "'w'", "bad sparse segments"]);
}

#[test]
fn too_few_segments() {
    let (_, mut b) = model();
    // Claim 3 segments: rows 3.. have none.
    let at = find(&b, &segments_pattern());
    b[at..at + 4].copy_from_slice(&3u32.to_le_bytes());
    expect(b, &[FILE, "'w'", "sparse segment index out of range"]);
}

#[test]
fn segments_claiming_more_values_than_stored() {
    let (_, mut b) = model();
    // Nine indices claimed over eight stored (the length prefix of indices says 8; the last
    // segment says 8 too): make the indices vector claim fewer, so the segments overrun it.
    let at = find(&b, &indices_pattern());
    b[at..at + 4].copy_from_slice(&4u32.to_le_bytes());
    expect(b, &[FILE, "'w'", "bad sparse segments"]);
}

#[test]
fn every_single_byte_change_of_the_sparsity_is_refused_or_consistent() {
    let (_, b) = model();
    let s = find(&b, &segments_pattern());
    let i = find(&b, &indices_pattern());
    for at in (s..s + 4 + N + 1).chain(i..i + 4 + N) {
        for v in [0u8, 1, 7, 9, 199, 200, 255] {
            let mut m = b.clone();
            m[at] = v;
            // Either refused with a message or a valid reading: never a panic.
            if let Err(e) = import_bytes(m, FILE) {
                assert!(e.to_string().contains(FILE), "{e}");
            }
        }
    }
}
