//! `Softmax`, `LogSoftmax` and `Hardmax` along one axis (computed in `f64`, rounded back).

use super::num::{lane_apply, lanes, out, want_float};
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use crate::ops::util::norm_axis;
use crate::tensor::Tensor;

/// Which of the three ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Soft,
    LogSoft,
    Hard,
}

/// Runs the op on input 0 along `axis`.
pub fn run(cx: &NodeCtx<'_>, kind: Kind, axis: i64) -> OpResult {
    let x = cx.tensor(0)?;
    want_float(x, "softmax")?;
    let shape = x.shape().to_vec();
    if shape.is_empty() {
        let v = x.to_f64_vec()?;
        let r = v
            .iter()
            .map(|&x| {
                if x.is_nan() {
                    x
                } else if kind == Kind::LogSoft {
                    0.0
                } else {
                    1.0
                }
            })
            .collect();
        return out(Tensor::from_f64(x.dtype(), &shape, r)?);
    }
    let ax = norm_axis(axis, shape.len())?;
    let mut v = x.to_f64_vec()?;
    lane_apply(&mut v, lanes(&shape, ax), |l| apply(kind, l));
    out(Tensor::from_f64(x.dtype(), &shape, v)?)
}

/// Applies the op to one lane in place.
pub fn apply(kind: Kind, l: &mut [f64]) {
    let m = l.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    match kind {
        Kind::Hard => {
            let at = l.iter().position(|&x| x == m);
            for (k, x) in l.iter_mut().enumerate() {
                *x = if Some(k) == at { 1.0 } else { 0.0 };
            }
        }
        Kind::Soft => {
            let mut s = 0.0;
            for x in l.iter_mut() {
                *x = (*x - m).exp();
                s += *x;
            }
            l.iter_mut().for_each(|x| *x /= s);
        }
        Kind::LogSoft => {
            let s: f64 = l.iter().map(|x| (x - m).exp()).sum();
            let ls = s.ln();
            l.iter_mut().for_each(|x| *x = *x - m - ls);
        }
    }
}
