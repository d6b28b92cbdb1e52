//! ReduceMean, ReduceSum, Softmax and LogSoftmax.

use super::{Ctx, KResult, Native, norm_axis, one};
use crate::error::ce;
use candle_core::Tensor as CTensor;
use edgeport_ir::Op;

pub(super) fn handles(op: &Op) -> bool {
    matches!(op, Op::ReduceMean(_) | Op::ReduceSum(_) | Op::Softmax(_) | Op::LogSoftmax(_))
}

pub(super) fn run(op: &Op, cx: &Ctx) -> Option<KResult> {
    if !handles(op) {
        return None;
    }
    Some(run_inner(op, cx))
}

/// Softmax along `axis` (max-subtracted).
pub(crate) fn softmax(x: &CTensor, axis: usize) -> candle_core::Result<CTensor> {
    let m = x.max_keepdim(axis)?.detach();
    let e = x.broadcast_sub(&m)?.exp()?;
    e.broadcast_div(&e.sum_keepdim(axis)?)
}

/// Log-softmax along `axis`.
pub(crate) fn log_softmax(x: &CTensor, axis: usize) -> candle_core::Result<CTensor> {
    let m = x.max_keepdim(axis)?.detach();
    let xs = x.broadcast_sub(&m)?;
    let lse = xs.exp()?.sum_keepdim(axis)?.log()?;
    xs.broadcast_sub(&lse)
}

fn run_inner(op: &Op, cx: &Ctx) -> KResult {
    if !cx.all_float(&[0]) {
        return Ok(Native::NotHere("integer input".into()));
    }
    let x = cx.f(0)?;
    let rank = x.rank();
    match op {
        Op::Softmax(s) => one(softmax(&x, norm_axis(s.axis, rank)?)),
        Op::LogSoftmax(s) => one(log_softmax(&x, norm_axis(s.axis, rank)?)),
        Op::ReduceMean(_) | Op::ReduceSum(_) => {
            let (keep, noop) = match op {
                Op::ReduceMean(r) => (r.keepdims != 0, r.noop_with_empty_axes != 0),
                Op::ReduceSum(r) => (r.keepdims != 0, r.noop_with_empty_axes != 0),
                _ => (true, false),
            };
            let given = cx.opt_ints(1)?.unwrap_or_default();
            if given.is_empty() && noop {
                return one(Ok(x));
            }
            let mut axes: Vec<usize> = if given.is_empty() {
                (0..rank).collect()
            } else {
                given.iter().map(|&a| norm_axis(a, rank)).collect::<Result<_, _>>()?
            };
            axes.sort_unstable();
            axes.dedup();
            let mean = matches!(op, Op::ReduceMean(_));
            let mut y = x;
            for &a in &axes {
                y = if mean { y.mean_keepdim(a) } else { y.sum_keepdim(a) }.map_err(ce)?;
            }
            if !keep {
                for &a in axes.iter().rev() {
                    y = y.squeeze(a).map_err(ce)?;
                }
            }
            one(Ok(y))
        }
        _ => Ok(Native::NotHere("not a reduction".into())),
    }
}
