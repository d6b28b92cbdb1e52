//! The quantization family: `QuantizeLinear`, `DequantizeLinear` (per-tensor, per-axis and
//! blocked scales/zero points; integer, sub-byte and 8/4-bit float types) and
//! `DynamicQuantizeLinear`; also the shared saturating quantizer used by `QLinearMatMul`.

use super::num::{dtype_code, lanes, out};
use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use crate::ops::util::norm_axis;
use crate::tensor::{Tensor, f32_to_bits, is_bits};
use crate::value::Value;
use edgeport_ir::DType;
use half::{bf16, f16};
use ndarray::{ArrayD, IxDyn};

/// The integer range of a quantized integer type (`None` for float types).
pub fn int_range(d: DType) -> Option<(f64, f64)> {
    Some(match d {
        DType::U8 => (0.0, 255.0),
        DType::I8 => (-128.0, 127.0),
        DType::U16 => (0.0, 65535.0),
        DType::I16 => (-32768.0, 32767.0),
        DType::U4 => (0.0, 15.0),
        DType::I4 => (-8.0, 7.0),
        DType::U2 => (0.0, 3.0),
        DType::I2 => (-2.0, 1.0),
        DType::I32 => (i32::MIN as f64, i32::MAX as f64),
        _ => return None,
    })
}

/// Quantizes already-scaled values `v` (x / scale) with zero points `zp` (one per value, or
/// one for all) into a tensor of `d`: integers round half to even, add the zero point and
/// saturate; float types add the zero point and convert (saturating if `saturate`).
pub fn quantize_values(d: DType, shape: &[usize], v: &[f64], zp: &[f64], saturate: bool) -> Result<Tensor, OpError> {
    let z = |i: usize| {
        if zp.len() == 1 { zp[0] } else { zp.get(i).copied().unwrap_or(0.0) }
    };
    if let Some((lo, hi)) = int_range(d) {
        let q: Vec<f64> = v
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let r = if x.is_nan() { 0.0 } else { x.round_ties_even() };
                (r + z(i)).clamp(lo, hi)
            })
            .collect();
        return Tensor::from_f64(d, shape, q);
    }
    if is_bits(d) && d.is_float() {
        let codes = v
            .iter()
            .enumerate()
            .map(|(i, &x)| f32_to_bits(d, (x + z(i)) as f32, saturate))
            .collect();
        return Ok(Tensor::Bits(
            d,
            ArrayD::from_shape_vec(IxDyn(shape), codes).map_err(|e| OpError::invalid(e.to_string()))?,
        ));
    }
    Err(OpError::DType(format!("{d} is not a quantized type")))
}

/// Expands a scale or zero-point tensor to one value per element of a tensor of `shape`:
/// per-tensor (one element), per-axis (1-D of `shape[axis]`) or blocked (`block_size > 0`, same
/// rank, `ceil(shape[axis] / block_size)` along `axis`).
pub fn expand_param(p: &Tensor, shape: &[usize], axis: i64, block_size: i64, what: &str) -> Result<Vec<f64>, OpError> {
    let pv = p.to_f64_vec()?;
    if pv.len() == 1 && block_size <= 0 {
        return Ok(pv);
    }
    let n_all: usize = shape.iter().product();
    if shape.is_empty() {
        return Err(OpError::invalid(format!(
            "{what} of {} values does not fit a scalar input",
            pv.len()
        )));
    }
    let ax = norm_axis(axis, shape.len())?;
    let (outer, n, inner) = lanes(shape, ax);
    let mut r = Vec::with_capacity(n_all);
    if block_size <= 0 {
        if p.rank() != 1 || pv.len() != n {
            return Err(OpError::invalid(format!(
                "{what} of shape {:?} does not match axis {ax} of {shape:?}",
                p.shape()
            )));
        }
        for _ in 0..outer {
            for &x in &pv {
                r.extend(std::iter::repeat_n(x, inner));
            }
        }
        return Ok(r);
    }
    let bs = block_size as usize;
    let nb = n.div_ceil(bs);
    let ps = p.shape();
    let ok = ps.len() == shape.len()
        && ps
            .iter()
            .zip(shape)
            .enumerate()
            .all(|(i, (&a, &b))| if i == ax { a == nb } else { a == b });
    if !ok {
        return Err(OpError::invalid(format!(
            "blocked {what} of shape {ps:?} does not match input {shape:?} (axis {ax}, block {bs})"
        )));
    }
    for o in 0..outer {
        for k in 0..n {
            let base = (o * nb + k / bs) * inner;
            r.extend_from_slice(&pv[base..base + inner]);
        }
    }
    Ok(r)
}

/// `QuantizeLinear`.
pub fn quantize_linear(cx: &NodeCtx<'_>, axis: i64, block_size: i64, output_dtype: i64, saturate: i64, precision: i64) -> OpResult {
    let x = cx.tensor(0)?;
    let scale = cx.tensor(1)?;
    let zp = cx.opt_tensor(2)?;
    let d = match zp {
        Some(z) => z.dtype(),
        None if output_dtype != 0 => dtype_code(output_dtype, "output_dtype")?,
        None => DType::U8,
    };
    if (precision == 0 || dtype_code(precision, "precision")? == DType::F32)
        && let Some(y) = quantize_f32_8bit(x, scale, zp, block_size, d)
    {
        return out(y);
    }
    let shape = x.shape().to_vec();
    let s = expand_param(scale, &shape, axis, block_size, "y_scale")?;
    let z = match zp {
        Some(z) => expand_param(z, &shape, axis, block_size, "y_zero_point")?,
        None => vec![0.0],
    };
    let xv = x.to_f64_vec()?;
    let s_at = |i: usize| if s.len() == 1 { s[0] } else { s[i] };
    // The division happens in the inputs' precision (or `precision`), as the reference does.
    let prec = if precision != 0 {
        dtype_code(precision, "precision")?
    } else {
        x.dtype()
    };
    let v: Vec<f64> = xv
        .iter()
        .enumerate()
        .map(|(i, &xi)| match prec {
            DType::F64 | DType::I32 => xi / s_at(i),
            DType::F16 => f16::from_f32(f16::from_f64(xi).to_f32() / f16::from_f64(s_at(i)).to_f32()).to_f64(),
            DType::BF16 => bf16::from_f32(bf16::from_f64(xi).to_f32() / bf16::from_f64(s_at(i)).to_f32()).to_f64(),
            _ => ((xi as f32) / (s_at(i) as f32)) as f64,
        })
        .collect();
    out(quantize_values(d, &shape, &v, &z, saturate != 0)?)
}

/// The common case of `QuantizeLinear` (activations in calibrated and checked models): float32
/// in, one float32 scale, an 8-bit zero point (or none: uint8), int8/uint8 out, without the
/// general path's f64 buffers. The same arithmetic: `x / s` in f32, round half to even (adding
/// and subtracting 2^23 does that in f32 below 2^23; larger magnitudes saturate either way),
/// NaN to zero, plus the zero point, saturated. `None` when the case is another one.
pub(super) fn quantize_f32_8bit(x: &Tensor, scale: &Tensor, zp: Option<&Tensor>, block_size: i64, d: DType) -> Option<Tensor> {
    let (Tensor::F32(xa), Tensor::F32(sa)) = (x, scale) else {
        return None;
    };
    if block_size > 0 || sa.len() != 1 || !matches!(d, DType::U8 | DType::I8) {
        return None;
    }
    let s = *sa.iter().next()?;
    let z: f32 = match zp {
        None => 0.0,
        Some(Tensor::U8(a)) if a.len() == 1 => *a.iter().next()? as f32,
        Some(Tensor::I8(a)) if a.len() == 1 => *a.iter().next()? as f32,
        Some(_) => return None,
    };
    let (lo, hi) = if d == DType::U8 { (0.0f32, 255.0f32) } else { (-128.0, 127.0) };
    const TWO23: f32 = 8_388_608.0;
    let q = |v: f32| {
        let t = v / s;
        let r = if t.is_nan() {
            0.0
        } else if t.abs() < TWO23 {
            ((t.abs() + TWO23) - TWO23).copysign(t)
        } else {
            t
        };
        (r + z).clamp(lo, hi)
    };
    let shape = IxDyn(xa.shape());
    Some(if d == DType::U8 {
        Tensor::U8(ArrayD::from_shape_vec(shape, xa.iter().map(|&v| q(v) as u8).collect()).ok()?)
    } else {
        Tensor::I8(ArrayD::from_shape_vec(shape, xa.iter().map(|&v| q(v) as i8).collect()).ok()?)
    })
}

/// `DequantizeLinear`.
pub fn dequantize_linear(cx: &NodeCtx<'_>, axis: i64, block_size: i64, output_dtype: i64) -> OpResult {
    let x = cx.tensor(0)?;
    let scale = cx.tensor(1)?;
    let d = if output_dtype != 0 {
        dtype_code(output_dtype, "output_dtype")?
    } else if scale.dtype() == DType::F8E8M0 {
        DType::F32
    } else {
        scale.dtype()
    };
    let shape = x.shape().to_vec();
    if let Some(y) = dequantize_8bit_f32(x, scale, cx.opt_tensor(2)?, axis, block_size, d)? {
        return out(y);
    }
    let s = expand_param(scale, &shape, axis, block_size, "x_scale")?;
    let z = match cx.opt_tensor(2)? {
        Some(z) if !(is_bits(x.dtype()) && x.dtype().is_float()) => expand_param(z, &shape, axis, block_size, "x_zero_point")?,
        _ => vec![0.0],
    };
    let xv = x.to_f64_vec()?;
    let at = |v: &[f64], i: usize| if v.len() == 1 { v[0] } else { v[i] };
    let y: Vec<f64> = xv
        .iter()
        .enumerate()
        .map(|(i, &xi)| (((xi - at(&z, i)) as f32) * (at(&s, i) as f32)) as f64)
        .collect();
    out(Tensor::from_f64(d, &shape, y)?)
}

/// The common case of `DequantizeLinear` without the general path's full-size f64 buffers:
/// int8/uint8 codes, float32 scales (and 8-bit zero points), per tensor or per axis, float32
/// out. The same arithmetic as the general path (`(x - z)` exact, then times the scale in f32),
/// so the results are identical. `None` when the case is another one.
pub(super) fn dequantize_8bit_f32(
    x: &Tensor,
    scale: &Tensor,
    zp: Option<&Tensor>,
    axis: i64,
    block_size: i64,
    d: DType,
) -> Result<Option<Tensor>, OpError> {
    if d != DType::F32 || block_size > 0 || !matches!(scale, Tensor::F32(_)) || !matches!(x, Tensor::I8(_) | Tensor::U8(_)) {
        return Ok(None);
    }
    let Tensor::F32(sa) = scale else { return Ok(None) };
    let shape = x.shape().to_vec();
    let sv: Vec<f32> = sa.iter().copied().collect();
    let zv: Vec<f32> = match zp {
        None => vec![0.0],
        Some(Tensor::I8(z)) => z.iter().map(|&v| v as f32).collect(),
        Some(Tensor::U8(z)) => z.iter().map(|&v| v as f32).collect(),
        Some(_) => return Ok(None),
    };
    let (inner, n) = if sv.len() == 1 && zv.len() == 1 {
        (1usize, 1usize)
    } else {
        if shape.is_empty() || scale.rank() != 1 {
            return Ok(None);
        }
        let ax = norm_axis(axis, shape.len())?;
        let (_, n, inner) = lanes(&shape, ax);
        if sv.len() != n || (zv.len() != 1 && zv.len() != n) {
            return Ok(None);
        }
        (inner, n)
    };
    let at = |v: &[f32], c: usize| if v.len() == 1 { v[0] } else { v[c] };
    let chan = |i: usize| if n == 1 { 0 } else { (i / inner) % n };
    let y: Vec<f32> = match x {
        Tensor::I8(a) => a
            .iter()
            .enumerate()
            .map(|(i, &q)| (q as f32 - at(&zv, chan(i))) * at(&sv, chan(i)))
            .collect(),
        Tensor::U8(a) => a
            .iter()
            .enumerate()
            .map(|(i, &q)| (q as f32 - at(&zv, chan(i))) * at(&sv, chan(i)))
            .collect(),
        _ => return Ok(None),
    };
    let y = ArrayD::from_shape_vec(IxDyn(&shape), y).map_err(|e| OpError::invalid(e.to_string()))?;
    Ok(Some(Tensor::F32(y)))
}

/// `DynamicQuantizeLinear` (f32 → u8 with a computed scale and zero point).
pub fn dynamic_quantize_linear(cx: &NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    let xv: Vec<f32> = x.to_f64_vec()?.into_iter().map(|v| v as f32).collect();
    let maxx = xv.iter().copied().fold(0f32, f32::max);
    let minx = xv.iter().copied().fold(0f32, f32::min);
    let scale = (if maxx == minx { 1.0 } else { maxx - minx }) / 255.0;
    let zp = (0.0 - minx / scale).clamp(0.0, 255.0).round_ties_even();
    let y: Vec<u8> = xv
        .iter()
        .map(|&v| ((v / scale).round_ties_even() + zp).clamp(0.0, 255.0) as u8)
        .collect();
    let y = ArrayD::from_shape_vec(IxDyn(x.shape()), y).map_err(|e| OpError::invalid(e.to_string()))?;
    Ok(vec![
        Value::Tensor(Tensor::U8(y)),
        Value::Tensor(Tensor::scalar_f32(scale)),
        Value::Tensor(Tensor::U8(ArrayD::from_elem(IxDyn(&[]), zp as u8))),
    ])
}
