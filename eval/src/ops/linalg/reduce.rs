//! The reduction family: `ArgMax`/`ArgMin` and the `Reduce*` ops (axes as an optional input,
//! `keepdims`, `noop_with_empty_axes`, empty-set identities). Floats are reduced in `f64` and
//! rounded back; integers are reduced exactly and wrap into the dtype.

use super::num::{Vals, from_ints, lanes, out, vals};
use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use crate::ops::util::norm_axis;
use crate::tensor::Tensor;
use edgeport_ir::DType;
use ndarray::{ArrayD, IxDyn};
use std::cmp::Ordering;

/// Which `Reduce*` op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    L1,
    L2,
    LogSum,
    LogSumExp,
    Max,
    Min,
    Mean,
    Prod,
    Sum,
    SumSquare,
}

/// Runs a `Reduce*` op.
pub fn reduce(cx: &NodeCtx<'_>, kind: Kind, keepdims: i64, noop: i64) -> OpResult {
    let x = cx.tensor(0)?;
    let shape = x.shape().to_vec();
    let rank = shape.len();
    let axes = match cx.opt_tensor(1)? {
        Some(t) => t.to_i64_vec()?,
        None => Vec::new(),
    };
    let mut red = vec![false; rank];
    if axes.is_empty() {
        if noop == 0 {
            red.iter_mut().for_each(|r| *r = true);
        }
    } else {
        for &a in &axes {
            red[norm_axis(a, rank)?] = true;
        }
    }
    let (grouped, gsize) = group(x, &shape, &red)?;
    let out_shape: Vec<usize> = shape
        .iter()
        .zip(&red)
        .filter_map(|(&d, &r)| {
            if !r {
                Some(d)
            } else if keepdims != 0 {
                Some(1)
            } else {
                None
            }
        })
        .collect();
    let ngroups: usize = shape.iter().zip(&red).filter(|(_, r)| !**r).map(|(d, _)| *d).product();
    let d = x.dtype();
    let t = match grouped {
        Vals::F(v) => {
            let r: Vec<f64> = (0..ngroups).map(|g| fold_f(kind, chunk(&v, g, gsize))).collect();
            Tensor::from_f64(d, &out_shape, r)?
        }
        Vals::I(v) => {
            let (lo, hi) = int_bounds(d);
            match kind {
                Kind::L2 | Kind::LogSum | Kind::LogSumExp | Kind::Mean => {
                    let r: Vec<f64> = (0..ngroups)
                        .map(|g| fold_f(kind, &chunk(&v, g, gsize).iter().map(|&x| x as f64).collect::<Vec<_>>()))
                        .collect();
                    Tensor::from_f64(d, &out_shape, r)?
                }
                _ => {
                    let r: Vec<i128> = (0..ngroups).map(|g| fold_i(kind, chunk(&v, g, gsize), lo, hi)).collect();
                    from_ints(d, &out_shape, r)?
                }
            }
        }
    };
    out(t)
}

fn chunk<T>(v: &[T], g: usize, size: usize) -> &[T] {
    v.get(g * size..(g + 1) * size).unwrap_or(&[])
}

/// The value range of an integer dtype.
pub fn int_bounds(d: DType) -> (i128, i128) {
    match d {
        DType::I8 => (i8::MIN as i128, i8::MAX as i128),
        DType::I16 => (i16::MIN as i128, i16::MAX as i128),
        DType::I32 => (i32::MIN as i128, i32::MAX as i128),
        DType::I64 => (i64::MIN as i128, i64::MAX as i128),
        DType::U8 => (0, u8::MAX as i128),
        DType::U16 => (0, u16::MAX as i128),
        DType::U32 => (0, u32::MAX as i128),
        DType::U64 => (0, u64::MAX as i128),
        _ => (i64::MIN as i128, i64::MAX as i128),
    }
}

/// Reorders the elements so that each output position's reduced elements are contiguous;
/// returns them and the group size.
fn group(x: &Tensor, shape: &[usize], red: &[bool]) -> Result<(Vals, usize), OpError> {
    let kept: Vec<usize> = (0..shape.len()).filter(|&i| !red[i]).collect();
    let reduced: Vec<usize> = (0..shape.len()).filter(|&i| red[i]).collect();
    let gsize: usize = reduced.iter().map(|&i| shape[i]).product();
    let perm: Vec<usize> = kept.iter().chain(&reduced).copied().collect();
    let identity = perm.iter().enumerate().all(|(i, &p)| i == p);
    fn reorder<T: Clone>(v: Vec<T>, shape: &[usize], perm: &[usize]) -> Result<Vec<T>, OpError> {
        let a = ArrayD::from_shape_vec(IxDyn(shape), v).map_err(|e| OpError::invalid(e.to_string()))?;
        Ok(a.permuted_axes(IxDyn(perm)).iter().cloned().collect())
    }
    let v = match vals(x)? {
        Vals::F(v) if !identity => Vals::F(reorder(v, shape, &perm)?),
        Vals::I(v) if !identity => Vals::I(reorder(v, shape, &perm)?),
        v => v,
    };
    Ok((v, gsize))
}

fn fold_f(kind: Kind, v: &[f64]) -> f64 {
    match kind {
        Kind::L1 => v.iter().map(|x| x.abs()).sum(),
        Kind::L2 => v.iter().map(|x| x * x).sum::<f64>().sqrt(),
        Kind::LogSum => v.iter().sum::<f64>().ln(),
        Kind::LogSumExp => {
            let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if v.is_empty() || m.is_infinite() {
                return if v.iter().any(|x| x.is_nan()) { f64::NAN } else { m };
            }
            m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
        }
        Kind::Max => v
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, |a, b| if a.is_nan() || b.is_nan() { f64::NAN } else { a.max(b) }),
        Kind::Min => v
            .iter()
            .copied()
            .fold(f64::INFINITY, |a, b| if a.is_nan() || b.is_nan() { f64::NAN } else { a.min(b) }),
        Kind::Mean => v.iter().sum::<f64>() / v.len() as f64,
        Kind::Prod => v.iter().product(),
        Kind::Sum => v.iter().sum(),
        Kind::SumSquare => v.iter().map(|x| x * x).sum(),
    }
}

fn fold_i(kind: Kind, v: &[i128], lo: i128, hi: i128) -> i128 {
    match kind {
        Kind::L1 => v.iter().fold(0i128, |a, x| a.wrapping_add(x.wrapping_abs())),
        Kind::Max => v.iter().copied().max().unwrap_or(lo),
        Kind::Min => v.iter().copied().min().unwrap_or(hi),
        Kind::Prod => v.iter().fold(1i128, |a, x| a.wrapping_mul(*x)),
        Kind::SumSquare => v.iter().fold(0i128, |a, x| a.wrapping_add(x.wrapping_mul(*x))),
        _ => v.iter().fold(0i128, |a, x| a.wrapping_add(*x)),
    }
}

/// Runs `ArgMax` (`max`) or `ArgMin`.
pub fn arg(cx: &NodeCtx<'_>, max: bool, axis: i64, keepdims: i64, last: i64) -> OpResult {
    let x = cx.tensor(0)?;
    let shape = x.shape().to_vec();
    let ax = norm_axis(axis, shape.len().max(1))?;
    let (outer, n, inner) = lanes(&shape, ax);
    if n == 0 && outer * inner > 0 {
        return Err(OpError::invalid("cannot take the arg-extremum of an empty axis"));
    }
    let r = match vals(x)? {
        // NaN counts as the most extreme value (numpy's argmax/argmin).
        Vals::F(v) => best_index(&v, (outer, n, inner), last != 0, |a: &f64, b: &f64| {
            match (a.is_nan(), b.is_nan()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                _ => {
                    let o = a.partial_cmp(b).unwrap_or(Ordering::Equal);
                    if max { o } else { o.reverse() }
                }
            }
        }),
        Vals::I(v) => best_index(
            &v,
            (outer, n, inner),
            last != 0,
            |a: &i128, b: &i128| {
                if max { a.cmp(b) } else { b.cmp(a) }
            },
        ),
    };
    let mut out_shape = shape.clone();
    if !out_shape.is_empty() {
        if keepdims != 0 {
            out_shape[ax] = 1;
        } else {
            out_shape.remove(ax);
        }
    }
    out(Tensor::I64(
        ArrayD::from_shape_vec(IxDyn(&out_shape), r).map_err(|e| OpError::invalid(e.to_string()))?,
    ))
}

/// The index of the best element of each lane (`better(a, b) == Greater` when `a` beats `b`);
/// ties keep the first index, or the last with `last`.
fn best_index<T>(v: &[T], (outer, n, inner): (usize, usize, usize), last: bool, better: impl Fn(&T, &T) -> Ordering) -> Vec<i64> {
    let mut r = Vec::with_capacity(outer * inner);
    for o in 0..outer {
        for i in 0..inner {
            let at = |k: usize| &v[(o * n + k) * inner + i];
            let mut best = 0usize;
            for k in 1..n {
                let c = better(at(k), at(best));
                if c == Ordering::Greater || (last && c == Ordering::Equal) {
                    best = k;
                }
            }
            r.push(best as i64);
        }
    }
    r
}
