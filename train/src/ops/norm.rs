//! BatchNormalization (inference form, both layouts) and LayerNormalization.

use super::{Ctx, KResult, Native, norm_axis};
use crate::error::ce;
use crate::value::RtVal;
use candle_core::Tensor as CTensor;
use edgeport_ir::Op;
use edgeport_ir::ops::Layout;

pub(super) fn handles(op: &Op) -> bool {
    matches!(op, Op::BatchNormalization(_) | Op::LayerNormalization(_))
}

pub(super) fn run(op: &Op, cx: &Ctx) -> Option<KResult> {
    if !handles(op) {
        return None;
    }
    Some(run_inner(op, cx))
}

fn run_inner(op: &Op, cx: &Ctx) -> KResult {
    if !cx.all_float(&[0, 1, 2, 3, 4]) {
        return Ok(Native::NotHere("integer operands".into()));
    }
    let x = cx.f(0)?;
    match op {
        Op::BatchNormalization(b) => {
            if b.training_mode != 0 {
                return Ok(Native::NotHere("training-mode BatchNormalization".into()));
            }
            let rank = x.rank();
            if rank < 2 {
                return Err(format!("input of rank {rank} has no channel axis"));
            }
            let ch = if b.layout == Layout::ChannelsFirst { 1 } else { rank - 1 };
            let c = x.dims()[ch];
            let mut shape = vec![1usize; rank];
            shape[ch] = c;
            let v = |i: usize| -> Result<CTensor, String> { cx.f(i)?.reshape(shape.clone()).map_err(ce) };
            let (scale, bias, mean, var) = (v(1)?, v(2)?, v(3)?, v(4)?);
            let inv = var
                .affine(1.0, b.epsilon as f64)
                .and_then(|t| t.sqrt())
                .and_then(|t| t.recip())
                .map_err(ce)?;
            let y = x
                .broadcast_sub(&mean)
                .and_then(|t| t.broadcast_mul(&inv))
                .and_then(|t| t.broadcast_mul(&scale))
                .and_then(|t| t.broadcast_add(&bias))
                .map_err(ce)?;
            Ok(Native::Done(vec![RtVal::F(y)]))
        }
        Op::LayerNormalization(l) => {
            let rank = x.rank();
            let axis = norm_axis(l.axis, rank)?;
            let mut mean = x.clone();
            for d in axis..rank {
                mean = mean.mean_keepdim(d).map_err(ce)?;
            }
            let xc = x.broadcast_sub(&mean).map_err(ce)?;
            let mut var = xc.sqr().map_err(ce)?;
            for d in axis..rank {
                var = var.mean_keepdim(d).map_err(ce)?;
            }
            let inv = var
                .affine(1.0, l.epsilon as f64)
                .and_then(|t| t.sqrt())
                .and_then(|t| t.recip())
                .map_err(ce)?;
            let scale = cx.f(1)?;
            let mut y = xc.broadcast_mul(&inv).and_then(|t| t.broadcast_mul(&scale)).map_err(ce)?;
            if let Some(b) = cx.opt_f(2)? {
                y = y.broadcast_add(&b).map_err(ce)?;
            }
            let mut outs = vec![RtVal::F(y)];
            if cx.n_out > 1 {
                outs.push(RtVal::F(mean));
            }
            if cx.n_out > 2 {
                outs.push(RtVal::F(inv));
            }
            Ok(Native::Done(outs))
        }
        _ => Ok(Native::NotHere("not a normalization".into())),
    }
}
