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
fn if_nested_in_a_run_time_loop_and_returning_from_both_branches() {
    let model = fixture("jit_ctrl2.pt");
    let o = TsOptions {
        input_shapes: vec![("x".into(), vec![2, 4]), ("n".into(), vec![])],
        input_dtypes: vec![("n".into(), DType::I64)],
    };
    let g = import_torchscript(&model, &o).unwrap_or_else(|e| panic!("{e}"));
    let top: Vec<&str> = g.topo_order().unwrap().iter().map(|&n| g.node(n).op.kind().name()).collect();
    assert!(top.contains(&"Loop") && top.contains(&"If"), "{top:?}");
    // The inner `if` lives in the Loop body.
    let body = g
        .topo_order()
        .unwrap()
        .into_iter()
        .find_map(|n| match &g.node(n).op {
            Op::Loop(l) => Some(l.body.clone()),
            _ => None,
        })
        .unwrap();
    assert!(body.topo_order().unwrap().iter().any(|&n| matches!(body.node(n).op, Op::If(_))));
    for set in ["jit_ctrl2.npz", "jit_ctrl2.neg.npz"] {
        let d = graph_max_diff(&g, &model, &fixture(set));
        eprintln!("{set}: max abs diff {d:.3e}");
        assert!(d <= 1e-4, "{set}: max abs diff {d}");
    }
}

/// The jit_ctrl archive with its root source edited.
fn with_source(edit: impl Fn(&str) -> String) -> Result<edgeport_ir::Graph, edgeport_pytorch::Error> {
    let path = fixture("jit_ctrl.pt");
    let bytes = edgeport_ir::Bytes::from_vec(std::fs::read(&path).unwrap());
    let ar = edgeport_pytorch::zip::Archive::parse("jit_ctrl.pt", bytes).unwrap();
    let src = ar.read_text("jit_ctrl/code/__torch__.py").unwrap();
    let sources = vec![("__torch__.py".to_string(), edit(&src))];
    edgeport_pytorch::torchscript::import_archive_with_sources(ar, &sources, &opts())
}

#[test]
fn unsupported_control_flow_is_listed_with_file_and_line() {
    // `break` in a loop whose trip count is only known at run time (line 26: in the while body).
    let e = with_source(|s| s.replace("      y4 = torch.add(y3, 0.25)\n", "      y4 = torch.add(y3, 0.25)\n      break\n"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("__torch__.py:24:") && e.contains("'break' or 'return' inside a loop"),
        "{e}"
    );
    // A `return` in only one branch of a data-dependent `if`.
    let e = with_source(|s| s.replace("      y = y0\n", "      return (y0, x)\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("__torch__.py:") && e.contains("only one branch"), "{e}");
    // A module object changed inside a run-time loop.
    let e = with_source(|s| s.replace("      y1 = y2\n", "      y1 = y2\n      x = self.fc\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("'x'") || e.contains("module"), "{e}");
    // An in-place op inside a branch on a tensor from outside it.
    let e = with_source(|s| s.replace("      y = y0\n", "      y = torch.relu_(x)\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("in-place aten::relu_ on 'x'"), "{e}");
    // The unedited source still imports.
    assert!(with_source(|s| s.to_string()).is_ok());
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
