//! Shape-changing ops that keep the element order or permute it wholesale: `Reshape`, `Shape`,
//! `Size`, `Squeeze`, `Unsqueeze`, `Flatten`, `Identity`, `Transpose`, `DepthToSpace`,
//! `SpaceToDepth`, `Tile`.

use super::common::{ints, norm_axes, numel, reshape_transpose, strides, take, transpose as permute};
use super::one;
use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use crate::tensor::Tensor;
use edgeport_ir::ops::Layout;
use edgeport_ir::ops::nn::Flatten;
use edgeport_ir::ops::tensor::{DepthToSpace, Reshape, Shape, SpaceToDepth, Transpose};

pub fn reshape(op: &Reshape, cx: &NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    let spec = ints(cx.tensor(1)?, "shape")?;
    let shape = reshape_dims(x.shape(), &spec, op.allowzero != 0)?;
    one(x.reshape(&shape)?)
}

/// Resolves a Reshape shape spec (0 = copy, -1 = infer) against the input shape.
pub fn reshape_dims(input: &[usize], spec: &[i64], allowzero: bool) -> Result<Vec<usize>, OpError> {
    let total = numel(input)?;
    let mut out = Vec::with_capacity(spec.len());
    let mut infer = None;
    for (i, &d) in spec.iter().enumerate() {
        match d {
            -1 => {
                if infer.replace(i).is_some() {
                    return Err(OpError::invalid("reshape: more than one -1 in the shape"));
                }
                out.push(1);
            }
            0 if !allowzero => {
                let v = input
                    .get(i)
                    .copied()
                    .ok_or_else(|| OpError::invalid(format!("reshape: 0 at position {i} but the input has rank {}", input.len())))?;
                out.push(v);
            }
            d if d < 0 => return Err(OpError::invalid(format!("reshape: invalid dimension {d}"))),
            d => out.push(d as usize),
        }
    }
    if let Some(i) = infer {
        let rest = numel(&out)?;
        if rest == 0 || total % rest != 0 {
            return Err(OpError::invalid(format!(
                "reshape: cannot infer -1 reshaping {input:?} to {spec:?}"
            )));
        }
        out[i] = total / rest;
    }
    if numel(&out)? != total {
        return Err(OpError::invalid(format!(
            "reshape: {input:?} has {total} elements, shape {spec:?} does not"
        )));
    }
    Ok(out)
}

pub fn shape(op: &Shape, cx: &NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    let r = x.shape().len() as i64;
    let clamp = |v: i64| if v < 0 { (v + r).max(0) } else { v.min(r) };
    let start = clamp(op.start) as usize;
    let end = clamp(op.end.unwrap_or(r)) as usize;
    let dims: Vec<i64> = if start < end {
        x.shape()[start..end].iter().map(|&d| d as i64).collect()
    } else {
        Vec::new()
    };
    one(Tensor::vec_i64(dims))
}

pub fn size(cx: &NodeCtx<'_>) -> OpResult {
    one(Tensor::scalar_i64(cx.tensor(0)?.len() as i64))
}

pub fn squeeze(cx: &NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    let shape = x.shape();
    let axes = match cx.opt_tensor(1)? {
        Some(a) => norm_axes(&ints(a, "axes")?, shape.len())?,
        None => (0..shape.len()).filter(|&i| shape[i] == 1).collect(),
    };
    for &a in &axes {
        if shape[a] != 1 {
            return Err(OpError::invalid(format!("squeeze: axis {a} has size {}, not 1", shape[a])));
        }
    }
    let out: Vec<usize> = (0..shape.len()).filter(|i| !axes.contains(i)).map(|i| shape[i]).collect();
    one(x.reshape(&out)?)
}

pub fn unsqueeze(cx: &NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    let axes = ints(cx.tensor(1)?, "axes")?;
    let rank = x.shape().len() + axes.len();
    let axes = norm_axes(&axes, rank)?;
    let mut src = x.shape().iter();
    let out: Vec<usize> = (0..rank)
        .map(|i| if axes.contains(&i) { 1 } else { src.next().copied().unwrap_or(1) })
        .collect();
    one(x.reshape(&out)?)
}

pub fn flatten(op: &Flatten, cx: &NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    let r = x.shape().len() as i64;
    let a = if op.axis < 0 { op.axis + r } else { op.axis };
    if a < 0 || a > r {
        return Err(OpError::invalid(format!("flatten: axis {} out of range for rank {r}", op.axis)));
    }
    let (lo, hi) = x.shape().split_at(a as usize);
    one(x.reshape(&[numel(lo)?, numel(hi)?])?)
}

pub fn identity(cx: &NodeCtx<'_>) -> OpResult {
    match cx.input(0) {
        Some(v) => Ok(vec![v.clone()]),
        None => Err(OpError::invalid("identity: input is missing")),
    }
}

pub fn transpose(op: &Transpose, cx: &NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    let rank = x.shape().len();
    let perm: Vec<usize> = if op.perm.is_empty() {
        (0..rank).rev().collect()
    } else {
        op.perm
            .iter()
            .map(|&p| usize::try_from(p).map_err(|_| OpError::invalid(format!("transpose: bad perm entry {p}"))))
            .collect::<Result<_, _>>()?
    };
    one(permute(x, &perm)?)
}

/// Moves the channel axis of a channels-last tensor to position 1 (or back with `back`).
fn channels_perm(rank: usize, back: bool) -> Vec<usize> {
    if back {
        let mut p = vec![0];
        p.extend(2..rank);
        p.push(1);
        p
    } else {
        let mut p = vec![0, rank - 1];
        p.extend(1..rank - 1);
        p
    }
}

/// Runs an NCHW kernel on a tensor of the given layout.
fn with_layout(x: &Tensor, layout: Layout, f: impl Fn(&Tensor) -> Result<Tensor, OpError>) -> Result<Tensor, OpError> {
    if x.shape().len() != 4 {
        return Err(OpError::invalid(format!("expected a 4-d input, got {:?}", x.shape())));
    }
    match layout {
        Layout::ChannelsFirst => f(x),
        Layout::ChannelsLast => {
            let nchw = permute(x, &channels_perm(4, false))?;
            permute(&f(&nchw)?, &channels_perm(4, true))
        }
    }
}

/// A positive blocksize whose square fits in usize.
fn blocksize(b: i64) -> Result<usize, OpError> {
    usize::try_from(b)
        .ok()
        .filter(|&b| b > 0 && b.checked_mul(b).is_some())
        .ok_or_else(|| OpError::invalid(format!("invalid blocksize {b}")))
}

pub fn depth_to_space(op: &DepthToSpace, cx: &NodeCtx<'_>) -> OpResult {
    let b = blocksize(op.blocksize)?;
    let crd = match op.mode.as_str() {
        "DCR" => false,
        "CRD" => true,
        m => {
            return Err(OpError::invalid(format!("depth_to_space: unknown mode {m}")));
        }
    };
    one(with_layout(cx.tensor(0)?, op.layout, |x| {
        let &[n, c, h, w] = x.shape() else {
            return Err(OpError::invalid("expected 4-d"));
        };
        if c % (b * b) != 0 {
            return Err(OpError::invalid(format!("depth_to_space: {c} channels not divisible by {}", b * b)));
        }
        let c2 = c / (b * b);
        let (Some(h2), Some(w2)) = (h.checked_mul(b), w.checked_mul(b)) else {
            return Err(OpError::invalid("depth_to_space: output too large"));
        };
        let out = [n, c2, h2, w2];
        if crd {
            reshape_transpose(x, &[n, c2, b, b, h, w], &[0, 1, 4, 2, 5, 3], &out)
        } else {
            reshape_transpose(x, &[n, b, b, c2, h, w], &[0, 3, 4, 1, 5, 2], &out)
        }
    })?)
}

pub fn space_to_depth(op: &SpaceToDepth, cx: &NodeCtx<'_>) -> OpResult {
    let b = blocksize(op.blocksize)?;
    one(with_layout(cx.tensor(0)?, op.layout, |x| {
        let &[n, c, h, w] = x.shape() else {
            return Err(OpError::invalid("expected 4-d"));
        };
        if h % b != 0 || w % b != 0 {
            return Err(OpError::invalid(format!("space_to_depth: {h}x{w} not divisible by blocksize {b}")));
        }
        let c2 = c
            .checked_mul(b * b)
            .ok_or_else(|| OpError::invalid("space_to_depth: output too large"))?;
        reshape_transpose(x, &[n, c, h / b, b, w / b, b], &[0, 3, 5, 1, 2, 4], &[n, c2, h / b, w / b])
    })?)
}

pub fn tile(cx: &NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    let reps = ints(cx.tensor(1)?, "repeats")?;
    let shape = x.shape();
    if reps.len() != shape.len() {
        return Err(OpError::invalid(format!("tile: {} repeats for rank {}", reps.len(), shape.len())));
    }
    let mut out = Vec::with_capacity(shape.len());
    for (&d, &r) in shape.iter().zip(&reps) {
        let r = usize::try_from(r).map_err(|_| OpError::invalid(format!("tile: negative repeat {r}")))?;
        out.push(d.checked_mul(r).ok_or_else(|| OpError::invalid("tile: output too large"))?);
    }
    let n = numel(&out)?;
    let st = strides(shape);
    let mut idx: Vec<usize> = vec![0];
    for (k, &o) in out.iter().enumerate() {
        let d = shape[k];
        let mut next = Vec::with_capacity(idx.len() * o);
        for &base in &idx {
            for j in 0..o {
                next.push(base + (j % d) * st[k]);
            }
        }
        idx = next;
    }
    if n == 0 {
        idx.clear();
    }
    one(take(x, &idx, &out)?)
}
