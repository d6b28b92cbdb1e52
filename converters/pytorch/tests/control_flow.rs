//! Scripted control flow that depends on tensor values (`tests/fixtures/pytorch/make_s5.py`,
//! `jit_ctrl.pt`): an `if` on `x.sum() > 0`, a `for` over `range(int(n))` and a `while` on a
//! tensor condition become IR `If`/`Loop` subgraphs; the evaluator matches torch eager on input
//! sets that take both branches and run the loops 0, 3 and 5 times.

mod common;
use common::*;
use edgeport_ir::{DType, Op};
use edgeport_pytorch::{TsOptions, import_torchscript};

fn opts() -> TsOptions {
    TsOptions {
        input_shapes: vec![("x".into(), vec![3, 8]), ("n".into(), vec![])],
        input_dtypes: vec![("n".into(), DType::I64)],
    }
}

#[test]
fn data_dependent_if_and_loops_become_subgraphs() {
    let model = fixture("jit_ctrl.pt");
    let g = import_torchscript(&model, &opts()).unwrap_or_else(|e| panic!("{e}"));
    let kinds: Vec<&str> = g.topo_order().unwrap().iter().map(|&n| g.node(n).op.kind().name()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "If").count(), 1, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "Loop").count(), 2, "{kinds:?}");
    edgeport_ir::validate::validate(&g).unwrap_or_else(|e| panic!("{e:?}"));
    for set in ["jit_ctrl.npz", "jit_ctrl.neg.npz", "jit_ctrl.five.npz"] {
        let d = graph_max_diff(&g, &model, &fixture(set));
        eprintln!("{set}: max abs diff {d:.3e}");
        assert!(d <= 1e-4, "{set}: max abs diff {d}");
    }
}

#[test]
fn branches_capture_weights_from_the_root_graph() {
    let g = import_torchscript(&fixture("jit_ctrl.pt"), &opts()).unwrap();
    // fc.weight is used only inside the `then` branch, yet lives in the root graph.
    let root_consts: Vec<String> = g
        .topo_order()
        .unwrap()
        .iter()
        .filter(|&&n| matches!(g.node(n).op, Op::Constant(_)))
        .map(|&n| g.node(n).name.clone())
        .collect();
    assert!(root_consts.iter().any(|n| n == "fc.weight"), "{root_consts:?}");
}
