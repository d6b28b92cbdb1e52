//! Convolutions: `conv1d/2d/3d` (higher-level ATen, `padding` as ints or "same"/"valid"),
//! `convolution` (Core ATen, plain and transposed) and `conv_transpose1d/2d/3d`. Weights stay in
//! torch's order, which is ONNX's (OIHW; IOHW for transposed).

use super::{Out, Rule, one};
use crate::export_program::ctx::{Ctx, N, R, ai, ais, astr};
use edgeport_ir::AttrValue;

pub fn rule(op: &str) -> Option<Rule> {
    Some(match op {
        "conv1d" | "conv2d" | "conv3d" => conv_nd,
        "convolution" | "_convolution" => convolution,
        "conv_transpose1d" | "conv_transpose2d" | "conv_transpose3d" => conv_transpose,
        _ => return None,
    })
}

fn spatial(cx: &Ctx, n: &N) -> R<usize> {
    let r = cx.rank(n, "weight")?;
    r.checked_sub(2)
        .filter(|&s| s >= 1)
        .ok_or_else(|| format!("weight of rank {r} is not a convolution weight"))
}

struct ConvArgs {
    transposed: bool,
    stride: Vec<i64>,
    pads: Option<Vec<i64>>,
    auto_pad: Option<&'static str>,
    dilation: Vec<i64>,
    groups: i64,
    output_padding: Vec<i64>,
}

fn emit(cx: &mut Ctx, n: &N, a: ConvArgs) -> R<Out> {
    let (x, _) = cx.tensor(n, "input")?;
    let (w, wm) = cx.tensor(n, "weight")?;
    let b = cx.opt_tensor(n, "bias")?;
    let kernel: Vec<i64> = wm.known().ok_or("convolution weight with symbolic shape")?[2..].to_vec();
    let mut attrs: Vec<(&str, AttrValue)> = vec![
        ("strides", ais(&a.stride)),
        ("dilations", ais(&a.dilation)),
        ("group", ai(a.groups)),
        ("kernel_shape", ais(&kernel)),
    ];
    if let Some(p) = &a.pads {
        attrs.push(("pads", ais(p)));
    }
    if let Some(ap) = a.auto_pad {
        attrs.push(("auto_pad", astr(ap)));
    }
    let kind = if a.transposed {
        if a.output_padding.iter().any(|&p| p != 0) {
            attrs.push(("output_padding", ais(&a.output_padding)));
        }
        "ConvTranspose"
    } else {
        "Conv"
    };
    let out = n.out(0);
    let v = cx.ops(kind, attrs, &[Some(x), Some(w), b], &[&out])?;
    one(v[0])
}

fn sym_pads(p: &[i64]) -> Vec<i64> {
    let mut v = p.to_vec();
    v.extend_from_slice(p);
    v
}

fn conv_nd(cx: &mut Ctx, n: &N) -> R<Out> {
    let s = spatial(cx, n)?;
    let (pads, auto_pad) = match n.get("padding") {
        Some(crate::export_program::schema::Arg::Str(p)) => match p.as_str() {
            "same" => (None, Some("SAME_UPPER")),
            "valid" => (Some(vec![0; 2 * s]), None),
            o => return Err(format!("padding mode '{o}' is not supported")),
        },
        _ => (Some(sym_pads(&n.ints("padding", &[0], s)?)), None),
    };
    let a = ConvArgs {
        transposed: false,
        stride: n.ints("stride", &[1], s)?,
        pads,
        auto_pad,
        dilation: n.ints("dilation", &[1], s)?,
        groups: n.int("groups", 1)?,
        output_padding: vec![],
    };
    emit(cx, n, a)
}

fn convolution(cx: &mut Ctx, n: &N) -> R<Out> {
    let s = spatial(cx, n)?;
    let a = ConvArgs {
        transposed: n.bool("transposed", false)?,
        stride: n.ints("stride", &[1], s)?,
        pads: Some(sym_pads(&n.ints("padding", &[0], s)?)),
        auto_pad: None,
        dilation: n.ints("dilation", &[1], s)?,
        groups: n.int("groups", 1)?,
        output_padding: n.ints("output_padding", &[0], s)?,
    };
    emit(cx, n, a)
}

fn conv_transpose(cx: &mut Ctx, n: &N) -> R<Out> {
    let s = spatial(cx, n)?;
    let a = ConvArgs {
        transposed: true,
        stride: n.ints("stride", &[1], s)?,
        pads: Some(sym_pads(&n.ints("padding", &[0], s)?)),
        auto_pad: None,
        dilation: n.ints("dilation", &[1], s)?,
        groups: n.int("groups", 1)?,
        output_padding: n.ints("output_padding", &[0], s)?,
    };
    emit(cx, n, a)
}
