//! Helpers shared by the nn kernels: float data in/out, spatial geometry (kernel, strides,
//! dilations, pads, auto_pad, ceil_mode), GEMM through candle, and the channels-last wrapper.

use crate::error::OpError;
use crate::ops::linalg::sgemm;
use crate::tensor::Tensor;
use crate::value::Value;
use crate::{map_array, ops::OpResult};
use edgeport_ir::DType;
use edgeport_ir::ops::Layout;
use ndarray::IxDyn;

/// A float tensor's data as f64 (row-major) with its shape; other dtypes are an error.
pub fn fdata(t: &Tensor) -> Result<(Vec<f64>, Vec<usize>), OpError> {
    match t {
        Tensor::F32(_) | Tensor::F64(_) | Tensor::F16(_) | Tensor::BF16(_) => Ok((t.to_f64_vec()?, t.shape().to_vec())),
        _ => Err(OpError::DType(t.dtype().to_string())),
    }
}

/// Any numeric tensor's data as f64 with its shape.
pub fn ndata(t: &Tensor) -> Result<(Vec<f64>, Vec<usize>), OpError> {
    Ok((t.to_f64_vec()?, t.shape().to_vec()))
}

/// Builds an output tensor of `dtype` from f64 values.
pub fn fout(dtype: DType, shape: &[usize], v: Vec<f64>) -> Result<Tensor, OpError> {
    Tensor::from_f64(dtype, shape, v)
}

/// Wraps tensors as op outputs.
pub fn outs(ts: Vec<Tensor>) -> OpResult {
    Ok(ts.into_iter().map(Value::Tensor).collect())
}

/// Reads a scalar (first element) of an optional input as f64.
pub fn opt_scalar(t: Option<&Tensor>) -> Result<Option<f64>, OpError> {
    match t {
        None => Ok(None),
        Some(t) => Ok(t.to_f64_vec()?.first().copied()),
    }
}

/// Product of dims.
pub fn prod(s: &[usize]) -> usize {
    s.iter().product()
}

/// Row-major strides of a shape.
pub fn strides_of(s: &[usize]) -> Vec<usize> {
    let mut st = vec![1usize; s.len()];
    for i in (0..s.len().saturating_sub(1)).rev() {
        st[i] = st[i + 1] * s[i + 1];
    }
    st
}

/// Converts a non-negative i64 to usize, naming `what` in the error.
pub fn to_usize(v: i64, what: &str) -> Result<usize, OpError> {
    usize::try_from(v).map_err(|_| OpError::invalid(format!("{what} must be non-negative, got {v}")))
}

/// Resolved spatial geometry of a conv or pool.
#[derive(Clone, Debug)]
pub struct Geom {
    pub kernel: Vec<usize>,
    pub strides: Vec<usize>,
    pub dils: Vec<usize>,
    /// Begin pads, one per spatial dim.
    pub pb: Vec<usize>,
    /// End pads, one per spatial dim.
    pub pe: Vec<usize>,
    pub out: Vec<usize>,
}

/// What is being computed: conv output sizes never use ceil; pools may.
pub struct GeomSpec<'a> {
    pub input: &'a [usize],
    pub kernel: &'a [i64],
    pub strides: &'a [i64],
    pub dils: &'a [i64],
    pub pads: &'a [i64],
    pub auto_pad: &'a str,
    pub ceil_mode: bool,
}

impl GeomSpec<'_> {
    /// Resolves pads and output sizes with the ONNX rules.
    pub fn resolve(&self) -> Result<Geom, OpError> {
        let n = self.input.len();
        if self.kernel.len() != n {
            return Err(OpError::invalid(format!(
                "kernel_shape {:?} does not match {n} spatial dims",
                self.kernel
            )));
        }
        let list = |v: &[i64], what: &str| -> Result<Vec<usize>, OpError> {
            if v.is_empty() {
                return Ok(vec![1; n]);
            }
            if v.len() != n {
                return Err(OpError::invalid(format!("{what} {v:?} does not match {n} spatial dims")));
            }
            v.iter()
                .map(|&x| match to_usize(x, what)? {
                    0 => Err(OpError::invalid(format!("{what} must be positive"))),
                    u => Ok(u),
                })
                .collect()
        };
        let kernel = list(self.kernel, "kernel_shape")?;
        let strides = list(self.strides, "strides")?;
        let dils = list(self.dils, "dilations")?;
        let mut pb = vec![0usize; n];
        let mut pe = vec![0usize; n];
        let mut out = vec![0usize; n];
        for d in 0..n {
            let ext = (kernel[d] - 1) * dils[d] + 1;
            let inp = self.input[d];
            match self.auto_pad {
                "SAME_UPPER" | "SAME_LOWER" => {
                    let o = inp.div_ceil(strides[d]);
                    let total = ((o.max(1) - 1) * strides[d] + ext).saturating_sub(inp);
                    let half = total / 2;
                    if self.auto_pad == "SAME_UPPER" {
                        pb[d] = half;
                        pe[d] = total - half;
                    } else {
                        pb[d] = total - half;
                        pe[d] = half;
                    }
                    out[d] = o;
                    continue;
                }
                "VALID" => {}
                "NOTSET" | "" => {
                    if !self.pads.is_empty() {
                        if self.pads.len() != 2 * n {
                            return Err(OpError::invalid(format!("pads {:?} should have {} values", self.pads, 2 * n)));
                        }
                        pb[d] = to_usize(self.pads[d], "pads")?;
                        pe[d] = to_usize(self.pads[d + n], "pads")?;
                    }
                }
                other => return Err(OpError::invalid(format!("unknown auto_pad '{other}'"))),
            }
            let padded = inp + pb[d] + pe[d];
            if padded < ext {
                return Err(OpError::invalid(format!(
                    "kernel extent {ext} is larger than padded input {padded}"
                )));
            }
            let span = padded - ext;
            let mut o = if self.ceil_mode {
                span.div_ceil(strides[d]) + 1
            } else {
                span / strides[d] + 1
            };
            // With ceil_mode, the last window must start inside the input or the begin pad.
            if self.ceil_mode && (o - 1) * strides[d] >= inp + pb[d] {
                o -= 1;
            }
            out[d] = o;
        }
        Ok(Geom {
            kernel,
            strides,
            dils,
            pb,
            pe,
            out,
        })
    }
}

/// `c = a @ b` with `a: [m, k]`, `b: [k, n]` (row-major); f32 and f64 on the direct kernel,
/// other element types through candle.
pub fn gemm<T: candle_core::WithDType>(a: &[T], b: &[T], m: usize, k: usize, n: usize) -> Result<Vec<T>, OpError> {
    if sgemm::supported::<T>() {
        return sgemm::gemm(sgemm::Mat::rows(a, k), sgemm::Mat::rows(b, n), m, k, n);
    }
    candle_gemm(a, b, (m, k), false, (k, n), m, n)
}

/// `c = a^T @ b` with `a: [k, m]`, `b: [k, n]`.
pub fn gemm_tn<T: candle_core::WithDType>(a: &[T], b: &[T], m: usize, k: usize, n: usize) -> Result<Vec<T>, OpError> {
    if sgemm::supported::<T>() {
        return sgemm::gemm(sgemm::Mat::transposed(a, m), sgemm::Mat::rows(b, n), m, k, n);
    }
    candle_gemm(a, b, (k, m), true, (k, n), m, n)
}

/// The candle path for element types without a direct kernel.
fn candle_gemm<T: candle_core::WithDType>(
    a: &[T],
    b: &[T],
    a_shape: (usize, usize),
    a_t: bool,
    b_shape: (usize, usize),
    m: usize,
    n: usize,
) -> Result<Vec<T>, OpError> {
    let err = |e: candle_core::Error| OpError::invalid(format!("gemm: {e}"));
    if m == 0 || n == 0 {
        return Ok(Vec::new());
    }
    if a_shape.0 * a_shape.1 == 0 {
        return Ok(vec![T::from_f64(0.0); m * n]);
    }
    let dev = candle_core::Device::Cpu;
    let ta = candle_core::Tensor::from_slice(a, a_shape, &dev).map_err(err)?;
    let ta = if a_t { ta.t().map_err(err)? } else { ta };
    let tb = candle_core::Tensor::from_slice(b, b_shape, &dev).map_err(err)?;
    ta.matmul(&tb)
        .and_then(|c| c.flatten_all())
        .and_then(|c| c.to_vec1::<T>())
        .map_err(err)
}

/// Permutes a tensor's axes.
pub fn permute(t: &Tensor, perm: &[usize]) -> Result<Tensor, OpError> {
    if perm.len() != t.rank() {
        return Err(OpError::invalid(format!("permutation {perm:?} does not match rank {}", t.rank())));
    }
    Ok(map_array!(t, a => {
        let p = a.view().permuted_axes(IxDyn(perm));
        p.as_standard_layout().into_owned()
    }))
}

/// N, spatial…, C → N, C, spatial….
pub fn to_channels_first(t: &Tensor) -> Result<Tensor, OpError> {
    let r = t.rank();
    if r < 2 {
        return Ok(t.clone());
    }
    let mut perm = vec![0, r - 1];
    perm.extend(1..r - 1);
    permute(t, &perm)
}

/// N, C, spatial… → N, spatial…, C.
pub fn to_channels_last(t: &Tensor) -> Result<Tensor, OpError> {
    let r = t.rank();
    if r < 2 {
        return Ok(t.clone());
    }
    let mut perm = vec![0];
    perm.extend(2..r);
    perm.push(1);
    permute(t, &perm)
}

/// Runs `f` on the channels-first form of `x`; with `ChannelsLast`, transposes `x` in and the
/// first `n_spatial_outputs` outputs back out.
pub fn with_layout(layout: Layout, x: &Tensor, n_back: usize, f: impl FnOnce(&Tensor) -> Result<Vec<Tensor>, OpError>) -> OpResult {
    match layout {
        Layout::ChannelsFirst => outs(f(x)?),
        Layout::ChannelsLast => {
            let xc = to_channels_first(x)?;
            let ys = f(&xc)?;
            let ys = ys
                .into_iter()
                .enumerate()
                .map(|(i, y)| if i < n_back { to_channels_last(&y) } else { Ok(y) })
                .collect::<Result<Vec<_>, _>>()?;
            outs(ys)
        }
    }
}

/// Round half to even.
pub fn round_even(x: f64) -> f64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 { 2.0 * (x / 2.0).round() } else { r }
}

thread_local! {
    /// Each thread's scratch buffer (im2col columns, Winograd tiles), kept between ops: a
    /// fresh multi-MB buffer per conv costs more in page faults and zeroing than the work in it.
    static SCRATCH: std::cell::RefCell<Option<Box<dyn std::any::Any>>> = const { std::cell::RefCell::new(None) };
}

/// Largest scratch buffer kept between calls.
const KEEP_SCRATCH: usize = 64 << 20;

/// Runs `f` with a buffer of `n` elements whose contents are unspecified (the caller writes
/// every element it reads): this thread's kept buffer when it is free, else a new one.
pub(crate) fn with_scratch<T: Copy + num_traits::Zero + 'static, R>(n: usize, f: impl FnOnce(&mut [T]) -> R) -> R {
    let taken: Option<Vec<T>> = SCRATCH.with(|s| {
        s.try_borrow_mut()
            .ok()
            .and_then(|mut s| s.take())
            .and_then(|b| b.downcast::<Vec<T>>().ok())
            .map(|b| *b)
    });
    let mut v = taken.unwrap_or_default();
    if v.len() < n {
        v.resize(n, T::zero());
    }
    let r = f(&mut v[..n]);
    if v.len() * std::mem::size_of::<T>() <= KEEP_SCRATCH {
        SCRATCH.with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                *s = Some(Box::new(v));
            }
        });
    }
    r
}
