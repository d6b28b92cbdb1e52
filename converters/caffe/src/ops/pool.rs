//! Pooling: MAX and AVE with Caffe's output size (ceil rounding by default, minus the last
//! window when it would start in the padding) and AVE's divisor (the window clipped to the
//! *padded* extent, not to the input), and global pooling.
//!
//! The output size is reached with explicit end padding; AVE runs as ONNX AveragePool without
//! the padding in the count, then is rescaled per output position by (real elements / Caffe's
//! divisor), a constant known at import time.

use super::Layer;
use crate::build::{Ctx, int, ints};
use edgeport_ir::ValueId;
use edgeport_proto::caffe::pooling_parameter::{PoolMethod, RoundMode};

/// The most values a constant built at import time may hold (16 Mi).
const MAX_CONST: i64 = 1 << 24;

/// One spatial axis: output size and end padding.
struct Axis {
    out: i64,
    pad_end: i64,
}

fn axis(len: i64, k: i64, s: i64, p: i64, ceil: bool) -> Result<Axis, String> {
    let span = len + 2 * p - k;
    if span < 0 {
        return Err(format!("kernel {k} is larger than the padded input {}", len + 2 * p));
    }
    let mut out = if ceil { (span + s - 1) / s + 1 } else { span / s + 1 };
    if p > 0 && (out - 1) * s >= len + p {
        out -= 1;
    }
    let pad_end = ((out - 1) * s + k - len - p).max(0);
    Ok(Axis { out, pad_end })
}

pub fn pooling(cx: &mut Ctx, l: &Layer<'_>) -> Result<Vec<ValueId>, String> {
    let p = l.p.pooling_param.ok_or("missing pooling_param")?;
    let x = l.input(0)?;
    let method = p.pool();
    if method == PoolMethod::Stochastic {
        return Err("STOCHASTIC pooling is not supported".into());
    }
    let max = method == PoolMethod::Max;
    if p.global_pooling() {
        let op = if max { "GlobalMaxPool" } else { "GlobalAveragePool" };
        return Ok(vec![cx.op("", op, vec![], &[x])?]);
    }
    let shape = cx.shape(x)?;
    if shape.len() != 4 {
        return Err(format!("input of shape {shape:?}: only 4-D inputs are supported"));
    }
    let (h, w) = (shape[2] as i64, shape[3] as i64);
    let pick = |hv: Option<u32>, wv: Option<u32>, both: Option<u32>, def: u32| -> (i64, i64) {
        match (hv, wv) {
            (Some(a), Some(b)) => (a.into(), b.into()),
            _ => (both.unwrap_or(def).into(), both.unwrap_or(def).into()),
        }
    };
    let (kh, kw) = pick(p.kernel_h, p.kernel_w, p.kernel_size, 0);
    let (sh, sw) = pick(p.stride_h, p.stride_w, p.stride, 1);
    let (ph, pw) = pick(p.pad_h, p.pad_w, p.pad, 0);
    if kh <= 0 || kw <= 0 || sh <= 0 || sw <= 0 {
        return Err("kernel size and stride must be positive".into());
    }
    if ph >= kh || pw >= kw {
        return Err(format!("padding ({ph}, {pw}) must be smaller than the kernel ({kh}, {kw})"));
    }
    let ceil = p.round_mode() == RoundMode::Ceil;
    let ay = axis(h, kh, sh, ph, ceil)?;
    let ax = axis(w, kw, sw, pw, ceil)?;
    let mut attrs = vec![
        ints("kernel_shape", &[kh, kw]),
        ints("strides", &[sh, sw]),
        ints("pads", &[ph, pw, ay.pad_end.max(0), ax.pad_end.max(0)]),
    ];
    if max {
        return Ok(vec![cx.op("", "MaxPool", attrs, &[x])?]);
    }
    attrs.push(int("count_include_pad", 0));
    let avg = cx.op("avg", "AveragePool", attrs, &[x])?;
    // Rescale: real elements / Caffe's divisor, per output position.
    let ratio = |len: i64, k: i64, s: i64, p: i64, out: i64| -> Vec<(i64, i64)> {
        (0..out)
            .map(|o| {
                let start = o * s - p;
                let end = (start + k).min(len + p);
                let caffe = end - start;
                let real = end.min(len) - start.max(0);
                (real, caffe)
            })
            .collect()
    };
    let ry = ratio(h, kh, sh, ph, ay.out);
    let rx = ratio(w, kw, sw, pw, ax.out);
    let n_out = ay
        .out
        .checked_mul(ax.out)
        .filter(|&n| n <= MAX_CONST)
        .ok_or("output too large for a divisor table")?;
    let mut vals = Vec::with_capacity(n_out as usize);
    let mut trivial = true;
    for &(a, b) in &ry {
        for &(c, d) in &rx {
            let (real, caffe) = (a * c, b * d);
            if caffe <= 0 {
                return Err("an output window lies entirely outside the input".into());
            }
            trivial &= real == caffe;
            vals.push(real as f32 / caffe as f32);
        }
    }
    if trivial {
        // The window never reaches into the padding: rename the result.
        return Ok(vec![avg]);
    }
    let r = cx.f32s("divisor", vec![1, 1, ay.out as usize, ax.out as usize], &vals)?;
    Ok(vec![cx.op("", "Mul", vec![], &[avg, r])?])
}
