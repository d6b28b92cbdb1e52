//! Helpers shared by the layout ops: reading shape/axis inputs, row-major strides, and
//! dtype-generic gathers (by flat source index, with an optional fill value) that every
//! rearranging op is built on, plus [`map_many!`] to work on several same-dtype tensors at once.

use crate::error::OpError;
use crate::tensor::Tensor;
use crate::{map_array, try_map_array};
use ndarray::{ArrayD, IxDyn};
use std::borrow::Cow;

/// Applies `$body` to the arrays of several tensors that must share one dtype (variant), bound
/// as `$arrs: Vec<&ArrayD<T>>`; `$body` yields `Result<ArrayD<T>, OpError>`. Evaluates to
/// `Result<Tensor, OpError>` with the variant of the first tensor.
macro_rules! map_many {
    ($ts:expr, $arrs:ident => $body:expr) => {{
        let ts: &[&$crate::Tensor] = $ts;
        match ts.first() {
            None => Err($crate::OpError::invalid("no inputs")),
            Some($crate::Tensor::F32(_)) => {
                $crate::ops::layout::common::map_many_arm!(ts, F32, $arrs, $body)
            }
            Some($crate::Tensor::F64(_)) => {
                $crate::ops::layout::common::map_many_arm!(ts, F64, $arrs, $body)
            }
            Some($crate::Tensor::F16(_)) => {
                $crate::ops::layout::common::map_many_arm!(ts, F16, $arrs, $body)
            }
            Some($crate::Tensor::BF16(_)) => {
                $crate::ops::layout::common::map_many_arm!(ts, BF16, $arrs, $body)
            }
            Some($crate::Tensor::I8(_)) => {
                $crate::ops::layout::common::map_many_arm!(ts, I8, $arrs, $body)
            }
            Some($crate::Tensor::I16(_)) => {
                $crate::ops::layout::common::map_many_arm!(ts, I16, $arrs, $body)
            }
            Some($crate::Tensor::I32(_)) => {
                $crate::ops::layout::common::map_many_arm!(ts, I32, $arrs, $body)
            }
            Some($crate::Tensor::I64(_)) => {
                $crate::ops::layout::common::map_many_arm!(ts, I64, $arrs, $body)
            }
            Some($crate::Tensor::U8(_)) => {
                $crate::ops::layout::common::map_many_arm!(ts, U8, $arrs, $body)
            }
            Some($crate::Tensor::U16(_)) => {
                $crate::ops::layout::common::map_many_arm!(ts, U16, $arrs, $body)
            }
            Some($crate::Tensor::U32(_)) => {
                $crate::ops::layout::common::map_many_arm!(ts, U32, $arrs, $body)
            }
            Some($crate::Tensor::U64(_)) => {
                $crate::ops::layout::common::map_many_arm!(ts, U64, $arrs, $body)
            }
            Some($crate::Tensor::Bool(_)) => {
                $crate::ops::layout::common::map_many_arm!(ts, Bool, $arrs, $body)
            }
            Some($crate::Tensor::Str(_)) => {
                $crate::ops::layout::common::map_many_arm!(ts, Str, $arrs, $body)
            }
            Some($crate::Tensor::Bits(d, _)) => {
                let d = *d;
                let $arrs = ts
                    .iter()
                    .map(|t| match t {
                        $crate::Tensor::Bits(d2, a) if *d2 == d => Ok(a),
                        o => Err($crate::OpError::invalid(format!(
                            "inputs must share one dtype, got {} and {}",
                            d,
                            o.dtype()
                        ))),
                    })
                    .collect::<Result<Vec<_>, $crate::OpError>>()?;
                Ok($crate::Tensor::Bits(d, $body?))
            }
        }
    }};
}

/// One variant's arm of [`map_many!`].
macro_rules! map_many_arm {
    ($ts:ident, $var:ident, $arrs:ident, $body:expr) => {{
        let $arrs = $ts
            .iter()
            .map(|t| match t {
                $crate::Tensor::$var(a) => Ok(a),
                o => Err($crate::OpError::invalid(format!(
                    "inputs must share one dtype, got {} and {}",
                    $ts[0].dtype(),
                    o.dtype()
                ))),
            })
            .collect::<Result<Vec<_>, $crate::OpError>>()?;
        Ok::<$crate::Tensor, $crate::OpError>($crate::Tensor::$var($body?))
    }};
}
pub(crate) use map_many;
pub(crate) use map_many_arm;

/// The values of an integer input (shape, axes, indices…); float and string inputs are errors.
pub fn ints(t: &Tensor, what: &str) -> Result<Vec<i64>, OpError> {
    let d = t.dtype();
    if !(d.is_int() || d == edgeport_ir::DType::Bool) {
        return Err(OpError::invalid(format!("{what} must be an integer tensor, got {d}")));
    }
    t.to_i64_vec()
}

/// A single integer from a scalar or one-element input.
pub fn int_scalar(t: &Tensor, what: &str) -> Result<i64, OpError> {
    let v = ints(t, what)?;
    match v.as_slice() {
        [x] => Ok(*x),
        _ => Err(OpError::invalid(format!("{what} must hold one value, has {}", v.len()))),
    }
}

/// Row-major strides of `shape`.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1usize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1].saturating_mul(shape[i + 1]);
    }
    s
}

/// Element count of a shape, with overflow checked.
pub fn numel(shape: &[usize]) -> Result<usize, OpError> {
    shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| OpError::invalid(format!("shape {shape:?} is too large")))
}

/// Normalizes an index that may be negative against `dim`; `None` when out of range.
pub fn wrap_index(i: i64, dim: usize) -> Option<usize> {
    let d = dim as i64;
    let j = if i < 0 { i.checked_add(d)? } else { i };
    (0..d).contains(&j).then_some(j as usize)
}

/// Normalizes a list of axes against `rank`, rejecting duplicates.
pub fn norm_axes(axes: &[i64], rank: usize) -> Result<Vec<usize>, OpError> {
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        let n = super::super::util::norm_axis(a, rank)?;
        if out.contains(&n) {
            return Err(OpError::invalid(format!("axis {a} is repeated")));
        }
        out.push(n);
    }
    Ok(out)
}

/// The array's elements in row-major order, borrowed when already contiguous.
pub fn flat<T: Clone>(a: &ArrayD<T>) -> Cow<'_, [T]> {
    match a.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(a.iter().cloned().collect()),
    }
}

/// Builds an array of `shape` whose elements are `a`'s row-major elements at `idx`.
pub fn gather_flat<T: Clone>(a: &ArrayD<T>, idx: &[usize], shape: &[usize]) -> Result<ArrayD<T>, OpError> {
    let src = flat(a);
    let v = idx
        .iter()
        .map(|&i| {
            src.get(i)
                .cloned()
                .ok_or_else(|| OpError::invalid(format!("index {i} out of range")))
        })
        .collect::<Result<Vec<T>, OpError>>()?;
    ArrayD::from_shape_vec(IxDyn(shape), v).map_err(|e| OpError::invalid(e.to_string()))
}

/// Like [`gather_flat`], with `None` entries taking `fill`.
pub fn gather_fill<T: Clone>(a: &ArrayD<T>, idx: &[Option<usize>], shape: &[usize], fill: &T) -> Result<ArrayD<T>, OpError> {
    let src = flat(a);
    let v = idx
        .iter()
        .map(|i| match i {
            None => Ok(fill.clone()),
            Some(i) => src
                .get(*i)
                .cloned()
                .ok_or_else(|| OpError::invalid(format!("index {i} out of range"))),
        })
        .collect::<Result<Vec<T>, OpError>>()?;
    ArrayD::from_shape_vec(IxDyn(shape), v).map_err(|e| OpError::invalid(e.to_string()))
}

/// A tensor of `shape` from `t`'s row-major elements at `idx` (any dtype).
pub fn take(t: &Tensor, idx: &[usize], shape: &[usize]) -> Result<Tensor, OpError> {
    try_map_array!(t, a => gather_flat(a, idx, shape))
}

/// A tensor of `shape` from `t`'s elements at `idx`, `None` entries taking the first element of
/// `fill` (which must have `t`'s dtype).
pub fn take_fill(t: &Tensor, idx: &[Option<usize>], shape: &[usize], fill: &Tensor) -> Result<Tensor, OpError> {
    map_many!(&[t, fill], arrs => {
        match arrs[1].iter().next() {
            Some(f) => gather_fill(arrs[0], idx, shape, f),
            None => Err(OpError::invalid("the fill value is empty")),
        }
    })
}

/// A zero scalar of `t`'s dtype (empty string for strings, false for bool).
pub fn zero_like(t: &Tensor) -> Result<Tensor, OpError> {
    Tensor::zeros(t.dtype(), &[])
}

/// Flat source indices of a cartesian selection: output element `(i0, i1, …)` reads source
/// element `(idx[0][i0], idx[1][i1], …)` of an array with strides `st`. `None` = fill.
pub fn select_axes(idx: &[Vec<Option<usize>>], st: &[usize]) -> Vec<Option<usize>> {
    let mut cur: Vec<Option<usize>> = vec![Some(0)];
    for (k, list) in idx.iter().enumerate() {
        let s = st.get(k).copied().unwrap_or(1);
        let mut next = Vec::with_capacity(cur.len().saturating_mul(list.len()));
        for &o in &cur {
            for &j in list {
                next.push(match (o, j) {
                    (Some(o), Some(j)) => Some(o + j * s),
                    _ => None,
                });
            }
        }
        cur = next;
    }
    cur
}

/// Selects, per axis, the listed source positions (any dtype); all entries must be `Some`.
pub fn select(t: &Tensor, idx: &[Vec<usize>]) -> Result<Tensor, OpError> {
    if idx.len() != t.shape().len() {
        return Err(OpError::invalid("selection rank differs from the tensor rank"));
    }
    let st = strides(t.shape());
    let opt: Vec<Vec<Option<usize>>> = idx.iter().map(|l| l.iter().map(|&i| Some(i)).collect()).collect();
    let shape: Vec<usize> = idx.iter().map(|l| l.len()).collect();
    numel(&shape)?;
    let flat_idx: Vec<usize> = select_axes(&opt, &st).into_iter().flatten().collect();
    take(t, &flat_idx, &shape)
}

/// Calls `f` with every multi-index of `shape` in row-major order.
pub fn for_each_index(shape: &[usize], mut f: impl FnMut(&[usize]) -> Result<(), OpError>) -> Result<(), OpError> {
    let n = numel(shape)?;
    if n == 0 {
        return Ok(());
    }
    let mut idx = vec![0usize; shape.len()];
    for _ in 0..n {
        f(&idx)?;
        for k in (0..shape.len()).rev() {
            idx[k] += 1;
            if idx[k] < shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    Ok(())
}

/// Reshapes `t` to `s1`, permutes its axes by `perm`, and reshapes the result to `s2`.
pub fn reshape_transpose(t: &Tensor, s1: &[usize], perm: &[usize], s2: &[usize]) -> Result<Tensor, OpError> {
    let r = t.reshape(s1)?;
    let p = transpose(&r, perm)?;
    p.reshape(s2)
}

/// Permutes the axes of `t` (a valid permutation of its rank).
pub fn transpose(t: &Tensor, perm: &[usize]) -> Result<Tensor, OpError> {
    let rank = t.shape().len();
    let mut seen = vec![false; rank];
    if perm.len() != rank {
        return Err(OpError::invalid(format!("perm {perm:?} does not fit rank {rank}")));
    }
    for &p in perm {
        if p >= rank || seen[p] {
            return Err(OpError::invalid(format!("perm {perm:?} is not a permutation")));
        }
        seen[p] = true;
    }
    Ok(map_array!(t, a => a.view().permuted_axes(IxDyn(perm)).as_standard_layout().into_owned()))
}
