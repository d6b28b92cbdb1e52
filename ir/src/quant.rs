//! Quantization parameters, first-class on values and constants: per tensor, per axis (channel)
//! or per block along an axis, symmetric or asymmetric, with f32 or f16 scales.

use crate::dtype::DType;

/// How scales and zero points are laid over a tensor.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum QuantGranularity {
    /// One scale and zero point for the whole tensor.
    PerTensor,
    /// One per index along `axis`.
    PerAxis { axis: usize },
    /// One per `block_size` consecutive elements along `axis`.
    PerBlock { axis: usize, block_size: usize },
}

/// Scale/zero-point quantization: `real = (q - zero_point) * scale`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QuantParams {
    /// The stored (quantized) element type: i8, u8, i16, i4, u4, …
    pub storage: DType,
    pub granularity: QuantGranularity,
    pub scale: Vec<f32>,
    /// Empty means all zeros (symmetric).
    pub zero_point: Vec<i64>,
    /// The dtype the scales are kept in when exported (f32 or f16).
    pub scale_dtype: DType,
}

impl QuantParams {
    /// Per-tensor parameters.
    pub fn per_tensor(storage: DType, scale: f32, zero_point: i64) -> QuantParams {
        QuantParams {
            storage,
            granularity: QuantGranularity::PerTensor,
            scale: vec![scale],
            zero_point: vec![zero_point],
            scale_dtype: DType::F32,
        }
    }
    /// True when every zero point is 0.
    pub fn is_symmetric(&self) -> bool {
        self.zero_point.iter().all(|&z| z == 0)
    }
}
