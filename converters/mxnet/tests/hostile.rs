//! Bad input: wrong magic, truncated arrays, absurd counts, dangling node indices, unknown ops —
//! each must give a clear error naming the file and node, never a panic.

use edgeport_mxnet::{Error, Options, import_bytes};
use std::path::PathBuf;

fn tiny() -> (Vec<u8>, Vec<u8>) {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/mxnet");
    (
        std::fs::read(d.join("tiny-symbol.json")).unwrap(),
        std::fs::read(d.join("tiny-0003.params")).unwrap(),
    )
}

fn opts() -> Options {
    Options {
        params: None,
        input_shapes: vec![("data".into(), vec![1, 3, 15, 15]), ("idx".into(), vec![1, 5])],
    }
}

#[test]
fn wrong_magic_is_named() {
    let (sym, mut params) = tiny();
    params[0] = 0x13;
    let e = import_bytes(&sym, Some(params), "bad.params", &opts()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::Params { .. }), "{msg}");
    assert!(msg.contains("bad.params") && msg.contains("wrong magic"), "{msg}");
}

#[test]
fn truncated_params_fail_cleanly_at_every_length() {
    let (sym, params) = tiny();
    // Every cut inside the array data must be an error, never a panic.
    for cut in (0..params.len() - 1).step_by(97) {
        let r = import_bytes(&sym, Some(params[..cut].to_vec()), "cut.params", &opts());
        match r {
            Err(e) => assert!(e.to_string().contains("cut.params"), "{e}"),
            // Cutting only the trailing name list leaves unnamed arrays: then weights are
            // missing and the import fails on the nodes instead.
            Ok(_) => panic!("truncated at {cut} imported"),
        }
    }
    let e = import_bytes(&sym, Some(params[..params.len() / 2].to_vec()), "cut.params", &opts()).unwrap_err();
    assert!(e.to_string().contains("truncated") || e.to_string().contains("file ends"), "{e}");
}

#[test]
fn absurd_array_count_is_refused_before_allocating() {
    let mut b = Vec::new();
    b.extend_from_slice(&0x112u64.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    b.extend_from_slice(&u64::MAX.to_le_bytes());
    let e = edgeport_mxnet::params::read_params(edgeport_ir::Bytes::from_vec(b)).unwrap_err();
    assert!(e.msg.contains("cannot fit"), "{e}");
}

#[test]
fn huge_shape_is_refused() {
    let mut b = Vec::new();
    b.extend_from_slice(&0x112u64.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    b.extend_from_slice(&1u64.to_le_bytes());
    b.extend_from_slice(&0xF993_FAC9u32.to_le_bytes());
    b.extend_from_slice(&0i32.to_le_bytes());
    b.extend_from_slice(&2i32.to_le_bytes());
    b.extend_from_slice(&i64::MAX.to_le_bytes());
    b.extend_from_slice(&i64::MAX.to_le_bytes());
    b.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let e = edgeport_mxnet::params::read_params(edgeport_ir::Bytes::from_vec(b)).unwrap_err();
    assert!(e.msg.contains("array 0"), "{e}");
}

#[test]
fn dangling_node_index_is_named() {
    let sym = br#"{"nodes":[{"op":"null","name":"data","inputs":[]},
        {"op":"Activation","name":"act","attrs":{"act_type":"relu"},"inputs":[[5,0,0]]}],
        "arg_nodes":[0],"heads":[[1,0,0]]}"#;
    let e = import_bytes(sym, None, "dangling-symbol.json", &opts()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("dangling-symbol.json") && msg.contains("'act'") && msg.contains("node 5"),
        "{msg}"
    );
    let sym = br#"{"nodes":[{"op":"null","name":"data","inputs":[]}],"arg_nodes":[0],"heads":[[3,0,0]]}"#;
    let e = import_bytes(sym, None, "s.json", &opts()).unwrap_err();
    assert!(e.to_string().contains("head 0 refers to node 3"), "{e}");
}

#[test]
fn unknown_ops_are_all_listed() {
    let sym = br#"{"nodes":[{"op":"null","name":"data","inputs":[]},
        {"op":"FancyOp","name":"f1","inputs":[[0,0,0]]},
        {"op":"null","name":"w","inputs":[]},
        {"op":"OtherOp","name":"f2","inputs":[[2,0,0]]}],
        "arg_nodes":[0,2],"heads":[[1,0,0],[3,0,0]]}"#;
    let o = Options {
        params: None,
        input_shapes: vec![("data".into(), vec![1, 2]), ("w".into(), vec![2])],
    };
    let e = import_bytes(sym, None, "u.json", &o).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("'f1' (FancyOp)") && msg.contains("'f2' (OtherOp)"), "{msg}");
}

#[test]
fn garbage_json_is_an_error() {
    for bad in [&b"{"[..], b"[]", b"{\"nodes\": 3}", b"{\"nodes\":[{\"name\":\"x\"}],\"heads\":[]}"] {
        assert!(import_bytes(bad, None, "g.json", &opts()).is_err());
    }
}
