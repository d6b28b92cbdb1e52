//! Run-time values of the differentiable executor: float tensors on candle (which carry
//! gradients), fake-quantized integer codes held as floats, and everything else (integers,
//! booleans, strings) on the evaluator's side.

use candle_core::{DType as CDType, Device, Tensor as CTensor};
use edgeport_eval::Tensor as ETensor;
use edgeport_ir::DType;

/// One value while running a graph.
#[derive(Clone, Debug)]
pub enum RtVal {
    /// A float tensor (f32) on candle; may carry gradient.
    F(CTensor),
    /// Integer codes of a fake-quantized value, held as f32 on candle (straight-through
    /// gradient), with the integer dtype they stand for.
    Q(CTensor, DType),
    /// Anything else, held as an evaluator tensor (no gradient).
    H(ETensor),
}

fn is_float(d: DType) -> bool {
    matches!(d, DType::F32 | DType::F64 | DType::F16 | DType::BF16)
}

/// An evaluator float tensor as an f32 candle tensor.
pub fn host_to_candle(t: &ETensor) -> Result<CTensor, String> {
    let a = t.to_f32_array().map_err(|e| e.to_string())?;
    let shape = a.shape().to_vec();
    let v: Vec<f32> = a.iter().copied().collect();
    CTensor::from_vec(v, shape, &Device::Cpu).map_err(crate::error::ce)
}

/// A candle tensor's f32 elements in row-major order.
pub fn candle_f32(t: &CTensor) -> Result<Vec<f32>, String> {
    t.to_dtype(CDType::F32)
        .and_then(|t| t.flatten_all())
        .and_then(|t| t.to_vec1::<f32>())
        .map_err(crate::error::ce)
}

/// A candle tensor as an evaluator tensor of `dtype` (values rounded for integer types).
pub fn candle_to_host(t: &CTensor, dtype: DType) -> Result<ETensor, String> {
    let v = candle_f32(t)?;
    let shape = t.dims().to_vec();
    let v: Vec<f64> = if is_float(dtype) {
        v.into_iter().map(f64::from).collect()
    } else {
        v.into_iter().map(|x| f64::from(x).round()).collect()
    };
    ETensor::from_f64(dtype, &shape, v).map_err(|e| e.to_string())
}

impl RtVal {
    /// Wraps an evaluator tensor: floats go to candle (as f32), the rest stay on the host.
    pub fn from_host(t: ETensor) -> Result<RtVal, String> {
        if is_float(t.dtype()) {
            Ok(RtVal::F(host_to_candle(&t)?))
        } else {
            Ok(RtVal::H(t))
        }
    }

    /// Is this a float value (or fake-quant codes) usable by the candle kernels?
    pub fn is_float(&self) -> bool {
        match self {
            RtVal::F(_) | RtVal::Q(..) => true,
            RtVal::H(t) => is_float(t.dtype()),
        }
    }

    /// The value as a candle f32 tensor, if it is float (or codes).
    pub fn float(&self) -> Result<CTensor, String> {
        match self {
            RtVal::F(t) | RtVal::Q(t, _) => Ok(t.clone()),
            RtVal::H(t) if is_float(t.dtype()) => host_to_candle(t),
            RtVal::H(t) => Err(format!("expected a float tensor, got {}", t.dtype())),
        }
    }

    /// The value as an evaluator tensor (floats as f32, codes in their integer dtype).
    pub fn host(&self) -> Result<ETensor, String> {
        match self {
            RtVal::F(t) => candle_to_host(t, DType::F32),
            RtVal::Q(t, d) => candle_to_host(t, *d),
            RtVal::H(t) => Ok(t.clone()),
        }
    }

    /// Integer contents (for shapes, axes, indices).
    pub fn ints(&self) -> Result<Vec<i64>, String> {
        match self {
            RtVal::H(t) => t.to_i64_vec().map_err(|e| e.to_string()),
            other => Ok(candle_f32(&other.float()?)?.into_iter().map(|x| x as i64).collect()),
        }
    }

    /// The shape.
    pub fn dims(&self) -> Vec<usize> {
        match self {
            RtVal::F(t) | RtVal::Q(t, _) => t.dims().to_vec(),
            RtVal::H(t) => t.shape().to_vec(),
        }
    }
}
