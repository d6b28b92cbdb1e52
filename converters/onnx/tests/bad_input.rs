//! Malformed, hostile and unsupported inputs: each must give an `Err` (never a panic) whose
//! message names the file and the node or tensor at fault, without allocating what a file
//! merely claims to hold.

mod common;
use common::*;
use edgeport_onnx::{Error, ImportOptions, import_bytes, import_path};

const FILE: &str = "bad.onnx";

fn import(b: Vec<u8>) -> Result<edgeport_ir::Graph, Error> {
    import_bytes(b, FILE, &ImportOptions::default())
}

/// Imports, expects an error, checks it names the file and every `needle`; returns the text.
fn expect_err(b: Vec<u8>, needles: &[&str]) -> String {
    let e = import(b).expect_err("import should fail").to_string();
    assert!(e.contains(FILE), "error does not name the file: {e}");
    for n in needles {
        assert!(e.contains(n), "error does not mention '{n}': {e}");
    }
    e
}

fn with_initializer(t: pb::TensorProto) -> Vec<u8> {
    let mut g = graph(vec![node("Relu", &["w"], &["y"])], vec![], vec![vi("y", 1, &[])]);
    g.initializer.push(t);
    bytes(&model(g, 17))
}

#[test]
fn valid_model_imports() {
    let g = import(bytes(&relu_model())).unwrap();
    assert_eq!(g.outputs().len(), 1);
}

#[test]
fn empty_file() {
    expect_err(Vec::new(), &["empty"]);
}

#[test]
fn truncated_file() {
    let mut g = graph(vec![node("Relu", &["w"], &["y"])], vec![], vec![vi("y", 1, &[4])]);
    g.initializer.push(f32_tensor("w", &[4], &[1.0, -2.0, 3.0, -4.0]));
    let full = bytes(&model(g, 17));
    for cut in [1, full.len() / 3, full.len() / 2, full.len() - 1] {
        let e = import(full[..cut].to_vec());
        assert!(e.is_err(), "truncated at {cut} of {} imported", full.len());
        assert!(e.unwrap_err().to_string().contains(FILE));
    }
}

#[test]
fn random_bytes() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for len in [1usize, 7, 64, 1000, 4096] {
        for _ in 0..20 {
            let v: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            // Never a panic; almost always an error.
            let _ = import(v);
        }
    }
}

#[test]
fn protobuf_that_is_not_a_model() {
    use edgeport_proto::prost::Message;
    // A TensorProto: valid protobuf, wrong message.
    let t = f32_tensor("t", &[2], &[1.0, 2.0]).encode_to_vec();
    expect_err(t, &["not a valid ONNX model"]);
    // A ModelProto without a graph.
    let m = pb::ModelProto {
        ir_version: 8,
        ..Default::default()
    };
    expect_err(bytes(&m), &["no graph"]);
}

#[test]
fn negative_dims() {
    expect_err(with_initializer(f32_tensor("w", &[2, -3], &[])), &["'w'", "negative"]);
}

#[test]
fn dims_overflow() {
    let t = pb::TensorProto {
        name: "w".into(),
        dims: vec![1 << 40, 1 << 40, 1 << 40],
        data_type: 1,
        ..Default::default()
    };
    expect_err(with_initializer(t), &["'w'", "overflow"]);
}

#[test]
fn dims_exceed_data_without_allocating() {
    // 2^40 floats claimed, 4 bytes present: must fail before allocating 4 TiB.
    expect_err(
        with_initializer(f32_tensor("w", &[1 << 40], &[1.0])),
        &["'w'", "raw_data has 4 bytes"],
    );
    // The same through the typed field.
    let t = pb::TensorProto {
        name: "w".into(),
        dims: vec![1 << 40],
        data_type: 1,
        float_data: vec![1.0],
        ..Default::default()
    };
    expect_err(with_initializer(t), &["'w'"]);
    // And a sparse tensor claiming a huge dense shape.
    let s = pb::SparseTensorProto {
        values: Some(f32_tensor("sp", &[1], &[1.0])),
        indices: Some(pb::TensorProto {
            name: "i".into(),
            dims: vec![1],
            data_type: 7,
            int64_data: vec![0],
            ..Default::default()
        }),
        dims: vec![1 << 20, 1 << 20, 1 << 10],
    };
    let mut g = graph(vec![node("Relu", &["sp"], &["y"])], vec![], vec![vi("y", 1, &[])]);
    g.sparse_initializer.push(s);
    expect_err(bytes(&model(g, 17)), &["'sp'", "too large"]);
}

#[test]
fn raw_data_shorter_than_dims() {
    let mut t = f32_tensor("w", &[4], &[1.0, 2.0, 3.0, 4.0]);
    t.raw_data = t.raw_data.slice(0..10);
    expect_err(with_initializer(t), &["'w'", "raw_data has 10 bytes"]);
}

#[test]
fn sparse_indices_out_of_range() {
    let s = pb::SparseTensorProto {
        values: Some(f32_tensor("sp", &[1], &[1.0])),
        indices: Some(pb::TensorProto {
            name: "i".into(),
            dims: vec![1, 2],
            data_type: 7,
            int64_data: vec![-1, i64::MAX],
            ..Default::default()
        }),
        dims: vec![4, 4],
    };
    let mut g = graph(vec![node("Relu", &["sp"], &["y"])], vec![], vec![vi("y", 1, &[])]);
    g.sparse_initializer.push(s);
    expect_err(bytes(&model(g, 17)), &["'sp'", "out of range"]);
}

#[test]
fn cycle() {
    let g = graph(
        vec![node("Add", &["x", "b"], &["a"]), node("Relu", &["a"], &["b"])],
        vec![vi("x", 1, &[2])],
        vec![vi("b", 1, &[2])],
    );
    expect_err(bytes(&model(g, 17)), &["cycle", "Add_a", "Relu_b"]);
}

#[test]
fn out_of_order_nodes_are_sorted() {
    let g = graph(
        vec![node("Relu", &["a"], &["y"]), node("Neg", &["x"], &["a"])],
        vec![vi("x", 1, &[2])],
        vec![vi("y", 1, &[2])],
    );
    import(bytes(&model(g, 17))).expect("out-of-order but acyclic graph imports");
}

#[test]
fn input_never_produced() {
    let g = graph(
        vec![node("Add", &["x", "ghost"], &["y"])],
        vec![vi("x", 1, &[2])],
        vec![vi("y", 1, &[2])],
    );
    expect_err(bytes(&model(g, 17)), &["Add_y", "'ghost'", "never produced"]);
}

#[test]
fn duplicate_output_names() {
    let g = graph(
        vec![node("Relu", &["x"], &["y"])],
        vec![vi("x", 1, &[2])],
        vec![vi("y", 1, &[2]), vi("y", 1, &[2])],
    );
    expect_err(bytes(&model(g, 17)), &["'y'", "twice"]);
}

#[test]
fn value_produced_twice() {
    let g = graph(
        vec![node("Relu", &["x"], &["y"]), node("Neg", &["x"], &["y"])],
        vec![vi("x", 1, &[2])],
        vec![vi("y", 1, &[2])],
    );
    expect_err(bytes(&model(g, 17)), &["'y'", "two nodes"]);
}

#[test]
fn unknown_dtype_code() {
    let mut t = f32_tensor("w", &[1], &[1.0]);
    t.data_type = 99;
    expect_err(with_initializer(t), &["'w'", "unknown data type code 99"]);
    let g = graph(vec![node("Relu", &["x"], &["y"])], vec![vi("x", 77, &[2])], vec![vi("y", 1, &[2])]);
    expect_err(bytes(&model(g, 17)), &["unknown data type code 77"]);
}

fn nested_if(depth: usize) -> pb::GraphProto {
    let leaf = graph(vec![node("Identity", &["c"], &["r"])], vec![], vec![vi("r", 9, &[])]);
    let mut g = leaf;
    for _ in 0..depth {
        let mut n = node("If", &["c"], &["r"]);
        n.attribute.push(attr_graph("then_branch", g.clone()));
        n.attribute.push(attr_graph("else_branch", g));
        g = graph(vec![n], vec![], vec![vi("r", 9, &[])]);
    }
    g.input.push(vi("c", 9, &[]));
    g
}

#[test]
fn recursion_bomb() {
    // Shallow nesting works.
    import(bytes(&model(nested_if(3), 17))).expect("3 nested Ifs import");
    // Deep nesting is refused, not a stack overflow. (2^depth leaves would also be a size
    // bomb, so build one chain: then-branch only nested, else-branch a leaf.)
    let leaf = graph(vec![node("Identity", &["c"], &["r"])], vec![], vec![vi("r", 9, &[])]);
    let mut g = leaf.clone();
    for _ in 0..150 {
        let mut n = node("If", &["c"], &["r"]);
        n.attribute.push(attr_graph("then_branch", g));
        n.attribute.push(attr_graph("else_branch", leaf.clone()));
        g = graph(vec![n], vec![], vec![vi("r", 9, &[])]);
    }
    g.input.push(vi("c", 9, &[]));
    let m = model(g, 17);
    // Encoding many levels recursively needs a big stack; do it on a thread that has one.
    let b = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || bytes(&m))
        .unwrap()
        .join()
        .unwrap();
    let e = import(b).expect_err("deep nesting must fail").to_string();
    assert!(e.contains(FILE) && (e.contains("recursion") || e.contains("nested")), "{e}");
}

#[test]
fn two_unsupported_ops_one_error() {
    let mut n1 = node("FrobnicateA", &["x"], &["a"]);
    n1.name = "first".into();
    let mut n2 = node("FrobnicateB", &["x"], &["b"]);
    n2.name = "second".into();
    let g = graph(vec![n1, n2], vec![vi("x", 1, &[2])], vec![vi("a", 1, &[2]), vi("b", 1, &[2])]);
    let e = import(bytes(&model(g, 17))).expect_err("unsupported ops");
    match &e {
        Error::Nodes { issues, .. } => assert_eq!(issues.len(), 2, "{e}"),
        other => panic!("expected Error::Nodes, got {other}"),
    }
    let s = e.to_string();
    for needle in [FILE, "'first'", "FrobnicateA", "'second'", "FrobnicateB", "opset 17", "2 node(s)"] {
        assert!(s.contains(needle), "missing '{needle}' in: {s}");
    }
}

#[test]
fn downstream_of_unsupported_is_not_reported() {
    let g = graph(
        vec![
            node("Frobnicate", &["x"], &["a"]),
            node("Relu", &["a"], &["b"]),
            node("Neg", &["b"], &["y"]),
        ],
        vec![vi("x", 1, &[2])],
        vec![vi("y", 1, &[2])],
    );
    match import(bytes(&model(g, 17))).expect_err("unsupported op") {
        Error::Nodes { issues, .. } => assert_eq!(issues.len(), 1, "{issues:?}"),
        other => panic!("expected Error::Nodes, got {other}"),
    }
}

// ---- external data ----

fn external_model(location: &str, offset: Option<u64>, length: Option<u64>) -> Vec<u8> {
    let mut kv = vec![pb::StringStringEntryProto {
        key: "location".into(),
        value: location.into(),
    }];
    if let Some(o) = offset {
        kv.push(pb::StringStringEntryProto {
            key: "offset".into(),
            value: o.to_string(),
        });
    }
    if let Some(l) = length {
        kv.push(pb::StringStringEntryProto {
            key: "length".into(),
            value: l.to_string(),
        });
    }
    let t = pb::TensorProto {
        name: "w".into(),
        dims: vec![4],
        data_type: 1,
        data_location: 1,
        external_data: kv,
        ..Default::default()
    };
    with_initializer(t)
}

fn import_in_dir(dir: &std::path::Path, model: Vec<u8>) -> Result<edgeport_ir::Graph, String> {
    let p = dir.join("m.onnx");
    std::fs::write(&p, model).unwrap();
    edgeport_onnx::external::clear_cache();
    import_path(&p, &ImportOptions::default()).map_err(|e| {
        let s = e.to_string();
        assert!(s.contains("m.onnx"), "error does not name the file: {s}");
        s
    })
}

#[test]
fn external_data_ok() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("w.bin"), [0u8; 16]).unwrap();
    import_in_dir(d.path(), external_model("w.bin", Some(0), Some(16))).expect("valid external data");
}

#[test]
fn external_data_parent_dir() {
    let d = tempfile::tempdir().unwrap();
    let sub = d.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(d.path().join("w.bin"), [0u8; 16]).unwrap();
    let e = import_in_dir(&sub, external_model("../w.bin", None, None)).unwrap_err();
    assert!(e.contains("'w'") && e.contains("inside the model's folder"), "{e}");
}

#[test]
fn external_data_absolute_path() {
    let d = tempfile::tempdir().unwrap();
    let abs = d.path().join("w.bin");
    std::fs::write(&abs, [0u8; 16]).unwrap();
    let e = import_in_dir(d.path(), external_model(abs.to_str().unwrap(), None, None)).unwrap_err();
    assert!(e.contains("'w'") && e.contains("relative"), "{e}");
}

#[cfg(unix)]
#[test]
fn external_data_symlink_out() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.bin"), [0u8; 16]).unwrap();
    let d = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.bin"), d.path().join("w.bin")).unwrap();
    let e = import_in_dir(d.path(), external_model("w.bin", None, None)).unwrap_err();
    assert!(e.contains("'w'") && e.contains("outside"), "{e}");
}

#[test]
fn external_data_past_end() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("w.bin"), [0u8; 16]).unwrap();
    let e = import_in_dir(d.path(), external_model("w.bin", Some(8), None)).unwrap_err();
    assert!(e.contains("'w'") && e.contains("past the end"), "{e}");
    let e = import_in_dir(d.path(), external_model("w.bin", Some(u64::MAX), None)).unwrap_err();
    assert!(e.contains("'w'"), "{e}");
    let e = import_in_dir(d.path(), external_model("w.bin", Some(0), Some(1 << 40))).unwrap_err();
    assert!(e.contains("'w'") && e.contains("length"), "{e}");
}

#[test]
fn external_data_from_bytes_is_refused() {
    let e = import(external_model("w.bin", None, None)).unwrap_err().to_string();
    assert!(e.contains(FILE) && e.contains("'w'"), "{e}");
}

#[test]
fn old_broadcast_axis_out_of_range() {
    // Add-6 with broadcast=1 and an absurd axis: an error, not an overflow or a huge shape.
    for axis in [i64::MIN, -(1 << 40), 1 << 40] {
        let mut n = node("Add", &["x", "b"], &["y"]);
        n.attribute.push(attr_int("broadcast", 1));
        n.attribute.push(attr_int("axis", axis));
        let mut g = graph(vec![n], vec![vi("x", 1, &[2, 3])], vec![vi("y", 1, &[2, 3])]);
        g.initializer.push(f32_tensor("b", &[3], &[1.0, 2.0, 3.0]));
        expect_err(bytes(&model(g, 6)), &["Add_y", "broadcast axis"]);
    }
}

#[test]
fn old_broadcast_axis_is_aligned() {
    // Add-6: A [2,3,4] + B [3] with axis=1 → B is unsqueezed to [3,1].
    let mut n = node("Add", &["x", "b"], &["y"]);
    n.attribute.push(attr_int("broadcast", 1));
    n.attribute.push(attr_int("axis", 1));
    let mut g = graph(vec![n], vec![vi("x", 1, &[2, 3, 4])], vec![vi("y", 1, &[2, 3, 4])]);
    g.initializer.push(f32_tensor("b", &[3], &[1.0, 2.0, 3.0]));
    let g = import(bytes(&model(g, 6))).unwrap();
    let un = g
        .node_ids()
        .find(|&n| matches!(g.node(n).op, edgeport_ir::Op::Unsqueeze(_)))
        .expect("Unsqueeze");
    let axes = g.inputs_of(un)[1].unwrap();
    match &g.node(axes.node).op {
        edgeport_ir::Op::Constant(c) => assert_eq!(c.value.to_i64_vec().unwrap(), [1]),
        o => panic!("{o:?}"),
    }
}
