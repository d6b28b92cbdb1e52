//! Numeric helpers shared by the linalg ops: tensors as flat row-major value vectors (`f64` for
//! float types, exact `i128` for integer types) and back, lane indexing along one axis, and
//! small input readers.

use crate::error::OpError;
use crate::tensor::{Tensor, is_bits};
use crate::value::Value;
use edgeport_ir::DType;

use super::super::OpResult;

/// A tensor's elements: floats widened to `f64`, integers held exactly.
#[derive(Debug, Clone)]
pub enum Vals {
    F(Vec<f64>),
    I(Vec<i128>),
}

/// True for dtypes computed as floats (standard floats and the small float codes).
pub fn is_float(d: DType) -> bool {
    matches!(d, DType::F32 | DType::F64 | DType::F16 | DType::BF16) || (is_bits(d) && d.is_float())
}

/// The integer elements of an integer (or bool) tensor, exactly.
pub fn ints(t: &Tensor) -> Result<Vec<i128>, OpError> {
    Ok(match t {
        Tensor::I8(a) => a.iter().map(|&x| x as i128).collect(),
        Tensor::I16(a) => a.iter().map(|&x| x as i128).collect(),
        Tensor::I32(a) => a.iter().map(|&x| x as i128).collect(),
        Tensor::I64(a) => a.iter().map(|&x| x as i128).collect(),
        Tensor::U8(a) => a.iter().map(|&x| x as i128).collect(),
        Tensor::U16(a) => a.iter().map(|&x| x as i128).collect(),
        Tensor::U32(a) => a.iter().map(|&x| x as i128).collect(),
        Tensor::U64(a) => a.iter().map(|&x| x as i128).collect(),
        Tensor::Bool(a) => a.iter().map(|&x| x as i128).collect(),
        Tensor::Bits(d, a) if !d.is_float() => a.iter().map(|&c| crate::tensor::bits_to_f32(*d, c) as i128).collect(),
        other => {
            return Err(OpError::DType(format!("{} (an integer type is expected)", other.dtype())));
        }
    })
}

/// Builds an integer tensor, wrapping each value into the dtype as a C cast does.
pub fn from_ints(d: DType, shape: &[usize], v: Vec<i128>) -> Result<Tensor, OpError> {
    Tensor::from_i128(d, shape, v)
}

/// The elements of a numeric tensor.
pub fn vals(t: &Tensor) -> Result<Vals, OpError> {
    if is_float(t.dtype()) {
        Ok(Vals::F(t.to_f64_vec()?))
    } else {
        Ok(Vals::I(ints(t)?))
    }
}

/// Builds a tensor of `d` from values (floats rounded to `d`, integers wrapped).
pub fn from_vals(d: DType, shape: &[usize], v: Vals) -> Result<Tensor, OpError> {
    match v {
        Vals::F(v) => Tensor::from_f64(d, shape, v),
        Vals::I(v) => from_ints(d, shape, v),
    }
}

/// Splits `shape` around `axis`: (outer, axis length, inner). Element `(o, k, i)` is at
/// `(o * n + k) * inner + i` in row-major order.
pub fn lanes(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    let outer = shape[..axis].iter().product();
    let n = shape.get(axis).copied().unwrap_or(1);
    let inner = shape.get(axis + 1..).map(|s| s.iter().product()).unwrap_or(1);
    (outer, n, inner)
}

/// One output tensor.
pub fn out(t: Tensor) -> OpResult {
    Ok(vec![Value::Tensor(t)])
}

/// The single integer in a scalar (or one-element) tensor.
pub fn scalar_int(t: &Tensor, what: &str) -> Result<i64, OpError> {
    let v = t.to_i64_vec()?;
    match v.as_slice() {
        [x] => Ok(*x),
        _ => Err(OpError::invalid(format!("{what} must hold one value, got shape {:?}", t.shape()))),
    }
}

/// The single number in a scalar (or one-element) tensor, as f64.
pub fn scalar_f64(t: &Tensor, what: &str) -> Result<f64, OpError> {
    let v = t.to_f64_vec()?;
    match v.as_slice() {
        [x] => Ok(*x),
        _ => Err(OpError::invalid(format!("{what} must hold one value, got shape {:?}", t.shape()))),
    }
}

/// The dtype for an ONNX dtype code attribute.
pub fn dtype_code(code: i64, what: &str) -> Result<DType, OpError> {
    i32::try_from(code)
        .ok()
        .and_then(DType::from_onnx_code)
        .ok_or_else(|| OpError::invalid(format!("{what}: unknown data type code {code}")))
}

/// Checks that `d` is one of the standard float types.
pub fn want_float(t: &Tensor, op: &str) -> Result<(), OpError> {
    match t.dtype() {
        DType::F32 | DType::F64 | DType::F16 | DType::BF16 => Ok(()),
        d => Err(OpError::DType(format!("{d} (for {op})"))),
    }
}

/// Applies `f` to every lane along the middle axis of `(outer, n, inner)`, in place.
pub fn lane_apply<T: Copy + Default>(v: &mut [T], (outer, n, inner): (usize, usize, usize), mut f: impl FnMut(&mut [T])) {
    let mut buf = vec![T::default(); n];
    for o in 0..outer {
        for i in 0..inner {
            for (k, b) in buf.iter_mut().enumerate() {
                *b = v[(o * n + k) * inner + i];
            }
            f(&mut buf);
            for (k, b) in buf.iter().enumerate() {
                v[(o * n + k) * inner + i] = *b;
            }
        }
    }
}
