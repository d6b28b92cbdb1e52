//! Type ops of the tensor family: Cast, CastLike, BitCast, IsInf, IsNaN, and Where.

use super::kernels::{dtype_err, pair_err};
use crate::error::OpError;
use crate::ops::cast::{RoundMode, bits_to_f32, cast_with};
use crate::ops::util::{broadcast_shapes, broadcast_to};
use crate::tensor::Tensor;
use edgeport_ir::ops::tensor::{BitCast, Cast, CastLike, IsInf};
use edgeport_ir::{DType, Op};
use ndarray::{ArrayD, Zip};

/// Runs a type op on its inputs, or `None` if `op` is not one of them.
pub fn run(op: &Op, inputs: &[Option<&Tensor>]) -> Option<Result<Tensor, OpError>> {
    let arg = |i: usize| -> Result<&Tensor, OpError> {
        inputs
            .get(i)
            .copied()
            .flatten()
            .ok_or_else(|| OpError::invalid(format!("input {i} is required")))
    };
    Some(match op {
        Op::Cast(Cast { round_mode, saturate, to }) => {
            arg(0).and_then(|x| cast_with(x, dtype_of(*to)?, *saturate != 0, RoundMode::parse(round_mode)?))
        }
        Op::CastLike(CastLike { round_mode, saturate }) => {
            arg(0).and_then(|x| cast_with(x, arg(1)?.dtype(), *saturate != 0, RoundMode::parse(round_mode)?))
        }
        Op::BitCast(BitCast { to }) => arg(0).and_then(|x| bitcast(x, dtype_of(*to)?)),
        Op::IsNaN(_) => arg(0).and_then(|x| float_test(x, f64::is_nan)),
        Op::IsInf(IsInf {
            detect_negative,
            detect_positive,
        }) => {
            let (n, p) = (*detect_negative != 0, *detect_positive != 0);
            arg(0).and_then(|x| float_test(x, |v| v.is_infinite() && ((v > 0.0 && p) || (v < 0.0 && n))))
        }
        Op::Where(_) => arg(0).and_then(|c| where_(c, arg(1)?, arg(2)?)),
        _ => return None,
    })
}

/// The dtype of an ONNX `to` attribute.
fn dtype_of(code: i64) -> Result<DType, OpError> {
    i32::try_from(code)
        .ok()
        .and_then(DType::from_onnx_code)
        .ok_or_else(|| OpError::invalid(format!("unknown ONNX data type code {code}")))
}

/// A bool tensor of `f` over the values of a float tensor (8-bit floats decoded).
fn float_test(x: &Tensor, f: impl Fn(f64) -> bool) -> Result<Tensor, OpError> {
    let out = match x {
        Tensor::F32(a) => a.mapv(|v| f(v as f64)),
        Tensor::F64(a) => a.mapv(&f),
        Tensor::F16(a) => a.mapv(|v| f(v.to_f64())),
        Tensor::BF16(a) => a.mapv(|v| f(v.to_f64())),
        Tensor::Bits(d, a) if d.is_float() => a.mapv(|c| f(bits_to_f32(*d, c) as f64)),
        other => return Err(dtype_err(other)),
    };
    Ok(Tensor::Bool(out))
}

/// Reinterprets the little-endian bytes of `x` as `to` (same bit width, same shape).
fn bitcast(x: &Tensor, to: DType) -> Result<Tensor, OpError> {
    let from = x.dtype();
    if from == DType::String || to == DType::String || from.bits() != to.bits() {
        return Err(OpError::invalid(format!("BitCast: {from} and {to} differ in bit width")));
    }
    let ir = x.to_ir();
    let bytes = ir.raw().ok_or_else(|| dtype_err(x))?;
    let out = edgeport_ir::Tensor::from_bytes(to, ir.shape.clone(), edgeport_ir::Bytes::from_vec(bytes.to_vec()))
        .map_err(|e| OpError::invalid(format!("BitCast: {e}")))?;
    Tensor::from_ir(&out)
}

/// Where: `cond ? x : y` over the broadcast of the three shapes.
fn where_(cond: &Tensor, x: &Tensor, y: &Tensor) -> Result<Tensor, OpError> {
    let Tensor::Bool(c) = cond else {
        return Err(dtype_err(cond));
    };
    let shape = broadcast_shapes(&[c.shape(), x.shape(), y.shape()])?;
    let cv = broadcast_to(c, &shape)?;
    fn pick<T: Clone>(c: &ndarray::ArrayViewD<'_, bool>, a: &ArrayD<T>, b: &ArrayD<T>, shape: &[usize]) -> Result<ArrayD<T>, OpError> {
        let (av, bv) = (broadcast_to(a, shape)?, broadcast_to(b, shape)?);
        Ok(Zip::from(c)
            .and(&av)
            .and(&bv)
            .map_collect(|&k, p, q| if k { p.clone() } else { q.clone() }))
    }
    macro_rules! go {
        ($($v:ident),*) => {
            match (x, y) {
                $( (Tensor::$v(a), Tensor::$v(b)) => Tensor::$v(pick(&cv, a, b, &shape)?), )*
                (Tensor::Bits(d, a), Tensor::Bits(e, b)) if d == e => Tensor::Bits(*d, pick(&cv, a, b, &shape)?),
                (p, q) => return Err(pair_err(p, q)),
            }
        };
    }
    Ok(go!(F32, F64, F16, BF16, I8, I16, I32, I64, U8, U16, U32, U64, Bool, Str))
}
