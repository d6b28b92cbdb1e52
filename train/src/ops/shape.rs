//! Data movement on float tensors: Flatten, Reshape, Transpose, Squeeze, Unsqueeze, Concat,
//! Slice (positive steps), Gather (embedding lookup) and Expand. Integer tensors (shape
//! arithmetic) are left to the evaluator.

use super::{Ctx, KResult, Native, norm_axis, one, subsample};
use crate::error::ce;
use candle_core::{Device, Tensor as CTensor};
use edgeport_ir::Op;

pub(super) fn handles(op: &Op) -> bool {
    matches!(
        op,
        Op::Flatten(_)
            | Op::Reshape(_)
            | Op::Transpose(_)
            | Op::Squeeze(_)
            | Op::Unsqueeze(_)
            | Op::Concat(_)
            | Op::Slice(_)
            | Op::Gather(_)
            | Op::Expand(_)
    )
}

pub(super) fn run(op: &Op, cx: &Ctx) -> Option<KResult> {
    if !handles(op) {
        return None;
    }
    Some(run_inner(op, cx))
}

fn ints(cx: &Ctx, i: usize) -> Result<Vec<i64>, String> {
    cx.opt_ints(i)?.ok_or_else(|| format!("required input {i} is missing"))
}

/// ONNX Reshape's target shape (0 copies, -1 is inferred).
fn reshape_dims(input: &[usize], spec: &[i64], allowzero: bool) -> Result<Vec<usize>, String> {
    let total: usize = input.iter().product();
    let mut out = Vec::with_capacity(spec.len());
    let mut hole = None;
    for (i, &s) in spec.iter().enumerate() {
        match s {
            -1 if hole.is_none() => {
                hole = Some(i);
                out.push(1);
            }
            0 if !allowzero => out.push(*input.get(i).ok_or_else(|| format!("shape {spec:?}: 0 at {i} has no input axis"))?),
            s if s >= 0 => out.push(s as usize),
            _ => return Err(format!("shape {spec:?} is not valid")),
        }
    }
    let known: usize = out.iter().product();
    if let Some(h) = hole {
        if known == 0 || !total.is_multiple_of(known) {
            return Err(format!("cannot reshape {input:?} to {spec:?}"));
        }
        out[h] = total / known;
    } else if known != total {
        return Err(format!("cannot reshape {input:?} to {spec:?}"));
    }
    Ok(out)
}

fn run_inner(op: &Op, cx: &Ctx) -> KResult {
    let data_slots: &[usize] = match op {
        Op::Concat(_) => &[],
        _ => &[0],
    };
    if !cx.all_float(data_slots) || (matches!(op, Op::Concat(_)) && !(0..cx.inputs.len()).all(|i| cx.get(i).is_none_or(|v| v.is_float()))) {
        return Ok(Native::NotHere("integer data".into()));
    }
    match op {
        Op::Concat(c) => {
            let xs: Vec<CTensor> = (0..cx.inputs.len())
                .filter_map(|i| cx.get(i).map(|v| v.float()))
                .collect::<Result<_, _>>()?;
            let rank = xs.first().map(|x| x.rank()).ok_or("Concat has no inputs")?;
            one(CTensor::cat(&xs, norm_axis(c.axis, rank)?))
        }
        _ => {
            let x = cx.f(0)?;
            let rank = x.rank();
            let dims = x.dims().to_vec();
            match op {
                Op::Flatten(f) => {
                    let a = if f.axis < 0 { f.axis + rank as i64 } else { f.axis };
                    if a < 0 || a as usize > rank {
                        return Err(format!("axis {} is out of range for rank {rank}", f.axis));
                    }
                    let a = a as usize;
                    let outer: usize = dims[..a].iter().product();
                    let inner: usize = dims[a..].iter().product();
                    one(x.reshape((outer, inner)))
                }
                Op::Reshape(r) => one(x.reshape(reshape_dims(&dims, &ints(cx, 1)?, r.allowzero != 0)?)),
                Op::Transpose(t) => {
                    let perm: Vec<usize> = if t.perm.is_empty() {
                        (0..rank).rev().collect()
                    } else {
                        t.perm.iter().map(|&p| norm_axis(p, rank)).collect::<Result<_, _>>()?
                    };
                    one(x.permute(perm).and_then(|t| t.contiguous()))
                }
                Op::Squeeze(_) => {
                    let mut axes: Vec<usize> = match cx.opt_ints(1)? {
                        Some(a) => a.iter().map(|&a| norm_axis(a, rank)).collect::<Result<_, _>>()?,
                        None => (0..rank).filter(|&i| dims[i] == 1).collect(),
                    };
                    axes.sort_unstable();
                    axes.dedup();
                    let mut y = x;
                    for &a in axes.iter().rev() {
                        if dims[a] != 1 {
                            return Err(format!("cannot squeeze axis {a} of size {}", dims[a]));
                        }
                        y = y.squeeze(a).map_err(ce)?;
                    }
                    one(Ok(y))
                }
                Op::Unsqueeze(_) => {
                    let out_rank = rank + ints(cx, 1)?.len();
                    let mut axes: Vec<usize> = ints(cx, 1)?.iter().map(|&a| norm_axis(a, out_rank)).collect::<Result<_, _>>()?;
                    axes.sort_unstable();
                    let mut y = x;
                    for a in axes {
                        y = y.unsqueeze(a).map_err(ce)?;
                    }
                    one(Ok(y))
                }
                Op::Expand(_) => {
                    let spec: Vec<usize> = ints(cx, 1)?.iter().map(|&d| d.max(0) as usize).collect();
                    let shape = super::arith::broadcast_shape(&[&dims, &spec])?;
                    one(x.broadcast_as(shape).and_then(|t| t.contiguous()))
                }
                Op::Slice(_) => slice(cx, x),
                Op::Gather(g) => {
                    let axis = norm_axis(g.axis, rank)?;
                    let idx_v = cx.get(1).ok_or("required input 1 is missing")?;
                    let idx_shape = idx_v.dims();
                    let n = dims[axis] as i64;
                    let idx: Vec<u32> = idx_v
                        .ints()?
                        .into_iter()
                        .map(|i| {
                            let j = if i < 0 { i + n } else { i };
                            if j < 0 || j >= n {
                                Err(format!("index {i} is out of range for axis {axis} of size {n}"))
                            } else {
                                Ok(j as u32)
                            }
                        })
                        .collect::<Result<_, _>>()?;
                    let count = idx.len();
                    let it = CTensor::from_vec(idx, count, &Device::Cpu).map_err(ce)?;
                    let y = x.index_select(&it, axis).map_err(ce)?;
                    let mut shape: Vec<usize> = dims[..axis].to_vec();
                    shape.extend_from_slice(&idx_shape);
                    shape.extend_from_slice(&dims[axis + 1..]);
                    one(y.reshape(shape))
                }
                _ => Ok(Native::NotHere("not a data-movement op".into())),
            }
        }
    }
}

fn slice(cx: &Ctx, x: CTensor) -> KResult {
    let rank = x.rank();
    let starts = ints(cx, 1)?;
    let ends = ints(cx, 2)?;
    let axes: Vec<i64> = cx.opt_ints(3)?.unwrap_or_else(|| (0..starts.len() as i64).collect());
    let steps: Vec<i64> = cx.opt_ints(4)?.unwrap_or_else(|| vec![1; starts.len()]);
    if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return Err("starts, ends, axes and steps differ in length".into());
    }
    let mut y = x;
    for i in 0..starts.len() {
        let a = norm_axis(axes[i], rank)?;
        let d = y.dims()[a] as i64;
        let st = steps[i];
        if st <= 0 {
            return Ok(Native::NotHere(format!("slice step {st}")));
        }
        let clampi = |v: i64| -> i64 { (if v < 0 { v + d } else { v }).clamp(0, d) };
        let (b, e) = (clampi(starts[i]), clampi(ends[i]));
        let count = if e > b { (e - b + st - 1) / st } else { 0 } as usize;
        y = subsample(&y, a, b as usize, st as usize, count, 0.0)?;
    }
    one(Ok(y))
}
