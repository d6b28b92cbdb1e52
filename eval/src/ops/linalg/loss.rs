//! `NegativeLogLikelihoodLoss` and `SoftmaxCrossEntropyLoss` (class weights, `ignore_index`,
//! `none`/`sum`/`mean` reductions), computed in `f64`.

use super::num::{lane_apply, lanes, out, want_float};
use super::softmax::{Kind, apply};
use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use crate::tensor::Tensor;
use crate::value::Value;

/// The weighted NLL of `x` (shape `[N, C, d…]`, as f64 values) against `target` (`[N, d…]`).
fn nll(
    x: &[f64],
    xshape: &[usize],
    target: &Tensor,
    weight: Option<&Tensor>,
    ignore: Option<i64>,
    reduction: &str,
) -> Result<(Vec<f64>, Vec<usize>), OpError> {
    if xshape.len() < 2 {
        return Err(OpError::invalid(format!("loss input must have rank ≥ 2, got {xshape:?}")));
    }
    let (n, c) = (xshape[0], xshape[1]);
    let d: usize = xshape[2..].iter().product();
    let mut tshape = vec![n];
    tshape.extend_from_slice(&xshape[2..]);
    if target.shape() != tshape.as_slice() {
        return Err(OpError::invalid(format!(
            "target shape {:?} does not match input {xshape:?}",
            target.shape()
        )));
    }
    let t = target.to_i64_vec()?;
    let w = match weight {
        Some(w) => {
            let w = w.to_f64_vec()?;
            if w.len() != c {
                return Err(OpError::invalid(format!("weight has {} values for {c} classes", w.len())));
            }
            Some(w)
        }
        None => None,
    };
    let mut loss = Vec::with_capacity(n * d);
    let mut wsum = 0.0;
    for i in 0..n {
        for j in 0..d {
            let ti = t[i * d + j];
            if Some(ti) == ignore {
                loss.push(0.0);
                continue;
            }
            if ti < 0 || ti as usize >= c {
                return Err(OpError::invalid(format!("target {ti} is out of range for {c} classes")));
            }
            let wt = w.as_ref().map_or(1.0, |w| w[ti as usize]);
            wsum += wt;
            loss.push(-x[(i * c + ti as usize) * d + j] * wt);
        }
    }
    Ok(match reduction {
        "none" => (loss, tshape),
        "sum" => (vec![loss.iter().sum()], vec![]),
        "mean" => (vec![loss.iter().sum::<f64>() / wsum], vec![]),
        r => return Err(OpError::invalid(format!("unknown reduction '{r}'"))),
    })
}

/// `NegativeLogLikelihoodLoss`.
pub fn nll_loss(cx: &NodeCtx<'_>, ignore: Option<i64>, reduction: &str) -> OpResult {
    let x = cx.tensor(0)?;
    want_float(x, "NegativeLogLikelihoodLoss")?;
    let (v, s) = nll(&x.to_f64_vec()?, x.shape(), cx.tensor(1)?, cx.opt_tensor(2)?, ignore, reduction)?;
    out(Tensor::from_f64(x.dtype(), &s, v)?)
}

/// `SoftmaxCrossEntropyLoss`: NLL of the log-softmax over axis 1; output 1 is the log-softmax.
pub fn softmax_ce_loss(cx: &NodeCtx<'_>, ignore: Option<i64>, reduction: &str) -> OpResult {
    let x = cx.tensor(0)?;
    want_float(x, "SoftmaxCrossEntropyLoss")?;
    let shape = x.shape().to_vec();
    if shape.len() < 2 {
        return Err(OpError::invalid(format!("scores must have rank ≥ 2, got {shape:?}")));
    }
    let mut lp = x.to_f64_vec()?;
    lane_apply(&mut lp, lanes(&shape, 1), |l| apply(Kind::LogSoft, l));
    let (v, s) = nll(&lp, &shape, cx.tensor(1)?, cx.opt_tensor(2)?, ignore, reduction)?;
    let mut r = vec![Value::Tensor(Tensor::from_f64(x.dtype(), &s, v)?)];
    if cx.n_outputs() > 1 {
        r.push(Value::Tensor(Tensor::from_f64(x.dtype(), &shape, lp)?));
    }
    Ok(r)
}
