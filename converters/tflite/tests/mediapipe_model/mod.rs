//! Test helpers for MediaPipe custom ops: a FlexBuffers map writer, a one-op `.tflite` builder
//! (custom code, version, options bytes, any number of inputs and outputs), running the imported
//! graph on the evaluator, expected import errors, and a small deterministic RNG.

#![allow(dead_code)]

use edgeport_ir::{Op, Tensor};
use edgeport_tflite::import_bytes;
use flatbuffers::FlatBufferBuilder;

pub const FILE: &str = "mediapipe.tflite";
const CUSTOM: i32 = 32;

// ---- a minimal FlexBuffers map writer (all widths 8 bytes) ------------------------------------

pub enum V {
    I(i64),
    F(f64),
    Ints(Vec<i64>),
}

fn align8(b: &mut Vec<u8>) {
    while !b.len().is_multiple_of(8) {
        b.push(0);
    }
}

pub fn flex_map(entries: &[(&str, V)]) -> Vec<u8> {
    let mut e: Vec<&(&str, V)> = entries.iter().collect();
    e.sort_by_key(|(k, _)| *k);
    let mut b = Vec::new();
    let keys: Vec<usize> = e
        .iter()
        .map(|(k, _)| {
            let p = b.len();
            b.extend_from_slice(k.as_bytes());
            b.push(0);
            p
        })
        .collect();
    let mut vecs = Vec::new();
    for (_, v) in &e {
        if let V::Ints(xs) = v {
            align8(&mut b);
            b.extend_from_slice(&(xs.len() as u64).to_le_bytes());
            vecs.push(b.len());
            xs.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
        } else {
            vecs.push(0);
        }
    }
    align8(&mut b);
    b.extend_from_slice(&(e.len() as u64).to_le_bytes());
    let kv = b.len();
    for &k in &keys {
        let p = b.len();
        b.extend_from_slice(&((p - k) as u64).to_le_bytes());
    }
    let p = b.len();
    b.extend_from_slice(&((p - kv) as u64).to_le_bytes());
    b.extend_from_slice(&8u64.to_le_bytes());
    b.extend_from_slice(&(e.len() as u64).to_le_bytes());
    let map = b.len();
    let mut types = Vec::new();
    for (i, (_, v)) in e.iter().enumerate() {
        match v {
            V::I(x) => {
                b.extend_from_slice(&x.to_le_bytes());
                types.push((1 << 2) | 3);
            }
            V::F(x) => {
                b.extend_from_slice(&x.to_le_bytes());
                types.push((3 << 2) | 3);
            }
            V::Ints(_) => {
                let p = b.len();
                b.extend_from_slice(&((p - vecs[i]) as u64).to_le_bytes());
                types.push((11 << 2) | 3);
            }
        }
    }
    b.extend_from_slice(&types);
    align8(&mut b);
    let p = b.len();
    b.extend_from_slice(&((p - map) as u64).to_le_bytes());
    b.push((9 << 2) | 3);
    b.push(8);
    b
}

// ---- a one-op model with a custom operator ---------------------------------------------------

pub struct Custom<'a> {
    pub name: &'a str,
    pub version: i32,
    /// Tensor shapes of the inputs and outputs (tensors numbered inputs first).
    pub inputs: Vec<Vec<i32>>,
    pub outputs: Vec<Vec<i32>>,
    pub options: Option<Vec<u8>>,
}

fn vt(slot: u16) -> u16 {
    4 + 2 * slot
}

pub fn model(c: &Custom<'_>) -> Vec<u8> {
    let mut b = FlatBufferBuilder::new();
    let cname = b.create_string(c.name);
    let s = b.start_table();
    b.push_slot_always::<i8>(vt(0), CUSTOM as i8);
    b.push_slot_always(vt(1), cname);
    b.push_slot_always::<i32>(vt(2), c.version);
    b.push_slot_always::<i32>(vt(3), CUSTOM);
    let code = b.end_table(s);
    let codes = b.create_vector(&[code]);
    let s = b.start_table();
    let empty = b.end_table(s);
    let bufs = b.create_vector(&[empty]);
    let shapes: Vec<&Vec<i32>> = c.inputs.iter().chain(&c.outputs).collect();
    let mut ts = Vec::new();
    for (i, sh) in shapes.iter().enumerate() {
        let shape = b.create_vector(sh);
        let name = b.create_string(&format!("t{i}"));
        let s = b.start_table();
        b.push_slot_always(vt(0), shape);
        b.push_slot_always::<i8>(vt(1), 0);
        b.push_slot_always::<u32>(vt(2), 0);
        b.push_slot_always(vt(3), name);
        ts.push(b.end_table(s));
    }
    let ts = b.create_vector(&ts);
    let n = c.inputs.len() as i32;
    let ins: Vec<i32> = (0..n).collect();
    let op_ins = b.create_vector(&ins);
    let outs: Vec<i32> = (n..n + c.outputs.len() as i32).collect();
    let op_outs = b.create_vector(&outs);
    let opts = c.options.as_ref().map(|o| b.create_vector(o));
    let s = b.start_table();
    b.push_slot_always::<u32>(vt(0), 0);
    b.push_slot_always(vt(1), op_ins);
    b.push_slot_always(vt(2), op_outs);
    if let Some(o) = opts {
        b.push_slot_always(vt(5), o);
    }
    let op = b.end_table(s);
    let ops = b.create_vector(&[op]);
    let sg_ins = b.create_vector(&ins);
    let sg_outs = b.create_vector(&outs);
    let s = b.start_table();
    b.push_slot_always(vt(0), ts);
    b.push_slot_always(vt(1), sg_ins);
    b.push_slot_always(vt(2), sg_outs);
    b.push_slot_always(vt(3), ops);
    let sg = b.end_table(s);
    let sgs = b.create_vector(&[sg]);
    let s = b.start_table();
    b.push_slot_always::<u32>(vt(0), 3);
    b.push_slot_always(vt(1), codes);
    b.push_slot_always(vt(2), sgs);
    b.push_slot_always(vt(4), bufs);
    let root = b.end_table(s);
    b.finish(root, Some("TFL3"));
    b.finished_data().to_vec()
}

/// Imports, checks that no custom op is left, runs on the evaluator; returns the first output.
pub fn run(c: &Custom<'_>, inputs: &[Tensor]) -> Vec<f64> {
    run_all(c, inputs).swap_remove(0)
}

/// Imports, checks that no custom op is left, runs on the evaluator; returns every output.
pub fn run_all(c: &Custom<'_>, inputs: &[Tensor]) -> Vec<Vec<f64>> {
    let g = import_bytes(model(c), FILE).unwrap_or_else(|e| panic!("{}: import failed: {e}", c.name));
    edgeport_ir::validate::validate(&g).unwrap_or_else(|e| panic!("{}: does not validate: {e}", c.name));
    assert!(
        g.node_ids().all(|id| !matches!(g.node(id).op, Op::Custom(_))),
        "{}: a custom op is left after import",
        c.name
    );
    let y = super::common::run(&g, inputs);
    assert_eq!(y.len(), c.outputs.len(), "{}: output count", c.name);
    for (t, want) in y.iter().zip(&c.outputs) {
        let want: Vec<usize> = want.iter().map(|&d| d as usize).collect();
        assert_eq!(t.shape(), want.as_slice(), "{}: output shape", c.name);
    }
    round_trip(c, &g, inputs, &y);
    y.iter().map(|t| t.to_f64_vec().unwrap()).collect()
}

/// Exports the imported graph to TFLite and to ONNX (after the passes `edgeport convert` runs),
/// re-imports both and checks they evaluate to the same outputs.
fn round_trip(c: &Custom<'_>, g: &edgeport_ir::Graph, inputs: &[Tensor], want: &[edgeport_eval::Tensor]) {
    let mut g = g.clone();
    edgeport_passes::Manager::from_names("identity,shapes,dce")
        .unwrap()
        .run(&mut g, &mut Default::default())
        .unwrap_or_else(|e| panic!("{}: passes failed: {e}", c.name));
    let v = edgeport_ir::validate::validate(&g).unwrap_or_else(|e| panic!("{}: does not validate: {e}", c.name));
    let dir = tempfile::tempdir().unwrap();
    let tfl = dir.path().join("m.tflite");
    edgeport_tflite::export::export_path(&v, &tfl, &Default::default()).unwrap_or_else(|e| panic!("{}: TFLite export failed: {e}", c.name));
    let onnx = dir.path().join("m.onnx");
    edgeport_onnx::export_path(&v, &onnx, &Default::default()).unwrap_or_else(|e| panic!("{}: ONNX export failed: {e}", c.name));
    let back = [
        (
            "TFLite",
            edgeport_tflite::import_path(&tfl).unwrap_or_else(|e| panic!("{}: TFLite re-import: {e}", c.name)),
        ),
        (
            "ONNX",
            edgeport_onnx::import_path(&onnx, &Default::default()).unwrap_or_else(|e| panic!("{}: ONNX re-import: {e}", c.name)),
        ),
    ];
    for (fmt, b) in &back {
        assert!(
            b.node_ids().all(|id| !matches!(b.node(id).op, Op::Custom(_))),
            "{}: custom op in the {fmt} export",
            c.name
        );
        let got = super::common::run(b, inputs);
        for (i, (a, w)) in got.iter().zip(want).enumerate() {
            let d = super::common::max_diff(a, &w.to_ir());
            assert!(d <= 1e-6, "{}: {fmt} round trip output {i}: max abs diff {d}", c.name);
        }
    }
}

pub fn err(c: &Custom<'_>, needles: &[&str]) {
    let e = import_bytes(model(c), FILE)
        .expect_err(&format!("{}: import should fail", c.name))
        .to_string();
    assert!(e.contains(FILE), "error does not name the file: {e}");
    for n in needles {
        assert!(e.contains(n), "error does not mention '{n}': {e}");
    }
}

pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let d = got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    eprintln!("{what}: max abs diff {d:.3e}");
    assert!(d <= tol, "{what}: max abs diff {d} > {tol}");
}
