//! Element-wise activations and pass-through layers: ReLU (leaky with `negative_slope`), PReLU
//! (per channel or shared), ELU, Sigmoid, TanH, AbsVal, BNLL (softplus), Power
//! (`(shift + scale·x)^power`), Exp (`base^(shift + scale·x)`), Log (`log_base(shift +
//! scale·x)`), Threshold, Clip; Dropout (identity at test time) and Split (every top is the
//! bottom).

use super::Layer;
use crate::build::{Ctx, Weights, float};
use edgeport_ir::ValueId;

pub fn identity(_cx: &mut Ctx, l: &Layer<'_>) -> Result<Vec<ValueId>, String> {
    let x = l.input(0)?;
    Ok(vec![x; l.n_tops()])
}

pub fn relu(cx: &mut Ctx, l: &Layer<'_>) -> Result<Vec<ValueId>, String> {
    let x = l.input(0)?;
    let slope = l.p.relu_param.map_or(0.0, |p| p.negative_slope());
    if slope == 0.0 {
        Ok(vec![cx.op("", "Relu", vec![], &[x])?])
    } else {
        Ok(vec![cx.op("", "LeakyRelu", vec![float("alpha", slope)], &[x])?])
    }
}

pub fn prelu(cx: &mut Ctx, l: &Layer<'_>) -> Result<Vec<ValueId>, String> {
    let x = l.input(0)?;
    let shape = cx.shape(x)?;
    let shared = l.p.prelu_param.is_some_and(|p| p.channel_shared());
    let slope_shape = if shared || shape.len() < 2 {
        vec![1]
    } else {
        let mut s = vec![shape[1]];
        s.extend(std::iter::repeat_n(1, shape.len() - 2));
        s
    };
    let slope = cx.weight("slope", l.blob(0)?, slope_shape)?;
    Ok(vec![cx.op("", "PRelu", vec![], &[x, slope])?])
}

pub fn elu(cx: &mut Ctx, l: &Layer<'_>) -> Result<Vec<ValueId>, String> {
    let x = l.input(0)?;
    let alpha = l.p.elu_param.map_or(1.0, |p| p.alpha());
    Ok(vec![cx.op("", "Elu", vec![float("alpha", alpha)], &[x])?])
}

pub fn unary(cx: &mut Ctx, l: &Layer<'_>) -> Result<Vec<ValueId>, String> {
    let x = l.input(0)?;
    let op = match l.ty {
        "Sigmoid" => "Sigmoid",
        "TanH" => "Tanh",
        "AbsVal" => "Abs",
        "BNLL" => "Softplus",
        other => return Err(format!("no element-wise op for '{other}'")),
    };
    Ok(vec![cx.op("", op, vec![], &[x])?])
}

/// `shift + scale·x`, skipping identities. Returns the value and whether an op was added.
fn affine(cx: &mut Ctx, x: ValueId, scale: f32, shift: f32) -> Result<ValueId, String> {
    let mut y = x;
    if scale != 1.0 {
        let s = cx.f32s("scale", vec![], &[scale])?;
        y = cx.op("mul", "Mul", vec![], &[y, s])?;
    }
    if shift != 0.0 {
        let s = cx.f32s("shift", vec![], &[shift])?;
        y = cx.op("add", "Add", vec![], &[y, s])?;
    }
    Ok(y)
}

/// Ends a chain: a value made by this layer is the result; an untouched input gets an Identity
/// so that the top is a value of its own.
fn finish(cx: &mut Ctx, x: ValueId, y: ValueId) -> Result<Vec<ValueId>, String> {
    if x == y {
        Ok(vec![cx.op("", "Identity", vec![], &[x])?])
    } else {
        Ok(vec![y])
    }
}

pub fn power(cx: &mut Ctx, l: &Layer<'_>) -> Result<Vec<ValueId>, String> {
    let x = l.input(0)?;
    let p = l.p.power_param.unwrap_or_default();
    let mut y = affine(cx, x, p.scale(), p.shift())?;
    if p.power() != 1.0 {
        let e = cx.f32s("power", vec![], &[p.power()])?;
        y = cx.op("pow", "Pow", vec![], &[y, e])?;
    }
    finish(cx, x, y)
}

pub fn exp(cx: &mut Ctx, l: &Layer<'_>) -> Result<Vec<ValueId>, String> {
    let x = l.input(0)?;
    let p = l.p.exp_param.unwrap_or_default();
    let ln_base = if p.base() == -1.0 {
        1.0
    } else if p.base() > 0.0 {
        p.base().ln()
    } else {
        return Err(format!("base {} must be positive or -1 (e)", p.base()));
    };
    let y = affine(cx, x, p.scale() * ln_base, p.shift() * ln_base)?;
    Ok(vec![cx.op("", "Exp", vec![], &[y])?])
}

pub fn log(cx: &mut Ctx, l: &Layer<'_>) -> Result<Vec<ValueId>, String> {
    let x = l.input(0)?;
    let p = l.p.log_param.unwrap_or_default();
    let y = affine(cx, x, p.scale(), p.shift())?;
    if p.base() == -1.0 {
        return Ok(vec![cx.op("", "Log", vec![], &[y])?]);
    }
    if p.base() <= 0.0 || p.base() == 1.0 {
        return Err(format!("base {} must be positive, not 1, or -1 (e)", p.base()));
    }
    let ln = cx.op("ln", "Log", vec![], &[y])?;
    let k = cx.f32s("inv_ln_base", vec![], &[1.0 / p.base().ln()])?;
    Ok(vec![cx.op("", "Mul", vec![], &[ln, k])?])
}

pub fn threshold(cx: &mut Ctx, l: &Layer<'_>) -> Result<Vec<ValueId>, String> {
    let x = l.input(0)?;
    let t = l.p.threshold_param.map_or(0.0, |p| p.threshold());
    let tv = cx.f32s("threshold", vec![], &[t])?;
    let gt = cx.op("greater", "Greater", vec![], &[x, tv])?;
    Ok(vec![cx.op("", "Cast", vec![crate::build::int("to", 1)], &[gt])?])
}

pub fn clip(cx: &mut Ctx, l: &Layer<'_>) -> Result<Vec<ValueId>, String> {
    let x = l.input(0)?;
    let p = l.p.clip_param.ok_or("missing clip_param")?;
    let lo = cx.f32s("min", vec![], &[p.min()])?;
    let hi = cx.f32s("max", vec![], &[p.max()])?;
    Ok(vec![cx.op("", "Clip", vec![], &[x, lo, hi])?])
}
