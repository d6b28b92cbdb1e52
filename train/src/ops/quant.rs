//! QuantizeLinear → DequantizeLinear as fake quantization with a straight-through estimator:
//! QuantizeLinear yields integer codes held as floats whose gradient is that of x/scale + zp
//! (rounding and clamping are skipped in the backward pass); DequantizeLinear maps codes back.
//! Per-tensor and per-axis parameters; blocked quantization is left to the evaluator.

use super::{Ctx, KResult, Native, norm_axis};
use crate::error::ce;
use crate::value::RtVal;
use candle_core::Tensor as CTensor;
use edgeport_ir::{DType, Op};

pub(super) fn handles(op: &Op) -> bool {
    matches!(op, Op::QuantizeLinear(_) | Op::DequantizeLinear(_))
}

pub(super) fn run(op: &Op, cx: &Ctx) -> Option<KResult> {
    if !handles(op) {
        return None;
    }
    Some(run_inner(op, cx))
}

/// The integer range of a storage type.
pub(crate) fn qrange(d: DType) -> Option<(f64, f64)> {
    Some(match d {
        DType::U8 => (0.0, 255.0),
        DType::I8 => (-128.0, 127.0),
        DType::U16 => (0.0, 65535.0),
        DType::I16 => (-32768.0, 32767.0),
        DType::I4 => (-8.0, 7.0),
        DType::U4 => (0.0, 15.0),
        DType::I32 => (-2147483648.0, 2147483647.0),
        _ => return None,
    })
}

/// Reshapes a per-axis parameter so it broadcasts along `axis` of a rank-`rank` tensor.
pub(crate) fn along(p: &CTensor, axis: i64, rank: usize) -> Result<CTensor, String> {
    if p.elem_count() == 1 || rank == 0 {
        return p.flatten_all().and_then(|t| t.reshape(())).map_err(ce);
    }
    let a = norm_axis(axis, rank)?;
    let mut shape = vec![1usize; rank];
    shape[a] = p.elem_count();
    p.reshape(shape).map_err(ce)
}

/// Fake-quantizes `x` (float) with a straight-through gradient; returns the codes.
pub(crate) fn fake_codes(x: &CTensor, scale: &CTensor, zp: &CTensor, lo: f64, hi: f64) -> candle_core::Result<CTensor> {
    let codes = x.broadcast_div(scale)?.broadcast_add(zp)?;
    let q = codes.detach().round()?.clamp(lo as f32, hi as f32)?;
    codes.add(&q.sub(&codes.detach())?.detach())
}

fn run_inner(op: &Op, cx: &Ctx) -> KResult {
    match op {
        Op::QuantizeLinear(q) => {
            if q.block_size != 0 {
                return Ok(Native::NotHere("blocked quantization".into()));
            }
            if !cx.all_float(&[0, 1]) {
                return Ok(Native::NotHere("integer input".into()));
            }
            let dt = match cx.get(2) {
                Some(RtVal::H(t)) => t.dtype(),
                Some(RtVal::Q(_, d)) => *d,
                Some(_) => return Ok(Native::NotHere("float zero point".into())),
                None if q.output_dtype != 0 => DType::from_onnx_code(q.output_dtype as i32).unwrap_or(DType::U8),
                None => DType::U8,
            };
            let Some((lo, hi)) = qrange(dt) else {
                return Ok(Native::NotHere(format!("{dt} codes")));
            };
            let x = cx.f(0)?;
            let rank = x.rank();
            let s = along(&cx.f(1)?, q.axis, rank)?;
            let z = match cx.get(2) {
                Some(v) => along(
                    &v.float()
                        .or_else(|_| crate::value::host_to_candle(&v.host()?.cast(DType::F32).map_err(|e| e.to_string())?))?,
                    q.axis,
                    rank,
                )?,
                None => s.zeros_like().map_err(ce)?,
            };
            let y = fake_codes(&x, &s, &z, lo, hi).map_err(ce)?;
            Ok(Native::Done(vec![RtVal::Q(y, dt)]))
        }
        Op::DequantizeLinear(d) => {
            if d.block_size != 0 {
                return Ok(Native::NotHere("blocked quantization".into()));
            }
            let x = match cx.get(0) {
                Some(RtVal::Q(t, _)) => t.clone(),
                Some(RtVal::H(t)) if qrange(t.dtype()).is_some() => {
                    crate::value::host_to_candle(&t.cast(DType::F32).map_err(|e| e.to_string())?)?
                }
                _ => return Ok(Native::NotHere("input is not integer codes".into())),
            };
            let rank = x.rank();
            let s = along(&cx.f(1)?, d.axis, rank)?;
            let y = match cx.get(2) {
                Some(v) => {
                    let z = match v {
                        RtVal::H(t) => crate::value::host_to_candle(&t.cast(DType::F32).map_err(|e| e.to_string())?)?,
                        other => other.float()?,
                    };
                    x.broadcast_sub(&along(&z, d.axis, rank)?).map_err(ce)?
                }
                None => x,
            };
            Ok(Native::Done(vec![RtVal::F(y.broadcast_mul(&s).map_err(ce)?)]))
        }
        _ => Ok(Native::NotHere("not a quantization op".into())),
    }
}
