//! MediaPipe's `MaxPoolingWithArgmax2D` and `MaxUnpooling2D` custom operators, lowered at import
//! into standard IR ops (Slice/Pad, Reshape, Transpose, ReduceMax, ArgMax, Cast, Equal, Where) for
//! non-overlapping windows (stride = filter size), the case encoder–decoder segmentation nets use.
//!
//! Both take the C struct `TfLitePoolParams` as custom options: int32 words `padding` (1 SAME,
//! 2 VALID), `stride_width`, `stride_height`, `filter_width`, `filter_height`, `activation` (0 none,
//! 1 ReLU, 2 ReLU_N1_TO_1, 3 ReLU6), then the runtime's computed padding (ignored).
//!
//! `MaxPoolingWithArgmax2D`: input `[N, H, W, C]`, outputs the window maxima (then the
//! activation clamp) and, as float32, the window-local position of the first maximum in row-major
//! window order, `y·filter_w + x + 0.1`. Output size as TFLite pooling (SAME: ⌈in/s⌉, VALID:
//! ⌊(in − k + s)/s⌋); the window origin is `out·s − pad`, pad = ⌊max(0, (out − 1)·s + k − in)/2⌋;
//! cells outside the input are skipped (here: padded with the lowest float, which never wins a
//! strict comparison against a real value).
//!
//! `MaxUnpooling2D`: inputs values and indices `[N, H, W, C]`, output `[N, H·kh, W·kw, C]`, zero
//! except that each value is written at row `y·s + ⌊idx⌋ / kw`, column `x·s + ⌊idx⌋ mod kw` of its
//! window (the index truncated to an integer). An index outside `0..kh·kw` writes nothing here
//! (MediaPipe would write outside the window).
//!
//! Overlapping or gapped windows (stride ≠ filter) and other activations are import errors naming
//! the op and the value.

use super::mediapipe::words;
use super::mediapipe_attention::B;
use super::{Fail, R};
use crate::import::cx::OpCx;
use crate::import::irops::{ArgMax, Cast, Clip, Equal, Floor, Pad, ReduceMax, Transpose, Unsqueeze, Where};
use edgeport_ir::{DType, Graph, Op, ValueId};

/// Parsed pooling parameters: filter (kh, kw), SAME padding, activation clamp.
struct Pool {
    kh: usize,
    kw: usize,
    same: bool,
    clamp: Option<(f32, f32)>,
}

fn params(cx: &OpCx<'_, '_, '_, '_>, op: &str) -> Result<Pool, String> {
    let w = words(cx, 6).map_err(|e| format!("{op}: {e}"))?;
    let same = match w[0] {
        1 => true,
        2 => false,
        p => return Err(format!("{op}: padding {p} is neither SAME (1) nor VALID (2)")),
    };
    let (sw, sh, fw, fh) = (w[1], w[2], w[3], w[4]);
    for (name, v) in [
        ("stride_width", sw),
        ("stride_height", sh),
        ("filter_width", fw),
        ("filter_height", fh),
    ] {
        if !(1..=1 << 12).contains(&v) {
            return Err(format!("{op}: {name} {v} is out of range"));
        }
    }
    if sw != fw || sh != fh {
        return Err(format!(
            "{op}: stride {sh}×{sw} differs from filter {fh}×{fw} (only non-overlapping windows are supported)"
        ));
    }
    let clamp = match w[5] {
        0 => None,
        1 => Some((0.0, f32::MAX)),
        2 => Some((-1.0, 1.0)),
        3 => Some((0.0, 6.0)),
        a => return Err(format!("{op}: fused activation {a} is not supported")),
    };
    Ok(Pool {
        kh: fh as usize,
        kw: fw as usize,
        same,
        clamp,
    })
}

fn nhwc(cx: &OpCx<'_, '_, '_, '_>, op: &str, i: usize) -> Result<[usize; 4], String> {
    let s = cx.in_shape(i).map_err(|e| format!("{op}: input {i}: {e}"))?;
    match s[..] {
        [n, h, w, c] if n > 0 && h > 0 && w > 0 && c > 0 => Ok([n, h, w, c]),
        _ => Err(format!(
            "{op}: input {i} has shape {s:?}, expected [N, H, W, C] with every dimension ≥ 1"
        )),
    }
}

fn check_io(cx: &OpCx<'_, '_, '_, '_>, op: &str, n_in: usize, n_out: usize) -> Result<(), String> {
    if cx.n_inputs() != n_in || (0..n_in).any(|i| !cx.has_input(i)) {
        return Err(format!("{op}: takes {n_in} inputs, has {}", cx.n_inputs()));
    }
    if cx.op.outputs.len() != n_out {
        return Err(format!("{op}: has {n_out} outputs, the operator lists {}", cx.op.outputs.len()));
    }
    for i in 0..n_in {
        let t = cx.in_dtype(i)?;
        if t != DType::F32 || cx.in_quantized(i) {
            return Err(format!("{op}: input {i} is {t}, not float32"));
        }
    }
    for j in 0..n_out {
        let t = cx.out_dtype(j)?;
        if t != DType::F32 {
            return Err(format!("{op}: output {j} is {t}, not float32"));
        }
    }
    Ok(())
}

/// Output size and leading padding of one axis (TFLite's pooling rules).
fn axis(inp: usize, k: usize, same: bool) -> Result<(usize, usize), String> {
    let out = if same { inp.div_ceil(k) } else { inp / k };
    if out == 0 {
        return Err(format!("a window of {k} does not fit an input of {inp}"));
    }
    let total = ((out - 1) * k + k).saturating_sub(inp);
    Ok((out, total / 2))
}

pub fn max_pool_argmax(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    const OP: &str = "MaxPoolingWithArgmax2D";
    check_io(cx, OP, 1, 2)?;
    let p = params(cx, OP)?;
    let [n, h, w, c] = nhwc(cx, OP, 0)?;
    let (oh, ph) = axis(h, p.kh, p.same).map_err(|e| format!("{OP}: height: {e}"))?;
    let (ow, pw) = axis(w, p.kw, p.same).map_err(|e| format!("{OP}: width: {e}"))?;
    for j in 0..2 {
        if let Ok(os) = cx.out_shape(j)
            && os != [n, oh, ow, c]
        {
            return Err(Fail::Issue(format!(
                "{OP}: output {j} has shape {os:?}, the options give {:?}",
                [n, oh, ow, c]
            )));
        }
    }
    let x = cx.input(g, 0)?;
    let mut b = B { cx, g };
    // The covered region: rows −ph .. oh·kh − ph (likewise columns), cropped then padded.
    let (eh, ew) = (oh * p.kh, ow * p.kw);
    let mut v = x;
    let (keep_h, keep_w) = ((eh - ph).min(h), (ew - pw).min(w));
    if keep_h < h {
        v = b.slice(v, 1, 0, keep_h as i64)?;
    }
    if keep_w < w {
        v = b.slice(v, 2, 0, keep_w as i64)?;
    }
    let (ah, aw) = (eh - ph - keep_h, ew - pw - keep_w);
    if ph + pw + ah + aw > 0 {
        let pads = b.i64s("pads", &[0, ph as i64, pw as i64, 0, 0, ah as i64, aw as i64, 0])?;
        let lowest = b.scalar("lowest", f32::MIN)?;
        v = b.op("pad", Op::Pad(Pad { mode: "constant".into() }), &[v, pads, lowest])?;
    }
    // [N, oh·kh, ow·kw, C] → [N·oh, kh, ow, kw·C] → [N·oh, ow, kh, kw·C] → [N, oh, ow, kh·kw, C].
    let r1 = b.reshape(v, &[(n * oh) as i64, p.kh as i64, ow as i64, (p.kw * c) as i64])?;
    let t = b.op("windows", Op::Transpose(Transpose { perm: vec![0, 2, 1, 3] }), &[r1])?;
    let win = b.reshape(t, &[n as i64, oh as i64, ow as i64, (p.kh * p.kw) as i64, c as i64])?;
    let axes = b.i64s("axes", &[3])?;
    let mx = b.op(
        "max",
        Op::ReduceMax(ReduceMax {
            keepdims: 0,
            noop_with_empty_axes: 0,
        }),
        &[win, axes],
    )?;
    let am = b.op(
        "argmax",
        Op::ArgMax(ArgMax {
            axis: 3,
            keepdims: 0,
            select_last_index: 0,
        }),
        &[win],
    )?;
    let cast = Op::Cast(Cast {
        to: DType::F32.onnx_code() as i64,
        ..Default::default()
    });
    let amf = b.op("argmax_f", cast, &[am])?;
    let tenth = b.scalar("tenth", 0.1)?;
    let idx = b.add(amf, tenth)?;
    let y = match p.clamp {
        Some((lo, hi)) => {
            let l = b.scalar("min", lo)?;
            let u = b.scalar("max", hi)?;
            b.op("clip", Op::Clip(Clip {}), &[mx, l, u])?
        }
        None => mx,
    };
    cx.output(g, 0, y)?;
    cx.output(g, 1, idx)?;
    Ok(())
}

pub fn max_unpooling(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    const OP: &str = "MaxUnpooling2D";
    check_io(cx, OP, 2, 1)?;
    let p = params(cx, OP)?;
    let [n, h, w, c] = nhwc(cx, OP, 0)?;
    let s1 = nhwc(cx, OP, 1)?;
    if s1 != [n, h, w, c] {
        return Err(Fail::Issue(format!("{OP}: indices have shape {s1:?}, values {:?}", [n, h, w, c])));
    }
    let want = [n, h * p.kh, w * p.kw, c];
    if let Ok(os) = cx.out_shape(0)
        && os != want
    {
        return Err(Fail::Issue(format!("{OP}: output has shape {os:?}, expected {want:?}")));
    }
    let x = cx.input(g, 0)?;
    let idx = cx.input(g, 1)?;
    let mut b = B { cx, g };
    let k = p.kh * p.kw;
    // One slot per window position: [N, H, W, 1, C] against positions [kh·kw, 1].
    let fl = b.op("index", Op::Floor(Floor {}), &[idx])?;
    let ax = b.i64s("axes", &[3])?;
    let fl5 = b.op("index5", Op::Unsqueeze(Unsqueeze {}), &[fl, ax])?;
    let x5 = b.op("values5", Op::Unsqueeze(Unsqueeze {}), &[x, ax])?;
    let pos: Vec<f32> = (0..k).map(|j| j as f32).collect();
    let pos = b.f32s("positions", vec![k, 1], &pos)?;
    let hit = b.op("hit", Op::Equal(Equal {}), &[fl5, pos])?; // [N, H, W, k, C]
    let zero = b.scalar("zero", 0.0)?;
    let sc = b.op("scatter", Op::Where(Where {}), &[hit, x5, zero])?;
    // [N, H, W, kh, kw, C] → [N·H, W, kh, kw·C] → [N·H, kh, W, kw·C] → [N, H·kh, W·kw, C].
    let r1 = b.reshape(sc, &[(n * h) as i64, w as i64, p.kh as i64, (p.kw * c) as i64])?;
    let t = b.op("windows", Op::Transpose(Transpose { perm: vec![0, 2, 1, 3] }), &[r1])?;
    let y: ValueId = b.reshape(t, &[n as i64, (h * p.kh) as i64, (w * p.kw) as i64, c as i64])?;
    cx.output(g, 0, y)?;
    Ok(())
}
