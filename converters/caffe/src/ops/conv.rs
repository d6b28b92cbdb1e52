//! Convolution and Deconvolution (2-D, channel axis 1): `kernel/stride/pad/dilation` in their
//! repeated or `_h`/`_w` forms, `group`, `bias_term`. Weights are `[O, C/g, kh, kw]` for
//! convolution and `[C, O/g, kh, kw]` for deconvolution — ONNX's orders already.

use super::{Layer, hw};
use crate::build::{Ctx, Weights, int, ints};
use edgeport_ir::ValueId;

pub fn conv(cx: &mut Ctx, l: &Layer<'_>) -> Result<Vec<ValueId>, String> {
    let p = l.p.convolution_param.clone().ok_or("missing convolution_param")?;
    if p.axis() != 1 {
        return Err(format!("channel axis {} is not supported (only 1)", p.axis()));
    }
    let x = l.input(0)?;
    let shape = cx.shape(x)?;
    if shape.len() != 4 {
        return Err(format!("input of shape {shape:?}: only 4-D (N, C, H, W) inputs are supported"));
    }
    let c = shape[1] as i64;
    let (kh, kw) = hw(&p.kernel_size, p.kernel_h, p.kernel_w, 0, "kernel")?;
    if kh <= 0 || kw <= 0 {
        return Err("kernel size is missing or zero".into());
    }
    let (sh, sw) = hw(&p.stride, p.stride_h, p.stride_w, 1, "stride")?;
    let (ph, pw) = if p.pad_h.is_some() || p.pad_w.is_some() {
        (p.pad_h().into(), p.pad_w().into())
    } else {
        hw(&p.pad, None, None, 0, "pad")?
    };
    let (dh, dw) = hw(&p.dilation, None, None, 1, "dilation")?;
    if sh <= 0 || sw <= 0 || dh <= 0 || dw <= 0 {
        return Err("stride and dilation must be positive".into());
    }
    let o = i64::from(p.num_output());
    let mut group = i64::from(p.group());
    // Forks' depthwise layer types: one group per channel.
    if l.ty.contains("Depthwise") {
        group = c;
    }
    if o <= 0 || group <= 0 || c % group != 0 || o % group != 0 {
        return Err(format!("num_output {o} and group {group} do not divide the {c} input channels"));
    }
    let deconv = l.ty == "Deconvolution";
    let wshape = if deconv { [c, o / group, kh, kw] } else { [o, c / group, kh, kw] };
    let wshape: Vec<usize> = wshape.iter().map(|&d| d as usize).collect();
    let w = cx.weight("weight", l.blob(0)?, wshape)?;
    let b = if p.bias_term() {
        Some(cx.weight("bias", l.blob(1)?, vec![o as usize])?)
    } else {
        None
    };
    let attrs = vec![
        ints("kernel_shape", &[kh, kw]),
        ints("strides", &[sh, sw]),
        ints("pads", &[ph, pw, ph, pw]),
        ints("dilations", &[dh, dw]),
        int("group", group),
    ];
    let op = if deconv { "ConvTranspose" } else { "Conv" };
    let y = cx.op_n("", op, attrs, &[Some(x), Some(w), b], 1)?;
    Ok(y)
}
