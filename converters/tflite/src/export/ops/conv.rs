//! Convolutions: Conv → CONV_2D (weights OHWI), DEPTHWISE_CONV_2D (weights 1HWC with
//! depth_multiplier), grouped Conv → SPLIT + one CONV_2D per group + CONCATENATION;
//! ConvTranspose → TRANSPOSE_CONV (+ STRIDED_SLICE for ONNX pads). Explicit ONNX pads become
//! SAME when they match it, else a PAD op before a VALID convolution. A following
//! Relu/Relu6 is fused.

use super::super::lower::{LResult, Lower, err, opts};
use super::super::model::{BufData, Field};
use super::super::util::{ident, to_last};
use crate::codes::{BuiltinOperator as B, BuiltinOptions as O, TensorType};
use edgeport_ir::ops::Layout;
use edgeport_ir::{DType, NodeId, ValueId};

/// 2-D window geometry shared by convolutions and pools.
pub(crate) struct Window {
    pub kernel: [i64; 2],
    pub strides: [i64; 2],
    pub dilations: [i64; 2],
    /// ONNX order: h_begin, w_begin, h_end, w_end.
    pub pads: [i64; 4],
    pub auto_pad: String,
}

/// What padding to write: SAME, VALID, or VALID after an explicit PAD.
pub(crate) enum PadPlan {
    Same,
    Valid,
    Explicit([i64; 4]),
}

fn two(v: &[i64], what: &str, default: i64) -> LResult<[i64; 2]> {
    match v {
        [] => Ok([default, default]),
        [a, b] => Ok([*a, *b]),
        _ => err(format!("{what} must have 2 values for a 2-D window, got {v:?}")),
    }
}

impl Window {
    pub(crate) fn new(kernel: [i64; 2], strides: &[i64], dilations: &[i64], pads: &[i64], auto_pad: &str) -> LResult<Window> {
        let pads = match pads {
            [] => [0; 4],
            [a, b, c, d] => [*a, *b, *c, *d],
            _ => return err(format!("pads must have 4 values for a 2-D window, got {pads:?}")),
        };
        let w = Window {
            kernel,
            strides: two(strides, "strides", 1)?,
            dilations: two(dilations, "dilations", 1)?,
            pads,
            auto_pad: auto_pad.to_string(),
        };
        if w.strides
            .iter()
            .chain(&w.dilations)
            .chain(&w.kernel)
            .any(|&x| x < 1 || x > i32::MAX as i64)
            || w.pads.iter().any(|&p| p < 0)
        {
            return err("kernel, strides and dilations must be positive and pads non-negative");
        }
        Ok(w)
    }

    /// SAME pads (begin, end) of one spatial dim for an input size.
    fn same_pads(&self, i: usize, input: i64) -> (i64, i64) {
        let s = self.strides[i];
        let eff = (self.kernel[i] - 1) * self.dilations[i] + 1;
        let out = (input + s - 1) / s;
        let total = ((out - 1) * s + eff - input).max(0);
        (total / 2, total - total / 2)
    }

    /// Chooses the padding for spatial input sizes `hw` (−1 = unknown).
    pub(crate) fn plan(&self, hw: [i64; 2]) -> LResult<PadPlan> {
        match self.auto_pad.as_str() {
            "SAME_UPPER" => return Ok(PadPlan::Same),
            "VALID" => return Ok(PadPlan::Valid),
            "SAME_LOWER" => {
                if hw.iter().any(|&d| d < 0) {
                    return err("auto_pad SAME_LOWER needs known spatial sizes");
                }
                let (a, b) = self.same_pads(0, hw[0]);
                let (c, d) = self.same_pads(1, hw[1]);
                if a == b && c == d {
                    return Ok(PadPlan::Same);
                }
                return Ok(PadPlan::Explicit([b, d, a, c]));
            }
            "NOTSET" | "" => {}
            other => return err(format!("unknown auto_pad '{other}'")),
        }
        if self.pads.iter().all(|&p| p == 0) {
            return Ok(PadPlan::Valid);
        }
        if hw.iter().all(|&d| d >= 0) {
            let (a, b) = self.same_pads(0, hw[0]);
            let (c, d) = self.same_pads(1, hw[1]);
            if self.pads == [a, c, b, d] {
                return Ok(PadPlan::Same);
            }
        }
        Ok(PadPlan::Explicit(self.pads))
    }
}

/// Emits a PAD (or PADV2 with `value`) of an NHWC tensor by ONNX-order pads; returns the padded
/// tensor and the TFLite padding code to use after it (VALID).
pub(crate) fn pad_nhwc(cx: &mut Lower, x: i32, pads: [i64; 4], value: Option<f32>, name: &str) -> LResult<i32> {
    let dims: Vec<i64> = match cx.m.tensors.get(x as usize) {
        Some(t) => match &t.shape_signature {
            Some(s) => s.iter().map(|&d| d as i64).collect(),
            None => t.shape.iter().map(|&d| d as i64).collect(),
        },
        None => return err("internal: missing tensor"),
    };
    if dims.len() != 4 {
        return err("padding needs a 4-D input");
    }
    let ty = cx.m.tensors[x as usize].ty;
    let grow = |d: i64, a: i64, b: i64| if d < 0 { -1 } else { d + a + b };
    let out_dims = [dims[0], grow(dims[1], pads[0], pads[2]), grow(dims[2], pads[1], pads[3]), dims[3]];
    let p: Vec<i32> = [0, 0, pads[0], pads[2], pads[1], pads[3], 0, 0].iter().map(|&v| v as i32).collect();
    let pt = cx.const_tensor(
        &format!("{name}_pads"),
        &[4, 2],
        TensorType::INT32,
        BufData::Owned(super::super::util::i32_bytes(&p)),
    );
    let out = cx.tensor(&format!("{name}_padded"), &out_dims, ty);
    // The padded tensor keeps the input's quantization (integer kernels).
    let q = cx.m.tensors[x as usize].quant.clone();
    cx.m.tensors[out as usize].quant = q.clone();
    match value {
        None => cx.emit(B::PAD, vec![x, pt], vec![out], Some(opts(O::PadOptions))),
        Some(v) => {
            // Integer tensors pad with their lowest value (what −FLT_MAX means to a max pool).
            let vname = format!("{name}_pad_value");
            let vt = match ty {
                TensorType::INT8 => cx.const_tensor(&vname, &[], ty, BufData::Owned(vec![0x80])),
                TensorType::UINT8 => cx.const_tensor(&vname, &[], ty, BufData::Owned(vec![0])),
                TensorType::INT16 => cx.const_tensor(&vname, &[], ty, BufData::Owned(i16::MIN.to_le_bytes().to_vec())),
                _ => cx.const_f32(&vname, &[], &[v]),
            };
            cx.m.tensors[vt as usize].quant = q;
            cx.emit(B::PADV2, vec![x, pt, vt], vec![out], Some(opts(O::PadV2Options)));
        }
    }
    Ok(out)
}

/// Input order and output order (as permutations of the IR value) for a 2-D layout op.
pub(crate) fn orders(layout: Layout) -> (Vec<usize>, [usize; 2]) {
    match layout {
        Layout::ChannelsFirst => (to_last(4), [2, 3]),
        Layout::ChannelsLast => (ident(4), [1, 2]),
    }
}

pub(crate) fn conv(cx: &mut Lower, id: NodeId, c: &edgeport_ir::ops::defs::nn::Conv) -> LResult<()> {
    let x = cx.input(id, 0)?;
    let w = cx.input(id, 1)?;
    let xd = cx.dims(x)?;
    if xd.len() != 4 {
        return err(format!("only 2-D convolutions are exported (input rank {})", xd.len()));
    }
    let wt = match cx.const_of(w) {
        Some(t) => t,
        None => return err("the weights must be a constant"),
    };
    let integer = matches!(wt.dtype, DType::I8 | DType::U8 | DType::I16);
    if wt.shape.len() != 4 || !(integer || matches!(wt.dtype, DType::F32 | DType::F16)) {
        return err(format!(
            "weights must be a 4-D float or integer constant, got {:?} {}",
            wt.shape,
            wt.dtype.name()
        ));
    }
    let (perm, sp) = orders(c.layout);
    let cin = xd[if c.layout == Layout::ChannelsFirst { 1 } else { 3 }];
    let (o, i_per_g, kh, kw) = (wt.shape[0] as i64, wt.shape[1] as i64, wt.shape[2] as i64, wt.shape[3] as i64);
    let g = c.group;
    if g < 1 || o % g != 0 || (cin >= 0 && cin != i_per_g * g) {
        return err(format!("group {g} does not fit weights {:?} and {cin} input channels", wt.shape));
    }
    let win = Window::new([kh, kw], &c.strides, &c.dilations, &c.pads, &c.auto_pad)?;
    let plan = win.plan([xd[sp[0]], xd[sp[1]]])?;
    let name = cx.g.node(id).name.clone();
    let mut xt = cx.get(x, &perm)?;
    let padding = match plan {
        PadPlan::Same => 0i8,
        PadPlan::Valid => 1,
        PadPlan::Explicit(p) => {
            xt = pad_nhwc(cx, xt, p, None, &name)?;
            1
        }
    };
    let bias = match cx.opt_input(id, 2) {
        Some(b) => cx.get_id(b)?,
        None if integer => -1,
        None => {
            let z = vec![0f32; o as usize];
            cx.const_f32(&format!("{name}_bias"), &[o], &z)
        }
    };
    let (act, yv) = cx.fuse_activation(id);
    let yt = cx.out(yv, perm)?;
    let depthwise = g > 1 && i_per_g == 1 && g == cin;
    if g == 1 || depthwise {
        let (code, wperm, options) = if depthwise {
            let o_ = opts(O::DepthwiseConv2DOptions)
                .with(0, Field::I8(padding))
                .with(1, Field::I32(win.strides[1] as i32))
                .with(2, Field::I32(win.strides[0] as i32))
                .with(3, Field::I32((o / g) as i32))
                .with(4, Field::I8(act))
                .with(5, Field::I32(win.dilations[1] as i32))
                .with(6, Field::I32(win.dilations[0] as i32));
            (B::DEPTHWISE_CONV_2D, vec![1, 2, 3, 0], o_)
        } else {
            let o_ = opts(O::Conv2DOptions)
                .with(0, Field::I8(padding))
                .with(1, Field::I32(win.strides[1] as i32))
                .with(2, Field::I32(win.strides[0] as i32))
                .with(3, Field::I8(act))
                .with(4, Field::I32(win.dilations[1] as i32))
                .with(5, Field::I32(win.dilations[0] as i32));
            (B::CONV_2D, vec![0, 2, 3, 1], o_)
        };
        let wt_ = cx.get(w, &wperm)?;
        cx.emit(code, vec![xt, wt_, bias], vec![yt], Some(options));
        return Ok(());
    }
    grouped(cx, xt, w, bias, yt, g, padding, act, &win, &name)
}

/// Grouped convolution: SPLIT along channels, one CONV_2D per group, CONCATENATION.
#[allow(clippy::too_many_arguments)]
fn grouped(cx: &mut Lower, xt: i32, w: ValueId, bias: i32, yt: i32, g: i64, padding: i8, act: i8, win: &Window, name: &str) -> LResult<()> {
    let wt = cx.const_of(w).ok_or(super::super::lower::LErr::Upstream)?;
    let raw = match wt.raw() {
        Some(r) => r.clone(),
        None => return err("weights hold no raw data"),
    };
    let elem = wt.dtype.bits() / 8;
    let (o, ipg, kh, kw) = (wt.shape[0], wt.shape[1], wt.shape[2], wt.shape[3]);
    let og = o / g as usize;
    let in_dims: Vec<i64> = cx.m.tensors[xt as usize].shape.iter().map(|&d| d as i64).collect();
    let out_dims: Vec<i64> = cx.m.tensors[yt as usize].shape.iter().map(|&d| d as i64).collect();
    let ty = cx.m.tensors[xt as usize].ty;
    let axis = cx.const_i32(&format!("{name}_split_axis"), &[3]);
    // Integer form: the split parts keep the input's parameters, each group's output gets
    // the output's (so CONCATENATION needs no rescale), weights and int32 biases their slice of
    // the per-channel scales.
    let in_q = cx.m.tensors[xt as usize].quant.clone();
    let out_q = cx.m.tensors[yt as usize].quant.clone();
    let w_q = cx.qp.get(&cx.res(w)).cloned();
    let integer = wt.dtype != DType::F32 && wt.dtype != DType::F16;
    if integer && (in_q.is_none() || out_q.is_none() || w_q.is_none()) {
        return err("grouped integer convolution without quantization parameters");
    }
    let parts: Vec<i32> = (0..g)
        .map(|k| {
            let t = cx.tensor(&format!("{name}_in{k}"), &[in_dims[0], in_dims[1], in_dims[2], ipg as i64], ty);
            if let Some(x) = cx.m.tensors.get_mut(t as usize) {
                x.quant = in_q.clone();
            }
            t
        })
        .collect();
    cx.emit(
        B::SPLIT,
        vec![axis, xt],
        parts.clone(),
        Some(opts(O::SplitOptions).with(0, Field::I32(g as i32))),
    );
    // Per-group bias: slice the bias constant's data if it is one, else zeros.
    let bias_data =
        cx.m.tensors
            .get(bias as usize)
            .map(|t| t.buffer)
            .and_then(|b| cx.m.buffers.get(b as usize).cloned().flatten());
    let per_group_bytes = og * ipg * kh * kw * elem;
    let mut outs = Vec::new();
    for (k, &part) in parts.iter().enumerate() {
        let src = match raw.slice(k * per_group_bytes, per_group_bytes) {
            Some(s) => s,
            None => return err("weights are shorter than their shape"),
        };
        let wtype = super::super::lower::tensor_type(wt.dtype)?;
        let slice_q = |q: &super::super::model::TQuant| {
            let pick = |v: &[f32]| {
                if v.len() == o {
                    v[k * og..(k + 1) * og].to_vec()
                } else {
                    v.to_vec()
                }
            };
            let zp = if q.zero_point.len() == o {
                q.zero_point[k * og..(k + 1) * og].to_vec()
            } else {
                q.zero_point.clone()
            };
            super::super::model::TQuant {
                scale: pick(&q.scale),
                zero_point: zp,
                quantized_dimension: 0,
            }
        };
        let wk = cx.const_tensor(
            &format!("{name}_w{k}"),
            &[og as i64, kh as i64, kw as i64, ipg as i64],
            wtype,
            BufData::Lazy {
                src,
                elem,
                shape: vec![og, ipg, kh, kw],
                perm: vec![0, 2, 3, 1],
                to_f16: false,
            },
        );
        let bias_q = cx.m.tensors.get(bias as usize).and_then(|t| t.quant.clone());
        let bk = match &bias_data {
            Some(d) if d.len() == o * 4 => {
                let b = d.bytes();
                let v = b[k * og * 4..(k + 1) * og * 4].to_vec();
                let bty = if integer { TensorType::INT32 } else { TensorType::FLOAT32 };
                let t = cx.const_tensor(&format!("{name}_b{k}"), &[og as i64], bty, BufData::Owned(v));
                if let (Some(q), Some(x)) = (&bias_q, cx.m.tensors.get_mut(t as usize)) {
                    x.quant = Some(slice_q(q));
                }
                t
            }
            _ if integer => -1,
            _ => cx.const_f32(&format!("{name}_b{k}"), &[og as i64], &vec![0f32; og]),
        };
        if let (Some(q), Some(x)) = (&w_q, cx.m.tensors.get_mut(wk as usize)) {
            let tq = super::super::model::TQuant {
                scale: q.scale.clone(),
                zero_point: if q.zero_point.is_empty() {
                    vec![0; q.scale.len()]
                } else {
                    q.zero_point.clone()
                },
                quantized_dimension: 0,
            };
            x.quant = Some(slice_q(&tq));
        }
        let yk = cx.tensor(&format!("{name}_out{k}"), &[out_dims[0], out_dims[1], out_dims[2], og as i64], ty);
        if let Some(x) = cx.m.tensors.get_mut(yk as usize) {
            x.quant = out_q.clone();
        }
        let o_ = opts(O::Conv2DOptions)
            .with(0, Field::I8(padding))
            .with(1, Field::I32(win.strides[1] as i32))
            .with(2, Field::I32(win.strides[0] as i32))
            .with(3, Field::I8(0))
            .with(4, Field::I32(win.dilations[1] as i32))
            .with(5, Field::I32(win.dilations[0] as i32));
        cx.emit(B::CONV_2D, vec![part, wk, bk], vec![yk], Some(o_));
        outs.push(yk);
    }
    cx.emit(
        B::CONCATENATION,
        outs,
        vec![yt],
        Some(opts(O::ConcatenationOptions).with(0, Field::I32(3)).with(1, Field::I8(act))),
    );
    Ok(())
}

pub(crate) fn conv_transpose(cx: &mut Lower, id: NodeId, c: &edgeport_ir::ops::defs::nn::ConvTranspose) -> LResult<()> {
    let x = cx.input(id, 0)?;
    let w = cx.input(id, 1)?;
    let xd = cx.dims(x)?;
    if xd.len() != 4 {
        return err(format!("only 2-D transposed convolutions are exported (input rank {})", xd.len()));
    }
    let wt = match cx.const_of(w) {
        Some(t) => t,
        None => return err("the weights must be a constant"),
    };
    let groups = usize::try_from(c.group).unwrap_or(0);
    if wt.shape.len() != 4 || groups == 0 || wt.shape[0] % groups != 0 {
        return err(format!(
            "weights must be 4-D with input channels divisible by group (got {:?}, group {})",
            wt.shape, c.group
        ));
    }
    if groups > 1 && wt.dtype != edgeport_ir::DType::F32 {
        return err("grouped transposed convolution is exported for float32 weights only");
    }
    if !c.dilations.iter().all(|&d| d == 1) {
        return err("dilated transposed convolution has no TFLite form");
    }
    if c.auto_pad != "NOTSET" && !c.auto_pad.is_empty() {
        return err(format!(
            "auto_pad {} is not exported for ConvTranspose; use explicit pads",
            c.auto_pad
        ));
    }
    let (perm, sp) = orders(c.layout);
    let (kh, kw) = (wt.shape[2] as i64, wt.shape[3] as i64);
    let cout = (wt.shape[1] * groups) as i64;
    let win = Window::new([kh, kw], &c.strides, &[], &c.pads, "NOTSET")?;
    let (ih, iw) = (xd[sp[0]], xd[sp[1]]);
    if ih < 0 || iw < 0 || xd[0] < 0 {
        return err("ConvTranspose needs known input sizes");
    }
    let op = match c.output_padding.as_slice() {
        [] => [0, 0],
        [a, b] => [*a, *b],
        _ => return err("output_padding must have 2 values"),
    };
    // Full (VALID) output, then crop the ONNX pads (and add output_padding at the end).
    let full_h = (ih - 1) * win.strides[0] + kh + op[0];
    let full_w = (iw - 1) * win.strides[1] + kw + op[1];
    let name = cx.g.node(id).name.clone();
    let xt = cx.get(x, &perm)?;
    let p = win.pads;
    let cropped = p.iter().any(|&v| v != 0);
    let (act, yv) = if cropped || groups > 1 {
        (0, ValueId { node: id, port: 0 })
    } else {
        cx.fuse_activation(id)
    };
    let topts = opts(O::TransposeConvOptions)
        .with(0, Field::I8(1))
        .with(1, Field::I32(win.strides[1] as i32))
        .with(2, Field::I32(win.strides[0] as i32))
        .with(3, Field::I8(act));
    let ty = super::super::lower::tensor_type(cx.dtype(x)?)?;
    let full = if !cropped {
        cx.out(yv, perm.clone())?
    } else {
        cx.tensor(&format!("{name}_full"), &[xd[0], full_h, full_w, cout], ty)
    };
    if groups == 1 {
        let shape = cx.const_i32(
            &format!("{name}_out_shape"),
            &[xd[0] as i32, full_h as i32, full_w as i32, cout as i32],
        );
        // ONNX IOHW → TFLite OHWI.
        let wt_ = cx.get(w, &[1, 2, 3, 0])?;
        let bias = match cx.opt_input(id, 2) {
            Some(b) => cx.get_id(b)?,
            None => cx.const_f32(&format!("{name}_bias"), &[cout], &vec![0f32; cout as usize]),
        };
        cx.emit(B::TRANSPOSE_CONV, vec![shape, wt_, xt, bias], vec![full], Some(topts));
    } else {
        grouped_transpose_conv(cx, id, (xt, full), &xd, [full_h, full_w], groups, topts)?;
    }
    if !cropped {
        return Ok(());
    }
    let yt = cx.out(yv, perm)?;
    let begin = cx.const_i32(&format!("{name}_crop_begin"), &[0, p[0] as i32, p[1] as i32, 0]);
    let end = cx.const_i32(
        &format!("{name}_crop_end"),
        &[xd[0] as i32, (full_h - p[2]) as i32, (full_w - p[3]) as i32, cout as i32],
    );
    let strides = cx.const_i32(&format!("{name}_crop_strides"), &[1, 1, 1, 1]);
    cx.emit(
        B::STRIDED_SLICE,
        vec![full, begin, end, strides],
        vec![yt],
        Some(opts(O::StridedSliceOptions)),
    );
    Ok(())
}

/// A grouped transposed convolution: SPLIT the (channels-last) input into `groups`, one
/// TRANSPOSE_CONV per group with its slice of the weights (IOHW → OHWI) and bias, CONCATENATION
/// of the results into `out`.
fn grouped_transpose_conv(
    cx: &mut Lower,
    id: NodeId,
    (xt, out): (i32, i32),
    xd: &[i64],
    [full_h, full_w]: [i64; 2],
    groups: usize,
    topts: super::super::model::Options,
) -> LResult<()> {
    let w = cx.input(id, 1)?;
    let wt = cx
        .const_of(w)
        .ok_or_else(|| super::super::lower::LErr::Msg("the weights must be a constant".into()))?;
    let (cin, cog, kh, kw) = (wt.shape[0], wt.shape[1], wt.shape[2], wt.shape[3]);
    let wv = wt
        .to_f64_vec()
        .ok_or_else(|| super::super::lower::LErr::Msg("unreadable weights".into()))?;
    let bias: Option<Vec<f64>> = match cx.opt_input(id, 2) {
        Some(b) => Some(
            cx.const_f64(b)
                .ok_or_else(|| super::super::lower::LErr::Msg("a grouped transposed convolution needs a constant bias".into()))?,
        ),
        None => None,
    };
    let cig = cin / groups;
    let name = cx.g.node(id).name.clone();
    let xdims: Vec<i64> = cx.m.tensors[xt as usize].shape.iter().map(|&d| d as i64).collect();
    let parts: Vec<i32> = (0..groups)
        .map(|g| {
            cx.tensor(
                &format!("{name}_in{g}"),
                &[xdims[0], xdims[1], xdims[2], cig as i64],
                TensorType::FLOAT32,
            )
        })
        .collect();
    let axis = cx.const_i32(&format!("{name}_split_axis"), &[3]);
    cx.emit(
        B::SPLIT,
        vec![axis, xt],
        parts.clone(),
        Some(opts(O::SplitOptions).with(0, Field::I32(groups as i32))),
    );
    let shape = cx.const_i32(
        &format!("{name}_group_out_shape"),
        &[xd[0] as i32, full_h as i32, full_w as i32, cog as i32],
    );
    let mut outs = Vec::with_capacity(groups);
    for (g, part) in parts.into_iter().enumerate() {
        // OHWI slice of group g: w[g·cig + i, o, h, w].
        let mut ohwi = Vec::with_capacity(cog * kh * kw * cig);
        for o in 0..cog {
            for y in 0..kh {
                for x in 0..kw {
                    for i in 0..cig {
                        ohwi.push(wv[(((g * cig + i) * cog + o) * kh + y) * kw + x] as f32);
                    }
                }
            }
        }
        let wg = cx.const_f32(&format!("{name}_w{g}"), &[cog as i64, kh as i64, kw as i64, cig as i64], &ohwi);
        let bg: Vec<f32> = match &bias {
            Some(b) => b[g * cog..(g + 1) * cog].iter().map(|&v| v as f32).collect(),
            None => vec![0.0; cog],
        };
        let bt = cx.const_f32(&format!("{name}_b{g}"), &[cog as i64], &bg);
        let yg = cx.tensor(&format!("{name}_out{g}"), &[xd[0], full_h, full_w, cog as i64], TensorType::FLOAT32);
        cx.emit(B::TRANSPOSE_CONV, vec![shape, wg, part, bt], vec![yg], Some(topts.clone()));
        outs.push(yg);
    }
    cx.emit(
        B::CONCATENATION,
        outs,
        vec![out],
        Some(opts(O::ConcatenationOptions).with(0, Field::I32(3))),
    );
    Ok(())
}
