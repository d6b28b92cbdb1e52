//! Pools: MaxPool → MAX_POOL_2D, AveragePool → AVERAGE_POOL_2D, GlobalAveragePool → MEAN and
//! GlobalMaxPool → REDUCE_MAX over the spatial axes (keep dims). ONNX pads map to SAME when
//! they match it; otherwise max pools pad with −FLT_MAX and average pools that count the
//! padding pad with zeros, before a VALID pool.

use super::super::lower::{LResult, Lower, err, opts};
use super::super::model::Field;
use super::conv::{PadPlan, Window, orders, pad_nhwc};
use crate::codes::{BuiltinOperator as B, BuiltinOptions as O};
use edgeport_ir::ops::Layout;
use edgeport_ir::{NodeId, ValueId};

/// Max or average.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Kind {
    Max,
    Avg { count_include_pad: bool },
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn pool(
    cx: &mut Lower,
    id: NodeId,
    kind: Kind,
    kernel: &[i64],
    strides: &[i64],
    dilations: &[i64],
    pads: &[i64],
    auto_pad: &str,
    ceil_mode: i64,
    layout: Layout,
) -> LResult<()> {
    let x = cx.input(id, 0)?;
    let xd = cx.dims(x)?;
    if xd.len() != 4 {
        return err(format!("only 2-D pools are exported (input rank {})", xd.len()));
    }
    if cx.g.node(id).outputs.len() > 1 && !cx.g.consumers(ValueId { node: id, port: 1 }).is_empty() {
        return err("MaxPool indices output has no TFLite form");
    }
    let k = match kernel {
        [a, b] => [*a, *b],
        _ => return err(format!("kernel_shape must have 2 values, got {kernel:?}")),
    };
    let win = Window::new(k, strides, dilations, pads, auto_pad)?;
    if win.dilations != [1, 1] {
        return err("dilated pools have no TFLite form");
    }
    let (perm, sp) = orders(layout);
    let hw = [xd[sp[0]], xd[sp[1]]];
    if ceil_mode != 0 {
        // ceil_mode only matters when it changes the output size.
        let same = (0..2).all(|i| {
            let padded = hw[i] + win.pads[i] + win.pads[i + 2] - k[i];
            hw[i] >= 0 && padded >= 0 && padded % win.strides[i] == 0
        });
        if !same {
            return err("ceil_mode=1 changes the output size here; TFLite pools floor");
        }
    }
    let plan = win.plan(hw)?;
    let name = cx.g.node(id).name.clone();
    let mut xt = cx.get(x, &perm)?;
    let padding = match plan {
        PadPlan::Same => {
            if kind == (Kind::Avg { count_include_pad: true }) && win.pads.iter().any(|&p| p != 0) {
                xt = pad_nhwc(cx, xt, win.pads, None, &name)?;
                1
            } else {
                0i8
            }
        }
        PadPlan::Valid => 1,
        PadPlan::Explicit(p) => match kind {
            Kind::Max => {
                xt = pad_nhwc(cx, xt, p, Some(f32::MIN), &name)?;
                1
            }
            Kind::Avg { count_include_pad: true } => {
                xt = pad_nhwc(cx, xt, p, None, &name)?;
                1
            }
            Kind::Avg { count_include_pad: false } => {
                return avg_exclude_pad(cx, id, xt, k, win.strides, p, hw, perm);
            }
        },
    };
    let (act, yv) = cx.fuse_activation(id);
    let yt = cx.out(yv, perm)?;
    let code = if kind == Kind::Max { B::MAX_POOL_2D } else { B::AVERAGE_POOL_2D };
    let o = opts(O::Pool2DOptions)
        .with(0, Field::I8(padding))
        .with(1, Field::I32(win.strides[1] as i32))
        .with(2, Field::I32(win.strides[0] as i32))
        .with(3, Field::I32(k[1] as i32))
        .with(4, Field::I32(k[0] as i32))
        .with(5, Field::I8(act));
    cx.emit(code, vec![xt], vec![yt], Some(o));
    Ok(())
}

/// An average pool whose explicit pads are left out of the count: zero padding, a VALID
/// AVERAGE_POOL_2D (which divides by k_h·k_w), then a MUL by the constant `k_h·k_w / count` of
/// each output position (count = window cells inside the unpadded input), activation fused there.
#[allow(clippy::too_many_arguments)]
fn avg_exclude_pad(
    cx: &mut Lower,
    id: NodeId,
    xt: i32,
    k: [i64; 2],
    strides: [i64; 2],
    p: [i64; 4],
    hw: [i64; 2],
    perm: Vec<usize>,
) -> LResult<()> {
    if hw.iter().any(|&d| d < 0) {
        return err("an average pool that excludes explicit padding needs known input sizes");
    }
    let name = cx.g.node(id).name.clone();
    let padded = pad_nhwc(cx, xt, p, None, &name)?;
    let (act, yv) = cx.fuse_activation(id);
    let yd = cx.dims(yv)?;
    let (oh, ow) = match layout_hw(&perm, &yd) {
        Some(v) => v,
        None => return err("the output height and width must be known"),
    };
    let count = |o: i64, kk: i64, s: i64, pad: i64, n: i64| -> i64 {
        let start = o * s - pad;
        (start + kk).min(n) - start.max(0)
    };
    let mut factor = Vec::with_capacity((oh * ow) as usize);
    for i in 0..oh {
        let ch = count(i, k[0], strides[0], p[0], hw[0]);
        for j in 0..ow {
            let cw = count(j, k[1], strides[1], p[1], hw[1]);
            let c = (ch * cw).max(1);
            factor.push((k[0] * k[1]) as f32 / c as f32);
        }
    }
    let ty = super::super::lower::tensor_type(cx.dtype(yv)?)?;
    let tdims: Vec<i64> = perm.iter().map(|&q| yd[q]).collect();
    let pooled = cx.tensor(&format!("{name}_sum_over_k"), &tdims, ty);
    let o = opts(O::Pool2DOptions)
        .with(0, Field::I8(1))
        .with(1, Field::I32(strides[1] as i32))
        .with(2, Field::I32(strides[0] as i32))
        .with(3, Field::I32(k[1] as i32))
        .with(4, Field::I32(k[0] as i32))
        .with(5, Field::I8(0));
    cx.emit(B::AVERAGE_POOL_2D, vec![padded], vec![pooled], Some(o));
    let f = cx.const_f32(&format!("{name}_count_factor"), &[1, oh, ow, 1], &factor);
    let yt = cx.out(yv, perm)?;
    cx.emit(B::MUL, vec![pooled, f], vec![yt], Some(opts(O::MulOptions).with(0, Field::I8(act))));
    Ok(())
}

/// Output height and width of a 4-D value held in order `perm` (NHWC-held: dims 1 and 2).
fn layout_hw(perm: &[usize], yd: &[i64]) -> Option<(i64, i64)> {
    let (h, w) = (yd.get(*perm.get(1)?)?, yd.get(*perm.get(2)?)?);
    (*h >= 0 && *w >= 0).then_some((*h, *w))
}

/// GlobalAveragePool / GlobalMaxPool: a reduction over the spatial axes, keeping dims.
pub(crate) fn global(cx: &mut Lower, id: NodeId, max: bool, layout: Layout) -> LResult<()> {
    let x = cx.input(id, 0)?;
    let rank = cx.rank(x)?;
    if rank < 3 {
        return err(format!("global pool needs rank ≥ 3, got {rank}"));
    }
    // Reduce in whatever order the input is held: the spatial axes, wherever they sit.
    let held = cx.perm_of(x).unwrap_or_else(|| super::super::util::ident(rank));
    let spatial: Vec<usize> = match layout {
        Layout::ChannelsFirst => (2..rank).collect(),
        Layout::ChannelsLast => (1..rank - 1).collect(),
    };
    let xt = cx.get(x, &held)?;
    let axes: Vec<i32> = held
        .iter()
        .enumerate()
        .filter(|(_, p)| spatial.contains(p))
        .map(|(i, _)| i as i32)
        .collect();
    let y = ValueId { node: id, port: 0 };
    let yt = cx.out(y, held)?;
    let name = cx.g.node(id).name.clone();
    let at = cx.const_i32(&format!("{name}_axes"), &axes);
    let code = if max { B::REDUCE_MAX } else { B::MEAN };
    cx.emit(
        code,
        vec![xt, at],
        vec![yt],
        Some(opts(O::ReducerOptions).with(0, Field::Bool(true))),
    );
    Ok(())
}
