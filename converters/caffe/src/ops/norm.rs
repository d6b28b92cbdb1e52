//! Normalization layers: BatchNorm (statistics stored multiplied by the moving-average factor in
//! blob 2; no affine part), Scale and Bias (learned blobs or a second bottom, over `axis` …
//! `axis + num_axes`), LRN (across channels = ONNX LRN; within channel as a decomposition) and
//! SSD's Normalize (L2 over channels or over C·H·W, times a per-channel or shared scale).

use super::Layer;
use crate::build::{Ctx, Weights, axis, float, int, ints};
use crate::decode::Blob;
use edgeport_ir::ValueId;
use edgeport_proto::caffe::lrn_parameter::NormRegion;

fn floats(b: &Blob) -> Vec<f32> {
    b.data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

pub fn batch_norm(cx: &mut Ctx, l: &Layer<'_>) -> Result<Vec<ValueId>, String> {
    let x = l.input(0)?;
    let shape = cx.shape(x)?;
    let c = *shape.get(1).ok_or("input needs a channel axis")?;
    let p = l.p.batch_norm_param.unwrap_or_default();
    let (m, v) = (l.blob(0)?, l.blob(1)?);
    if m.numel() != c || v.numel() != c {
        return Err(format!(
            "mean/variance blobs have {}/{} values for {c} channels",
            m.numel(),
            v.numel()
        ));
    }
    // Blob 2 holds the moving-average normalizer s; the statistics are mean·s and var·s.
    let factor = match l.blobs.get(2) {
        Some(s) => {
            let s = floats(s);
            let s0 = *s.first().ok_or("moving-average factor blob is empty")?;
            if s0 == 0.0 { 0.0 } else { 1.0 / s0 }
        }
        None => 1.0,
    };
    let mean: Vec<f32> = floats(m).iter().map(|v| v * factor).collect();
    let var: Vec<f32> = floats(v).iter().map(|v| v * factor).collect();
    let mean = cx.f32s("mean", vec![c], &mean)?;
    let var = cx.f32s("var", vec![c], &var)?;
    let one = cx.f32s("gamma", vec![c], &vec![1.0; c])?;
    let zero = cx.f32s("beta", vec![c], &vec![0.0; c])?;
    let eps = p.eps();
    cx.op_n(
        "",
        "BatchNormalization",
        vec![float("epsilon", eps)],
        &[Some(x), Some(one), Some(zero), Some(mean), Some(var)],
        1,
    )
}

/// The broadcast shape of a parameter covering `x`'s axes `ax .. ax + n`.
fn param_shape(shape: &[usize], ax: usize, n: usize) -> Result<Vec<usize>, String> {
    let end = ax
        .checked_add(n)
        .filter(|&e| e <= shape.len())
        .ok_or("parameter axes run past the input's rank")?;
    let mut s: Vec<usize> = shape[ax..end].to_vec();
    s.extend(std::iter::repeat_n(1, shape.len() - end));
    if s.is_empty() {
        s.push(1);
    }
    Ok(s)
}

/// Shared by Scale and Bias: the multiplier/addend value, from a second bottom or blob
/// `blob`, and the number of input axes it covers.
fn operand(cx: &mut Ctx, l: &Layer<'_>, ax: i64, num_axes: i64, blob: usize, what: &str) -> Result<(ValueId, usize), String> {
    let x = l.input(0)?;
    let shape = cx.shape(x)?;
    let ax = axis(ax, shape.len())?;
    if let Some(&y) = l.ins.get(1) {
        let ys = cx.shape(y)?;
        let s = param_shape(&shape, ax, ys.len())?;
        let sv: Vec<i64> = s.iter().map(|&d| d as i64).collect();
        let sc = cx.ints(&format!("{what}_shape"), &sv)?;
        return Ok((cx.op(&format!("{what}_reshaped"), "Reshape", vec![], &[y, sc])?, ys.len()));
    }
    let n = if num_axes < 0 { shape.len() - ax } else { num_axes as usize };
    let s = param_shape(&shape, ax, n)?;
    Ok((cx.weight(what, l.blob(blob)?, s)?, n))
}

pub fn scale(cx: &mut Ctx, l: &Layer<'_>) -> Result<Vec<ValueId>, String> {
    let x = l.input(0)?;
    let p = l.p.scale_param.unwrap_or_default();
    let (s, n) = operand(cx, l, p.axis().into(), p.num_axes().into(), 0, "scale")?;
    if !p.bias_term() {
        return Ok(vec![cx.op("", "Mul", vec![], &[x, s])?]);
    }
    let y = cx.op("mul", "Mul", vec![], &[x, s])?;
    let shape = cx.shape(x)?;
    let ax = axis(p.axis().into(), shape.len())?;
    let bias_shape = param_shape(&shape, ax, n)?;
    // The bias is the blob after the scale's (blob 0 when the scale comes from a bottom).
    let bi = if l.ins.len() > 1 { 0 } else { 1 };
    let b = cx.weight("bias", l.blob(bi)?, bias_shape)?;
    Ok(vec![cx.op("", "Add", vec![], &[y, b])?])
}

pub fn bias(cx: &mut Ctx, l: &Layer<'_>) -> Result<Vec<ValueId>, String> {
    let x = l.input(0)?;
    let p = l.p.bias_param.unwrap_or_default();
    let (b, _) = operand(cx, l, p.axis().into(), p.num_axes().into(), 0, "bias")?;
    Ok(vec![cx.op("", "Add", vec![], &[x, b])?])
}

pub fn lrn(cx: &mut Ctx, l: &Layer<'_>) -> Result<Vec<ValueId>, String> {
    let x = l.input(0)?;
    let p = l.p.lrn_param.unwrap_or_default();
    let size = i64::from(p.local_size());
    if size <= 0 || size % 2 == 0 {
        return Err(format!("local_size {size} must be odd and positive"));
    }
    if p.norm_region() == NormRegion::AcrossChannels {
        let attrs = vec![
            int("size", size),
            float("alpha", p.alpha()),
            float("beta", p.beta()),
            float("bias", p.k()),
        ];
        return Ok(vec![cx.op("", "LRN", attrs, &[x])?]);
    }
    // WITHIN_CHANNEL: x / (1 + alpha/size² · Σ_window x²)^beta, the window size×size, zero padded.
    let pad = (size - 1) / 2;
    let sq = cx.op("sq", "Mul", vec![], &[x, x])?;
    let attrs = vec![
        ints("kernel_shape", &[size, size]),
        ints("pads", &[pad, pad, pad, pad]),
        int("count_include_pad", 1),
    ];
    let mean = cx.op("avg", "AveragePool", attrs, &[sq])?;
    let a = cx.f32s("alpha", vec![], &[p.alpha()])?;
    let scaled = cx.op("scaled", "Mul", vec![], &[mean, a])?;
    let one = cx.f32s("one", vec![], &[1.0])?;
    let base = cx.op("base", "Add", vec![], &[scaled, one])?;
    let beta = cx.f32s("beta", vec![], &[p.beta()])?;
    let den = cx.op("den", "Pow", vec![], &[base, beta])?;
    Ok(vec![cx.op("", "Div", vec![], &[x, den])?])
}

pub fn normalize(cx: &mut Ctx, l: &Layer<'_>) -> Result<Vec<ValueId>, String> {
    let x = l.input(0)?;
    let shape = cx.shape(x)?;
    if shape.len() < 2 {
        return Err(format!("input of shape {shape:?} has no channel axis"));
    }
    let p = l.p.norm_param.unwrap_or_default();
    let axes: Vec<i64> = if p.across_spatial() {
        (1..shape.len() as i64).collect()
    } else {
        vec![1]
    };
    let sq = cx.op("sq", "Mul", vec![], &[x, x])?;
    let ax = cx.ints("axes", &axes)?;
    let sum = cx.op("sum", "ReduceSum", vec![int("keepdims", 1)], &[sq, ax])?;
    let eps = cx.f32s("eps", vec![], &[p.eps()])?;
    let sum = cx.op("sum_eps", "Add", vec![], &[sum, eps])?;
    let norm = cx.op("norm", "Sqrt", vec![], &[sum])?;
    let y = cx.op("normalized", "Div", vec![], &[x, norm])?;
    let sshape = if p.channel_shared() { vec![1] } else { param_shape(&shape, 1, 1)? };
    let s = cx.weight("scale", l.blob(0)?, sshape)?;
    Ok(vec![cx.op("", "Mul", vec![], &[y, s])?])
}
