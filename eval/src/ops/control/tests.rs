//! Unit tests of the control group, on IR graphs built in code. Subgraph bodies use only ops of
//! this group (text ops) so the tests do not depend on other groups.

use crate::tensor::Tensor;
use crate::value::Value;
use crate::{OpError, run_graph};
use edgeport_ir::ops::defs::controlflow::{If, Loop, Scan};
use edgeport_ir::ops::defs::ml::{LabelEncoder, TreeEnsemble};
use edgeport_ir::ops::defs::text::{RegexFullMatch, StringConcat, StringNormalizer, StringSplit};
use edgeport_ir::ops::defs::training::Adagrad;
use edgeport_ir::{DType, Graph, Op, Shape, ValueId, ValueType};
use ndarray::{ArrayD, IxDyn};

fn strs(shape: &[usize], v: &[&str]) -> Tensor {
    Tensor::Str(ArrayD::from_shape_vec(IxDyn(shape), v.iter().map(|s| s.to_string()).collect()).unwrap())
}
fn s(v: &str) -> Value {
    Value::Tensor(strs(&[], &[v]))
}
fn b(v: bool) -> Value {
    Value::Tensor(Tensor::Bool(ArrayD::from_elem(IxDyn(&[]), v)))
}
fn i(v: i64) -> Value {
    Value::Tensor(Tensor::scalar_i64(v))
}
fn sty(shape: &[u64]) -> Option<ValueType> {
    Some(ValueType::tensor(DType::String, Some(Shape::known(shape))))
}
fn concat(g: &mut Graph, a: ValueId, b: ValueId, out: &str) -> ValueId {
    g.add_op(out, Op::StringConcat(StringConcat {}), &[Some(a), Some(b)], &[out])
        .unwrap()
        .out(0)
}
fn matches(g: &mut Graph, a: ValueId, pat: &str, out: &str) -> ValueId {
    let op = Op::RegexFullMatch(RegexFullMatch { pattern: Some(pat.into()) });
    g.add_op(out, op, &[Some(a)], &[out]).unwrap().out(0)
}
fn str_of(v: &Value) -> Vec<String> {
    match v {
        Value::Tensor(Tensor::Str(a)) => a.iter().cloned().collect(),
        v => panic!("not strings: {}", v.describe()),
    }
}

/// Loop body `(i, cond, s) -> (s·c matches "x.{0,3}", s·c, s·c·c)`, reading `c` as a capture.
fn loop_body() -> Graph {
    let mut body = Graph::new("body");
    body.add_input("i", None);
    body.add_input("cond_in", None);
    let s_in = body.add_input("s_in", sty(&[]));
    let c = body.add_capture("c", None);
    let s_out = concat(&mut body, s_in, c, "s_out");
    let cond = matches(&mut body, s_out, "x.{0,3}", "cond_out");
    let scan = concat(&mut body, s_out, c, "scan_out");
    body.add_output("cond_out", cond).unwrap();
    body.add_output("s_out", s_out).unwrap();
    body.add_output("scan_out", scan).unwrap();
    body
}

fn loop_graph(m: bool, cond: bool) -> Graph {
    let mut g = Graph::new("main");
    let s0 = g.add_input("s0", None);
    let c = g.add_input("c", None);
    let mv = m.then(|| g.add_input("M", None));
    let cv = cond.then(|| g.add_input("cond", None));
    let op = Op::Loop(Loop {
        body: Box::new(loop_body()),
    });
    let node = g.add_op("loop", op, &[mv, cv, Some(s0)], &["s_final", "scans"]).unwrap();
    g.push_input(node, Some(c), true).unwrap();
    g.add_output("s_final", node.out(0)).unwrap();
    g.add_output("scans", node.out(1)).unwrap();
    g
}

#[test]
fn loop_carries_captures_and_stacks_scans() {
    let g = loop_graph(true, true);
    let out = run_graph(&g, vec![s("x"), s("y"), i(10), b(true)]).unwrap();
    assert_eq!(str_of(&out[0]), ["xyyyy"]);
    assert_eq!(str_of(&out[1]), ["xyy", "xyyy", "xyyyy", "xyyyyy"]);
    // Trip count stops first.
    let out = run_graph(&g, vec![s("x"), s("y"), i(2), b(true)]).unwrap();
    assert_eq!(str_of(&out[0]), ["xyy"]);
    // No iteration: initial value, empty scan output.
    let out = run_graph(&g, vec![s("x"), s("y"), i(5), b(false)]).unwrap();
    assert_eq!(str_of(&out[0]), ["x"]);
    assert_eq!(out[1].as_tensor().unwrap().shape(), [0]);
}

#[test]
fn loop_without_trip_count_or_condition_follows_body_condition() {
    let out = run_graph(&loop_graph(false, false), vec![s("x"), s("y")]).unwrap();
    assert_eq!(str_of(&out[0]), ["xyyyy"]);
    let out = run_graph(&loop_graph(true, false), vec![s("x"), s("y"), i(1)]).unwrap();
    assert_eq!(str_of(&out[0]), ["xy"]);
}

#[test]
fn loop_carries_sequences() {
    let mut body = Graph::new("body");
    body.add_input("i", None);
    let c = body.add_input("cond_in", None);
    let seq = body.add_input("seq_in", None);
    body.add_output("cond_out", c).unwrap();
    body.add_output("seq_out", seq).unwrap();
    let mut g = Graph::new("main");
    let m = g.add_input("M", None);
    let s0 = g.add_input("s0", None);
    let node = g
        .add_op("loop", Op::Loop(Loop { body: Box::new(body) }), &[Some(m), None, Some(s0)], &["o"])
        .unwrap();
    g.add_output("o", node.out(0)).unwrap();
    let seq = Value::Sequence(vec![Tensor::vec_f32(vec![1.0])], DType::F32);
    let out = run_graph(&g, vec![i(3), seq.clone()]).unwrap();
    assert_eq!(out[0], seq);
}

/// If whose branches return a captured sequence and a captured optional.
#[test]
fn if_returns_captured_sequence_or_optional() {
    let mut then_g = Graph::new("then");
    let a = then_g.add_capture("a", None);
    then_g.add_capture("o", None);
    then_g.add_output("r", a).unwrap();
    let mut else_g = Graph::new("else");
    else_g.add_capture("a", None);
    let o = else_g.add_capture("o", None);
    else_g.add_output("r", o).unwrap();
    let mut g = Graph::new("main");
    let cond = g.add_input("cond", None);
    let av = g.add_input("a", None);
    let ov = g.add_input("o", None);
    let op = Op::If(If {
        then_branch: Box::new(then_g),
        else_branch: Box::new(else_g),
    });
    let node = g.add_op("if", op, &[Some(cond)], &["r"]).unwrap();
    g.push_input(node, Some(av), true).unwrap();
    g.push_input(node, Some(ov), true).unwrap();
    g.add_output("r", node.out(0)).unwrap();
    let seq = Value::Sequence(vec![Tensor::vec_i64(vec![1, 2])], DType::I64);
    let opt = Value::Optional(None, Some(ValueType::tensor(DType::F32, None)));
    assert_eq!(
        run_graph(&g, vec![b(true), seq.clone(), opt.clone()]).unwrap(),
        std::slice::from_ref(&seq)
    );
    assert_eq!(run_graph(&g, vec![b(false), seq, opt.clone()]).unwrap(), [opt]);
}

#[test]
fn scan_axes_and_directions() {
    let mut body = Graph::new("body");
    let st = body.add_input("s_in", sty(&[2]));
    let x = body.add_input("x", sty(&[2]));
    let y = body.add_input("y", sty(&[2]));
    let t = concat(&mut body, st, x, "t");
    let so = concat(&mut body, t, y, "s_out");
    body.add_output("s_out", so).unwrap();
    body.add_output("e", t).unwrap();
    let mut g = Graph::new("main");
    let ins: Vec<_> = ["s0", "a", "b"].iter().map(|n| Some(g.add_input(*n, None))).collect();
    let op = Op::Scan(Scan {
        body: Box::new(body),
        num_scan_inputs: 2,
        scan_input_axes: vec![0, -1],
        scan_input_directions: vec![0, 1],
        scan_output_axes: vec![1],
        scan_output_directions: vec![1],
    });
    let node = g.add_op("scan", op, &ins, &["s", "e"]).unwrap();
    g.add_output("s", node.out(0)).unwrap();
    g.add_output("e", node.out(1)).unwrap();
    let a = strs(&[3, 2], &["a", "b", "c", "d", "e", "f"]);
    let bm = strs(&[2, 3], &["1", "2", "3", "4", "5", "6"]);
    let out = run_graph(&g, vec![Value::Tensor(strs(&[2], &["", "_"])), Value::Tensor(a), Value::Tensor(bm)]).unwrap();
    assert_eq!(str_of(&out[0]), ["a3c2e1", "_b6d5f4"]);
    // Per-step "e" values: step t gives [s_t·a_t]; prepended, then moved to axis 1.
    let e = out[1].as_tensor().unwrap();
    assert_eq!(e.shape(), [2, 3]);
    assert_eq!(str_of(&out[1]), ["a3c2e", "a3c", "a", "_b6d5f", "_b6d", "_b"]);
}

#[test]
fn scan_rejects_bad_axis_and_mismatched_lengths() {
    let mut body = Graph::new("body");
    let x = body.add_input("x", None);
    body.add_output("y", x).unwrap();
    let mut g = Graph::new("main");
    let a = g.add_input("a", None);
    let op = Op::Scan(Scan {
        body: Box::new(body),
        num_scan_inputs: 1,
        scan_input_axes: vec![3],
        ..Default::default()
    });
    let node = g.add_op("scan", op, &[Some(a)], &["y"]).unwrap();
    g.add_output("y", node.out(0)).unwrap();
    assert!(run_graph(&g, vec![Value::Tensor(strs(&[1], &["a"]))]).is_err());
}

fn run1(op: Op, inputs: Vec<Value>, n_out: usize) -> Result<Vec<Value>, crate::EvalError> {
    let mut g = Graph::new("main");
    let ins: Vec<_> = (0..inputs.len()).map(|k| Some(g.add_input(format!("in{k}"), None))).collect();
    let outs: Vec<String> = (0..n_out).map(|k| format!("out{k}")).collect();
    let names: Vec<&str> = outs.iter().map(|s| s.as_str()).collect();
    let node = g.add_op("n", op, &ins, &names).unwrap();
    for (k, name) in outs.iter().enumerate() {
        g.add_output(name.clone(), node.out(k)).unwrap();
    }
    run_graph(&g, inputs)
}

#[test]
fn string_split_whitespace_with_maxsplit() {
    let x = Value::Tensor(strs(&[3], &["  a b  c ", "", "one"]));
    let out = run1(
        Op::StringSplit(StringSplit {
            delimiter: None,
            maxsplit: Some(1),
        }),
        vec![x],
        2,
    )
    .unwrap();
    assert_eq!(str_of(&out[0]), ["a", "b  c ", "", "", "one", ""]);
    assert_eq!(out[1].as_tensor().unwrap().to_i64_vec().unwrap(), [2, 0, 1]);
}

#[test]
fn string_normalizer_case_insensitive_stopwords() {
    let op = Op::StringNormalizer(StringNormalizer {
        case_change_action: "LOWER".into(),
        is_case_sensitive: 0,
        locale: None,
        stopwords: vec!["THE".into()],
    });
    let x = Value::Tensor(strs(&[1, 3], &["The", "Straße", "the"]));
    let out = run1(op.clone(), vec![x], 1).unwrap();
    assert_eq!(out[0].as_tensor().unwrap().shape(), [1, 1]);
    assert_eq!(str_of(&out[0]), ["straße"]);
    let out = run1(op, vec![Value::Tensor(strs(&[1], &["the"]))], 1).unwrap();
    assert_eq!(str_of(&out[0]), [""]);
}

#[test]
fn label_encoder_float_keys_match_nan_and_default() {
    let op = Op::LabelEncoder(Box::new(LabelEncoder {
        keys_floats: vec![f32::NAN, 1.5, -0.0],
        values_int64s: vec![7, 8, 9],
        default_int64: -5,
        ..Default::default()
    }));
    let x = Value::Tensor(Tensor::vec_f32(vec![f32::NAN, 1.5, 0.0, 2.0]));
    let out = run1(op, vec![x], 1).unwrap();
    assert_eq!(out[0].as_tensor().unwrap().to_i64_vec().unwrap(), [7, 8, 9, -5]);
}

#[test]
fn tree_ensemble_average_with_logistic() {
    use edgeport_ir::Tensor as IrT;
    // Two trees: tree 0 splits feature 0 at 0.5 (LT); tree 1 is a single leaf.
    let op = Op::TreeEnsemble(Box::new(TreeEnsemble {
        aggregate_function: 0,
        post_transform: 2,
        n_targets: Some(1),
        tree_roots: vec![0, 1],
        nodes_featureids: vec![0, 0],
        nodes_modes: IrT::from_bytes(DType::U8, vec![2], edgeport_ir::Bytes::from_vec(vec![1, 0])).unwrap(),
        nodes_splits: IrT::from_f32(vec![2], &[0.5, 0.0]).unwrap(),
        nodes_truenodeids: vec![0, 2],
        nodes_trueleafs: vec![1, 1],
        nodes_falsenodeids: vec![1, 2],
        nodes_falseleafs: vec![1, 1],
        leaf_targetids: vec![0, 0, 0],
        leaf_weights: IrT::from_f32(vec![3], &[1.0, 3.0, 2.0]).unwrap(),
        ..Default::default()
    }));
    let x = Value::Tensor(Tensor::F32(ArrayD::from_shape_vec(IxDyn(&[2, 1]), vec![0.0, 1.0]).unwrap()));
    let out = run1(op, vec![x], 1).unwrap();
    let got = out[0].as_tensor().unwrap().to_f64_vec().unwrap();
    let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
    assert!((got[0] - sig(1.5)).abs() < 1e-6 && (got[1] - sig(2.5)).abs() < 1e-6, "{got:?}");
}

#[test]
fn adagrad_one_step() {
    let op = Op::Adagrad(Adagrad {
        decay_factor: 0.1,
        epsilon: 1e-6,
        norm_coefficient: 0.01,
    });
    let ins = vec![
        Value::Tensor(Tensor::scalar_f32(0.1)),
        i(1),
        Value::Tensor(Tensor::vec_f32(vec![1.0, 2.0])),
        Value::Tensor(Tensor::vec_f32(vec![-1.0, 1.0])),
        Value::Tensor(Tensor::vec_f32(vec![2.0, 0.0])),
    ];
    let out = run1(op, ins, 2).unwrap();
    let r = 0.1 / 1.1;
    let x = out[0].as_tensor().unwrap().to_f64_vec().unwrap();
    let (g0, g1) = (0.01 - 1.0, 0.02 + 1.0);
    let (h0, h1) = (2.0 + g0 * g0, g1 * g1);
    assert!((x[0] - (1.0 - r * g0 / (f64::sqrt(h0) + 1e-6))).abs() < 1e-5);
    assert!((x[1] - (2.0 - r * g1 / (f64::sqrt(h1) + 1e-6))).abs() < 1e-5);
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let e = run1(Op::RegexFullMatch(RegexFullMatch { pattern: Some("(".into()) }), vec![s("a")], 1);
    assert!(matches!(
        e,
        Err(crate::EvalError::Op {
            error: OpError::Invalid(_),
            ..
        })
    ));
    let rnn = Op::RNN(Default::default());
    let x = Value::Tensor(Tensor::vec_f32(vec![1.0]));
    assert!(run1(rnn, vec![x.clone(), x.clone(), x], 1).is_err());
}
