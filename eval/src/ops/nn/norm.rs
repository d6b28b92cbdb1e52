//! Normalizations: BatchNormalization (inference and training), InstanceNormalization,
//! LayerNormalization, GroupNormalization, RMSNormalization, LpNormalization,
//! MeanVarianceNormalization and LRN. Statistics are computed in f64.

use super::common::{fdata, fout, prod};
use crate::error::OpError;
use crate::ops::util::{broadcast_to, norm_axis};
use crate::tensor::Tensor;
use edgeport_ir::DType;
use ndarray::{ArrayD, IxDyn};

/// For each element of `shape`, the index of its group when `axes` are reduced; and the count.
fn groups(shape: &[usize], axes: &[usize]) -> (Vec<usize>, usize) {
    let keep: Vec<usize> = (0..shape.len()).filter(|d| !axes.contains(d)).collect();
    let kdims: Vec<usize> = keep.iter().map(|&d| shape[d]).collect();
    let kstr = super::common::strides_of(&kdims);
    let str = super::common::strides_of(shape);
    let n = prod(shape);
    let g = (0..n)
        .map(|i| keep.iter().enumerate().map(|(j, &d)| ((i / str[d]) % shape[d]) * kstr[j]).sum())
        .collect();
    (g, prod(&kdims))
}

/// Mean and population variance per group.
fn stats(x: &[f64], g: &[usize], ng: usize) -> (Vec<f64>, Vec<f64>) {
    let mut s = vec![0f64; ng];
    let mut c = vec![0usize; ng];
    for (&v, &gi) in x.iter().zip(g) {
        s[gi] += v;
        c[gi] += 1;
    }
    let mean: Vec<f64> = s.iter().zip(&c).map(|(s, &c)| s / c.max(1) as f64).collect();
    let mut q = vec![0f64; ng];
    for (&v, &gi) in x.iter().zip(g) {
        q[gi] += (v - mean[gi]).powi(2);
    }
    let var = q.iter().zip(&c).map(|(q, &c)| q / c.max(1) as f64).collect();
    (mean, var)
}

/// A tensor's values broadcast to `shape`.
fn bcast(t: &Tensor, shape: &[usize]) -> Result<Vec<f64>, OpError> {
    let a = ArrayD::from_shape_vec(IxDyn(t.shape()), t.to_f64_vec()?).map_err(|e| OpError::invalid(e.to_string()))?;
    Ok(broadcast_to(&a, shape)?.iter().copied().collect())
}

/// A per-channel vector (length C) checked.
fn chan(t: &Tensor, c: usize, what: &str) -> Result<Vec<f64>, OpError> {
    let v = t.to_f64_vec()?;
    if v.len() != c {
        return Err(OpError::invalid(format!("{what} has {} values, expected {c}", v.len())));
    }
    Ok(v)
}

/// ONNX BatchNormalization.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm(
    eps: f64,
    momentum: f64,
    training: bool,
    x: &Tensor,
    scale: &Tensor,
    b: &Tensor,
    mean: &Tensor,
    var: &Tensor,
    n_out: usize,
) -> Result<Vec<Tensor>, OpError> {
    let (xv, xs) = fdata(x)?;
    if xs.len() < 2 {
        return Err(OpError::invalid("BatchNormalization input must have rank >= 2"));
    }
    let c = xs[1];
    let sc = chan(scale, c, "scale")?;
    let bb = chan(b, c, "B")?;
    let im = chan(mean, c, "input_mean")?;
    let iv = chan(var, c, "input_var")?;
    let axes: Vec<usize> = (0..xs.len()).filter(|&d| d != 1).collect();
    let (g, _) = groups(&xs, &axes);
    let (m, v) = if training { stats(&xv, &g, c) } else { (im.clone(), iv.clone()) };
    let y: Vec<f64> = xv
        .iter()
        .zip(&g)
        .map(|(&x, &ci)| (x - m[ci]) / (v[ci] + eps).sqrt() * sc[ci] + bb[ci])
        .collect();
    let mut r = vec![fout(x.dtype(), &xs, y)?];
    if training && n_out > 1 {
        let rm: Vec<f64> = im.iter().zip(&m).map(|(a, b)| a * momentum + b * (1.0 - momentum)).collect();
        let rv: Vec<f64> = iv.iter().zip(&v).map(|(a, b)| a * momentum + b * (1.0 - momentum)).collect();
        r.push(fout(mean.dtype(), &[c], rm)?);
        r.push(fout(var.dtype(), &[c], rv)?);
    }
    Ok(r)
}

/// ONNX InstanceNormalization.
pub fn instance_norm(eps: f64, x: &Tensor, scale: &Tensor, b: &Tensor) -> Result<Tensor, OpError> {
    let (xv, xs) = fdata(x)?;
    if xs.len() < 2 {
        return Err(OpError::invalid("InstanceNormalization input must have rank >= 2"));
    }
    let c = xs[1];
    let sc = chan(scale, c, "scale")?;
    let bb = chan(b, c, "B")?;
    let axes: Vec<usize> = (2..xs.len()).collect();
    let (g, ng) = groups(&xs, &axes);
    let (m, v) = stats(&xv, &g, ng);
    let y = xv
        .iter()
        .zip(&g)
        .map(|(&x, &gi)| (x - m[gi]) / (v[gi] + eps).sqrt() * sc[gi % c] + bb[gi % c])
        .collect();
    fout(x.dtype(), &xs, y)
}

/// The stash dtype of LayerNormalization's extra outputs.
fn stash_dtype(stash: i64) -> DType {
    if stash == 16 { DType::BF16 } else { DType::F32 }
}

/// ONNX LayerNormalization: Y, Mean, InvStdDev.
pub fn layer_norm(axis: i64, eps: f64, stash: i64, x: &Tensor, scale: &Tensor, b: Option<&Tensor>) -> Result<Vec<Tensor>, OpError> {
    let (xv, xs) = fdata(x)?;
    let ax = norm_axis(axis, xs.len())?;
    let axes: Vec<usize> = (ax..xs.len()).collect();
    let (g, ng) = groups(&xs, &axes);
    let (m, v) = stats(&xv, &g, ng);
    let sc = bcast(scale, &xs)?;
    let bb = match b {
        Some(b) => bcast(b, &xs)?,
        None => vec![0.0; xv.len()],
    };
    let inv: Vec<f64> = v.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
    let y = (0..xv.len()).map(|i| (xv[i] - m[g[i]]) * inv[g[i]] * sc[i] + bb[i]).collect();
    let mut ss = xs.clone();
    for s in ss.iter_mut().skip(ax) {
        *s = 1;
    }
    Ok(vec![
        fout(x.dtype(), &xs, y)?,
        fout(stash_dtype(stash), &ss, m)?,
        fout(stash_dtype(stash), &ss, inv)?,
    ])
}

/// ONNX GroupNormalization (opset 21: per-channel scale and bias).
pub fn group_norm(eps: f64, num_groups: i64, x: &Tensor, scale: &Tensor, b: &Tensor) -> Result<Tensor, OpError> {
    let (xv, xs) = fdata(x)?;
    if xs.len() < 2 {
        return Err(OpError::invalid("GroupNormalization input must have rank >= 2"));
    }
    let (n, c) = (xs[0], xs[1]);
    let ng = usize::try_from(num_groups)
        .ok()
        .filter(|&g| g > 0 && c % g == 0)
        .ok_or_else(|| OpError::invalid(format!("num_groups {num_groups} does not divide {c} channels")))?;
    let sc = chan(scale, c, "scale")?;
    let bb = chan(b, c, "bias")?;
    let sp = prod(&xs[2..]);
    let per = c / ng * sp;
    let mut y = vec![0f64; xv.len()];
    for gi in 0..n * ng {
        let s = &xv[gi * per..(gi + 1) * per];
        let mean = s.iter().sum::<f64>() / per.max(1) as f64;
        let var = s.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / per.max(1) as f64;
        let inv = 1.0 / (var + eps).sqrt();
        for (j, &v) in s.iter().enumerate() {
            let ch = (gi % ng) * (c / ng) + j / sp.max(1);
            y[gi * per + j] = (v - mean) * inv * sc[ch] + bb[ch];
        }
    }
    fout(x.dtype(), &xs, y)
}

/// ONNX RMSNormalization.
pub fn rms_norm(axis: i64, eps: f64, x: &Tensor, scale: &Tensor) -> Result<Tensor, OpError> {
    let (xv, xs) = fdata(x)?;
    let ax = norm_axis(axis, xs.len())?;
    let axes: Vec<usize> = (ax..xs.len()).collect();
    let (g, ng) = groups(&xs, &axes);
    let mut s = vec![0f64; ng];
    let mut c = vec![0usize; ng];
    for (&v, &gi) in xv.iter().zip(&g) {
        s[gi] += v * v;
        c[gi] += 1;
    }
    let inv: Vec<f64> = s.iter().zip(&c).map(|(s, &c)| 1.0 / (s / c.max(1) as f64 + eps).sqrt()).collect();
    let sc = bcast(scale, &xs)?;
    let y = (0..xv.len()).map(|i| xv[i] * inv[g[i]] * sc[i]).collect();
    fout(scale.dtype(), &xs, y)
}

/// ONNX LpNormalization.
pub fn lp_norm(axis: i64, p: i64, x: &Tensor) -> Result<Tensor, OpError> {
    let (xv, xs) = fdata(x)?;
    let ax = norm_axis(axis, xs.len())?;
    let (g, ng) = groups(&xs, &[ax]);
    let mut s = vec![0f64; ng];
    for (&v, &gi) in xv.iter().zip(&g) {
        s[gi] += if p == 1 { v.abs() } else { v * v };
    }
    if p != 1 {
        s.iter_mut().for_each(|v| *v = v.sqrt());
    }
    let y = xv
        .iter()
        .zip(&g)
        .map(|(&v, &gi)| if s[gi] == 0.0 { 0.0 } else { v / s[gi] })
        .collect();
    fout(x.dtype(), &xs, y)
}

/// ONNX MeanVarianceNormalization.
pub fn mvn(axes: &[i64], x: &Tensor) -> Result<Tensor, OpError> {
    let (xv, xs) = fdata(x)?;
    let axes: Vec<usize> = axes.iter().map(|&a| norm_axis(a, xs.len())).collect::<Result<_, _>>()?;
    let (g, ng) = groups(&xs, &axes);
    let (m, v) = stats(&xv, &g, ng);
    let y = xv.iter().zip(&g).map(|(&x, &gi)| (x - m[gi]) / (v[gi].sqrt() + 1e-9)).collect();
    fout(x.dtype(), &xs, y)
}

/// ONNX LRN (across channels, axis 1).
pub fn lrn(alpha: f64, beta: f64, bias: f64, size: i64, x: &Tensor) -> Result<Tensor, OpError> {
    let (xv, xs) = fdata(x)?;
    if xs.len() < 2 || size <= 0 {
        return Err(OpError::invalid("LRN needs rank >= 2 and a positive size"));
    }
    let (n, c) = (xs[0], xs[1]);
    let sp = prod(&xs[2..]);
    let size = size as usize;
    let lo = (size - 1) / 2;
    let hi = (size - 1).div_ceil(2);
    let mut y = vec![0f64; xv.len()];
    for ni in 0..n {
        for ci in 0..c {
            let a = ci.saturating_sub(lo);
            let b = (ci + hi).min(c - 1);
            for s in 0..sp {
                let sq: f64 = (a..=b).map(|cc| xv[(ni * c + cc) * sp + s].powi(2)).sum();
                let i = (ni * c + ci) * sp + s;
                y[i] = xv[i] / (bias + alpha / size as f64 * sq).powf(beta);
            }
        }
    }
    fout(x.dtype(), &xs, y)
}
