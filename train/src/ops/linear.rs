//! Gemm and MatMul (numpy broadcasting, 1-D operands) on candle's matmul.

use super::{Ctx, KResult, Native, one};
use crate::error::ce;
use candle_core::Tensor as CTensor;
use edgeport_ir::Op;

pub(super) fn handles(op: &Op) -> bool {
    matches!(op, Op::Gemm(_) | Op::MatMul(_))
}

pub(super) fn run(op: &Op, cx: &Ctx) -> Option<KResult> {
    if !handles(op) {
        return None;
    }
    Some(run_inner(op, cx))
}

/// ONNX MatMul: 1-D operands are promoted and the added axis removed afterwards.
pub(crate) fn matmul(a: &CTensor, b: &CTensor) -> Result<CTensor, String> {
    let a1 = a.rank() == 1;
    let b1 = b.rank() == 1;
    let a = if a1 { a.unsqueeze(0).map_err(ce)? } else { a.clone() };
    let b = if b1 { b.unsqueeze(1).map_err(ce)? } else { b.clone() };
    let mut y = if a.rank() == 2 && b.rank() == 2 {
        a.matmul(&b).map_err(ce)?
    } else {
        a.broadcast_matmul(&b).map_err(ce)?
    };
    if b1 {
        y = y.squeeze(y.rank() - 1).map_err(ce)?;
    }
    if a1 {
        y = y.squeeze(y.rank().saturating_sub(if b1 { 1 } else { 2 })).map_err(ce)?;
    }
    Ok(y)
}

fn run_inner(op: &Op, cx: &Ctx) -> KResult {
    if !cx.all_float(&[0, 1, 2]) {
        return Ok(Native::NotHere("integer operands".into()));
    }
    let a = cx.f(0)?;
    let b = cx.f(1)?;
    match op {
        Op::MatMul(_) => one(Ok(matmul(&a, &b)?)),
        Op::Gemm(g) => {
            if a.rank() != 2 || b.rank() != 2 {
                return Err(format!("Gemm needs 2-D A and B, got {:?} and {:?}", a.dims(), b.dims()));
            }
            let a = if g.transA != 0 { a.t().map_err(ce)? } else { a };
            let b = if g.transB != 0 { b.t().map_err(ce)? } else { b };
            let mut y = a.matmul(&b).map_err(ce)?;
            if g.alpha != 1.0 {
                y = y.affine(g.alpha as f64, 0.0).map_err(ce)?;
            }
            if let Some(c) = cx.opt_f(2)? {
                let c = if g.beta != 1.0 {
                    c.affine(g.beta as f64, 0.0).map_err(ce)?
                } else {
                    c
                };
                y = y.broadcast_add(&c).map_err(ce)?;
            }
            one(Ok(y))
        }
        _ => Ok(Native::NotHere("not a linear op".into())),
    }
}
