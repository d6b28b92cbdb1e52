//! Padding: `Pad` (constant, reflect, edge and wrap modes; axes input; negative pads crop) and
//! `CenterCropPad`.

use super::common::{ints, norm_axes, numel, select_axes, strides, take_fill, zero_like};
use super::one;
use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use crate::tensor::Tensor;
use edgeport_ir::ops::tensor::{CenterCropPad, Pad};

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Constant,
    Reflect,
    Edge,
    Wrap,
}

/// The source position (or `None` = constant) of each output position along one axis. Negative
/// amounts crop first; the positive ones then pad the cropped data (as onnxruntime does).
fn axis_positions(dim: usize, before: i64, after: i64, mode: Mode) -> Result<Vec<Option<usize>>, OpError> {
    let full = dim as i64;
    let off = (-before).max(0);
    let d = full - off - (-after).max(0);
    if d < 0 {
        return Err(OpError::invalid(format!(
            "pad: pads {before},{after} remove more than the size {dim}"
        )));
    }
    let (before, after) = (before.max(0), after.max(0));
    let len = d + before + after;
    let mut out = Vec::with_capacity(len as usize);
    for o in 0..len {
        let i = o - before;
        let src = if (0..d).contains(&i) {
            Some(i)
        } else if mode == Mode::Constant {
            None
        } else if d == 0 {
            return Err(OpError::invalid("pad: cannot pad an empty axis in this mode"));
        } else {
            Some(match mode {
                Mode::Edge => i.clamp(0, d - 1),
                Mode::Wrap => i.rem_euclid(d),
                _ => {
                    if d == 1 {
                        0
                    } else {
                        let p = 2 * (d - 1);
                        let m = i.rem_euclid(p);
                        if m >= d { p - m } else { m }
                    }
                }
            })
        };
        out.push(src.map(|i| (i + off) as usize));
    }
    Ok(out)
}

/// Pads or crops `x` by per-axis (before, after) amounts, filling with `fill` in constant mode.
fn pad_tensor(x: &Tensor, pads: &[(i64, i64)], mode: Mode, fill: &Tensor) -> Result<Tensor, OpError> {
    let shape = x.shape();
    let idx: Vec<Vec<Option<usize>>> = shape
        .iter()
        .zip(pads)
        .map(|(&d, &(b, a))| axis_positions(d, b, a, mode))
        .collect::<Result<_, _>>()?;
    let out: Vec<usize> = idx.iter().map(|l| l.len()).collect();
    numel(&out)?;
    let flat = select_axes(&idx, &strides(shape));
    take_fill(x, &flat, &out, fill)
}

pub fn pad(op: &Pad, cx: &NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    let rank = x.shape().len();
    let mode = match op.mode.as_str() {
        "constant" => Mode::Constant,
        "reflect" => Mode::Reflect,
        "edge" => Mode::Edge,
        "wrap" => Mode::Wrap,
        m => return Err(OpError::invalid(format!("pad: unknown mode {m}"))),
    };
    let raw = ints(cx.tensor(1)?, "pads")?;
    let axes = match cx.opt_tensor(3)? {
        Some(a) => norm_axes(&ints(a, "axes")?, rank)?,
        None => (0..rank).collect(),
    };
    if raw.len() != 2 * axes.len() {
        return Err(OpError::invalid(format!("pad: {} pads for {} axes", raw.len(), axes.len())));
    }
    let mut pads = vec![(0i64, 0i64); rank];
    for (k, &a) in axes.iter().enumerate() {
        pads[a] = (raw[k], raw[k + axes.len()]);
    }
    let fill = match cx.opt_tensor(2)? {
        Some(c) if !c.is_empty() && c.dtype() == x.dtype() => c.clone(),
        Some(c) if !c.is_empty() => c.cast(x.dtype())?,
        _ => zero_like(x)?,
    };
    one(pad_tensor(x, &pads, mode, &fill)?)
}

pub fn center_crop_pad(op: &CenterCropPad, cx: &NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    let shape = x.shape();
    let target = ints(cx.tensor(1)?, "shape")?;
    let axes = if op.axes.is_empty() {
        (0..shape.len()).collect()
    } else {
        norm_axes(&op.axes, shape.len())?
    };
    if target.len() != axes.len() {
        return Err(OpError::invalid(format!(
            "center_crop_pad: {} sizes for {} axes",
            target.len(),
            axes.len()
        )));
    }
    let mut pads = vec![(0i64, 0i64); shape.len()];
    for (&a, &s) in axes.iter().zip(&target) {
        if s < 0 {
            return Err(OpError::invalid(format!("center_crop_pad: negative size {s}")));
        }
        let d = shape[a] as i64;
        // Crop or pad symmetrically, the odd element going to the end.
        let diff = s - d;
        let before = if diff >= 0 { diff / 2 } else { -((-diff) / 2) };
        pads[a] = (before, diff - before);
    }
    one(pad_tensor(x, &pads, Mode::Constant, &zero_like(x)?)?)
}
