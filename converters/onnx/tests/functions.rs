//! Model-local functions (`ModelProto.functions`) are inlined: formal names bound to the
//! call's, inner values renamed uniquely per call, `ref_attr_name` bound to the call's
//! attribute or the function's default, the body's own opset imports honoured, nested calls
//! expanded, recursion refused.

mod common;
use common::*;
use edgeport_ir::{AttrValue, Graph, Op};
use edgeport_onnx::{ImportOptions, import_bytes};

fn function(name: &str, inputs: &[&str], outputs: &[&str], nodes: Vec<pb::NodeProto>) -> pb::FunctionProto {
    pb::FunctionProto {
        name: name.into(),
        domain: "local".into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        node: nodes,
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }],
        ..Default::default()
    }
}

fn call(f: &str, inputs: &[&str], outputs: &[&str]) -> pb::NodeProto {
    let mut n = node(f, inputs, outputs);
    n.domain = "local".into();
    n
}

fn model_with(nodes: Vec<pb::NodeProto>, funcs: Vec<pb::FunctionProto>, outputs: &[&str]) -> pb::ModelProto {
    let g = graph(
        nodes,
        vec![vi("x", 1, &[2, 3]), vi("y", 1, &[2, 3])],
        outputs.iter().map(|o| vi(o, 1, &[2, 3])).collect(),
    );
    let mut m = model(g, 17);
    m.opset_import.push(pb::OperatorSetIdProto {
        domain: "local".into(),
        version: 1,
    });
    m.functions = funcs;
    m
}

fn import(m: &pb::ModelProto) -> Result<Graph, edgeport_onnx::Error> {
    import_bytes(bytes(m), "f.onnx", &ImportOptions::default())
}

fn ops(g: &Graph) -> Vec<String> {
    let mut v: Vec<String> = g
        .topo_order()
        .unwrap()
        .into_iter()
        .map(|n| g.node(n).op.name().to_string())
        .filter(|n| n != "Input" && n != "Constant")
        .collect();
    v.sort();
    v
}

fn add_relu() -> pb::FunctionProto {
    function(
        "AddRelu",
        &["a", "b"],
        &["c"],
        vec![node("Add", &["a", "b"], &["t"]), node("Relu", &["t"], &["c"])],
    )
}

#[test]
fn inlines_each_call_with_unique_names() {
    let m = model_with(
        vec![call("AddRelu", &["x", "y"], &["p"]), call("AddRelu", &["p", "y"], &["q"])],
        vec![add_relu()],
        &["q"],
    );
    let g = import(&m).unwrap();
    assert_eq!(ops(&g), ["Add", "Add", "Relu", "Relu"]);
    // Every value name is unique, the inner `t` got two distinct names.
    let mut names: Vec<String> = g
        .node_ids()
        .flat_map(|n| g.node(n).outputs.iter().map(|v| v.name.clone()).collect::<Vec<_>>())
        .collect();
    let total = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), total, "duplicate value names: {names:?}");
    assert_eq!(names.iter().filter(|n| n.ends_with("/t")).count(), 2, "{names:?}");
    assert!(names.contains(&"p".to_string()) && names.contains(&"q".to_string()));
    assert_eq!(g.outputs()[0].0, "q");
}

fn leaky(alpha_default: Option<f32>) -> pb::FunctionProto {
    let mut n = node("LeakyRelu", &["a"], &["c"]);
    n.attribute.push(pb::AttributeProto {
        name: "alpha".into(),
        ref_attr_name: "slope".into(),
        r#type: 1,
        ..Default::default()
    });
    let mut f = function("Leaky", &["a"], &["c"], vec![n]);
    match alpha_default {
        Some(d) => f.attribute_proto.push(pb::AttributeProto {
            name: "slope".into(),
            r#type: 1,
            f: d,
            ..Default::default()
        }),
        None => f.attribute.push("slope".into()),
    }
    f
}

fn alphas(g: &Graph) -> Vec<f32> {
    let mut v: Vec<f32> = g
        .node_ids()
        .filter_map(|n| match &g.node(n).op {
            Op::LeakyRelu(l) => Some(l.alpha),
            _ => None,
        })
        .collect();
    v.sort_by(f32::total_cmp);
    v
}

#[test]
fn binds_attribute_references_and_defaults() {
    let mut with = call("Leaky", &["x"], &["p"]);
    with.attribute.push(pb::AttributeProto {
        name: "slope".into(),
        r#type: 1,
        f: 0.5,
        ..Default::default()
    });
    let without = call("Leaky", &["p"], &["q"]);
    let g = import(&model_with(vec![with.clone(), without.clone()], vec![leaky(Some(0.25))], &["q"])).unwrap();
    assert_eq!(alphas(&g), [0.25, 0.5]);
    // No default and no value: the attribute is left out, so the op's own default applies.
    let g = import(&model_with(vec![with, without], vec![leaky(None)], &["q"])).unwrap();
    assert_eq!(alphas(&g), [0.01, 0.5]);
}

#[test]
fn nested_calls() {
    let outer = function(
        "Twice",
        &["a", "b"],
        &["c"],
        vec![call("AddRelu", &["a", "b"], &["m"]), call("AddRelu", &["m", "b"], &["c"])],
    );
    let g = import(&model_with(
        vec![call("Twice", &["x", "y"], &["z"])],
        vec![outer, add_relu()],
        &["z"],
    ))
    .unwrap();
    assert_eq!(ops(&g), ["Add", "Add", "Relu", "Relu"]);
}

#[test]
fn recursion_is_refused() {
    let f = function("Loopy", &["a"], &["c"], vec![call("Loopy", &["a"], &["c"])]);
    let e = import(&model_with(vec![call("Loopy", &["x"], &["z"])], vec![f], &["z"]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("f.onnx") && e.contains("calls itself") && e.contains("Loopy"), "{e}");
    // Mutual recursion too.
    let a = function("A", &["a"], &["c"], vec![call("B", &["a"], &["c"])]);
    let b = function("B", &["a"], &["c"], vec![call("A", &["a"], &["c"])]);
    let e = import(&model_with(vec![call("A", &["x"], &["z"])], vec![a, b], &["z"]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("calls itself"), "{e}");
}

#[test]
fn overloads_are_told_apart() {
    let mut neg = function("F", &["a"], &["c"], vec![node("Neg", &["a"], &["c"])]);
    neg.overload = "neg".into();
    let mut abs = function("F", &["a"], &["c"], vec![node("Abs", &["a"], &["c"])]);
    abs.overload = "abs".into();
    let mut n = call("F", &["x"], &["z"]);
    n.overload = "abs".into();
    let g = import(&model_with(vec![n], vec![neg, abs], &["z"])).unwrap();
    assert_eq!(ops(&g), ["Abs"]);
}

#[test]
fn body_uses_its_own_opset() {
    // The body imports ai.onnx 11, where Unsqueeze's axes is an attribute; the model imports 17.
    let mut u = node("Unsqueeze", &["a"], &["c"]);
    u.attribute.push(attr_ints("axes", &[0]));
    let mut f = function("U", &["a"], &["c"], vec![u]);
    f.opset_import = vec![pb::OperatorSetIdProto {
        domain: String::new(),
        version: 11,
    }];
    let g = import(&model_with(vec![call("U", &["x"], &["z"])], vec![f], &["z"])).unwrap();
    let un = g.node_ids().find(|&n| matches!(g.node(n).op, Op::Unsqueeze(_))).expect("Unsqueeze");
    let axes = g.inputs_of(un)[1].expect("axes input");
    match &g.node(axes.node).op {
        Op::Constant(c) => assert_eq!(c.value.to_i64_vec().unwrap(), [0]),
        other => panic!("axes should be a constant, got {other:?}"),
    }
}

#[test]
fn omitted_optional_input_and_passthrough_output() {
    // Clip(a, lo) with `hi` omitted by the call; the second output passes `a` straight through.
    let f = function(
        "ClipLo",
        &["a", "lo", "hi"],
        &["c", "a"],
        vec![node("Clip", &["a", "lo", "hi"], &["c"])],
    );
    let mut m = model_with(vec![call("ClipLo", &["x", "lo"], &["z", "w"])], vec![f], &["z", "w"]);
    m.graph.as_mut().unwrap().initializer.push(f32_tensor("lo", &[], &[0.0]));
    let g = import(&m).unwrap();
    let clip = g.node_ids().find(|&n| matches!(g.node(n).op, Op::Clip(_))).expect("Clip");
    let ins = g.inputs_of(clip);
    assert!(ins.len() < 3 || ins[2].is_none(), "hi should be omitted: {ins:?}");
    let (name, w) = &g.outputs()[1];
    assert_eq!(name, "w");
    assert!(matches!(g.node(w.node).op, Op::Identity(_)));
}

#[test]
fn unknown_function_domain_is_custom_op() {
    // A call to a function that is not in the model stays a custom op of its domain.
    let g = import(&model_with(vec![call("Missing", &["x"], &["z"])], vec![], &["z"])).unwrap();
    let n = g.node_ids().find(|&n| matches!(g.node(n).op, Op::Custom(_))).expect("custom op");
    assert_eq!(g.node(n).op.name(), "Missing");
    let _ = AttrValue::Int(0);
}

#[test]
fn exponential_inlining_is_bounded() {
    // F0 calls F1 twice, F1 calls F2 twice, …: 2^30 nodes if fully inlined.
    let mut funcs = Vec::new();
    for i in 0..30 {
        let next = format!("F{}", i + 1);
        funcs.push(function(
            &format!("F{i}"),
            &["a"],
            &["c"],
            vec![call(&next, &["a"], &["m"]), call(&next, &["m"], &["c"])],
        ));
    }
    funcs.push(function("F30", &["a"], &["c"], vec![node("Neg", &["a"], &["c"])]));
    let t = std::time::Instant::now();
    let e = import(&model_with(vec![call("F0", &["x"], &["z"])], funcs, &["z"]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("more than"), "{e}");
    assert!(t.elapsed().as_secs() < 60, "took {:?}", t.elapsed());
}
