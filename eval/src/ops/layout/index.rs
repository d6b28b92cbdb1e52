//! Index-driven reads: `Gather`, `GatherElements`, `GatherND`, `NonZero`, `OneHot`.

use super::common::{for_each_index, ints, numel, strides, take, wrap_index};
use super::one;
use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use crate::ops::util::norm_axis;
use crate::tensor::{Tensor, bits_to_f32};
use edgeport_ir::ops::tensor::{Gather, GatherElements, GatherND, OneHot};
use ndarray::{ArrayD, IxDyn};

fn bad_index(i: i64, dim: usize) -> OpError {
    OpError::invalid(format!("index {i} is out of range for size {dim}"))
}

pub fn gather(op: &Gather, cx: &NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    let it = cx.tensor(1)?;
    let ind = ints(it, "indices")?;
    let shape = x.shape();
    let axis = norm_axis(op.axis, shape.len())?;
    let dim = shape[axis];
    let outer = numel(&shape[..axis])?;
    let inner = numel(&shape[axis + 1..])?;
    let pos: Vec<usize> = ind
        .iter()
        .map(|&i| wrap_index(i, dim).ok_or_else(|| bad_index(i, dim)))
        .collect::<Result<_, _>>()?;
    let mut out_shape = shape[..axis].to_vec();
    out_shape.extend_from_slice(it.shape());
    out_shape.extend_from_slice(&shape[axis + 1..]);
    let mut idx = Vec::with_capacity(numel(&out_shape)?);
    for o in 0..outer {
        for &p in &pos {
            let base = (o * dim + p) * inner;
            idx.extend(base..base + inner);
        }
    }
    one(take(x, &idx, &out_shape)?)
}

pub fn gather_elements(op: &GatherElements, cx: &NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    let it = cx.tensor(1)?;
    let ind = ints(it, "indices")?;
    let shape = x.shape();
    let ishape = it.shape();
    if ishape.len() != shape.len() {
        return Err(OpError::invalid("gather_elements: indices rank differs from data rank"));
    }
    let axis = norm_axis(op.axis, shape.len())?;
    let st = strides(shape);
    let mut idx = Vec::with_capacity(ind.len());
    let mut n = 0;
    for_each_index(ishape, |p| {
        let i = ind[n];
        n += 1;
        let a = wrap_index(i, shape[axis]).ok_or_else(|| bad_index(i, shape[axis]))?;
        let mut off = 0;
        for k in 0..p.len() {
            let v = if k == axis { a } else { p[k] };
            if k != axis && v >= shape[k] {
                return Err(OpError::invalid("gather_elements: indices shape exceeds data shape"));
            }
            off += v * st[k];
        }
        idx.push(off);
        Ok(())
    })?;
    one(take(x, &idx, ishape)?)
}

pub fn gather_nd(op: &GatherND, cx: &NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    let it = cx.tensor(1)?;
    let ind = ints(it, "indices")?;
    let shape = x.shape();
    let ishape = it.shape();
    let b = usize::try_from(op.batch_dims).map_err(|_| OpError::invalid("gather_nd: negative batch_dims"))?;
    let q = ishape.len();
    let Some(&k) = ishape.last() else {
        return Err(OpError::invalid("gather_nd: indices must have rank >= 1"));
    };
    if b >= q || b + k > shape.len() || shape[..b] != ishape[..b] {
        return Err(OpError::invalid(format!(
            "gather_nd: data {shape:?} and indices {ishape:?} do not fit batch_dims {b}"
        )));
    }
    let batch = numel(&shape[..b])?;
    let block = numel(&shape[b..])?;
    let per_batch = numel(&ishape[b..q - 1])?;
    let inner = numel(&shape[b + k..])?;
    let st = strides(&shape[b..]);
    let mut out_shape = ishape[..q - 1].to_vec();
    out_shape.extend_from_slice(&shape[b + k..]);
    let mut idx = Vec::with_capacity(numel(&out_shape)?);
    for bi in 0..batch {
        for t in 0..per_batch {
            let tuple = &ind[(bi * per_batch + t) * k..(bi * per_batch + t + 1) * k];
            let mut off = bi * block;
            for (j, &i) in tuple.iter().enumerate() {
                let d = shape[b + j];
                off += wrap_index(i, d).ok_or_else(|| bad_index(i, d))? * st[j];
            }
            idx.extend(off..off + inner);
        }
    }
    one(take(x, &idx, &out_shape)?)
}

/// Which elements are non-zero (NaN counts as non-zero; strings when non-empty).
pub fn nonzero_mask(t: &Tensor) -> Vec<bool> {
    match t {
        Tensor::Str(a) => a.iter().map(|s| !s.is_empty()).collect(),
        Tensor::Bool(a) => a.iter().copied().collect(),
        Tensor::Bits(d, a) => a.iter().map(|&c| bits_to_f32(*d, c) != 0.0).collect(),
        Tensor::U64(a) => a.iter().map(|&x| x != 0).collect(),
        Tensor::I64(a) => a.iter().map(|&x| x != 0).collect(),
        other => other
            .to_f64_vec()
            .map(|v| v.iter().map(|&x| x != 0.0).collect())
            .unwrap_or_default(),
    }
}

pub fn nonzero(cx: &NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    let shape = x.shape();
    let mask = nonzero_mask(x);
    let mut coords: Vec<Vec<i64>> = vec![Vec::new(); shape.len()];
    let mut n = 0;
    let mut count = 0;
    for_each_index(shape, |p| {
        if mask.get(n).copied().unwrap_or(false) {
            for (k, &v) in p.iter().enumerate() {
                coords[k].push(v as i64);
            }
            count += 1;
        }
        n += 1;
        Ok(())
    })?;
    let flat: Vec<i64> = coords.into_iter().flatten().collect();
    let t = ArrayD::from_shape_vec(IxDyn(&[shape.len(), count]), flat).map_err(|e| OpError::invalid(e.to_string()))?;
    one(Tensor::I64(t))
}

pub fn one_hot(op: &OneHot, cx: &NodeCtx<'_>) -> OpResult {
    let it = cx.tensor(0)?;
    let ind: Vec<i64> = it.to_f64_vec()?.into_iter().map(|x| x as i64).collect();
    let depth_v = cx.tensor(1)?.to_f64_vec()?;
    let [depth] = depth_v.as_slice() else {
        return Err(OpError::invalid("one_hot: depth must be a scalar"));
    };
    let depth = *depth as i64;
    if depth <= 0 {
        return Err(OpError::invalid(format!("one_hot: depth must be positive, got {depth}")));
    }
    let values = cx.tensor(2)?;
    if values.len() != 2 {
        return Err(OpError::invalid("one_hot: values must hold [off, on]"));
    }
    let values = values.reshape(&[2])?;
    let ishape = it.shape();
    let r = ishape.len();
    let axis = norm_axis(op.axis, r + 1)?;
    let outer = numel(&ishape[..axis])?;
    let inner = numel(&ishape[axis..])?;
    let d = depth as usize;
    let mut out_shape = ishape[..axis].to_vec();
    out_shape.push(d);
    out_shape.extend_from_slice(&ishape[axis..]);
    let mut idx = vec![0usize; numel(&out_shape)?];
    for o in 0..outer {
        for i in 0..inner {
            let v = ind[o * inner + i];
            let v = if v < 0 { v + depth } else { v };
            if (0..depth).contains(&v) {
                idx[(o * d + v as usize) * inner + i] = 1;
            }
        }
    }
    one(take(&values, &idx, &out_shape)?)
}
