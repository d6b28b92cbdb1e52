//! Export round trips: graph input/output names and order preserved (Identity where needed),
//! re-import equality, determinism (byte-identical exports).

mod export_common;
use edgeport_ir::validate::validate;
use edgeport_onnx::{ExportOptions, export_bytes, import_bytes};
use export_common::*;

#[test]
fn names_and_order_preserved() {
    let g = sample(4);
    let v = validate(&g).unwrap();
    let bytes = export_bytes(&v, &ExportOptions::default()).unwrap();
    let raw = decode(&bytes);
    let ins: Vec<_> = raw.graph.inputs.iter().map(|i| i.name.as_str()).collect();
    let outs: Vec<_> = raw.graph.outputs.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(ins, ["b", "a"]);
    assert_eq!(outs, ["z", "relu_out", "relu_again", "b_copy"]);
    assert_eq!(raw.graph.initializer_names, ["w"]);
    // r is output under two other names, b under another: three Identity nodes.
    assert_eq!(raw.graph.nodes.iter().filter(|n| n.op_type == "Identity").count(), 3);
    assert_eq!(raw.opsets, vec![(String::new(), 17)]);
    assert_eq!(raw.ir_version, 8);
    let back = import_bytes(bytes, "rt", &Default::default()).unwrap();
    assert_eq!(io_names(&back), io_names(&g));
}

#[test]
fn exports_are_byte_identical() {
    let g = sample(300);
    let v = validate(&g).unwrap();
    let a = export_bytes(&v, &ExportOptions::default()).unwrap();
    let b = export_bytes(&v, &ExportOptions::default()).unwrap();
    assert_eq!(a, b);
    let d = tmpdir("det");
    let (p1, p2) = (d.join("one.onnx"), d.join("two.onnx"));
    edgeport_onnx::export_path(&v, &p1, &ExportOptions::default()).unwrap();
    edgeport_onnx::export_path(&v, &p2, &ExportOptions::default()).unwrap();
    assert_eq!(std::fs::read(&p1).unwrap(), std::fs::read(&p2).unwrap());
    assert_eq!(std::fs::read(&p1).unwrap(), a);
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn weights_survive_round_trip() {
    let g = sample(1000);
    let v = validate(&g).unwrap();
    let bytes = export_bytes(&v, &ExportOptions::default()).unwrap();
    let back = import_bytes(bytes, "rt", &Default::default()).unwrap();
    let w = back.find_value("w").unwrap();
    let edgeport_ir::Op::Constant(c) = &back.node(w.node).op else {
        panic!("w is not a constant")
    };
    let vals = c.value.to_f64_vec().unwrap();
    assert_eq!(vals.len(), 1000);
    assert_eq!(vals[999], 999.0 * 0.5);
}
