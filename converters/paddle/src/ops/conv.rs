//! Convolutions: `conv2d`, `depthwise_conv2d`, `conv2d_transpose`,
//! `depthwise_conv2d_transpose`. Filters are OIHW (conv) / IOHW (transpose) as in ONNX.

use super::{Rule, auto_pad, check_nchw, onnx_pads_2d};
use crate::build::{Attrs, Ctx, RuleResult};
use crate::program::OpDesc;
use edgeport_ir::Op;
use edgeport_ir::ops::defs::nn::{Conv, ConvTranspose};

pub const RULES: &[(&str, Rule)] = &[
    ("conv2d", conv),
    ("depthwise_conv2d", conv),
    ("conv2d_transpose", conv_transpose),
    ("depthwise_conv2d_transpose", conv_transpose),
];

fn or_ones(v: Vec<i64>) -> Vec<i64> {
    if v.is_empty() { vec![1, 1] } else { v }
}

fn conv(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    check_nchw(op)?;
    let x = cx.input(op, "Input")?;
    let w = cx.input(op, "Filter")?;
    let b = cx.opt_input(op, "Bias")?;
    let mut c = Conv {
        dilations: or_ones(op.ints("dilations")),
        group: op.int("groups", 1).max(1),
        strides: or_ones(op.ints("strides")),
        ..Default::default()
    };
    match auto_pad(op)? {
        Some(a) => c.auto_pad = a.to_string(),
        None => c.pads = onnx_pads_2d(&op.ints("paddings"))?,
    }
    if let Some(k) = cx.input_dims(op, "Filter").filter(|d| d.len() == 4 && d[2] > 0 && d[3] > 0) {
        c.kernel_shape = k[2..].to_vec();
    }
    cx.emit(op, "Output", Op::Conv(c), &[Some(x), Some(w), b])
}

fn conv_transpose(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    check_nchw(op)?;
    let x = cx.input(op, "Input")?;
    let w = cx.input(op, "Filter")?;
    let b = cx.opt_input(op, "Bias")?;
    let mut output_size = op.ints("output_size");
    if let Some(v) = cx.const_ints(op, "OutputSizeTensor")? {
        output_size = v;
    }
    let mut c = ConvTranspose {
        dilations: or_ones(op.ints("dilations")),
        group: op.int("groups", 1).max(1),
        strides: or_ones(op.ints("strides")),
        output_padding: op.ints("output_padding"),
        ..Default::default()
    };
    match auto_pad(op)? {
        Some(a) => c.auto_pad = a.to_string(),
        None => c.pads = onnx_pads_2d(&op.ints("paddings"))?,
    }
    if let Some(k) = cx.input_dims(op, "Filter").filter(|d| d.len() == 4 && d[2] > 0 && d[3] > 0) {
        c.kernel_shape = k[2..].to_vec();
    }
    if !output_size.is_empty() {
        // Paddle's output_size picks one of the sizes the stride allows, with the padding
        // split its own way; not mapped yet.
        return Err(format!(
            "conv2d_transpose with an explicit output_size {output_size:?} is not supported"
        ));
    }
    cx.emit(op, "Output", Op::ConvTranspose(c), &[Some(x), Some(w), b])
}
