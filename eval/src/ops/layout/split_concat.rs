//! Splitting and joining along an axis: `Split`, `Concat`, and the helpers the sequence ops
//! `SplitToSequence`/`ConcatFromSequence` share with them.

use super::common::{ints, map_many, select};
use super::one;
use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use crate::ops::util::norm_axis;
use crate::tensor::Tensor;
use crate::value::Value;
use edgeport_ir::ops::tensor::{Concat, Split};
use ndarray::Axis;

/// Cuts `x` along `axis` into consecutive pieces of the given sizes (which must sum to the axis
/// size).
pub fn split_sizes(x: &Tensor, axis: usize, sizes: &[usize]) -> Result<Vec<Tensor>, OpError> {
    let shape = x.shape();
    let total: usize = sizes.iter().sum();
    if total != shape[axis] {
        return Err(OpError::invalid(format!(
            "split sizes {sizes:?} do not sum to the axis size {}",
            shape[axis]
        )));
    }
    let mut out = Vec::with_capacity(sizes.len());
    let mut at = 0;
    for &s in sizes {
        let mut idx: Vec<Vec<usize>> = shape.iter().map(|&d| (0..d).collect()).collect();
        idx[axis] = (at..at + s).collect();
        out.push(select(x, &idx)?);
        at += s;
    }
    Ok(out)
}

/// Sizes of `n` near-equal pieces of `dim`: all `ceil(dim / n)` but the last.
pub fn even_sizes(dim: usize, n: usize) -> Result<Vec<usize>, OpError> {
    if n == 0 {
        return Err(OpError::invalid("split into 0 pieces"));
    }
    let chunk = dim.div_ceil(n);
    let head = chunk * (n - 1);
    if head > dim {
        return Err(OpError::invalid(format!("cannot split size {dim} into {n} pieces")));
    }
    let mut v = vec![chunk; n - 1];
    v.push(dim - head);
    Ok(v)
}

/// Explicit split sizes from an input (non-negative).
pub fn sizes_from(t: &Tensor) -> Result<Vec<usize>, OpError> {
    ints(t, "split")?
        .into_iter()
        .map(|s| usize::try_from(s).map_err(|_| OpError::invalid(format!("negative split size {s}"))))
        .collect()
}

pub fn split(op: &Split, cx: &NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    let axis = norm_axis(op.axis, x.shape().len())?;
    let dim = x.shape()[axis];
    let sizes = match (cx.opt_tensor(1)?, op.num_outputs) {
        (Some(s), _) => sizes_from(s)?,
        (None, Some(n)) => {
            let n = usize::try_from(n).map_err(|_| OpError::invalid(format!("split: num_outputs {n}")))?;
            even_sizes(dim, n)?
        }
        (None, None) => even_sizes(dim, cx.n_outputs())?,
    };
    if sizes.len() != cx.n_outputs() {
        return Err(OpError::invalid(format!(
            "split: {} pieces for {} outputs",
            sizes.len(),
            cx.n_outputs()
        )));
    }
    Ok(split_sizes(x, axis, &sizes)?.into_iter().map(Value::Tensor).collect())
}

/// Joins tensors of one dtype along `axis` (already normalized).
pub fn concat_tensors(ts: &[&Tensor], axis: usize) -> Result<Tensor, OpError> {
    map_many!(ts, arrs => {
        let views: Vec<_> = arrs.iter().map(|a| a.view()).collect();
        ndarray::concatenate(Axis(axis), &views).map_err(|e| OpError::invalid(format!("concat: {e}")))
    })
}

pub fn concat(op: &Concat, cx: &NodeCtx<'_>) -> OpResult {
    let ts: Vec<&Tensor> = (0..cx.n_inputs())
        .filter_map(|i| cx.input(i))
        .map(|v| match v {
            Value::Tensor(t) => Ok(t),
            o => Err(OpError::invalid(format!("concat: input is {}", o.describe()))),
        })
        .collect::<Result<_, _>>()?;
    let rank = ts
        .first()
        .map(|t| t.shape().len())
        .ok_or_else(|| OpError::invalid("concat: no inputs"))?;
    if ts.iter().any(|t| t.shape().len() != rank) {
        return Err(OpError::invalid("concat: inputs differ in rank"));
    }
    let axis = norm_axis(op.axis, rank)?;
    one(concat_tensors(&ts, axis)?)
}
