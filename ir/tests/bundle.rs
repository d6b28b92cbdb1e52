//! IR bundle: write → read round trip, deterministic bytes, weights borrowed from the map,
//! inline fallback for dtypes safetensors cannot hold, and errors on damaged bundles.

use edgeport_ir::bundle::{GRAPH_FILE, WEIGHTS_FILE, read_bundle, write_bundle};
use edgeport_ir::ops::Op;
use edgeport_ir::ops::defs::math;
use edgeport_ir::text::print_graph;
use edgeport_ir::{Bytes, DType, Graph, Tensor};

fn graph() -> Graph {
    let mut g = Graph::new("bundled");
    let x = g.add_input("x", None);
    let w: Vec<f32> = (0..64).map(|i| i as f32 / 3.0).collect();
    let w = g.add_constant("w", Tensor::from_f32(vec![8, 8], &w).unwrap());
    let b = g.add_constant("b", Tensor::from_i64(vec![40], &(0..40).collect::<Vec<_>>()).unwrap());
    let packed = Tensor::from_bytes(DType::I4, vec![40], Bytes::from_vec((0..20).collect())).unwrap();
    g.add_constant("packed", packed);
    let strs = Tensor::from_strings(vec![20], (0..20).map(|i| format!("s{i}").into_bytes()).collect()).unwrap();
    g.add_constant("strs", strs);
    let m = g.add_op("mm", Op::MatMul(math::MatMul {}), &[Some(x), Some(w)], &["y"]).unwrap();
    g.add_output("y", m.out(0)).unwrap();
    g.add_output("b", b).unwrap();
    g
}

#[test]
fn round_trip_deterministic_and_borrowed() {
    let tmp = tempfile::tempdir().unwrap();
    let g = graph();
    let a = tmp.path().join("a.epir");
    let b = tmp.path().join("b.epir");
    write_bundle(&g, &a).unwrap();
    write_bundle(&g, &b).unwrap();
    // Writing again over an existing bundle replaces it.
    write_bundle(&g, &a).unwrap();
    for f in [GRAPH_FILE, WEIGHTS_FILE] {
        assert_eq!(std::fs::read(a.join(f)).unwrap(), std::fs::read(b.join(f)).unwrap(), "{f}");
    }
    let text = std::fs::read_to_string(a.join(GRAPH_FILE)).unwrap();
    assert!(text.contains(r#"f32[8,8] @"w""#), "{text}");
    assert!(text.contains("i4[40] {0x00"), "{text}");
    assert!(text.contains(r#"string[20] {"s0""#), "{text}");
    let back = read_bundle(&a).unwrap();
    assert_eq!(print_graph(&back), print_graph(&g));
    // Both big constants point into the one memory map.
    let raw = |name: &str| match &back.node(back.find_value(name).unwrap().node).op {
        Op::Constant(c) => c.value.raw().unwrap().clone(),
        _ => panic!(),
    };
    assert!(raw("w").shares_owner(&raw("b")));
    // No temporary folders are left behind.
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 2, "{left:?}");
}

#[test]
fn damaged_bundles_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("g.epir");
    write_bundle(&graph(), &d).unwrap();
    std::fs::write(d.join(WEIGHTS_FILE), b"\x08\x00\x00\x00\x00\x00\x00\x00{}").unwrap();
    let e = read_bundle(&d).unwrap_err().to_string();
    assert!(e.contains("safetensors") || e.contains("no weight"), "{e}");
    std::fs::write(d.join(WEIGHTS_FILE), b"garbage").unwrap();
    assert!(read_bundle(&d).is_err());
    assert!(read_bundle(&tmp.path().join("missing.epir")).is_err());
}
