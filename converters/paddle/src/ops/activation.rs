//! Activations and unary math: relu, relu6, sigmoid, tanh, hard_swish, hard_sigmoid,
//! swish/silu, gelu, leaky_relu, softmax, exp, sqrt, abs, pow, clip.

use super::Rule;
use crate::build::{Attrs, Ctx, RuleResult};
use crate::program::OpDesc;
use edgeport_ir::Op;
use edgeport_ir::ops::defs::math::{Abs, Clip, Exp, Gelu, HardSigmoid, HardSwish, LeakyRelu, Mul, Pow, Relu, Sigmoid, Softmax, Sqrt, Tanh};

pub const RULES: &[(&str, Rule)] = &[
    ("relu", relu),
    ("relu6", relu6),
    ("sigmoid", sigmoid),
    ("tanh", tanh),
    ("exp", exp),
    ("sqrt", sqrt),
    ("abs", abs),
    ("hard_swish", hard_swish),
    ("hard_sigmoid", hard_sigmoid),
    ("swish", swish),
    ("silu", swish),
    ("gelu", gelu),
    ("leaky_relu", leaky_relu),
    ("softmax", softmax),
    ("pow", pow),
    ("clip", clip),
];

fn unary(cx: &mut Ctx<'_>, op: &OpDesc, ir: Op) -> RuleResult {
    let x = cx.input(op, "X")?;
    cx.emit(op, "Out", ir, &[Some(x)])
}

fn relu(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    unary(cx, op, Op::Relu(Relu::default()))
}
fn sigmoid(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    unary(cx, op, Op::Sigmoid(Sigmoid::default()))
}
fn tanh(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    unary(cx, op, Op::Tanh(Tanh::default()))
}
fn exp(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    unary(cx, op, Op::Exp(Exp::default()))
}
fn sqrt(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    unary(cx, op, Op::Sqrt(Sqrt::default()))
}
fn abs(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    unary(cx, op, Op::Abs(Abs::default()))
}

/// Clip of `x` to [lo, hi] (constants of x's dtype).
fn clip_to(cx: &mut Ctx<'_>, op: &OpDesc, lo: Option<f64>, hi: Option<f64>) -> RuleResult {
    let x = cx.input(op, "X")?;
    let out = cx.out_name(op, "Out")?;
    let dt = cx.input_dtype(op, "X");
    let lo = lo.map(|v| cx.const_scalar(&format!("{out}/min"), dt, v)).transpose()?;
    let hi = hi.map(|v| cx.const_scalar(&format!("{out}/max"), dt, v)).transpose()?;
    cx.emit(op, "Out", Op::Clip(Clip::default()), &[Some(x), lo, hi])
}

fn relu6(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    let t = op.float("threshold", 6.0);
    clip_to(cx, op, Some(0.0), Some(t))
}

fn clip(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    let lo = match cx.const_floats(op, "Min")? {
        Some(v) => v.first().copied(),
        None => op.attr("min").map(|_| op.float("min", f64::MIN)),
    };
    let hi = match cx.const_floats(op, "Max")? {
        Some(v) => v.first().copied(),
        None => op.attr("max").map(|_| op.float("max", f64::MAX)),
    };
    clip_to(cx, op, lo, hi)
}

fn hard_swish(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    let (offset, scale, threshold) = (op.float("offset", 3.0), op.float("scale", 6.0), op.float("threshold", 6.0));
    if (offset - 3.0).abs() > 1e-6 || (scale - 6.0).abs() > 1e-6 || (threshold - 6.0).abs() > 1e-6 {
        return Err(format!(
            "hard_swish with offset {offset}, scale {scale}, threshold {threshold} (not 3, 6, 6) is not supported"
        ));
    }
    unary(cx, op, Op::HardSwish(HardSwish::default()))
}

fn hard_sigmoid(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    let hs = HardSigmoid {
        alpha: op.float("slope", 0.2) as f32,
        beta: op.float("offset", 0.5) as f32,
    };
    unary(cx, op, Op::HardSigmoid(hs))
}

/// swish(x) = x · sigmoid(β·x); silu is β = 1.
fn swish(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    let x = cx.input(op, "X")?;
    let out = cx.out_name(op, "Out")?;
    let beta = op.float("beta", 1.0);
    let arg = if (beta - 1.0).abs() > 0.0 {
        let dt = cx.input_dtype(op, "X");
        let b = cx.const_scalar(&format!("{out}/beta"), dt, beta)?;
        cx.node(&format!("{out}/bx"), Op::Mul(Mul::default()), &[Some(x), Some(b)])?
    } else {
        x
    };
    let s = cx.node(&format!("{out}/sigmoid"), Op::Sigmoid(Sigmoid::default()), &[Some(arg)])?;
    cx.emit(op, "Out", Op::Mul(Mul::default()), &[Some(x), Some(s)])
}

fn gelu(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    let approximate = if op.boolean("approximate", false) { "tanh" } else { "none" };
    unary(
        cx,
        op,
        Op::Gelu(Gelu {
            approximate: approximate.into(),
        }),
    )
}

fn leaky_relu(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    let alpha = op.float("alpha", 0.02) as f32;
    unary(cx, op, Op::LeakyRelu(LeakyRelu { alpha }))
}

fn softmax(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    let axis = op.int("axis", -1);
    unary(cx, op, Op::Softmax(Softmax { axis }))
}

fn pow(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    let x = cx.input(op, "X")?;
    let out = cx.out_name(op, "Out")?;
    let dt = cx.input_dtype(op, "X");
    let y = match cx.opt_input(op, "FactorTensor")? {
        Some(y) => y,
        None => cx.const_scalar(&format!("{out}/factor"), dt, op.float("factor", 1.0))?,
    };
    cx.emit(op, "Out", Op::Pow(Pow::default()), &[Some(x), Some(y)])
}
