//! Known values of small integer tensors computed while inferring: the results of `Shape` and
//! `Size` when the shape is known, and of the integer ops that shape arithmetic is written
//! with (Gather, Concat, Slice, Unsqueeze, Squeeze, Reshape, Identity, Cast, Range, Neg, Add,
//! Sub, Mul, Div, Max, Min). Shape rules then read them like constants.

use super::Cx;
use crate::dtype::DType;
use crate::ops::Op;
use crate::shape::Shape;
use crate::tensor::Tensor;

/// Values larger than this are not tracked.
const MAX_ELEMS: usize = 64;

fn make(shape: Vec<usize>, v: &[i64]) -> Option<Tensor> {
    (v.len() <= MAX_ELEMS).then(|| Tensor::from_i64(shape, v).ok()).flatten()
}

fn known_shape(s: Option<&Shape>) -> Option<Vec<usize>> {
    s?.as_known()?.into_iter().map(|d| usize::try_from(d).ok()).collect()
}

fn ints(cx: &Cx<'_>, i: usize) -> Option<(Vec<usize>, Vec<i64>)> {
    let t = cx.konst(i)?;
    if !(t.dtype.is_int() || t.dtype == DType::Bool) || t.numel() > MAX_ELEMS {
        return None;
    }
    Some((t.shape.clone(), t.to_i64_vec()?))
}

fn binary(cx: &Cx<'_>, f: impl Fn(i64, i64) -> Option<i64>) -> Option<Tensor> {
    let (sa, a) = ints(cx, 0)?;
    let (sb, b) = ints(cx, 1)?;
    let (shape, n) = if a.len() >= b.len() { (sa, a.len()) } else { (sb, b.len()) };
    if !(a.len() == n || a.len() == 1) || !(b.len() == n || b.len() == 1) {
        return None;
    }
    let pick = |v: &[i64], i: usize| if v.len() == 1 { v[0] } else { v[i] };
    let out: Option<Vec<i64>> = (0..n).map(|i| f(pick(&a, i), pick(&b, i))).collect();
    make(shape, &out?)
}

/// The value of output 0, when it can be computed; `out` is its inferred shape.
pub(crate) fn evaluate(cx: &Cx<'_>, out: Option<&Shape>) -> Option<Tensor> {
    match cx.op {
        Op::Shape(s) => {
            let dims = known_shape(cx.shape(0))?;
            let r = dims.len() as i64;
            let clamp = |x: i64| (if x < 0 { x.saturating_add(r) } else { x }).clamp(0, r) as usize;
            let (a, b) = (clamp(s.start), clamp(s.end.unwrap_or(r)));
            let v: Vec<i64> = dims.get(a..b.max(a))?.iter().map(|&d| d as i64).collect();
            make(vec![v.len()], &v)
        }
        Op::Size(_) => {
            let n = cx.shape(0)?.numel()?;
            make(vec![], &[i64::try_from(n).ok()?])
        }
        Op::Identity(_) => {
            let (s, v) = ints(cx, 0)?;
            make(s, &v)
        }
        Op::Cast(c) => {
            let to = i32::try_from(c.to).ok().and_then(DType::from_onnx_code)?;
            if !matches!(to, DType::I64 | DType::I32) {
                return None;
            }
            let (s, v) = ints(cx, 0)?;
            make(s, &v)
        }
        Op::Reshape(_) | Op::Squeeze(_) | Op::Unsqueeze(_) | Op::Flatten(_) => {
            let (_, v) = ints(cx, 0)?;
            make(known_shape(out)?, &v)
        }
        Op::Concat(_) => {
            let mut v = Vec::new();
            for i in 0..cx.n_in() {
                let (s, x) = ints(cx, i)?;
                if s.len() != 1 {
                    return None;
                }
                v.extend(x);
            }
            make(vec![v.len()], &v)
        }
        Op::Gather(g) => {
            let (sd, d) = ints(cx, 0)?;
            let (si, ix) = ints(cx, 1)?;
            if sd.len() != 1 || g.axis.rem_euclid(1) != 0 || !(g.axis == 0 || g.axis == -1) {
                return None;
            }
            let n = d.len() as i64;
            let v: Option<Vec<i64>> = ix
                .iter()
                .map(|&i| {
                    let i = if i < 0 { i.saturating_add(n) } else { i };
                    usize::try_from(i).ok().and_then(|i| d.get(i).copied())
                })
                .collect();
            make(si, &v?)
        }
        Op::Slice(_) => {
            let (sd, d) = ints(cx, 0)?;
            if sd.len() != 1 {
                return None;
            }
            let len = known_shape(out)?;
            let (_, st) = ints(cx, 1)?;
            let step = if cx.present(4) { *ints(cx, 4)?.1.first()? } else { 1 };
            let n = d.len() as i64;
            let s0 = *st.first()?;
            let s0 = if s0 < 0 { s0.saturating_add(n) } else { s0 };
            let s0 = if step > 0 { s0.clamp(0, n) } else { s0.clamp(0, n - 1) };
            let count = *len.first()?;
            let v: Option<Vec<i64>> = (0..count as i64)
                .map(|k| usize::try_from(s0 + k * step).ok().and_then(|i| d.get(i).copied()))
                .collect();
            make(len, &v?)
        }
        Op::Range(_) => {
            let (_, a) = ints(cx, 0)?;
            let (_, l) = ints(cx, 1)?;
            let (_, d) = ints(cx, 2)?;
            let (a, l, d) = (*a.first()?, *l.first()?, *d.first()?);
            if d == 0 {
                return None;
            }
            let mut v = Vec::new();
            let mut x = a;
            while (d > 0 && x < l) || (d < 0 && x > l) {
                if v.len() >= MAX_ELEMS {
                    return None;
                }
                v.push(x);
                x = x.checked_add(d)?;
            }
            make(vec![v.len()], &v)
        }
        Op::Neg(_) => {
            let (s, v) = ints(cx, 0)?;
            make(s, &v.iter().map(|x| x.checked_neg()).collect::<Option<Vec<_>>>()?)
        }
        Op::Add(_) => binary(cx, i64::checked_add),
        Op::Sub(_) => binary(cx, i64::checked_sub),
        Op::Mul(_) => binary(cx, i64::checked_mul),
        Op::Div(_) => binary(cx, |a, b| if a >= 0 && b > 0 { Some(a / b) } else { None }),
        Op::Max(_) if cx.n_in() == 2 => binary(cx, |a, b| Some(a.max(b))),
        Op::Min(_) if cx.n_in() == 2 => binary(cx, |a, b| Some(a.min(b))),
        _ => None,
    }
}
