//! CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV → Conv / ConvTranspose with `ChannelsLast`
//! layout; weights permuted into ONNX order (OHWI → OIHW, depthwise [1,H,W,C·m] → [C·m,1,H,W]
//! with group = C, transpose-conv OHWI → IOHW).

use super::{Fail, R, auto_pad};
use crate::codes::BuiltinOperator as B;
use crate::import::cx::OpCx;
use crate::import::irops::{Conv, ConvTranspose, Layout};
use edgeport_ir::Graph;
use edgeport_ir::Op;

pub fn convert(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> Option<R> {
    Some(match cx.code.builtin {
        B::CONV_2D => conv2d(cx, g, false),
        B::DEPTHWISE_CONV_2D => conv2d(cx, g, true),
        B::TRANSPOSE_CONV => transpose_conv(cx, g),
        _ => return None,
    })
}

fn pos(v: i32) -> i64 {
    i64::from(v.max(1))
}

fn conv2d(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph, depthwise: bool) -> R {
    let o = cx.opts();
    let padding = o.i8(0, 0)?;
    let (sw, sh) = (o.i32(1, 1)?, o.i32(2, 1)?);
    let (mult, act, dw, dh) = if depthwise {
        (o.i32(3, 1)?, o.i8(4, 0)?, o.i32(5, 1)?, o.i32(6, 1)?)
    } else {
        (1, o.i8(3, 0)?, o.i32(4, 1)?, o.i32(5, 1)?)
    };
    let ws = cx.in_shape(1)?;
    if ws.len() != 4 {
        return Err(Fail::Issue(format!("filter has rank {}, expected 4", ws.len())));
    }
    let in_ch = cx.in_shape(0).ok().filter(|s| s.len() == 4).map(|s| s[3]);
    let group = if depthwise {
        match in_ch {
            Some(c) if c > 0 => c as i64,
            _ => (ws[3] as i64) / i64::from(mult.max(1)),
        }
    } else {
        match in_ch {
            Some(c) if ws[3] > 0 && c % ws[3] == 0 => (c / ws[3]) as i64,
            _ => 1,
        }
    };
    let perm: &[usize] = if depthwise { &[3, 0, 1, 2] } else { &[0, 3, 1, 2] };
    let x = cx.input(g, 0)?;
    let w = cx.weight(g, 1, perm)?;
    let b = cx.opt_input(g, 2)?;
    let op = Op::Conv(Conv {
        auto_pad: auto_pad(padding)?,
        dilations: vec![pos(dh), pos(dw)],
        group,
        kernel_shape: vec![ws[1] as i64, ws[2] as i64],
        pads: vec![],
        strides: vec![pos(sh), pos(sw)],
        layout: Layout::ChannelsLast,
    });
    let y = cx.node1(g, "conv", op, &[Some(x), Some(w), b])?;
    cx.output_act(g, 0, y, act)?;
    Ok(())
}

fn transpose_conv(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let o = cx.opts();
    let padding = o.i8(0, 0)?;
    let (sw, sh) = (pos(o.i32(1, 1)?), pos(o.i32(2, 1)?));
    let act = o.i8(3, 0)?;
    let out_shape = cx.ints(0)?;
    let ws = cx.in_shape(1)?;
    let xs = cx.in_shape(2)?;
    if ws.len() != 4 || xs.len() != 4 || out_shape.len() != 4 {
        return Err("TRANSPOSE_CONV needs rank-4 output shape, filter and input".into());
    }
    let mut pads_begin = Vec::new();
    let mut pads_end = Vec::new();
    let mut out_pad = Vec::new();
    for (d, s) in [(1usize, sh), (2usize, sw)] {
        let (inp, k, out) = (xs[d] as i64, ws[d] as i64, out_shape[d]);
        let needed = (inp - 1) * s + k;
        let total = (needed - out).max(0);
        let before = if padding == 0 { total / 2 } else { 0 };
        let after = needed - before - out;
        if after < 0 {
            pads_end.push(0);
            out_pad.push(-after);
        } else {
            pads_end.push(after);
            out_pad.push(0);
        }
        pads_begin.push(before);
    }
    let x = cx.input(g, 2)?;
    let w = cx.weight(g, 1, &[3, 0, 1, 2])?;
    let b = if cx.n_inputs() > 3 { cx.opt_input(g, 3)? } else { None };
    let mut pads = pads_begin;
    pads.extend(pads_end);
    let op = Op::ConvTranspose(ConvTranspose {
        kernel_shape: vec![ws[1] as i64, ws[2] as i64],
        output_padding: if out_pad.iter().any(|&p| p != 0) { out_pad } else { vec![] },
        pads,
        strides: vec![sh, sw],
        layout: Layout::ChannelsLast,
        ..Default::default()
    });
    let y = cx.node1(g, "conv_transpose", op, &[Some(x), Some(w), b])?;
    cx.output_act(g, 0, y, act)?;
    Ok(())
}
