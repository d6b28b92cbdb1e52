//! Activations and float unary math: Relu, Clip, Sigmoid, Tanh, Gelu, Erf, HardSigmoid,
//! HardSwish, LeakyRelu, Exp, Log, Sqrt, Neg, Abs, Reciprocal, Identity, Dropout (inference).

use super::{Ctx, KResult, Native, one};
use crate::error::ce;
use candle_core::Tensor as CTensor;
use edgeport_ir::Op;

pub(super) fn handles(op: &Op) -> bool {
    matches!(
        op,
        Op::Relu(_)
            | Op::Clip(_)
            | Op::Sigmoid(_)
            | Op::Tanh(_)
            | Op::Gelu(_)
            | Op::Erf(_)
            | Op::HardSigmoid(_)
            | Op::HardSwish(_)
            | Op::LeakyRelu(_)
            | Op::Exp(_)
            | Op::Log(_)
            | Op::Sqrt(_)
            | Op::Neg(_)
            | Op::Abs(_)
            | Op::Reciprocal(_)
            | Op::Identity(_)
            | Op::Dropout(_)
    )
}

/// Numerically safe sigmoid with a clean gradient: (tanh(x/2) + 1) / 2.
pub(crate) fn sigmoid(x: &CTensor) -> candle_core::Result<CTensor> {
    x.affine(0.5, 0.0)?.tanh()?.affine(0.5, 0.5)
}

fn hard_sigmoid(x: &CTensor, alpha: f64, beta: f64) -> candle_core::Result<CTensor> {
    x.affine(alpha, beta)?.clamp(0f32, 1f32)
}

pub(super) fn run(op: &Op, cx: &Ctx) -> Option<KResult> {
    if !handles(op) {
        return None;
    }
    Some(run_inner(op, cx))
}

fn run_inner(op: &Op, cx: &Ctx) -> KResult {
    // Identity and Dropout pass anything through (the value of output 0).
    if let Op::Identity(_) | Op::Dropout(_) = op {
        let v = cx.get(0).cloned().ok_or("required input 0 is missing")?;
        if matches!(op, Op::Dropout(_)) && cx.n_out > 1 {
            return Ok(Native::NotHere("Dropout's mask output".into()));
        }
        return Ok(Native::Done(vec![v]));
    }
    if !cx.all_float(&[0]) {
        return Ok(Native::NotHere("integer input".into()));
    }
    let x = cx.f(0)?;
    match op {
        Op::Relu(_) => one(x.relu()),
        Op::Sigmoid(_) => one(sigmoid(&x)),
        Op::Tanh(_) => one(x.tanh()),
        Op::Erf(_) => one(x.erf()),
        Op::Exp(_) => one(x.exp()),
        Op::Log(_) => one(x.log()),
        Op::Sqrt(_) => one(x.sqrt()),
        Op::Neg(_) => one(x.neg()),
        Op::Abs(_) => one(x.abs()),
        Op::Reciprocal(_) => one(x.recip()),
        Op::Gelu(g) => match g.approximate.as_str() {
            "none" => one(x.gelu_erf()),
            "tanh" => one(x.gelu()),
            other => Err(format!("Gelu approximate '{other}' is not known")),
        },
        Op::HardSigmoid(h) => one(hard_sigmoid(&x, h.alpha as f64, h.beta as f64)),
        Op::HardSwish(_) => one(hard_sigmoid(&x, 1.0 / 6.0, 0.5).and_then(|h| x.mul(&h))),
        Op::LeakyRelu(l) => {
            let a = l.alpha as f64;
            // max(x, 0) + alpha * min(x, 0)
            one(x.relu().and_then(|p| p.add(&x.neg()?.relu()?.affine(-a, 0.0)?)))
        }
        Op::Clip(_) => {
            let lo = cx.opt_f(1)?;
            let hi = cx.opt_f(2)?;
            let mut y = x;
            if let Some(lo) = lo {
                y = y.broadcast_maximum(&lo).map_err(ce)?;
            }
            if let Some(hi) = hi {
                y = y.broadcast_minimum(&hi).map_err(ce)?;
            }
            one(Ok(y))
        }
        _ => Ok(Native::NotHere("not an activation".into())),
    }
}
