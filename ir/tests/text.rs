//! Text form: snapshots of hand-built graphs, print → parse → print stability, every attribute
//! kind and dtype, weights references, and malformed input (errors with positions, no panics).

use edgeport_ir::ops::defs::{controlflow, math, nn};
use edgeport_ir::ops::{Custom, Op};
use edgeport_ir::text::{PrintOptions, parse_graph, parse_graph_with_weights, print_graph, print_graph_split};
use edgeport_ir::{AttrValue, Bytes, DType, Dim, Graph, QuantGranularity, QuantParams, Shape, Tensor, ValueType};
use std::collections::HashMap;

fn f32t(shape: &[usize], v: &[f32]) -> Tensor {
    Tensor::from_f32(shape.to_vec(), v).unwrap()
}

fn ty(d: DType, dims: Vec<Dim>) -> Option<ValueType> {
    Some(ValueType::tensor(d, Some(Shape(dims))))
}

fn round_trip(g: &Graph) -> String {
    let text = print_graph(g);
    let back = parse_graph(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(print_graph(&back), text);
    text
}

fn mlp() -> Graph {
    let mut g = Graph::new("tiny");
    g.metadata.push(("producer".into(), "hand \"built\"".into()));
    let x = g.add_input("x", ty(DType::F32, vec![Dim::Sym("N".into()), Dim::Known(3)]));
    let w = g.add_constant("w", f32t(&[3, 2], &[0.5, 1.0, -2.0, 0.0, 3.0, 1.0]));
    let mm = g.add_op("mm", Op::MatMul(math::MatMul {}), &[Some(x), Some(w)], &["y"]).unwrap();
    g.value_mut(mm.out(0)).unwrap().ty = ty(DType::F32, vec![Dim::Sym("N".into()), Dim::Known(2)]);
    let d = nn::Dropout { seed: None };
    let r = g
        .add_op("drop_1", Op::Dropout(d), &[Some(mm.out(0)), None, None], &["m", ""])
        .unwrap();
    let s = math::Softmax { axis: 0 };
    let sm = g.add_op("sm", Op::Softmax(s), &[Some(r.out(0))], &["p.out:0"]).unwrap();
    g.add_output("y", mm.out(0)).unwrap();
    g.add_output("probs", sm.out(0)).unwrap();
    g
}

#[test]
fn snapshot_mlp() {
    insta::assert_snapshot!(round_trip(&mlp()));
}

fn with_subgraph() -> Graph {
    let mut g = Graph::new("cond");
    let c = g.add_input("c", ty(DType::Bool, vec![]));
    let a = g.add_input("a", ty(DType::F32, vec![Dim::Sym("?".into()), Dim::Sym("batch size".into())]));
    let mut then_g = Graph::new("then");
    let ca = then_g.add_capture("a", None);
    let n = then_g.add_op("neg", Op::Neg(math::Neg {}), &[Some(ca)], &["t"]).unwrap();
    then_g.add_output("t", n.out(0)).unwrap();
    let mut else_g = Graph::new("else");
    let ea = else_g.add_capture("a", None);
    else_g.add_output("e", ea).unwrap();
    let op = Op::If(controlflow::If {
        then_branch: Box::new(then_g),
        else_branch: Box::new(else_g),
    });
    let i = g.add_op("if", op, &[Some(c)], &["out"]).unwrap();
    g.push_input(i, Some(a), true).unwrap();
    g.value_mut(i.out(0)).unwrap().ty = Some(ValueType::tensor(DType::F32, None));
    g.add_output("out", i.out(0)).unwrap();
    g
}

#[test]
fn snapshot_subgraph_and_captures() {
    insta::assert_snapshot!(round_trip(&with_subgraph()));
}

fn every_attr_kind() -> Graph {
    let mut g = Graph::new("attrs");
    let x = g.add_input("x", None);
    let sub = {
        let mut s = Graph::new("s");
        let i = s.add_input("i", ty(DType::I64, vec![]));
        s.add_output("o", i).unwrap();
        s
    };
    let attrs = vec![
        ("int".to_string(), AttrValue::Int(-3)),
        ("float".into(), AttrValue::Float(0.1)),
        ("inf".into(), AttrValue::Float(f32::NEG_INFINITY)),
        ("nan".into(), AttrValue::Float(f32::NAN)),
        ("big".into(), AttrValue::Float(1e30)),
        ("str".into(), AttrValue::String("tab\there \"q\" \\ \u{1}".into())),
        ("ints".into(), AttrValue::Ints(vec![1, -2, 3])),
        ("floats".into(), AttrValue::Floats(vec![1.0, 2.5, f32::INFINITY])),
        ("strings".into(), AttrValue::Strings(vec!["a".into(), "".into()])),
        ("no ints".into(), AttrValue::Ints(vec![])),
        ("no_floats".into(), AttrValue::Floats(vec![])),
        ("no_strings".into(), AttrValue::Strings(vec![])),
        (
            "t".into(),
            AttrValue::Tensor(Tensor::from_i64(vec![2], &[i64::MIN, i64::MAX]).unwrap()),
        ),
        ("ts".into(), AttrValue::Tensors(vec![Tensor::scalar_i64(7), f32t(&[0], &[])])),
        ("g".into(), AttrValue::Graph(Box::new(sub.clone()))),
        ("gs".into(), AttrValue::Graphs(vec![sub.clone(), sub])),
        (
            "ty".into(),
            AttrValue::Type(ValueType::Sequence(Box::new(ValueType::tensor(DType::F16, None)))),
        ),
        (
            "ty2".into(),
            AttrValue::Type(ValueType::Map(
                DType::String,
                Box::new(ValueType::Optional(Box::new(ValueType::tensor(
                    DType::I8,
                    Some(Shape::known(&[2])),
                )))),
            )),
        ),
    ];
    let op = Op::Custom(Custom {
        domain: "com.example".into(),
        name: "My Op".into(),
        attrs,
    });
    let n = g.add_op("weird node", op, &[Some(x), None], &["y", "", "z"]).unwrap();
    g.add_output("y", n.out(0)).unwrap();
    g.add_output("z", n.out(2)).unwrap();
    g
}

#[test]
fn snapshot_every_attr_kind() {
    insta::assert_snapshot!(round_trip(&every_attr_kind()));
}

/// One constant per dtype, including hex-byte dtypes, strings and quantized values.
fn every_dtype() -> Graph {
    let mut g = Graph::new("dtypes");
    for d in DType::ALL {
        let t = if d == DType::String {
            Tensor::from_strings(vec![3], vec![b"a".to_vec(), b"\xff\xfe bytes".to_vec(), "é\n".as_bytes().to_vec()]).unwrap()
        } else {
            let n = 3;
            let len = d.byte_len(n).unwrap();
            let bytes: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(37).wrapping_add(1)).collect();
            let bytes = if d == DType::Bool {
                bytes.iter().map(|b| b & 1).collect()
            } else {
                bytes
            };
            Tensor::from_bytes(d, vec![n], Bytes::from_vec(bytes)).unwrap()
        };
        g.add_constant(format!("c_{d}"), t);
    }
    let mut q = f32t(&[2, 2], &[1.0, -0.0, 1e-7, 3.4e38]);
    q.quant = Some(QuantParams {
        storage: DType::I4,
        granularity: QuantGranularity::PerBlock { axis: 1, block_size: 2 },
        scale: vec![0.5, 0.25],
        zero_point: vec![],
        scale_dtype: DType::F16,
    });
    let qv = g.add_constant("quantized", q);
    g.value_mut(qv).unwrap().quant = Some(QuantParams::per_tensor(DType::U8, 0.1, 128));
    g.add_output("q", qv).unwrap();
    g
}

#[test]
fn snapshot_every_dtype() {
    insta::assert_snapshot!(round_trip(&every_dtype()));
}

#[test]
fn values_read_back_bit_exact() {
    let g = every_dtype();
    let back = parse_graph(&print_graph(&g)).unwrap();
    for d in DType::ALL {
        let name = format!("c_{d}");
        let a = g.find_value(&name).unwrap();
        let b = back.find_value(&name).unwrap();
        let (Op::Constant(ca), Op::Constant(cb)) = (&g.node(a.node).op, &back.node(b.node).op) else {
            panic!()
        };
        assert_eq!(ca.value, cb.value, "{d}");
    }
}

#[test]
fn weights_by_reference() {
    let mut g = Graph::new("w");
    let big: Vec<f32> = (0..100).map(|i| i as f32 * 0.5).collect();
    let w = g.add_constant("w", f32t(&[10, 10], &big));
    let w2 = g.add_constant("w2", f32t(&[100], &big));
    g.add_output("w", w).unwrap();
    g.add_output("w2", w2).unwrap();
    let (text, weights) = print_graph_split(&g, &PrintOptions::default(), &|_| true);
    assert!(text.contains(r#"f32[10,10] @"w""#), "{text}");
    assert_eq!(weights.len(), 2);
    let map: HashMap<_, _> = weights.into_iter().collect();
    let back = parse_graph_with_weights(&text, &map).unwrap();
    assert_eq!(print_graph(&back), text);
    // Missing weights are an error with a position.
    let e = parse_graph(&text).unwrap_err();
    assert!(e.msg.contains("no weight named"), "{e}");
    // So is a weight whose shape disagrees with the text.
    let mut bad = map.clone();
    bad.insert("w".into(), f32t(&[100], &big));
    assert!(parse_graph_with_weights(&text, &bad).unwrap_err().msg.contains("the text says"));
}

#[test]
fn forward_references_and_any_statement_order() {
    let text = r#"graph "g" {
  output "y" = %y
  %y = Relu(%x)
  input %x: f32["a b",?,3]
}"#;
    let g = parse_graph(text).unwrap();
    assert_eq!(g.inputs().len(), 1);
    let again = print_graph(&g);
    assert!(again.contains(r#"input %x: f32["a b",?,3]"#), "{again}");
}

#[test]
fn malformed_inputs_are_errors_with_positions() {
    let cases: &[(&str, (usize, usize), &str)] = &[
        ("", (1, 1), "expected 'graph'"),
        ("graph \"g\" {\n  %y = Relu(%x)\n}", (2, 13), "undefined value %x"),
        ("graph \"g\" {\n  %y = Nope(%x)\n}", (2, 8), "unknown op 'Nope'"),
        ("graph \"g\" {\n  input %x: f99[2]\n}", (2, 13), "unknown type"),
        ("graph \"g\" {\n  %c = Constant[value=f32[2] {1.0}]()\n}", (2, 23), "needs 2 values"),
        ("graph \"g\" {\n  %c = Constant[value=i8[1] {300}]()\n}", (2, 30), "out of range"),
        (
            "graph \"g\" {\n  %c = Constant[value=f32[1] {1.0}]()\n",
            (3, 1),
            "closing the graph",
        ),
        ("graph \"g {", (1, 7), "unterminated string"),
        ("graph \"g\" { input %x: f32[-1] }", (1, 27), "negative"),
        ("graph \"g\" { %y = Relu[alpha=1.0](%x) input %x }", (1, 18), "unknown attribute"),
        ("graph \"g\" { } trailing", (1, 15), "end of input"),
        ("graph \"g\" { %y = Relu(%x,, ) input %x }", (1, 26), "expected a value"),
        ("graph \"g\" { ~ }", (1, 13), "unexpected character"),
        ("graph \"g\" { %c = Constant[value=u4[3] {0x12}]() }", (1, 33), "needs 2 bytes"),
        ("graph \"g\" { meta \"k\" = \"\\x{ff}\" }", (1, 24), "not valid UTF-8"),
    ];
    let mut bad = 0;
    let all: Vec<String> = cases
        .iter()
        .map(|(t, _, _)| format!("{t:?}\n  => {}", parse_graph(t).unwrap_err()))
        .collect();
    insta::assert_snapshot!("malformed_errors", all.join("\n"));
    for (text, (line, col), msg) in cases {
        let e = parse_graph(text).expect_err(text);
        assert!(e.msg.contains(msg), "{text:?}: {e}");
        if (e.line, e.col) != (*line, *col) {
            eprintln!("MISMATCH {text:?}: {e}");
            bad += 1;
        }
    }
    assert_eq!(bad, 0);
}

#[test]
fn no_panic_on_truncations_and_deep_nesting() {
    let texts = [
        print_graph(&mlp()),
        print_graph(&with_subgraph()),
        print_graph(&every_attr_kind()),
        print_graph(&every_dtype()),
    ];
    for t in &texts {
        for (i, _) in t.char_indices() {
            let _ = parse_graph(&t[..i]);
        }
    }
    let deep = "graph \"g\" { %y = If[then_branch=".repeat(200);
    assert!(parse_graph(&deep).unwrap_err().msg.contains("nested deeper"));
    let deep_ty = format!("graph \"g\" {{ input %x: {}f32 }}", "seq<".repeat(500));
    assert!(parse_graph(&deep_ty).is_err());
}
