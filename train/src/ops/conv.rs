//! Conv (1-D and 2-D, groups, strides, dilations, explicit or automatic padding, both layouts)
//! on candle's conv kernels. Asymmetric padding is applied with zeros first; unequal strides
//! run at stride 1 and are subsampled.

use super::{Ctx, KResult, Native, one, subsample};
use crate::error::ce;
use candle_core::Tensor as CTensor;
use edgeport_ir::Op;
use edgeport_ir::ops::Layout;

pub(super) fn handles(op: &Op) -> bool {
    matches!(op, Op::Conv(_))
}

pub(super) fn run(op: &Op, cx: &Ctx) -> Option<KResult> {
    match op {
        Op::Conv(_) => Some(run_inner(op, cx)),
        _ => None,
    }
}

/// Begin/end padding per spatial axis, from explicit pads or `auto_pad`.
pub(crate) fn spatial_pads(
    auto_pad: &str,
    pads: &[i64],
    input: &[usize],
    kernel: &[usize],
    strides: &[usize],
    dilations: &[usize],
) -> Result<Vec<(usize, usize)>, String> {
    let n = input.len();
    match auto_pad {
        "NOTSET" | "" => {
            if pads.is_empty() {
                return Ok(vec![(0, 0); n]);
            }
            if pads.len() != 2 * n || pads.iter().any(|&p| p < 0) {
                return Err(format!("pads {pads:?} do not fit {n} spatial axes"));
            }
            Ok((0..n).map(|i| (pads[i] as usize, pads[i + n] as usize)).collect())
        }
        "VALID" => Ok(vec![(0, 0); n]),
        "SAME_UPPER" | "SAME_LOWER" => (0..n)
            .map(|i| {
                let out = input[i].div_ceil(strides[i].max(1));
                let eff = (kernel[i].saturating_sub(1)) * dilations[i] + 1;
                let total = ((out.saturating_sub(1)) * strides[i] + eff).saturating_sub(input[i]);
                let small = total / 2;
                Ok(if auto_pad == "SAME_UPPER" {
                    (small, total - small)
                } else {
                    (total - small, small)
                })
            })
            .collect(),
        other => Err(format!("auto_pad '{other}' is not known")),
    }
}

/// Per-axis values of an attribute list, defaulting to 1.
pub(crate) fn per_axis(v: &[i64], n: usize, what: &str) -> Result<Vec<usize>, String> {
    if v.is_empty() {
        return Ok(vec![1; n]);
    }
    if v.len() != n || v.iter().any(|&x| x < 1) {
        return Err(format!("{what} {v:?} do not fit {n} spatial axes"));
    }
    Ok(v.iter().map(|&x| x as usize).collect())
}

/// Moves the channel axis to position 1 (and back with `inverse`).
pub(crate) fn to_channels_first(x: &CTensor, layout: Layout, inverse: bool) -> Result<CTensor, String> {
    if layout == Layout::ChannelsFirst {
        return Ok(x.clone());
    }
    let r = x.rank();
    let perm: Vec<usize> = if inverse {
        std::iter::once(0).chain(2..r).chain(std::iter::once(1)).collect()
    } else {
        std::iter::once(0).chain(std::iter::once(r - 1)).chain(1..r - 1).collect()
    };
    x.permute(perm).and_then(|t| t.contiguous()).map_err(ce)
}

fn run_inner(op: &Op, cx: &Ctx) -> KResult {
    let Op::Conv(c) = op else {
        return Ok(Native::NotHere("not a conv".into()));
    };
    if !cx.all_float(&[0, 1, 2]) {
        return Ok(Native::NotHere("integer operands".into()));
    }
    let x = to_channels_first(&cx.f(0)?, c.layout, false)?;
    let w = cx.f(1)?;
    let rank = x.rank();
    if rank != 3 && rank != 4 {
        return Ok(Native::NotHere(format!(
            "{}-D convolution (only 1-D and 2-D)",
            rank.saturating_sub(2)
        )));
    }
    if w.rank() != rank {
        return Err(format!("weight rank {} does not match input rank {rank}", w.rank()));
    }
    let ns = rank - 2;
    let kernel: Vec<usize> = w.dims()[2..].to_vec();
    let strides = per_axis(&c.strides, ns, "strides")?;
    let dil = per_axis(&c.dilations, ns, "dilations")?;
    if c.group < 1 {
        return Err(format!("group {} is not positive", c.group));
    }
    let groups = c.group as usize;
    let pads = spatial_pads(&c.auto_pad, &c.pads, &x.dims()[2..], &kernel, &strides, &dil)?;
    if dil.iter().any(|&d| d != dil[0]) {
        return Ok(Native::NotHere(format!("unequal dilations {dil:?}")));
    }
    let mut xp = x;
    let symmetric = pads.iter().all(|&(b, e)| b == e) && pads.iter().all(|&(b, _)| b == pads[0].0);
    let pad = if symmetric {
        pads[0].0
    } else {
        for (i, &(b, e)) in pads.iter().enumerate() {
            xp = xp.pad_with_zeros(2 + i, b, e).map_err(ce)?;
        }
        0
    };
    let same_stride = strides.iter().all(|&s| s == strides[0]);
    let s = if same_stride { strides[0] } else { 1 };
    let mut y = if ns == 1 {
        xp.conv1d(&w, pad, s, dil[0], groups).map_err(ce)?
    } else {
        xp.conv2d(&w, pad, s, dil[0], groups).map_err(ce)?
    };
    if !same_stride {
        for (i, &st) in strides.iter().enumerate() {
            let len = y.dims()[2 + i];
            let count = (len - 1) / st + 1;
            y = subsample(&y, 2 + i, 0, st, count, 0.0)?;
        }
    }
    if let Some(b) = cx.opt_f(2)? {
        let mut shape = vec![1usize; rank];
        shape[1] = b.elem_count();
        y = y.broadcast_add(&b.reshape(shape).map_err(ce)?).map_err(ce)?;
    }
    one(Ok(to_channels_first(&y, c.layout, true)?))
}
