//! Shared helpers for the export tests (included with `mod export_common;`).
#![allow(dead_code)]

use edgeport_ir::ops::defs::math::{Add, Relu};
use edgeport_ir::{DType, Graph, Op, Shape, Tensor, ValueType};
use edgeport_onnx::model::RawModel;

pub fn f32_ty(dims: &[u64]) -> Option<ValueType> {
    Some(ValueType::tensor(DType::F32, Some(Shape::known(dims))))
}

/// Inputs `b`, `a` (in that order), a weight of `n` floats, outputs named to exercise renaming.
pub fn sample(n: usize) -> Graph {
    let mut g = Graph::new("sample");
    let b = g.add_input("b", f32_ty(&[n as u64]));
    let a = g.add_input("a", f32_ty(&[n as u64]));
    let vals: Vec<f32> = (0..n).map(|i| i as f32 * 0.5).collect();
    let w = g.add_constant("w", Tensor::from_f32(vec![n], &vals).unwrap());
    let s = g.add_op("add1", Op::Add(Add {}), &[Some(a), Some(w)], &["sum"]).unwrap();
    let r = g.add_op("relu", Op::Relu(Relu {}), &[Some(s.out(0))], &["r"]).unwrap();
    let s2 = g.add_op("add2", Op::Add(Add {}), &[Some(b), Some(r.out(0))], &["z"]).unwrap();
    for (id, ty) in [(s, f32_ty(&[n as u64])), (r, f32_ty(&[n as u64])), (s2, f32_ty(&[n as u64]))] {
        g.node_mut(id).outputs[0].ty = ty;
    }
    g.add_output("z", s2.out(0)).unwrap();
    g.add_output("relu_out", r.out(0)).unwrap();
    g.add_output("relu_again", r.out(0)).unwrap();
    g.add_output("b_copy", b).unwrap();
    g
}

pub fn decode(bytes: &[u8]) -> RawModel {
    let ext = edgeport_onnx::decode::ExternalData { base: None };
    let cx = edgeport_onnx::decode::Ctx { file: "test", ext: &ext };
    edgeport_onnx::decode::decode_model(edgeport_proto_bytes(bytes), &cx).expect("decodes")
}

fn edgeport_proto_bytes(b: &[u8]) -> edgeport_proto::bytes::Bytes {
    edgeport_proto::bytes::Bytes::from(b.to_vec())
}

pub fn io_names(g: &Graph) -> (Vec<String>, Vec<String>) {
    let ins = g.inputs().iter().map(|&n| g.node(n).outputs[0].name.clone()).collect();
    let outs = g.outputs().iter().map(|(n, _)| n.clone()).collect();
    (ins, outs)
}

pub fn tmpdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("edgeport-export-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
