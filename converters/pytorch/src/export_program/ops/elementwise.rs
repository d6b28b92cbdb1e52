//! Binary elementwise ops: add/sub (with alpha), mul, div (with rounding modes), rsub, pow,
//! maximum/minimum, comparisons, logical and/or, `where` and `masked_fill`. Python-scalar
//! operands become constants; operands are cast to the result's dtype as torch promotes them.

use super::{Out, Rule, one};
use crate::export_program::ctx::{Ctx, N, R, ai};
use crate::export_program::schema::Arg;
use edgeport_ir::{DType, ValueId};

pub fn rule(op: &str) -> Option<Rule> {
    Some(match op {
        "add" | "add_" | "sub" | "sub_" | "mul" | "mul_" | "div" | "div_" | "rsub" | "pow" | "maximum" | "minimum" | "fmod"
        | "remainder" => arith,
        "eq" | "ne" | "lt" | "le" | "gt" | "ge" | "logical_and" | "logical_or" | "logical_xor" | "bitwise_and" | "bitwise_or"
        | "__and__" | "__or__" => compare,
        "where" => where_,
        "masked_fill" | "masked_fill_" => masked_fill,
        _ => return None,
    })
}

fn aten(n: &N) -> &str {
    let t = n.target.strip_prefix("torch.ops.aten.").unwrap_or(&n.target);
    t.split('.').next().unwrap_or(t).trim_end_matches('_')
}

/// A tensor or scalar operand, as a value of `dtype`.
fn operand(cx: &mut Ctx, n: &N, arg: &str, dtype: DType) -> R<ValueId> {
    match n.get(arg) {
        Some(Arg::Tensor(t)) => {
            let v = cx.value(t)?;
            let have = cx.meta(t)?.dtype;
            if have == dtype {
                Ok(v)
            } else {
                cx.tmp(
                    "Cast",
                    vec![("to", ai(dtype.onnx_code() as i64))],
                    &[v],
                    &format!("{}_{arg}_cast", n.name),
                )
            }
        }
        Some(Arg::Int(_) | Arg::Float(_) | Arg::Bool(_)) => {
            let x = n.float(arg, 0.0)?;
            cx.scalar(&format!("{}_{arg}", n.name), dtype, x)
        }
        Some(a) => Err(format!("operand '{arg}' is {}", a.describe())),
        None => Err(format!("operand '{arg}' is missing")),
    }
}

fn out_dtype(cx: &Ctx, n: &N) -> R<DType> {
    cx.meta(&n.out(0)).map(|m| m.dtype)
}

fn arith(cx: &mut Ctx, n: &N) -> R<Out> {
    let dt = out_dtype(cx, n)?;
    let op = aten(n);
    let second = if op == "pow" { "exponent" } else { "other" };
    let a = operand(cx, n, "self", dt)?;
    let mut b = operand(cx, n, second, dt)?;
    let alpha = n.float("alpha", 1.0)?;
    if alpha != 1.0 {
        let k = cx.scalar(&format!("{}_alpha", n.name), dt, alpha)?;
        b = cx.tmp("Mul", vec![], &[b, k], &format!("{}_alpha_mul", n.name))?;
    }
    let out = n.out(0);
    let v = match op {
        "add" => cx.op("Add", vec![], &[a, b], &out)?,
        "sub" => cx.op("Sub", vec![], &[a, b], &out)?,
        "rsub" => cx.op("Sub", vec![], &[b, a], &out)?,
        "mul" => cx.op("Mul", vec![], &[a, b], &out)?,
        "pow" => cx.op("Pow", vec![], &[a, b], &out)?,
        "maximum" => cx.op("Max", vec![], &[a, b], &out)?,
        "minimum" => cx.op("Min", vec![], &[a, b], &out)?,
        "fmod" => cx.op("Mod", vec![("fmod", ai(1))], &[a, b], &out)?,
        "remainder" => cx.op("Mod", vec![("fmod", ai(if dt.is_float() { 1 } else { 0 }))], &[a, b], &out)?,
        _ => {
            let mode = n.str("rounding_mode", "")?;
            match mode.as_str() {
                "" => cx.op("Div", vec![], &[a, b], &out)?,
                "floor" if dt.is_float() => {
                    let d = cx.tmp("Div", vec![], &[a, b], &format!("{}_div", n.name))?;
                    cx.op("Floor", vec![], &[d], &out)?
                }
                "trunc" if !dt.is_float() => cx.op("Div", vec![], &[a, b], &out)?,
                m => return Err(format!("div with rounding_mode '{m}' on {dt} is not supported")),
            }
        }
    };
    one(v)
}

fn compare(cx: &mut Ctx, n: &N) -> R<Out> {
    let dt = match n.get("self") {
        Some(Arg::Tensor(t)) => cx.meta(t)?.dtype,
        _ => return Err("comparison whose first operand is not a tensor".into()),
    };
    let a = operand(cx, n, "self", dt)?;
    let b = operand(cx, n, "other", dt)?;
    let out = n.out(0);
    let kind = match aten(n) {
        "eq" => "Equal",
        "lt" => "Less",
        "le" => "LessOrEqual",
        "gt" => "Greater",
        "ge" => "GreaterOrEqual",
        "logical_and" | "bitwise_and" | "__and__" => "And",
        "logical_or" | "bitwise_or" | "__or__" => "Or",
        "logical_xor" => "Xor",
        _ => {
            let e = cx.tmp("Equal", vec![], &[a, b], &format!("{}_eq", n.name))?;
            return one(cx.op("Not", vec![], &[e], &out)?);
        }
    };
    if matches!(kind, "And" | "Or" | "Xor") && dt != DType::Bool {
        return Err(format!("{} on {dt} tensors is not supported (only bool)", aten(n)));
    }
    one(cx.op(kind, vec![], &[a, b], &out)?)
}

fn where_(cx: &mut Ctx, n: &N) -> R<Out> {
    let dt = out_dtype(cx, n)?;
    let (c, _) = cx.tensor(n, "condition")?;
    let a = operand(cx, n, "self", dt)?;
    let b = operand(cx, n, "other", dt)?;
    let out = n.out(0);
    one(cx.op("Where", vec![], &[c, a, b], &out)?)
}

fn masked_fill(cx: &mut Ctx, n: &N) -> R<Out> {
    let (x, m) = cx.tensor(n, "self")?;
    let (mask, _) = cx.tensor(n, "mask")?;
    let v = operand(cx, n, "value", m.dtype)?;
    let out = n.out(0);
    one(cx.op("Where", vec![], &[mask, v, x], &out)?)
}
