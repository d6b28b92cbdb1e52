//! Differentiable op kernels on candle, one op family per file, and the dispatcher.
//!
//! [`run`] runs a node natively when its op and inputs allow it, or answers
//! [`Native::NotHere`] with the reason; the executor then falls back to the evaluator when no
//! gradient has to flow through the node (shape arithmetic, masks, …) and reports the node
//! otherwise. [`differentiable`] is the build-time list of ops that can carry a gradient.

mod act;
mod arith;
mod conv;
mod linear;
mod norm;
mod pool;
mod quant;
pub(crate) use quant::{along, fake_codes, qrange};
mod reduce;
pub(crate) use reduce::{log_softmax, softmax};
mod shape;

use crate::error::ce;
use crate::value::RtVal;
use candle_core::Tensor as CTensor;
use edgeport_ir::Op;

/// What one node sees.
pub(crate) struct Ctx<'a> {
    pub inputs: &'a [Option<RtVal>],
    /// Number of outputs the node has.
    pub n_out: usize,
}

/// The answer of a native kernel.
pub(crate) enum Native {
    /// The node's outputs.
    Done(Vec<RtVal>),
    /// Not runnable natively with these inputs; the reason.
    NotHere(String),
}

pub(crate) type KResult = Result<Native, String>;

impl Ctx<'_> {
    /// Input `i` if present.
    pub fn get(&self, i: usize) -> Option<&RtVal> {
        self.inputs.get(i).and_then(|v| v.as_ref())
    }
    /// Input `i` as a float candle tensor (required).
    pub fn f(&self, i: usize) -> Result<CTensor, String> {
        self.get(i).ok_or_else(|| format!("required input {i} is missing"))?.float()
    }
    /// Input `i` as a float candle tensor, if present.
    pub fn opt_f(&self, i: usize) -> Result<Option<CTensor>, String> {
        self.get(i).map(|v| v.float()).transpose()
    }
    /// Input `i` as integers, if present.
    pub fn opt_ints(&self, i: usize) -> Result<Option<Vec<i64>>, String> {
        self.get(i).map(|v| v.ints()).transpose()
    }
    /// Are all present inputs among `slots` floats?
    pub fn all_float(&self, slots: &[usize]) -> bool {
        slots.iter().all(|&i| self.get(i).is_none_or(|v| v.is_float()))
    }
}

/// One float output.
pub(crate) fn one(t: candle_core::Result<CTensor>) -> KResult {
    Ok(Native::Done(vec![RtVal::F(t.map_err(ce)?)]))
}

/// Normalises a possibly negative axis.
pub(crate) fn norm_axis(axis: i64, rank: usize) -> Result<usize, String> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if a < 0 || a >= r.max(1) {
        return Err(format!("axis {axis} is out of range for rank {rank}"));
    }
    Ok(a as usize)
}

/// Takes `count` elements along `dim` starting at `start`, every `step`; positions past the end
/// read `pad`.
pub(crate) fn subsample(x: &CTensor, dim: usize, start: usize, step: usize, count: usize, pad: f32) -> Result<CTensor, String> {
    let len = *x.dims().get(dim).ok_or("subsample: bad axis")?;
    let need = start
        .checked_add(step.checked_mul(count).ok_or("size overflow")?)
        .ok_or("size overflow")?;
    let x = if need > len {
        let mut d = x.dims().to_vec();
        d[dim] = need - len;
        let p = CTensor::full(pad, d, x.device()).map_err(ce)?;
        CTensor::cat(&[x, &p], dim).map_err(ce)?
    } else {
        x.clone()
    };
    let r = x.narrow(dim, start, step * count).map_err(ce)?;
    if step == 1 {
        return Ok(r);
    }
    let mut d = r.dims().to_vec();
    d[dim] = count;
    d.insert(dim + 1, step);
    r.reshape(d)
        .and_then(|t| t.narrow(dim + 1, 0, 1))
        .and_then(|t| t.squeeze(dim + 1))
        .map_err(ce)
}

/// Runs `op` natively if possible.
pub(crate) fn run(op: &Op, cx: &Ctx) -> KResult {
    if let Some(r) = act::run(op, cx) {
        return r;
    }
    if let Some(r) = arith::run(op, cx) {
        return r;
    }
    if let Some(r) = conv::run(op, cx) {
        return r;
    }
    if let Some(r) = linear::run(op, cx) {
        return r;
    }
    if let Some(r) = norm::run(op, cx) {
        return r;
    }
    if let Some(r) = pool::run(op, cx) {
        return r;
    }
    if let Some(r) = quant::run(op, cx) {
        return r;
    }
    if let Some(r) = reduce::run(op, cx) {
        return r;
    }
    if let Some(r) = shape::run(op, cx) {
        return r;
    }
    Ok(Native::NotHere("no differentiable kernel for this op".into()))
}

/// Ops that can carry a gradient (for the check before training).
pub(crate) fn differentiable(op: &Op) -> bool {
    act::handles(op)
        || arith::handles(op)
        || conv::handles(op)
        || linear::handles(op)
        || norm::handles(op)
        || pool::handles(op)
        || quant::handles(op)
        || reduce::handles(op)
        || shape::handles(op)
}
