//! MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool. Average pooling in the common case
//! (2-D, no padding, kernel = stride) uses candle's kernel; everything else, and every max
//! pooling, pools one spatial axis at a time from strided views with elementwise max/add, which
//! keeps every step differentiable with correct gradients.

use super::conv::{per_axis, spatial_pads, to_channels_first};
use super::{Ctx, KResult, Native, one, subsample};
use crate::error::ce;
use candle_core::Tensor as CTensor;
use edgeport_ir::Op;

pub(super) fn handles(op: &Op) -> bool {
    matches!(
        op,
        Op::MaxPool(_) | Op::AveragePool(_) | Op::GlobalAveragePool(_) | Op::GlobalMaxPool(_)
    )
}

pub(super) fn run(op: &Op, cx: &Ctx) -> Option<KResult> {
    if !handles(op) {
        return None;
    }
    Some(run_inner(op, cx))
}

struct Axis {
    k: usize,
    s: usize,
    d: usize,
    pb: usize,
    pe: usize,
    out: usize,
}

fn axes(input: &[usize], kernel: &[i64], strides: &[i64], dil: &[i64], pads: (&str, &[i64]), ceil: bool) -> Result<Vec<Axis>, String> {
    let n = input.len();
    if kernel.len() != n || kernel.iter().any(|&k| k < 1) {
        return Err(format!("kernel_shape {kernel:?} does not fit {n} spatial axes"));
    }
    let k: Vec<usize> = kernel.iter().map(|&k| k as usize).collect();
    let s = per_axis(strides, n, "strides")?;
    let d = per_axis(dil, n, "dilations")?;
    let p = spatial_pads(pads.0, pads.1, input, &k, &s, &d)?;
    (0..n)
        .map(|i| {
            let eff = (k[i] - 1) * d[i] + 1;
            let span = input[i] + p[i].0 + p[i].1;
            if span < eff {
                return Err(format!("window {eff} is larger than the padded input {span}"));
            }
            let num = span - eff;
            let mut out = if ceil { num.div_ceil(s[i]) } else { num / s[i] } + 1;
            if ceil && (out - 1) * s[i] >= input[i] + p[i].0 {
                out -= 1;
            }
            Ok(Axis {
                k: k[i],
                s: s[i],
                d: d[i],
                pb: p[i].0,
                pe: p[i].1,
                out,
            })
        })
        .collect()
}

fn pad_with(x: &CTensor, dim: usize, b: usize, e: usize, v: f32) -> Result<CTensor, String> {
    let mut parts = Vec::new();
    let mut d = x.dims().to_vec();
    if b > 0 {
        d[dim] = b;
        parts.push(CTensor::full(v, d.clone(), x.device()).map_err(ce)?);
    }
    parts.push(x.clone());
    if e > 0 {
        d[dim] = e;
        parts.push(CTensor::full(v, d, x.device()).map_err(ce)?);
    }
    if parts.len() == 1 {
        return Ok(x.clone());
    }
    CTensor::cat(&parts, dim).map_err(ce)
}

/// Pools along one axis: max, or sum.
fn pool_axis(x: &CTensor, dim: usize, a: &Axis, max: bool, pad: f32, extra: f32) -> Result<CTensor, String> {
    let xp = pad_with(x, dim, a.pb, a.pe, pad)?;
    let mut acc: Option<CTensor> = None;
    for j in 0..a.k {
        let w = subsample(&xp, dim, j * a.d, a.s, a.out, extra)?;
        acc = Some(match acc {
            None => w,
            Some(p) => (if max { p.maximum(&w) } else { p.add(&w) }).map_err(ce)?,
        });
    }
    acc.ok_or_else(|| "empty kernel".to_string())
}

fn run_inner(op: &Op, cx: &Ctx) -> KResult {
    if !cx.all_float(&[0]) {
        return Ok(Native::NotHere("integer input".into()));
    }
    let (layout, is_max) = match op {
        Op::MaxPool(p) => (p.layout, true),
        Op::AveragePool(p) => (p.layout, false),
        Op::GlobalAveragePool(p) => (p.layout, false),
        Op::GlobalMaxPool(p) => (p.layout, true),
        _ => return Ok(Native::NotHere("not a pool".into())),
    };
    if cx.n_out > 1 {
        return Ok(Native::NotHere("MaxPool's Indices output".into()));
    }
    let x = to_channels_first(&cx.f(0)?, layout, false)?;
    let rank = x.rank();
    if rank < 3 {
        return Err(format!("input of rank {rank} has no spatial axes"));
    }
    let y = match op {
        Op::GlobalAveragePool(_) | Op::GlobalMaxPool(_) => {
            let mut y = x;
            for d in 2..rank {
                y = if is_max { y.max_keepdim(d) } else { y.mean_keepdim(d) }.map_err(ce)?;
            }
            y
        }
        Op::MaxPool(p) => {
            let ax = axes(
                &x.dims()[2..],
                &p.kernel_shape,
                &p.strides,
                &p.dilations,
                (&p.auto_pad, &p.pads),
                p.ceil_mode != 0,
            )?;
            // Always the separable form: candle 0.11's max_pool2d backward scales the gradient
            // by the share of maxima in the window (1/k² for a single maximum) instead of
            // dividing by their count.
            let mut y = x;
            for (i, a) in ax.iter().enumerate() {
                y = pool_axis(&y, 2 + i, a, true, f32::NEG_INFINITY, f32::NEG_INFINITY)?;
            }
            y
        }
        Op::AveragePool(p) => {
            let ax = axes(
                &x.dims()[2..],
                &p.kernel_shape,
                &p.strides,
                &p.dilations,
                (&p.auto_pad, &p.pads),
                p.ceil_mode != 0,
            )?;
            if let Some(y) = fast(&x, &ax, false)? {
                y
            } else {
                let mut sum = x.clone();
                let mut mshape = vec![1usize, 1];
                mshape.extend_from_slice(&x.dims()[2..]);
                let mut count = CTensor::ones(mshape, candle_core::DType::F32, x.device()).map_err(ce)?;
                let padv = if p.count_include_pad != 0 { 1.0 } else { 0.0 };
                for (i, a) in ax.iter().enumerate() {
                    sum = pool_axis(&sum, 2 + i, a, false, 0.0, 0.0)?;
                    count = pool_axis(&count, 2 + i, a, false, padv, 0.0)?;
                }
                sum.broadcast_div(&count).map_err(ce)?
            }
        }
        _ => return Ok(Native::NotHere("not a pool".into())),
    };
    one(Ok(to_channels_first(&y, layout, true)?))
}

/// candle's own 2-D average pooling when windows tile the input exactly.
fn fast(x: &CTensor, ax: &[Axis], max: bool) -> Result<Option<CTensor>, String> {
    if ax.len() != 2 || ax.iter().any(|a| a.pb != 0 || a.pe != 0 || a.d != 1 || a.k != a.s) {
        return Ok(None);
    }
    let dims = x.dims();
    if ax.iter().enumerate().any(|(i, a)| a.out != (dims[2 + i] - a.k) / a.s + 1) {
        return Ok(None);
    }
    let k = (ax[0].k, ax[1].k);
    let y = if max {
        x.max_pool2d_with_stride(k, k)
    } else {
        x.avg_pool2d_with_stride(k, k)
    };
    Ok(Some(y.map_err(ce)?))
}
