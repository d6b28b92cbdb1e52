//! Subgraphs: an If whose branches read an outer value through a capture reference it by the
//! outer value's ONNX name, and names stay unique across scopes.

mod export_common;
use edgeport_ir::ops::defs::controlflow::If;
use edgeport_ir::ops::defs::math::{Neg, Relu};
use edgeport_ir::validate::validate;
use edgeport_ir::{DType, Graph, Op, Shape, ValueType};
use edgeport_onnx::model::RawAttrValue;
use edgeport_onnx::{ExportOptions, export_bytes, import_bytes};
use export_common::*;

fn branch(name: &str, neg: bool) -> Graph {
    let mut s = Graph::new(name);
    let c = s.add_capture("x_inner_name", f32_ty(&[3]));
    let op = if neg { Op::Neg(Neg {}) } else { Op::Relu(Relu {}) };
    // The branch's own value is named like the outer input: it must be renamed on export.
    let r = s.add_op("b", op, &[Some(c)], &["x"]).unwrap();
    s.node_mut(r).outputs[0].ty = f32_ty(&[3]);
    s.add_output("x", r.out(0)).unwrap();
    s
}

#[test]
fn captures_use_outer_names() {
    let mut g = Graph::new("m");
    let cond = g.add_input("cond", Some(ValueType::tensor(DType::Bool, Some(Shape::known(&[])))));
    let x = g.add_input("x", f32_ty(&[3]));
    let op = Op::If(If {
        then_branch: Box::new(branch("then", true)),
        else_branch: Box::new(branch("else", false)),
    });
    let n = g.add_op("if", op, &[Some(cond)], &["y"]).unwrap();
    g.push_input(n, Some(x), true).unwrap();
    g.node_mut(n).outputs[0].ty = f32_ty(&[3]);
    g.add_output("y", n.out(0)).unwrap();
    let v = validate(&g).unwrap();
    let bytes = export_bytes(&v, &ExportOptions::default()).unwrap();
    let raw = decode(&bytes);
    let node = &raw.graph.nodes[0];
    assert_eq!(node.op_type, "If");
    assert_eq!(node.inputs, ["cond"], "captures are not node inputs in ONNX");
    for a in &node.attrs {
        let RawAttrValue::Graph(sub) = &a.value else {
            panic!("branch is not a graph")
        };
        assert_eq!(sub.nodes[0].inputs, ["x"], "the capture reads the outer value 'x'");
        assert_ne!(sub.outputs[0].name, "x", "a branch value may not reuse an outer name");
    }
    let back = import_bytes(bytes, "rt", &Default::default()).unwrap();
    assert_eq!(io_names(&back), io_names(&g));
    validate(&back).unwrap();
}
