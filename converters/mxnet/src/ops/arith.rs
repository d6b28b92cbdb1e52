//! Arithmetic: `elemwise_*` (same shapes), `broadcast_*` and the operator forms (`_plus`,
//! `_Plus`, `_mul`, …) — all numpy-broadcast in the IR —, the `_*_scalar` family (`scalar`
//! attribute, `_r*` forms with the scalar on the left) and `add_n`/`ElementWiseSum`.

use super::{N, Rule};
use crate::build::Ctx;
use edgeport_ir::ValueId;

pub fn rule(op: &str) -> Option<Rule> {
    if binary_op(op).is_some() {
        return Some(binary);
    }
    if scalar_op(op).is_some() {
        return Some(scalar);
    }
    match op {
        "add_n" | "ElementWiseSum" | "_contrib_add_n" => Some(add_n),
        _ => None,
    }
}

fn binary_op(op: &str) -> Option<&'static str> {
    let base = op
        .trim_start_matches("elemwise_")
        .trim_start_matches("broadcast_")
        .trim_start_matches('_')
        .to_ascii_lowercase();
    Some(match base.as_str() {
        "add" | "plus" => "Add",
        "sub" | "minus" => "Sub",
        "mul" => "Mul",
        "div" => "Div",
        "maximum" => "Max",
        "minimum" => "Min",
        "power" => "Pow",
        _ => return None,
    })
}

/// `(IR op, scalar on the left)`.
fn scalar_op(op: &str) -> Option<(&'static str, bool)> {
    Some(match op {
        "_plus_scalar" | "_PlusScalar" => ("Add", false),
        "_minus_scalar" | "_MinusScalar" => ("Sub", false),
        "_rminus_scalar" | "_RMinusScalar" => ("Sub", true),
        "_mul_scalar" | "_MulScalar" => ("Mul", false),
        "_div_scalar" | "_DivScalar" => ("Div", false),
        "_rdiv_scalar" | "_RDivScalar" => ("Div", true),
        "_power_scalar" | "_PowerScalar" => ("Pow", false),
        "_rpower_scalar" | "_RPowerScalar" => ("Pow", true),
        "_maximum_scalar" | "_MaximumScalar" => ("Max", false),
        "_minimum_scalar" | "_MinimumScalar" => ("Min", false),
        _ => return None,
    })
}

fn binary(cx: &mut Ctx, n: &N<'_>) -> Result<Vec<ValueId>, String> {
    let op = binary_op(&n.node.op).ok_or("not a binary op")?;
    let (a, b) = (n.input(0)?, n.input(1)?);
    Ok(vec![cx.op("", op, vec![], &[a, b])?])
}

fn scalar(cx: &mut Ctx, n: &N<'_>) -> Result<Vec<ValueId>, String> {
    let (op, left) = scalar_op(&n.node.op).ok_or("not a scalar op")?;
    let x = n.input(0)?;
    let s = n.float("scalar", f64::NAN)?;
    if s.is_nan() && n.attr("scalar").is_none() {
        return Err("missing attribute 'scalar'".into());
    }
    let c = cx.f32s("scalar", vec![], &[s as f32])?;
    let ins = if left { [c, x] } else { [x, c] };
    Ok(vec![cx.op("", op, vec![], &ins)?])
}

fn add_n(cx: &mut Ctx, n: &N<'_>) -> Result<Vec<ValueId>, String> {
    if n.ins.is_empty() {
        return Err("no inputs".into());
    }
    Ok(vec![cx.op("", "Sum", vec![], n.ins)?])
}
