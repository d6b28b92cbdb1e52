//! Hostile inputs: truncated and random files, SavedModels with a missing or corrupted
//! variables shard, function references that loop, TF1 loops, unsupported ops and bad tensor
//! references. Each must give a clear error naming the file (and node), never a panic.

mod common;
use common::fixtures;
use edgeport_proto::prost::Message;
use edgeport_proto::tensorflow as pb;
use edgeport_tensorflow::{TfImportOptions, import_graphdef_bytes, import_path};
use std::collections::HashMap;
use std::path::Path;

fn err_of(bytes: Vec<u8>) -> String {
    match import_graphdef_bytes(bytes, "bad.pb", &TfImportOptions::default()) {
        Ok(_) => "ok".into(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn truncated_and_random_graphdefs() {
    let good = std::fs::read(fixtures().join("keras_small.pb")).unwrap();
    for cut in [1, 2, 7, 100, good.len() / 3, good.len() / 2, good.len() - 1] {
        let e = err_of(good[..cut].to_vec());
        assert!(e.contains("bad.pb"), "cut {cut}: {e}");
    }
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for len in [0usize, 1, 5, 64, 4096] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let e = err_of(bytes);
        assert!(e.contains("bad.pb"), "{e}");
    }
    // Single-byte corruptions anywhere: Ok or Err, never a panic.
    for i in (0..good.len()).step_by(37) {
        let mut m = good.clone();
        m[i] ^= 0xa5;
        let _ = err_of(m);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &p);
        } else {
            std::fs::copy(e.path(), p).unwrap();
        }
    }
}

fn saved_copy() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    copy_dir(&fixtures().join("keras_small_saved"), t.path());
    t
}

#[test]
fn missing_variables_shard() {
    let t = saved_copy();
    std::fs::remove_file(t.path().join("variables/variables.data-00000-of-00001")).unwrap();
    let e = import_path(t.path(), &TfImportOptions::default()).unwrap_err().to_string();
    assert!(e.contains("variables.data-00000-of-00001") && e.contains("cannot be opened"), "{e}");
    assert!(e.contains("VarHandleOp"), "names the node: {e}");
}

#[test]
fn corrupted_variable_checksum() {
    let t = saved_copy();
    let p = t.path().join("variables/variables.data-00000-of-00001");
    let mut d = std::fs::read(&p).unwrap();
    // Damage the first variable's bytes (located through the index).
    let index = std::fs::read(t.path().join("variables/variables.index")).unwrap();
    let table = edgeport_tensorflow::bundle::sstable::read_table(&index).unwrap();
    let raw = &table[&b"variables/0/.ATTRIBUTES/VARIABLE_VALUE"[..]];
    let entry = edgeport_tensorflow::decode::decode_bundle_entry(raw, "index").unwrap();
    d[entry.offset as usize + 1] ^= 0x10;
    std::fs::write(&p, d).unwrap();
    let e = import_path(t.path(), &TfImportOptions::default()).unwrap_err().to_string();
    assert!(e.contains("checksum mismatch") && e.contains("VARIABLE_VALUE"), "{e}");
}

#[test]
fn corrupted_and_truncated_index() {
    let t = saved_copy();
    let p = t.path().join("variables/variables.index");
    let good = std::fs::read(&p).unwrap();
    let mut d = good.clone();
    d[3] ^= 0x01;
    std::fs::write(&p, &d).unwrap();
    let e = import_path(t.path(), &TfImportOptions::default()).unwrap_err().to_string();
    assert!(e.contains("variables.index") && e.contains("checksum"), "{e}");
    std::fs::write(&p, &good[..good.len() - 10]).unwrap();
    let e = import_path(t.path(), &TfImportOptions::default()).unwrap_err().to_string();
    assert!(e.contains("variables.index"), "{e}");
}

#[test]
fn truncated_saved_model_pb_and_unknown_signature() {
    let t = saved_copy();
    let e = import_path(
        t.path(),
        &TfImportOptions {
            signature: Some("nope".into()),
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("no signature 'nope'") && e.contains("serving_default"), "{e}");
    let p = t.path().join("saved_model.pb");
    let d = std::fs::read(&p).unwrap();
    std::fs::write(&p, &d[..d.len() / 2]).unwrap();
    let e = import_path(t.path(), &TfImportOptions::default()).unwrap_err().to_string();
    assert!(e.contains("saved_model.pb"), "{e}");
}

fn node(name: &str, op: &str, inputs: &[&str], attrs: Vec<(&str, pb::AttrValue)>) -> pb::NodeDef {
    pb::NodeDef {
        name: name.into(),
        op: op.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        device: String::new(),
        attr: attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
    }
}

fn func_attr(f: &str) -> pb::AttrValue {
    pb::AttrValue {
        value: Some(pb::attr_value::Value::Func(pb::NameAttrList {
            name: f.into(),
            attr: HashMap::new(),
        })),
    }
}

fn type_attr(t: i32) -> pb::AttrValue {
    pb::AttrValue {
        value: Some(pb::attr_value::Value::Type(t)),
    }
}

fn function(name: &str, calls: &str) -> pb::FunctionDef {
    let arg = |n: &str| pb::op_def::ArgDef {
        name: n.into(),
        r#type: 1,
        ..Default::default()
    };
    pb::FunctionDef {
        signature: Some(pb::OpDef {
            name: name.into(),
            input_arg: vec![arg("x")],
            output_arg: vec![arg("y")],
            attr: vec![],
        }),
        attr: HashMap::new(),
        node_def: vec![node("c", "PartitionedCall", &["x"], vec![("f", func_attr(calls))])],
        ret: [("y".to_string(), "c:output:0".to_string())].into_iter().collect(),
        control_ret: HashMap::new(),
    }
}

fn graph(nodes: Vec<pb::NodeDef>, functions: Vec<pb::FunctionDef>) -> Vec<u8> {
    pb::GraphDef {
        node: nodes,
        library: Some(pb::FunctionDefLibrary { function: functions }),
        version: 0,
        versions: None,
    }
    .encode_to_vec()
}

fn input() -> pb::NodeDef {
    node("x", "Placeholder", &[], vec![("dtype", type_attr(1))])
}

#[test]
fn looping_function_references() {
    let g = graph(
        vec![input(), node("call", "PartitionedCall", &["x"], vec![("f", func_attr("f_a"))])],
        vec![function("f_a", "f_b"), function("f_b", "f_a")],
    );
    let e = err_of(g);
    assert!(e.contains("call") && e.contains("loop") && e.contains("f_a -> f_b -> f_a"), "{e}");
    // A function calling itself directly.
    let g = graph(
        vec![input(), node("call", "PartitionedCall", &["x"], vec![("f", func_attr("f_a"))])],
        vec![function("f_a", "f_a")],
    );
    assert!(err_of(g).contains("loop"));
    // A call to a function that does not exist.
    let g = graph(
        vec![input(), node("call", "PartitionedCall", &["x"], vec![("f", func_attr("nowhere"))])],
        vec![],
    );
    let e = err_of(g);
    assert!(e.contains("'call'") && e.contains("nowhere"), "{e}");
}

#[test]
fn tf1_loops_and_cycles_are_refused() {
    let g = graph(
        vec![
            input(),
            node("enter", "Enter", &["x"], vec![]),
            node("merge", "Merge", &["enter", "next"], vec![]),
            node("next", "NextIteration", &["merge"], vec![]),
            node("exit", "Exit", &["merge"], vec![]),
        ],
        vec![],
    );
    let e = err_of(g);
    assert!(e.contains("TF1") && (e.contains("merge") || e.contains("next")), "{e}");
}

#[test]
fn unsupported_ops_are_all_listed_and_bad_references_named() {
    let g = graph(
        vec![
            input(),
            node("a", "FancyOp", &["x"], vec![]),
            node("b", "OtherFancyOp", &["x"], vec![]),
            node("c", "AddV2", &["a", "b"], vec![]),
        ],
        vec![],
    );
    let e = err_of(g);
    assert!(
        e.contains("2 node(s)") && e.contains("'a' (FancyOp)") && e.contains("'b' (OtherFancyOp)"),
        "{e}"
    );
    let g = graph(vec![input(), node("r", "Relu", &["x:7"], vec![])], vec![]);
    let e = err_of(g);
    assert!(e.contains("'r'") && e.contains("x:7"), "{e}");
    let g = graph(vec![input(), node("r", "Relu", &["ghost"], vec![])], vec![]);
    let e = err_of(g);
    assert!(e.contains("ghost"), "{e}");
}

#[test]
fn multiplying_call_graphs_are_bounded() {
    // f0 calls f1 twice, f1 calls f2 twice, … : 2^40 inlined copies unless bounded.
    let arg = |n: &str| pb::op_def::ArgDef {
        name: n.into(),
        r#type: 1,
        ..Default::default()
    };
    let mut fs = Vec::new();
    for i in 0..40 {
        let callee = format!("f{}", i + 1);
        let nodes = if i == 39 {
            vec![node("r", "Relu", &["x"], vec![])]
        } else {
            vec![
                node("a", "PartitionedCall", &["x"], vec![("f", func_attr(&callee))]),
                node("b", "PartitionedCall", &["a:output:0"], vec![("f", func_attr(&callee))]),
                node("r", "Identity", &["b:output:0"], vec![]),
            ]
        };
        fs.push(pb::FunctionDef {
            signature: Some(pb::OpDef {
                name: format!("f{i}"),
                input_arg: vec![arg("x")],
                output_arg: vec![arg("y")],
                attr: vec![],
            }),
            attr: HashMap::new(),
            node_def: nodes,
            ret: [("y".to_string(), if i == 39 { "r:activations:0" } else { "r:output:0" }.to_string())]
                .into_iter()
                .collect(),
            control_ret: HashMap::new(),
        });
    }
    let g = graph(
        vec![input(), node("call", "PartitionedCall", &["x"], vec![("f", func_attr("f0"))])],
        fs,
    );
    let e = err_of(g);
    assert!(e.contains("nodes after inlining"), "{e}");
}
