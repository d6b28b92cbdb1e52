//! Ops that select or reorder elements along axes: `Slice`, `Compress`, `ReverseSequence`,
//! `Trilu`.

use super::common::{for_each_index, int_scalar, ints, norm_axes, numel, select, strides, take, take_fill, zero_like};
use super::one;
use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use crate::ops::util::norm_axis;
use crate::tensor::Tensor;
use edgeport_ir::ops::tensor::{Compress, ReverseSequence, Trilu};

/// The positions a Slice with (start, end, step) takes along an axis of length `dim`.
pub fn slice_positions(start: i64, end: i64, step: i64, dim: usize) -> Result<Vec<usize>, OpError> {
    if step == 0 {
        return Err(OpError::invalid("slice: step must not be 0"));
    }
    let d = dim as i128;
    let (mut s, mut e, st) = (start as i128, end as i128, step as i128);
    if s < 0 {
        s += d;
    }
    if e < 0 {
        e += d;
    }
    let mut out = Vec::new();
    if st > 0 {
        s = s.clamp(0, d);
        e = e.clamp(0, d);
        let mut i = s;
        while i < e {
            out.push(i as usize);
            i += st;
        }
    } else {
        s = s.clamp(0, (d - 1).max(0));
        e = e.clamp(-1, d - 1);
        let mut i = s;
        while i > e {
            out.push(i as usize);
            i += st;
        }
    }
    Ok(out)
}

pub fn slice(cx: &NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    let shape = x.shape();
    let starts = ints(cx.tensor(1)?, "starts")?;
    let ends = ints(cx.tensor(2)?, "ends")?;
    if starts.len() != ends.len() {
        return Err(OpError::invalid("slice: starts and ends differ in length"));
    }
    let axes = match cx.opt_tensor(3)? {
        Some(a) => ints(a, "axes")?,
        None => (0..starts.len() as i64).collect(),
    };
    let steps = match cx.opt_tensor(4)? {
        Some(s) => ints(s, "steps")?,
        None => vec![1; starts.len()],
    };
    if axes.len() != starts.len() || steps.len() != starts.len() {
        return Err(OpError::invalid("slice: starts, ends, axes and steps differ in length"));
    }
    let axes = norm_axes(&axes, shape.len())?;
    let mut idx: Vec<Vec<usize>> = shape.iter().map(|&d| (0..d).collect()).collect();
    for (k, &a) in axes.iter().enumerate() {
        idx[a] = slice_positions(starts[k], ends[k], steps[k], shape[a])?;
    }
    one(select(x, &idx)?)
}

pub fn compress(op: &Compress, cx: &NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    let cond = ints(cx.tensor(1)?, "condition")?;
    let (x, axis) = match op.axis {
        Some(a) => (x.clone(), norm_axis(a, x.shape().len())?),
        None => (x.reshape(&[x.len()])?, 0),
    };
    let dim = x.shape()[axis];
    let mut keep = Vec::new();
    for (i, &c) in cond.iter().enumerate() {
        if c != 0 {
            if i >= dim {
                return Err(OpError::invalid(format!("compress: condition selects index {i} beyond size {dim}")));
            }
            keep.push(i);
        }
    }
    let mut idx: Vec<Vec<usize>> = x.shape().iter().map(|&d| (0..d).collect()).collect();
    idx[axis] = keep;
    one(select(&x, &idx)?)
}

pub fn reverse_sequence(op: &ReverseSequence, cx: &NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    let shape = x.shape();
    let lens = ints(cx.tensor(1)?, "sequence_lens")?;
    let (ta, ba) = (norm_axis(op.time_axis, shape.len())?, norm_axis(op.batch_axis, shape.len())?);
    if ta == ba {
        return Err(OpError::invalid("reverse_sequence: time and batch axes are the same"));
    }
    if lens.len() != shape[ba] {
        return Err(OpError::invalid(format!(
            "reverse_sequence: {} lengths for batch size {}",
            lens.len(),
            shape[ba]
        )));
    }
    for &l in &lens {
        if l < 0 || l as usize > shape[ta] {
            return Err(OpError::invalid(format!("reverse_sequence: length {l} out of range")));
        }
    }
    let st = strides(shape);
    let mut idx = Vec::with_capacity(x.len());
    for_each_index(shape, |i| {
        let l = lens[i[ba]] as usize;
        let t = i[ta];
        let src_t = if t < l { l - 1 - t } else { t };
        let off: usize = i
            .iter()
            .zip(&st)
            .enumerate()
            .map(|(k, (&v, &s))| if k == ta { src_t * s } else { v * s })
            .sum();
        idx.push(off);
        Ok(())
    })?;
    one(take(x, &idx, shape)?)
}

pub fn trilu(op: &Trilu, cx: &NodeCtx<'_>) -> OpResult {
    let x: &Tensor = cx.tensor(0)?;
    let shape = x.shape();
    if shape.len() < 2 {
        return Err(OpError::invalid("trilu: input must have rank >= 2"));
    }
    let k = match cx.opt_tensor(1)? {
        Some(t) => int_scalar(t, "k")?,
        None => 0,
    };
    let r = shape.len();
    let n = numel(shape)?;
    let (rows, cols) = (shape[r - 2], shape[r - 1]);
    let idx: Vec<Option<usize>> = (0..n)
        .map(|f| {
            let j = (f % cols.max(1)) as i64;
            let i = ((f / cols.max(1)) % rows.max(1)) as i64;
            let keep = if op.upper != 0 { j - i >= k } else { j - i <= k };
            keep.then_some(f)
        })
        .collect();
    one(take_fill(x, &idx, shape, &zero_like(x)?)?)
}
