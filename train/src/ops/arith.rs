//! Broadcasting arithmetic: Add, Sub, Mul, Div, Pow, Max, Min, Where (float branches), and Cast
//! between float types.

use super::{Ctx, KResult, Native, one};
use crate::error::ce;
use crate::value::RtVal;
use candle_core::{DType as CDType, Tensor as CTensor};
use edgeport_ir::{DType, Op};

pub(super) fn handles(op: &Op) -> bool {
    matches!(
        op,
        Op::Add(_) | Op::Sub(_) | Op::Mul(_) | Op::Div(_) | Op::Pow(_) | Op::Max(_) | Op::Min(_) | Op::Where(_) | Op::Cast(_)
    )
}

pub(super) fn run(op: &Op, cx: &Ctx) -> Option<KResult> {
    if !handles(op) {
        return None;
    }
    Some(run_inner(op, cx))
}

/// x^e for a constant exponent, exact for small integer exponents (candle's powf goes through
/// log and is NaN for negative bases).
fn pow_scalar(x: &CTensor, e: f64) -> candle_core::Result<CTensor> {
    if e == 1.0 {
        return Ok(x.clone());
    }
    if e == 2.0 {
        return x.sqr();
    }
    if e == 0.5 {
        return x.sqrt();
    }
    if e == -1.0 {
        return x.recip();
    }
    if e.fract() == 0.0 && (0.0..=8.0).contains(&e) {
        let mut y = x.ones_like()?;
        for _ in 0..(e as usize) {
            y = y.mul(x)?;
        }
        return Ok(y);
    }
    x.powf(e)
}

fn run_inner(op: &Op, cx: &Ctx) -> KResult {
    match op {
        Op::Cast(c) => {
            let to = DType::from_onnx_code(c.to as i32);
            let v = cx.get(0).ok_or("required input 0 is missing")?;
            if v.is_float() && to.is_some_and(|d| d.is_float()) {
                return Ok(Native::Done(vec![RtVal::F(v.float()?)]));
            }
            return Ok(Native::NotHere("non-float cast".into()));
        }
        Op::Where(_) => {
            if !cx.all_float(&[1, 2]) {
                return Ok(Native::NotHere("integer branches".into()));
            }
            let cond = cx.get(0).ok_or("required input 0 is missing")?.host()?;
            let c = cond.cast(DType::F32).map_err(|e| e.to_string())?;
            let c = crate::value::host_to_candle(&c)?.to_dtype(CDType::U8).map_err(ce)?;
            let (a, b) = (cx.f(1)?, cx.f(2)?);
            let shape = broadcast_shape(&[c.dims(), a.dims(), b.dims()])?;
            let c = c.broadcast_as(shape.clone()).map_err(ce)?;
            let a = a.broadcast_as(shape.clone()).map_err(ce)?;
            let b = b.broadcast_as(shape).map_err(ce)?;
            return one(c.where_cond(&a.contiguous().map_err(ce)?, &b.contiguous().map_err(ce)?));
        }
        _ => {}
    }
    if !cx.all_float(&[0, 1]) {
        return Ok(Native::NotHere("integer operands".into()));
    }
    let a = cx.f(0)?;
    if let Op::Pow(_) = op
        && let Some(RtVal::H(_)) | Some(RtVal::F(_)) = cx.get(1)
    {
        let b = cx.f(1)?;
        if b.elem_count() == 1 {
            let e = crate::value::candle_f32(&b)?.first().copied().unwrap_or(1.0);
            return one(pow_scalar(&a, e as f64));
        }
        return one(a.broadcast_pow(&b));
    }
    let b = cx.f(1)?;
    match op {
        Op::Add(_) => one(a.broadcast_add(&b)),
        Op::Sub(_) => one(a.broadcast_sub(&b)),
        Op::Mul(_) => one(a.broadcast_mul(&b)),
        Op::Div(_) => one(a.broadcast_div(&b)),
        Op::Max(_) if cx.inputs.len() == 2 => one(a.broadcast_maximum(&b)),
        Op::Min(_) if cx.inputs.len() == 2 => one(a.broadcast_minimum(&b)),
        _ => Ok(Native::NotHere("variadic form".into())),
    }
}

/// The numpy broadcast of several shapes.
pub(crate) fn broadcast_shape(shapes: &[&[usize]]) -> Result<Vec<usize>, String> {
    let rank = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![1usize; rank];
    for s in shapes {
        let off = rank - s.len();
        for (i, &d) in s.iter().enumerate() {
            let o = &mut out[off + i];
            if *o == 1 {
                *o = d;
            } else if d != 1 && d != *o {
                return Err(format!("shapes {shapes:?} do not broadcast"));
            }
        }
    }
    Ok(out)
}
