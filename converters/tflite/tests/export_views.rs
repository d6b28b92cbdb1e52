//! TFLite export of data-movement chains on hand-built graphs: reshapes and transposes held as
//! factor views, head splits absorbed into BATCH_MATMUL weights, head merges written as per-head
//! BATCH_MATMUL + SUM, and the cases that fall back to a TRANSPOSE (a reshape that does not
//! refine, a gather on a row dim). Each exported file is read back and run on the evaluator
//! against the source graph.

use edgeport_eval::{Tensor as ETensor, Value, run_graph};
use edgeport_ir::ops::defs::math::{Add, MatMul};
use edgeport_ir::ops::defs::tensor::{Gather, Reshape, Transpose};
use edgeport_ir::{DType, Graph, NodeId, Op, Shape, Tensor, ValueId, ValueType};
use edgeport_tflite::export::{ExportSummary, TfliteExportOptions, export_bytes, export_path};

fn out(id: NodeId) -> ValueId {
    ValueId { node: id, port: 0 }
}

fn vals(n: usize, seed: f32) -> Vec<f32> {
    (0..n).map(|i| (i as f32 * 0.37 + seed).sin() * 1.5).collect()
}

fn transpose(g: &mut Graph, name: &str, x: ValueId, perm: &[i64]) -> ValueId {
    let t = Transpose { perm: perm.to_vec() };
    out(g.add_op(name, Op::Transpose(t), &[Some(x)], &[name]).unwrap())
}

fn reshape(g: &mut Graph, name: &str, x: ValueId, dims: &[i64]) -> ValueId {
    let s = g.add_constant(format!("{name}_shape"), Tensor::from_i64(vec![dims.len()], dims).unwrap());
    out(g
        .add_op(name, Op::Reshape(Reshape::default()), &[Some(x), Some(s)], &[name])
        .unwrap())
}

fn matmul(g: &mut Graph, name: &str, x: ValueId, k: usize, n: usize, seed: f32) -> ValueId {
    let w = g.add_constant(format!("{name}_w"), Tensor::from_f32(vec![k, n], &vals(k * n, seed)).unwrap());
    out(g.add_op(name, Op::MatMul(MatMul::default()), &[Some(x), Some(w)], &[name]).unwrap())
}

/// Exports `g`, reads it back, runs both on the same input; returns the max abs difference and
/// the export summary.
fn roundtrip(g: &mut Graph, in_dims: &[usize]) -> (f32, ExportSummary) {
    edgeport_ir::infer::infer_types(g).unwrap();
    let v = edgeport_ir::validate::validate(g).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.tflite");
    let s = export_path(&v, &path, &TfliteExportOptions::default()).unwrap();
    let bytes = export_bytes(&v, &TfliteExportOptions::default()).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "file and in-memory export agree");
    let back = edgeport_tflite::import_path(&path).unwrap();
    let n: usize = in_dims.iter().product();
    let x = Tensor::from_f32(in_dims.to_vec(), &vals(n, 0.5)).unwrap();
    let run = |g: &Graph| -> Vec<Vec<f32>> {
        let outs = run_graph(g, vec![Value::Tensor(ETensor::from_ir(&x).unwrap())]).unwrap();
        outs.iter()
            .map(|o| o.as_tensor().unwrap().to_f32_array().unwrap().iter().copied().collect())
            .collect()
    };
    let (a, b) = (run(g), run(&back));
    assert_eq!(a.len(), b.len());
    let mut worst = 0f32;
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.len(), y.len());
        for (p, q) in x.iter().zip(y) {
            worst = worst.max((p - q).abs());
        }
    }
    (worst, s)
}

fn count(s: &ExportSummary, op: &str) -> usize {
    s.op_counts.iter().find(|(k, _)| k == op).map_or(0, |(_, c)| *c)
}

fn input(g: &mut Graph, dims: &[u64]) -> ValueId {
    g.add_input("x", Some(ValueType::tensor(DType::F32, Some(Shape::known(dims)))))
}

#[test]
fn head_split_and_merge_need_no_transpose() {
    // x [B=2, L=5, D=12] → q = x·Wq + b as [B, H=3, L, d=4]; kᵀ as [B, H, d, L];
    // scores = q·kᵀ [B, H, L, L]; ctx = scores·v [B, H, L, d] → [B, L, H·d] → ·Wo.
    let mut g = Graph::new("heads");
    let x = input(&mut g, &[2, 5, 12]);
    let mut heads = Vec::new();
    for (i, name) in ["q", "k", "v"].iter().enumerate() {
        let y = matmul(&mut g, name, x, 12, 12, i as f32);
        let b = g.add_constant(format!("{name}_b"), Tensor::from_f32(vec![12], &vals(12, 3.0 + i as f32)).unwrap());
        let yb = out(g
            .add_op(
                format!("{name}_add"),
                Op::Add(Add::default()),
                &[Some(y), Some(b)],
                &[&format!("{name}_biased")],
            )
            .unwrap());
        let r = reshape(&mut g, &format!("{name}_split"), yb, &[2, 5, 3, 4]);
        let perm: &[i64] = if *name == "k" { &[0, 2, 3, 1] } else { &[0, 2, 1, 3] };
        heads.push(transpose(&mut g, &format!("{name}_heads"), r, perm));
    }
    let sc = out(g
        .add_op(
            "scores",
            Op::MatMul(MatMul::default()),
            &[Some(heads[0]), Some(heads[1])],
            &["scores"],
        )
        .unwrap());
    let ctx = out(g
        .add_op("ctx", Op::MatMul(MatMul::default()), &[Some(sc), Some(heads[2])], &["ctx"])
        .unwrap());
    let t = transpose(&mut g, "merge_t", ctx, &[0, 2, 1, 3]);
    let m = reshape(&mut g, "merge", t, &[2, 5, 12]);
    let y = matmul(&mut g, "o", m, 12, 6, 9.0);
    g.add_output("y", y).unwrap();
    let (d, s) = roundtrip(&mut g, &[2, 5, 12]);
    assert!(d <= 1e-4, "max abs diff {d}; {:?}", s.op_counts);
    assert_eq!(count(&s, "TRANSPOSE"), 0, "{:?}", s.op_counts);
    assert_eq!(count(&s, "BATCH_MATMUL"), 6, "{:?}", s.op_counts);
    assert_eq!(count(&s, "FULLY_CONNECTED"), 0, "the plain products are dropped: {:?}", s.op_counts);
}

#[test]
fn gathered_heads_select_weight_columns() {
    // qkv = x·W [L=4, B=2, 3·D] (x given as [B, L, D] and transposed), split into 3 by a
    // scalar gather, each as [B, H=2, L, d=3].
    let mut g = Graph::new("gather_heads");
    let x = input(&mut g, &[2, 4, 6]);
    let xt = transpose(&mut g, "x_t", x, &[1, 0, 2]);
    let qkv = matmul(&mut g, "qkv", xt, 6, 18, 1.0);
    let r = reshape(&mut g, "qkv_split", qkv, &[4, 2, 3, 6]);
    let p = transpose(&mut g, "qkv_first", r, &[2, 0, 1, 3]);
    for i in 0..3i64 {
        let idx = g.add_constant(format!("i{i}"), Tensor::from_i64(vec![], &[i]).unwrap());
        let s = out(g
            .add_op(
                format!("pick{i}"),
                Op::Gather(Gather::default()),
                &[Some(p), Some(idx)],
                &[&format!("pick{i}")],
            )
            .unwrap());
        let h = reshape(&mut g, &format!("h{i}"), s, &[4, 4, 3]);
        let ht = transpose(&mut g, &format!("h{i}_t"), h, &[1, 0, 2]);
        let hb = reshape(&mut g, &format!("h{i}_b"), ht, &[2, 2, 4, 3]);
        g.add_output(format!("y{i}"), hb).unwrap();
    }
    let (d, s) = roundtrip(&mut g, &[2, 4, 6]);
    assert!(d <= 1e-4, "max abs diff {d}; {:?}", s.op_counts);
    assert_eq!(count(&s, "TRANSPOSE"), 0, "{:?}", s.op_counts);
    assert_eq!(count(&s, "GATHER"), 0, "the gathers became weight columns: {:?}", s.op_counts);
}

#[test]
fn reshape_that_does_not_refine_falls_back_to_transpose() {
    // [2, 6] → transpose → [6, 2] → reshape [4, 3]: 6 is not split by 4, so the value is written.
    let mut g = Graph::new("fallback");
    let x = input(&mut g, &[2, 6]);
    let t = transpose(&mut g, "t", x, &[1, 0]);
    let r = reshape(&mut g, "r", t, &[4, 3]);
    g.add_output("y", r).unwrap();
    let (d, s) = roundtrip(&mut g, &[2, 6]);
    assert_eq!(d, 0.0);
    assert_eq!(count(&s, "TRANSPOSE"), 1, "{:?}", s.op_counts);
}

#[test]
fn gather_on_a_row_dim_keeps_the_plain_product() {
    // The gather picks a row (from x), not a weight column: no weight rewrite; numbers hold.
    let mut g = Graph::new("row_gather");
    let x = input(&mut g, &[3, 4, 6]);
    let y = matmul(&mut g, "mm", x, 6, 8, 2.0);
    let r = reshape(&mut g, "r", y, &[3, 4, 2, 4]);
    let idx = g.add_constant("i", Tensor::from_i64(vec![], &[1]).unwrap());
    let s = out(g
        .add_op("pick", Op::Gather(Gather::default()), &[Some(r), Some(idx)], &["pick"])
        .unwrap());
    let t = transpose(&mut g, "t", s, &[1, 0, 2]);
    g.add_output("y", t).unwrap();
    let (d, s) = roundtrip(&mut g, &[3, 4, 6]);
    assert!(d <= 1e-5, "max abs diff {d}; {:?}", s.op_counts);
    assert_eq!(count(&s, "FULLY_CONNECTED"), 1, "{:?}", s.op_counts);
}
