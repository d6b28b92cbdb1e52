//! The generator family: `ConstantOfShape`, `EyeLike`, `Range`, and the random ops
//! (`RandomUniform[Like]`, `RandomNormal[Like]`, `Bernoulli`, `Multinomial`).
//!
//! Random ops use a seeded splitmix64 generator: the same seed always gives the same numbers
//! (an absent seed uses a fixed default), but not the numbers numpy's generator would give.

use super::common::{ints, numel};
use super::one;
use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::map_array;
use crate::ops::OpResult;
use crate::tensor::Tensor;
use edgeport_ir::DType;
use edgeport_ir::ops::generator::{
    Bernoulli, ConstantOfShape, EyeLike, Multinomial, RandomNormal, RandomNormalLike, RandomUniform, RandomUniformLike,
};
use ndarray::{ArrayD, IxDyn};

fn dtype_of(code: i64) -> Result<DType, OpError> {
    i32::try_from(code)
        .ok()
        .and_then(DType::from_onnx_code)
        .ok_or_else(|| OpError::invalid(format!("unknown dtype code {code}")))
}

fn dims(v: &[i64]) -> Result<Vec<usize>, OpError> {
    v.iter()
        .map(|&d| usize::try_from(d).map_err(|_| OpError::invalid(format!("negative dimension {d}"))))
        .collect()
}

pub fn constant_of_shape(op: &ConstantOfShape, cx: &NodeCtx<'_>) -> OpResult {
    let shape = dims(&ints(cx.tensor(0)?, "shape")?)?;
    numel(&shape)?;
    let value = match &op.value {
        Some(v) => Tensor::from_ir(v)?,
        None => Tensor::scalar_f32(0.0),
    };
    if value.len() != 1 {
        return Err(OpError::invalid("constant_of_shape: value must hold one element"));
    }
    one(map_array!(&value, a => {
        let e = a.iter().next().cloned().unwrap_or_default();
        ArrayD::from_elem(IxDyn(&shape), e)
    }))
}

pub fn eye_like(op: &EyeLike, cx: &NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    let &[r, c] = x.shape() else {
        return Err(OpError::invalid("eye_like: input must be 2-d"));
    };
    let dt = match op.dtype {
        Some(d) => dtype_of(d)?,
        None => x.dtype(),
    };
    let v: Vec<f64> = (0..r * c)
        .map(|f| if (f % c) as i64 - (f / c) as i64 == op.k { 1.0 } else { 0.0 })
        .collect();
    one(Tensor::from_f64(dt, &[r, c], v)?)
}

pub fn range(cx: &NodeCtx<'_>) -> OpResult {
    let s = cx.tensor(0)?;
    let dt = s.dtype();
    let scalar = |i: usize| -> Result<f64, OpError> {
        let v = cx.tensor(i)?.to_f64_vec()?;
        match v.as_slice() {
            [x] => Ok(*x),
            _ => Err(OpError::invalid("range: inputs must be scalars")),
        }
    };
    if dt.is_int() {
        let g = |i: usize| -> Result<i128, OpError> {
            let v = cx.tensor(i)?.to_i64_vec()?;
            match v.as_slice() {
                [x] => Ok(*x as i128),
                _ => Err(OpError::invalid("range: inputs must be scalars")),
            }
        };
        let (start, limit, delta) = (g(0)?, g(1)?, g(2)?);
        if delta == 0 {
            return Err(OpError::invalid("range: delta is 0"));
        }
        let span = limit - start;
        let n = if (span > 0) == (delta > 0) && span != 0 {
            (span.abs() + delta.abs() - 1) / delta.abs()
        } else {
            0
        };
        if n > (1 << 32) {
            return Err(OpError::invalid("range: too many elements"));
        }
        let v: Vec<i64> = (0..n).map(|i| (start + i * delta) as i64).collect();
        return one(Tensor::vec_i64(v).cast(dt)?);
    }
    let (start, limit, delta) = (scalar(0)?, scalar(1)?, scalar(2)?);
    if delta == 0.0 || !delta.is_finite() || !start.is_finite() || !limit.is_finite() {
        return Err(OpError::invalid("range: delta must be non-zero and the bounds finite"));
    }
    let n = ((limit - start) / delta).ceil().max(0.0);
    if n > (1u64 << 32) as f64 {
        return Err(OpError::invalid("range: too many elements"));
    }
    let n = n as usize;
    let v: Vec<f64> = (0..n).map(|i| start + i as f64 * delta).collect();
    one(Tensor::from_f64(dt, &[n], v)?)
}

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn new(seed: Option<f32>) -> Rng {
        Rng(seed
            .map(|s| s.to_bits() as u64 ^ 0x5DEE_CE66_D1CE_4E5B)
            .unwrap_or(0x853C_49E6_748F_EA9B))
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

fn float_dtype(d: DType) -> Result<DType, OpError> {
    if matches!(d, DType::F32 | DType::F64 | DType::F16 | DType::BF16) {
        Ok(d)
    } else {
        Err(OpError::invalid(format!("random ops produce float tensors, not {d}")))
    }
}

fn uniform_tensor(dt: DType, shape: &[usize], low: f32, high: f32, seed: Option<f32>) -> Result<Tensor, OpError> {
    let mut rng = Rng::new(seed);
    let (lo, hi) = (low as f64, high as f64);
    let v = (0..numel(shape)?).map(|_| lo + rng.uniform() * (hi - lo)).collect();
    Tensor::from_f64(float_dtype(dt)?, shape, v)
}

fn normal_tensor(dt: DType, shape: &[usize], mean: f32, scale: f32, seed: Option<f32>) -> Result<Tensor, OpError> {
    let mut rng = Rng::new(seed);
    let v = (0..numel(shape)?).map(|_| mean as f64 + scale as f64 * rng.normal()).collect();
    Tensor::from_f64(float_dtype(dt)?, shape, v)
}

fn like_dtype(code: Option<i64>, x: &Tensor) -> Result<DType, OpError> {
    match code {
        Some(c) => dtype_of(c),
        None => Ok(x.dtype()),
    }
}

pub fn random_uniform(op: &RandomUniform, _cx: &NodeCtx<'_>) -> OpResult {
    one(uniform_tensor(dtype_of(op.dtype)?, &dims(&op.shape)?, op.low, op.high, op.seed)?)
}

pub fn random_uniform_like(op: &RandomUniformLike, cx: &NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    one(uniform_tensor(like_dtype(op.dtype, x)?, x.shape(), op.low, op.high, op.seed)?)
}

pub fn random_normal(op: &RandomNormal, _cx: &NodeCtx<'_>) -> OpResult {
    one(normal_tensor(dtype_of(op.dtype)?, &dims(&op.shape)?, op.mean, op.scale, op.seed)?)
}

pub fn random_normal_like(op: &RandomNormalLike, cx: &NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    one(normal_tensor(like_dtype(op.dtype, x)?, x.shape(), op.mean, op.scale, op.seed)?)
}

pub fn bernoulli(op: &Bernoulli, cx: &NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    let dt = like_dtype(op.dtype, x)?;
    let mut rng = Rng::new(op.seed);
    let v = x
        .to_f64_vec()?
        .into_iter()
        .map(|p| if rng.uniform() < p { 1.0 } else { 0.0 })
        .collect();
    one(Tensor::from_f64(dt, x.shape(), v)?)
}

pub fn multinomial(op: &Multinomial, cx: &NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    let &[batch, classes] = x.shape() else {
        return Err(OpError::invalid("multinomial: input must be 2-d"));
    };
    let dt = dtype_of(op.dtype)?;
    if !matches!(dt, DType::I32 | DType::I64) {
        return Err(OpError::invalid(format!("multinomial: dtype must be int32 or int64, not {dt}")));
    }
    let n = usize::try_from(op.sample_size).map_err(|_| OpError::invalid("multinomial: negative sample_size"))?;
    let logits = x.to_f64_vec()?;
    let mut rng = Rng::new(op.seed);
    let mut out = Vec::with_capacity(batch * n);
    for b in 0..batch {
        let row = &logits[b * classes..(b + 1) * classes];
        let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut cdf = Vec::with_capacity(classes);
        let mut acc = 0.0;
        for &l in row {
            acc += (l - m).exp();
            cdf.push(acc);
        }
        for _ in 0..n {
            let u = rng.uniform() * acc;
            let k = cdf.iter().position(|&c| u < c).unwrap_or(classes.saturating_sub(1));
            out.push(k as i64);
        }
    }
    let t = Tensor::I64(ArrayD::from_shape_vec(IxDyn(&[batch, n]), out).map_err(|e| OpError::invalid(e.to_string()))?);
    one(t.cast(dt)?)
}
