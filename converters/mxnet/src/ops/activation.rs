//! Activations: `Activation` (relu, sigmoid, tanh, softrelu, softsign), `LeakyReLU` (leaky,
//! prelu with a gamma input broadcast over channels, elu, selu, gelu, rrelu at test time), the
//! standalone unary ops and `clip`.

use super::{N, Rule};
use crate::build::{Ctx, float, string};
use edgeport_ir::ValueId;

pub fn rule(op: &str) -> Option<Rule> {
    match op {
        "Activation" => Some(activation),
        "LeakyReLU" => Some(leaky),
        "clip" => Some(clip),
        _ if unary_op(op).is_some() => Some(unary),
        _ => None,
    }
}

fn unary_op(op: &str) -> Option<&'static str> {
    Some(match op {
        "relu" => "Relu",
        "sigmoid" => "Sigmoid",
        "tanh" => "Tanh",
        "exp" => "Exp",
        "log" => "Log",
        "sqrt" => "Sqrt",
        "abs" => "Abs",
        "negative" => "Neg",
        "softsign" => "Softsign",
        "erf" => "Erf",
        "floor" => "Floor",
        "ceil" => "Ceil",
        "round" => "Round",
        "reciprocal" => "Reciprocal",
        _ => return None,
    })
}

fn unary(cx: &mut Ctx, n: &N<'_>) -> Result<Vec<ValueId>, String> {
    let op = unary_op(&n.node.op).ok_or("not a unary op")?;
    Ok(vec![cx.op("", op, vec![], &[n.input(0)?])?])
}

fn activation(cx: &mut Ctx, n: &N<'_>) -> Result<Vec<ValueId>, String> {
    let x = n.input(0)?;
    let op = match n.str("act_type", "").as_str() {
        "relu" => "Relu",
        "sigmoid" => "Sigmoid",
        "tanh" => "Tanh",
        "softrelu" => "Softplus",
        "softsign" => "Softsign",
        other => return Err(format!("act_type '{other}' is not supported")),
    };
    Ok(vec![cx.op("", op, vec![], &[x])?])
}

fn leaky(cx: &mut Ctx, n: &N<'_>) -> Result<Vec<ValueId>, String> {
    let x = n.input(0)?;
    let slope = n.float("slope", 0.25)? as f32;
    match n.str("act_type", "leaky").as_str() {
        "leaky" => Ok(vec![cx.op("", "LeakyRelu", vec![float("alpha", slope)], &[x])?]),
        "rrelu" => {
            // At test time the slope is the middle of [lower_bound, upper_bound].
            let lo = n.float("lower_bound", 0.125)?;
            let hi = n.float("upper_bound", 0.334)?;
            Ok(vec![cx.op(
                "",
                "LeakyRelu",
                vec![float("alpha", ((lo + hi) / 2.0) as f32)],
                &[x],
            )?])
        }
        "elu" => Ok(vec![cx.op("", "Elu", vec![float("alpha", slope)], &[x])?]),
        "selu" => Ok(vec![cx.op("", "Selu", vec![], &[x])?]),
        "gelu" => Ok(vec![cx.op("", "Gelu", vec![string("approximate", "none")], &[x])?]),
        "prelu" => {
            let gamma = n.input(1)?;
            let xs = cx.shape(x)?;
            let gs = cx.shape(gamma)?;
            // gamma has one value per channel (axis 1): reshape to (C, 1, …) to broadcast.
            let g = if xs.len() > 2 && gs.len() == 1 && gs[0] != 1 {
                let mut s = vec![gs[0] as i64];
                s.extend(std::iter::repeat_n(1, xs.len() - 2));
                let sc = cx.ints("gamma_shape", &s)?;
                cx.op("gamma", "Reshape", vec![], &[gamma, sc])?
            } else {
                gamma
            };
            Ok(vec![cx.op("", "PRelu", vec![], &[x, g])?])
        }
        other => Err(format!("act_type '{other}' is not supported")),
    }
}

fn clip(cx: &mut Ctx, n: &N<'_>) -> Result<Vec<ValueId>, String> {
    let x = n.input(0)?;
    let lo = cx.f32s("min", vec![], &[n.float("a_min", f64::NEG_INFINITY)? as f32])?;
    let hi = cx.f32s("max", vec![], &[n.float("a_max", f64::INFINITY)? as f32])?;
    Ok(vec![cx.op("", "Clip", vec![], &[x, lo, hi])?])
}
