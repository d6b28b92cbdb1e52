//! Shape/dtype inference and the validator's type checks, on graphs written in the text form.

use edgeport_ir::infer::infer_types;
use edgeport_ir::text::{parse_graph, print_graph};
use edgeport_ir::validate::validate;

fn infer(text: &str) -> String {
    let mut g = parse_graph(text).unwrap_or_else(|e| panic!("{e}"));
    infer_types(&mut g).unwrap_or_else(|e| panic!("{e}"));
    print_graph(&g)
}

#[test]
fn conv_relu_pool_flatten_gemm() {
    let out = infer(
        r#"graph "cnn" {
  input %x: f32[N,3,32,32]
  %w: f32[8,3,3,3] = Constant[value=f32[8,3,3,3] @"w"]()
  %c = Conv[pads=[1, 1, 1, 1], strides=[2, 2]](%x, %w, _)
  %r = Relu(%c)
  %p = MaxPool[kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1](%r)
  %g = GlobalAveragePool(%p)
  %f = Flatten(%g)
  %fc: f32[10,8] = Constant[value=f32[10,8] @"fc"]()
  %y = Gemm[transB=1](%f, %fc)
  %s = Softmax(%y)
  output "s" = %s
}"#
        .replace(r#"@"w""#, &format!("{{{}}}", vec!["0.0"; 216].join(", ")))
        .replace(r#"@"fc""#, &format!("{{{}}}", vec!["0.0"; 80].join(", ")))
        .as_str(),
    );
    for want in [
        "%c: f32[N,8,16,16]",
        "%p: f32[N,8,8,8]",
        "%g: f32[N,8,1,1]",
        "%f: f32[N,8]",
        "%y: f32[N,10]",
        "%s: f32[N,10]",
    ] {
        assert!(out.contains(want), "{want}\n{out}");
    }
}

#[test]
fn shape_arithmetic_is_evaluated() {
    let out = infer(
        r#"graph "reshape" {
  input %x: f32[2,3,4]
  %s = Shape(%x)
  %i: i64[1] = Constant[value=i64[1] {0}]()
  %b = Gather(%s, %i)
  %m: i64[1] = Constant[value=i64[1] {-1}]()
  %t = Concat[axis=0](%b, %m)
  %y = Reshape(%x, %t)
  %z = ReduceSum[keepdims=0](%y, %i)
  %e = Equal(%z, %z)
  %c = Cast[to=7](%e)
  output "c" = %c
}"#,
    );
    for want in [
        "%s: i64[3]",
        "%t: i64[2]",
        "%y: f32[2,12]",
        "%z: f32[12]",
        "%e: bool[12]",
        "%c: i64[12]",
    ] {
        assert!(out.contains(want), "{want}\n{out}");
    }
}

#[test]
fn unknown_stays_unknown_and_conflicts_are_errors() {
    // The target shape is a graph input: the output rank cannot be known.
    let out = infer(
        r#"graph "g" {
  input %x: f32[2,3]
  input %shape: i64[2]
  %y = Reshape(%x, %shape)
  output "y" = %y
}"#,
    );
    assert!(out.contains("%y: f32 = Reshape"), "{out}");
    let mut g = parse_graph(
        r#"graph "g" {
  input %a: f32[2,3]
  input %b: f32[4]
  %y = Add(%a, %b)
  output "y" = %y
}"#,
    )
    .unwrap();
    let e = infer_types(&mut g).unwrap_err();
    assert!(e.to_string().contains("do not broadcast"), "{e}");
}

#[test]
fn subgraph_types_flow_through_if() {
    let out = infer(
        r#"graph "g" {
  input %c: bool[]
  input %a: f32[N,4]
  %o = If[else_branch=graph "e" {
    capture %a
    %n = Neg(%a)
    output "n" = %n
  }, then_branch=graph "t" {
    capture %a
    %r = Relu(%a)
    output "r" = %r
  }](%c | %a)
  output "o" = %o
}"#,
    );
    assert!(out.contains("%r: f32[N,4]"), "{out}");
    assert!(out.contains("%o: f32[N,4]"), "{out}");
}

#[test]
fn validator_checks_types() {
    let bad = parse_graph(
        r#"graph "g" {
  input %a: f32[2]
  input %b: i64[2]
  input %s: string[2]
  %y: f32[2] = Add(%a, %b)
  %r: string[2] = Relu(%s)
  %k = Reshape(%a, %a)
  output "y" = %y
  output "r" = %r
  output "k" = %k
}"#,
    )
    .unwrap();
    let e = validate(&bad).unwrap_err().to_string();
    assert!(e.contains("input 1 ('B') is i64 but input 0 ('A') is f32"), "{e}");
    assert!(e.contains("input 0 ('X') is string, not allowed for T"), "{e}");
    assert!(e.contains("input 1 ('shape') is f32[2], the op requires i64"), "{e}");
    let good = parse_graph(
        r#"graph "g" {
  input %a: f32[2]
  %y: f32[2] = Add(%a, %a)
  output "y" = %y
}"#,
    )
    .unwrap();
    assert!(validate(&good).is_ok());
}
