//! Pass tests: graphs built in code, results checked as text-IR snapshots.

use edgeport_ir::ops::defs::math::{Add, Relu};
use edgeport_ir::ops::defs::tensor::Identity;
use edgeport_ir::{DType, Graph, Op, Shape, Tensor, ValueType};
use edgeport_passes::{Context, Manager};

fn f32_ty(dims: &[u64]) -> Option<ValueType> {
    Some(ValueType::tensor(DType::F32, Some(Shape::known(dims))))
}

fn sample() -> Graph {
    let mut g = Graph::new("sample");
    let x = g.add_input("x", f32_ty(&[2]));
    let a = g.add_constant("a", Tensor::from_f32(vec![2], &[1.0, 2.0]).unwrap());
    let b = g.add_constant("b", Tensor::from_f32(vec![2], &[3.0, -5.0]).unwrap());
    let ab = g.add_op("ab", Op::Add(Add {}), &[Some(a), Some(b)], &["ab"]).unwrap();
    let r = g.add_op("r", Op::Relu(Relu {}), &[Some(ab.out(0))], &["r"]).unwrap();
    let y = g.add_op("y", Op::Add(Add {}), &[Some(x), Some(r.out(0))], &["y"]).unwrap();
    let y2 = g.add_op("y2", Op::Add(Add {}), &[Some(x), Some(r.out(0))], &["y2"]).unwrap();
    let dead = g.add_op("dead", Op::Relu(Relu {}), &[Some(x)], &["dead"]).unwrap();
    let _ = dead;
    let id = g.add_op("out", Op::Identity(Identity {}), &[Some(y.out(0))], &["out"]).unwrap();
    let s = g.add_op("s", Op::Add(Add {}), &[Some(y2.out(0)), Some(id.out(0))], &["s"]).unwrap();
    g.add_output("out", id.out(0)).unwrap();
    g.add_output("s", s.out(0)).unwrap();
    g
}

#[test]
fn dce_removes_dead_nodes() {
    let mut g = sample();
    Manager::from_names("dce").unwrap().run(&mut g, &mut Context::default()).unwrap();
    insta::assert_snapshot!(edgeport_ir::text::print_graph(&g));
}

#[test]
fn fold_cse_identity_dce_pipeline() {
    let mut g = sample();
    let reports = Manager::from_names("fold,cse,identity,dce")
        .unwrap()
        .validate_between(true)
        .run(&mut g, &mut Context::default())
        .unwrap();
    assert_eq!(reports.len(), 4);
    insta::assert_snapshot!(edgeport_ir::text::print_graph(&g));
    // The folded constant holds relu(a + b) = [4, 0].
    let outs = edgeport_eval::run_graph(
        &g,
        vec![edgeport_eval::Value::Tensor(edgeport_eval::Tensor::vec_f32(vec![1.0, 1.0]))],
    )
    .unwrap();
    let vals: Vec<Vec<f64>> = outs.iter().map(|v| v.as_tensor().unwrap().to_f64_vec().unwrap()).collect();
    assert_eq!(vals, vec![vec![5.0, 1.0], vec![10.0, 2.0]]);
}

#[test]
fn unknown_pass_is_an_error() {
    let e = Manager::from_names("dce,nope").err().unwrap();
    assert!(e.to_string().contains("unknown pass 'nope'"), "{e}");
}
