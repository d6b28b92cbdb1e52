//! Activations and unary math: relu, relu6, gelu (exact and tanh), hardtanh/clamp (Clip),
//! sigmoid, tanh, silu, hardswish, hardsigmoid, leaky_relu, elu, softmax/log_softmax (both the
//! `.int` and the Core ATen `_softmax` forms), and one-to-one unary ops (exp, log, sqrt, rsqrt,
//! neg, abs, erf, sin, cos, reciprocal, floor, ceil, round, sign, logical_not).

use super::{Out, Rule, one};
use crate::export_program::ctx::{Ctx, N, R, af, ai, astr};
use edgeport_ir::AttrValue;

pub fn rule(op: &str) -> Option<Rule> {
    Some(match op {
        "relu" | "relu_" | "exp" | "log" | "sqrt" | "neg" | "abs" | "erf" | "sin" | "cos" | "reciprocal" | "floor" | "ceil" | "round"
        | "sign" | "sigmoid" | "tanh" | "logical_not" | "tan" | "hardswish" | "hardswish_" | "bitwise_not" => unary,
        "rsqrt" => rsqrt,
        "gelu" => gelu,
        "hardtanh" | "hardtanh_" | "relu6" | "clamp" | "clip" | "clamp_min" | "clamp_max" => clamp,
        "silu" | "silu_" => silu,
        "hardsigmoid" => hardsigmoid,
        "leaky_relu" | "elu" => leaky,
        "softmax" | "_softmax" | "log_softmax" | "_log_softmax" => softmax,
        _ => return None,
    })
}

fn onnx_unary(op: &str) -> &'static str {
    match op {
        "relu" | "relu_" => "Relu",
        "exp" => "Exp",
        "log" => "Log",
        "sqrt" => "Sqrt",
        "neg" => "Neg",
        "abs" => "Abs",
        "erf" => "Erf",
        "sin" => "Sin",
        "cos" => "Cos",
        "tan" => "Tan",
        "reciprocal" => "Reciprocal",
        "floor" => "Floor",
        "ceil" => "Ceil",
        "round" => "Round",
        "sign" => "Sign",
        "sigmoid" => "Sigmoid",
        "tanh" => "Tanh",
        "logical_not" | "bitwise_not" => "Not",
        _ => "HardSwish",
    }
}

fn aten(n: &N) -> &str {
    let t = n.target.strip_prefix("torch.ops.aten.").unwrap_or(&n.target);
    t.split('.').next().unwrap_or(t)
}

fn unary(cx: &mut Ctx, n: &N) -> R<Out> {
    let (x, _) = cx.tensor(n, "self")?;
    let out = n.out(0);
    one(cx.op(onnx_unary(aten(n)), vec![], &[x], &out)?)
}

fn rsqrt(cx: &mut Ctx, n: &N) -> R<Out> {
    let (x, _) = cx.tensor(n, "self")?;
    let s = cx.tmp("Sqrt", vec![], &[x], &format!("{}_sqrt", n.name))?;
    let out = n.out(0);
    one(cx.op("Reciprocal", vec![], &[s], &out)?)
}

fn gelu(cx: &mut Ctx, n: &N) -> R<Out> {
    let (x, _) = cx.tensor(n, "self")?;
    let approx = n.str("approximate", "none")?;
    let out = n.out(0);
    one(cx.op("Gelu", vec![("approximate", astr(&approx))], &[x], &out)?)
}

fn clamp(cx: &mut Ctx, n: &N) -> R<Out> {
    let (x, m) = cx.tensor(n, "self")?;
    let (lo, hi) = match aten(n) {
        "hardtanh" | "hardtanh_" => (Some(n.float("min_val", -1.0)?), Some(n.float("max_val", 1.0)?)),
        "relu6" => (Some(0.0), Some(6.0)),
        "clamp_min" => (Some(n.float("min", 0.0)?), None),
        "clamp_max" => (None, Some(n.float("max", 0.0)?)),
        _ => {
            if matches!(n.get("min"), Some(crate::export_program::schema::Arg::Tensor(_)))
                || matches!(n.get("max"), Some(crate::export_program::schema::Arg::Tensor(_)))
            {
                let lo = cx.opt_tensor(n, "min")?;
                let hi = cx.opt_tensor(n, "max")?;
                let out = n.out(0);
                let v = cx.ops("Clip", vec![], &[Some(x), lo, hi], &[&out])?;
                return one(v[0]);
            }
            (n.opt_float("min")?, n.opt_float("max")?)
        }
    };
    let lo = lo.map(|v| cx.scalar(&format!("{}_min", n.name), m.dtype, v)).transpose()?;
    let hi = hi.map(|v| cx.scalar(&format!("{}_max", n.name), m.dtype, v)).transpose()?;
    let out = n.out(0);
    let v = cx.ops("Clip", vec![], &[Some(x), lo, hi], &[&out])?;
    one(v[0])
}

fn silu(cx: &mut Ctx, n: &N) -> R<Out> {
    let (x, _) = cx.tensor(n, "self")?;
    let s = cx.tmp("Sigmoid", vec![], &[x], &format!("{}_sigmoid", n.name))?;
    let out = n.out(0);
    one(cx.op("Mul", vec![], &[x, s], &out)?)
}

fn hardsigmoid(cx: &mut Ctx, n: &N) -> R<Out> {
    let (x, _) = cx.tensor(n, "self")?;
    let out = n.out(0);
    one(cx.op("HardSigmoid", vec![("alpha", af(1.0 / 6.0)), ("beta", af(0.5))], &[x], &out)?)
}

fn leaky(cx: &mut Ctx, n: &N) -> R<Out> {
    let (x, _) = cx.tensor(n, "self")?;
    let out = n.out(0);
    if aten(n) == "elu" {
        if n.float("scale", 1.0)? != 1.0 || n.float("input_scale", 1.0)? != 1.0 {
            return Err("elu with scale/input_scale other than 1 is not supported".into());
        }
        return one(cx.op("Elu", vec![("alpha", af(n.float("alpha", 1.0)?))], &[x], &out)?);
    }
    one(cx.op("LeakyRelu", vec![("alpha", af(n.float("negative_slope", 0.01)?))], &[x], &out)?)
}

fn softmax(cx: &mut Ctx, n: &N) -> R<Out> {
    let (mut x, m) = cx.tensor(n, "self")?;
    let dim = n.int("dim", -1)?;
    if let Some(dt) = n.scalar_type("dtype")?
        && dt != m.dtype
    {
        x = cx.tmp("Cast", vec![("to", ai(dt.onnx_code() as i64))], &[x], &format!("{}_cast", n.name))?;
    }
    let kind = if aten(n).contains("log") { "LogSoftmax" } else { "Softmax" };
    let out = n.out(0);
    let attrs: Vec<(&str, AttrValue)> = vec![("axis", ai(dim))];
    one(cx.op(kind, attrs, &[x], &out)?)
}
