//! Index-driven writes: `ScatterElements` and `ScatterND` (with reductions none/add/mul/max/min)
//! and `TensorScatter` (KV-cache update, linear or circular).

use super::common::{flat, for_each_index, ints, map_many, numel, strides, wrap_index};
use super::one;
use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use crate::ops::util::norm_axis;
use crate::tensor::Tensor;
use edgeport_ir::ops::tensor::{ScatterElements, ScatterND, TensorScatter};
use half::{bf16, f16};
use ndarray::{ArrayD, IxDyn};

/// How an update combines with the value already there.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Reduction {
    None,
    Add,
    Mul,
    Max,
    Min,
}

impl Reduction {
    pub fn parse(s: &str) -> Result<Reduction, OpError> {
        Ok(match s {
            "none" => Reduction::None,
            "add" => Reduction::Add,
            "mul" => Reduction::Mul,
            "max" => Reduction::Max,
            "min" => Reduction::Min,
            r => return Err(OpError::invalid(format!("unknown reduction {r}"))),
        })
    }
}

/// Element types that scatter reductions support.
trait Combine: Clone {
    fn combine(a: &Self, b: &Self, r: Reduction) -> Self;
}

macro_rules! int_combine {
    ($($t:ty),*) => {$(
        impl Combine for $t {
            fn combine(a: &$t, b: &$t, r: Reduction) -> $t {
                match r {
                    Reduction::None => *b,
                    Reduction::Add => a.wrapping_add(*b),
                    Reduction::Mul => a.wrapping_mul(*b),
                    Reduction::Max => *a.max(b),
                    Reduction::Min => *a.min(b),
                }
            }
        }
    )*};
}
int_combine!(i8, i16, i32, i64, u8, u16, u32, u64);

macro_rules! float_combine {
    ($($t:ty),*) => {$(
        impl Combine for $t {
            fn combine(a: &$t, b: &$t, r: Reduction) -> $t {
                match r {
                    Reduction::None => *b,
                    Reduction::Add => *a + *b,
                    Reduction::Mul => *a * *b,
                    Reduction::Max => if a.is_nan() || b > a { *b } else { *a },
                    Reduction::Min => if a.is_nan() || b < a { *b } else { *a },
                }
            }
        }
    )*};
}
float_combine!(f32, f64, f16, bf16);

impl Combine for bool {
    fn combine(a: &bool, b: &bool, r: Reduction) -> bool {
        match r {
            Reduction::None => *b,
            Reduction::Add | Reduction::Max => *a || *b,
            Reduction::Mul | Reduction::Min => *a && *b,
        }
    }
}

fn reduce_into<T: Combine>(data: &ArrayD<T>, upd: &ArrayD<T>, pairs: &[(usize, usize)], r: Reduction) -> Result<ArrayD<T>, OpError> {
    let mut out = flat(data).into_owned();
    let u = flat(upd);
    for &(d, s) in pairs {
        let (Some(dst), Some(src)) = (out.get(d), u.get(s)) else {
            return Err(OpError::invalid("scatter: index out of range"));
        };
        let v = T::combine(dst, src, r);
        out[d] = v;
    }
    ArrayD::from_shape_vec(IxDyn(data.shape()), out).map_err(|e| OpError::invalid(e.to_string()))
}

fn assign_pairs<T: Clone>(data: &ArrayD<T>, upd: &ArrayD<T>, pairs: &[(usize, usize)]) -> Result<ArrayD<T>, OpError> {
    let mut out = flat(data).into_owned();
    let u = flat(upd);
    for &(d, s) in pairs {
        match (out.get_mut(d), u.get(s)) {
            (Some(dst), Some(src)) => *dst = src.clone(),
            _ => return Err(OpError::invalid("scatter: index out of range")),
        }
    }
    ArrayD::from_shape_vec(IxDyn(data.shape()), out).map_err(|e| OpError::invalid(e.to_string()))
}

/// Writes `updates[src]` into a copy of `data` at `dst` for each `(dst, src)` pair, in order.
pub fn scatter_pairs(data: &Tensor, updates: &Tensor, pairs: &[(usize, usize)], r: Reduction) -> Result<Tensor, OpError> {
    if r == Reduction::None {
        return map_many!(&[data, updates], arrs => assign_pairs(arrs[0], arrs[1], pairs));
    }
    macro_rules! red {
        ($($var:ident),*) => {
            match (data, updates) {
                $((Tensor::$var(a), Tensor::$var(b)) => Ok(Tensor::$var(reduce_into(a, b, pairs, r)?)),)*
                _ => Err(OpError::unsupported(format!(
                    "scatter reduction {r:?} on {} with {} updates", data.dtype(), updates.dtype()
                ))),
            }
        };
    }
    red!(F32, F64, F16, BF16, I8, I16, I32, I64, U8, U16, U32, U64, Bool)
}

pub fn scatter_elements(op: &ScatterElements, cx: &NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    let it = cx.tensor(1)?;
    let upd = cx.tensor(2)?;
    let r = Reduction::parse(&op.reduction)?;
    let ind = ints(it, "indices")?;
    let shape = x.shape();
    let ishape = it.shape();
    if ishape != upd.shape() || ishape.len() != shape.len() {
        return Err(OpError::invalid("scatter_elements: indices, updates and data shapes do not fit"));
    }
    let axis = norm_axis(op.axis, shape.len())?;
    let st = strides(shape);
    let mut pairs = Vec::with_capacity(ind.len());
    let mut n = 0;
    for_each_index(ishape, |p| {
        let i = ind[n];
        let a = wrap_index(i, shape[axis]).ok_or_else(|| OpError::invalid(format!("scatter_elements: index {i} out of range")))?;
        let mut off = 0;
        for k in 0..p.len() {
            let v = if k == axis { a } else { p[k] };
            if v >= shape[k] {
                return Err(OpError::invalid("scatter_elements: indices shape exceeds data shape"));
            }
            off += v * st[k];
        }
        pairs.push((off, n));
        n += 1;
        Ok(())
    })?;
    one(scatter_pairs(x, upd, &pairs, r)?)
}

pub fn scatter_nd(op: &ScatterND, cx: &NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    let it = cx.tensor(1)?;
    let upd = cx.tensor(2)?;
    let r = Reduction::parse(&op.reduction)?;
    let ind = ints(it, "indices")?;
    let shape = x.shape();
    let ishape = it.shape();
    let Some(&k) = ishape.last() else {
        return Err(OpError::invalid("scatter_nd: indices must have rank >= 1"));
    };
    if k > shape.len() {
        return Err(OpError::invalid("scatter_nd: index tuples longer than the data rank"));
    }
    let mut ushape = ishape[..ishape.len() - 1].to_vec();
    ushape.extend_from_slice(&shape[k..]);
    if upd.shape() != ushape.as_slice() {
        return Err(OpError::invalid(format!(
            "scatter_nd: updates shape {:?}, expected {ushape:?}",
            upd.shape()
        )));
    }
    let inner = numel(&shape[k..])?;
    let st = strides(shape);
    let tuples = numel(&ishape[..ishape.len() - 1])?;
    let mut pairs = Vec::with_capacity(tuples * inner);
    for t in 0..tuples {
        let mut off = 0;
        for (j, &i) in ind[t * k..(t + 1) * k].iter().enumerate() {
            let d = shape[j];
            off += wrap_index(i, d).ok_or_else(|| OpError::invalid(format!("scatter_nd: index {i} out of range")))? * st[j];
        }
        pairs.extend((0..inner).map(|e| (off + e, t * inner + e)));
    }
    one(scatter_pairs(x, upd, &pairs, r)?)
}

pub fn tensor_scatter(op: &TensorScatter, cx: &NodeCtx<'_>) -> OpResult {
    let past = cx.tensor(0)?;
    let upd = cx.tensor(1)?;
    let shape = past.shape();
    let ushape = upd.shape();
    let circular = match op.mode.as_str() {
        "linear" => false,
        "circular" => true,
        m => {
            return Err(OpError::invalid(format!("tensor_scatter: unknown mode {m}")));
        }
    };
    if shape.len() != ushape.len() || shape.is_empty() {
        return Err(OpError::invalid("tensor_scatter: cache and update ranks differ"));
    }
    let axis = norm_axis(op.axis, shape.len())?;
    if axis == 0 {
        return Err(OpError::invalid("tensor_scatter: the sequence axis cannot be the batch axis 0"));
    }
    for k in 0..shape.len() {
        if (k != axis && shape[k] != ushape[k]) || (k == axis && ushape[k] > shape[k]) {
            return Err(OpError::invalid(format!(
                "tensor_scatter: update {ushape:?} does not fit cache {shape:?}"
            )));
        }
    }
    let wi = match cx.opt_tensor(2)? {
        Some(w) => ints(w, "write_indices")?,
        None => vec![0; shape[0]],
    };
    if wi.len() != shape[0] {
        return Err(OpError::invalid("tensor_scatter: write_indices length differs from the batch size"));
    }
    let max = shape[axis] as i64;
    let st = strides(shape);
    let mut pairs = Vec::with_capacity(upd.len());
    let mut n = 0;
    for_each_index(ushape, |p| {
        let mut pos = wi[p[0]] + p[axis] as i64;
        if circular && max > 0 {
            pos = pos.rem_euclid(max);
        }
        if !(0..max).contains(&pos) {
            return Err(OpError::invalid(format!(
                "tensor_scatter: write position {pos} beyond the cache size {max}"
            )));
        }
        let off: usize = p
            .iter()
            .zip(&st)
            .enumerate()
            .map(|(k, (&v, &s))| if k == axis { pos as usize * s } else { v * s })
            .sum();
        pairs.push((off, n));
        n += 1;
        Ok(())
    })?;
    one(scatter_pairs(past, upd, &pairs, Reduction::None)?)
}
