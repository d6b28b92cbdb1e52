//! MediaPipe custom operators whose arithmetic standard IR ops express exactly, lowered at import
//! so the evaluator, the ONNX exporter and the TFLite exporter need nothing special.
//!
//! `Convolution2DTransposeBias` (selfie and hair segmentation): TFLite's transpose convolution
//! plus a bias. Inputs `x [N,H,W,Cin]`, weights OHWI `[Cout,kh,kw,Cin]`, bias `[Cout]`; the
//! custom options are the C struct `{int32 padding (1 SAME, 2 VALID); int32 stride_w; int32
//! stride_h}`. With SAME the total padding per axis is `max(0, k − (in − 1) mod s − 1)`, the
//! first half (rounded down) before; the output size is `s·(in − 1) + k − total`. It becomes
//! `ConvTranspose` (ChannelsLast, weights IOHW, bias) with those pads.
//!
//! The face-attention ops `Landmarks2TransformMatrix`, `TransformTensorBilinear` and
//! `TransformLandmarks` are lowered by `mediapipe_attention.rs`; `MaxPoolingWithArgmax2D` (indices
//! as window-local floats `y·kw + x + 0.1`) and `MaxUnpooling2D` by `mediapipe_pooling.rs`, for
//! non-overlapping windows. Other custom ops are kept as `Op::Custom` by `custom.rs`.

use super::mediapipe_attention as attention;
use super::mediapipe_pooling as pooling;
use super::{Fail, R};
use crate::codes::BuiltinOperator as B;
use crate::import::cx::OpCx;
use crate::import::irops::{ConvTranspose, Layout};
use edgeport_ir::{Graph, Op};

pub fn convert(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> Option<R> {
    if cx.code.builtin != B::CUSTOM {
        return None;
    }
    Some(match cx.code.custom.as_deref() {
        Some("Convolution2DTransposeBias") => transpose_conv_bias(cx, g),
        Some("Landmarks2TransformMatrix") => attention::landmarks_to_matrix(cx, g),
        Some("TransformTensorBilinear") => attention::transform_tensor_bilinear(cx, g),
        Some("TransformLandmarks") => attention::transform_landmarks(cx, g),
        Some("MaxPoolingWithArgmax2D") => pooling::max_pool_argmax(cx, g),
        Some("MaxUnpooling2D") => pooling::max_unpooling(cx, g),
        _ => return None,
    })
}

/// The custom options as little-endian int32 words (the options are a plain C struct).
pub(super) fn words(cx: &OpCx<'_, '_, '_, '_>, n: usize) -> Result<Vec<i32>, String> {
    let r = cx.op.custom_options.ok_or("custom options are missing")?;
    let b = cx
        .env
        .data
        .slice(r.pos, r.len)
        .ok_or("custom options are past the end of the file")?;
    let bytes: &[u8] = &b;
    if bytes.len() < 4 * n {
        return Err(format!("custom options hold {} bytes, expected at least {}", bytes.len(), 4 * n));
    }
    Ok(bytes
        .chunks_exact(4)
        .take(n)
        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// SAME (1) or VALID (2) in the C enum `TfLitePadding`.
fn same_padding(p: i32) -> Result<bool, String> {
    match p {
        1 => Ok(true),
        2 => Ok(false),
        p => Err(format!("padding {p} in custom options is neither SAME (1) nor VALID (2)")),
    }
}

fn stride(v: i32, what: &str) -> Result<i64, String> {
    if (1..=1 << 16).contains(&v) {
        Ok(i64::from(v))
    } else {
        Err(format!("{what} {v} is out of range"))
    }
}

fn transpose_conv_bias(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let w = words(cx, 3)?;
    let same = same_padding(w[0])?;
    let (sw, sh) = (stride(w[1], "stride_w")?, stride(w[2], "stride_h")?);
    if cx.n_inputs() != 3 {
        return Err(Fail::Issue(format!(
            "Convolution2DTransposeBias takes 3 inputs, has {}",
            cx.n_inputs()
        )));
    }
    let ws = cx.in_shape(1)?;
    let xs = cx.in_shape(0)?;
    if ws.len() != 4 || xs.len() != 4 {
        return Err("Convolution2DTransposeBias needs rank-4 input and weights".into());
    }
    let mut pads = vec![0i64; 4];
    for (a, (d, s)) in [(1usize, sh), (2usize, sw)].into_iter().enumerate() {
        let (inp, k) = (xs[d] as i64, ws[d] as i64);
        if inp < 1 || k < 1 {
            return Err(Fail::Issue(format!("empty input or kernel on axis {d}")));
        }
        let total = if same { (k - (inp - 1) % s - 1).max(0) } else { 0 };
        pads[a] = total / 2;
        pads[a + 2] = total - total / 2;
    }
    let x = cx.input(g, 0)?;
    let wt = cx.weight(g, 1, &[3, 0, 1, 2])?;
    let b = cx.input(g, 2)?;
    let op = Op::ConvTranspose(ConvTranspose {
        kernel_shape: vec![ws[1] as i64, ws[2] as i64],
        pads,
        strides: vec![sh, sw],
        layout: Layout::ChannelsLast,
        ..Default::default()
    });
    let y = cx.node1(g, "conv_transpose_bias", op, &[Some(x), Some(wt), Some(b)])?;
    cx.output(g, 0, y)?;
    Ok(())
}
