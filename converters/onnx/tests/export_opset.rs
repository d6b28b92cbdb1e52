//! Target opsets: newer input forms turned back into attributes, newer ops decomposed, and
//! check() listing what cannot be expressed.

mod export_common;
use edgeport_ir::ops::defs::math::Gelu;
use edgeport_ir::ops::defs::nn::Conv;
use edgeport_ir::ops::defs::reduction::ReduceSum;
use edgeport_ir::ops::{Layout, Op};
use edgeport_ir::validate::validate;
use edgeport_ir::{Graph, Tensor};
use edgeport_onnx::export::check;
use edgeport_onnx::model::RawAttrValue;
use edgeport_onnx::{ExportOptions, export_bytes};
use export_common::*;

fn reduce_graph() -> Graph {
    let mut g = Graph::new("r");
    let x = g.add_input("x", f32_ty(&[2, 3]));
    let axes = g.add_constant("axes", Tensor::from_i64(vec![1], &[1]).unwrap());
    let r = g
        .add_op("sum", Op::ReduceSum(ReduceSum::default()), &[Some(x), Some(axes)], &["y"])
        .unwrap();
    g.add_output("y", r.out(0)).unwrap();
    g
}

#[test]
fn reduce_axes_become_attribute_before_13() {
    let g = reduce_graph();
    let v = validate(&g).unwrap();
    let old = decode(
        &export_bytes(
            &v,
            &ExportOptions {
                opset: 11,
                ..Default::default()
            },
        )
        .unwrap(),
    );
    let n = &old.graph.nodes[0];
    assert_eq!(n.op_type, "ReduceSum");
    assert_eq!(n.inputs, ["x"]);
    assert!(matches!(&n.attrs[0].value, RawAttrValue::Ints(v) if v == &[1]));
    assert!(old.graph.initializers.is_empty(), "the axes constant is no longer used");
    let new = decode(
        &export_bytes(
            &v,
            &ExportOptions {
                opset: 13,
                ..Default::default()
            },
        )
        .unwrap(),
    );
    assert_eq!(new.graph.nodes[0].inputs, ["x", "axes"]);
}

#[test]
fn gelu_decomposed_before_20() {
    let mut g = Graph::new("gelu");
    let x = g.add_input("x", f32_ty(&[4]));
    let y = g.add_op("gelu", Op::Gelu(Gelu::default()), &[Some(x)], &["y"]).unwrap();
    g.add_output("y", y.out(0)).unwrap();
    let v = validate(&g).unwrap();
    let m = decode(
        &export_bytes(
            &v,
            &ExportOptions {
                opset: 17,
                ..Default::default()
            },
        )
        .unwrap(),
    );
    assert!(m.graph.nodes.iter().all(|n| n.op_type != "Gelu"));
    assert!(m.graph.nodes.iter().any(|n| n.op_type == "Erf"));
    assert_eq!(m.graph.nodes.last().unwrap().outputs, ["y"]);
    let m20 = decode(
        &export_bytes(
            &v,
            &ExportOptions {
                opset: 20,
                ..Default::default()
            },
        )
        .unwrap(),
    );
    assert_eq!(m20.graph.nodes.len(), 1);
}

#[test]
fn check_lists_every_problem() {
    let mut g = Graph::new("bad");
    let x = g.add_input("x", f32_ty(&[1, 4, 4, 3]));
    let w = g.add_constant("w", Tensor::from_f32(vec![2, 3, 1, 1], &[0.0; 6]).unwrap());
    let c = g
        .add_op(
            "conv",
            Op::Conv(Conv {
                layout: Layout::ChannelsLast,
                ..Default::default()
            }),
            &[Some(x), Some(w)],
            &["c"],
        )
        .unwrap();
    let axes = g.add_constant("axes", Tensor::from_i64(vec![1], &[1]).unwrap());
    let dynamic_axes = g
        .add_op("sum0", Op::ReduceSum(ReduceSum::default()), &[Some(axes)], &["ax2"])
        .unwrap();
    let r = g
        .add_op(
            "sum",
            Op::ReduceSum(ReduceSum::default()),
            &[Some(c.out(0)), Some(dynamic_axes.out(0))],
            &["y"],
        )
        .unwrap();
    g.add_output("y", r.out(0)).unwrap();
    let problems = check(
        &g,
        &ExportOptions {
            opset: 11,
            ..Default::default()
        },
    );
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].contains("conv") && problems[0].contains("channels-last"),
        "{problems:?}"
    );
    assert!(problems[1].contains("axes must be a constant"), "{problems:?}");
    assert!(
        check(
            &g,
            &ExportOptions {
                opset: 3,
                ..Default::default()
            }
        )[0]
        .contains("opset 3")
    );
}
