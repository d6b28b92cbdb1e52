//! Resize: every coordinate_transformation_mode, nearest/linear/cubic (with nearest_mode,
//! cubic_coeff_a, exclude_outside, antialias), keep_aspect_ratio_policy, axes, scales or sizes,
//! tf_crop_and_resize extrapolation. Separable: one 1-D resampling pass per axis.
//!
//! Each output coordinate maps to a list of taps (input index, weight); nearest is a gather.
//! The taps follow the ONNX reference (edge-clamped neighbours, ratio 1 on integer
//! coordinates). `layout` does not matter: scales, sizes and axes name the tensor's own axes.

use super::common::{prod, round_even, strides_of};
use crate::error::OpError;
use crate::map_array;
use crate::ops::util::norm_axis;
use crate::tensor::Tensor;
use edgeport_ir::ops::tensor::Resize;
use ndarray::{ArrayD, IxDyn};

/// One output coordinate: taps, or `None` when it extrapolates.
type Taps = Option<Vec<(usize, f64)>>;

fn x_original(mode: &str, o: usize, l: usize, out: usize, s: f64, roi: (f64, f64)) -> Result<f64, OpError> {
    let (x, lf) = (o as f64, l as f64);
    let ow = s * lf;
    Ok(match mode {
        "align_corners" => {
            if ow == 1.0 {
                0.0
            } else {
                x * (lf - 1.0) / (ow - 1.0)
            }
        }
        "asymmetric" => x / s,
        "tf_crop_and_resize" => {
            let base = if ow == 1.0 {
                (roi.1 - roi.0) * (lf - 1.0) / 2.0
            } else {
                x * (roi.1 - roi.0) * (lf - 1.0) / (ow - 1.0)
            };
            base + roi.0 * (lf - 1.0)
        }
        "pytorch_half_pixel" => {
            if ow == 1.0 {
                -0.5
            } else {
                (x + 0.5) / s - 0.5
            }
        }
        "half_pixel" => (x + 0.5) / s - 0.5,
        "half_pixel_symmetric" => {
            let adj = out as f64 / ow;
            let offset = lf / 2.0 * (1.0 - adj);
            offset + (x + 0.5) / s - 0.5
        }
        m => {
            return Err(OpError::invalid(format!("unknown coordinate_transformation_mode '{m}'")));
        }
    })
}

fn cubic_w(x: f64, a: f64) -> f64 {
    let x = x.abs();
    if x <= 1.0 {
        ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
    } else {
        0.0
    }
}

/// Coefficients for a ratio in (0, 1] (ratio 1 on integer coordinates).
fn coeffs(r: &Resize, ratio: f64, scale: f64) -> Result<Vec<f64>, OpError> {
    let a = r.cubic_coeff_a as f64;
    Ok(match r.mode.as_str() {
        "nearest" => {
            if ratio == 1.0 {
                vec![0.0, 1.0]
            } else {
                let up = match r.nearest_mode.as_str() {
                    "round_prefer_floor" => ratio > 0.5,
                    "round_prefer_ceil" => ratio >= 0.5,
                    "floor" => false,
                    "ceil" => true,
                    m => return Err(OpError::invalid(format!("unknown nearest_mode '{m}'"))),
                };
                if up { vec![0.0, 1.0] } else { vec![1.0, 0.0] }
            }
        }
        "linear" if r.antialias != 0 => {
            let s = scale.min(1.0);
            let start = (-1.0 / s).floor() as i64 + 1;
            let n = 2 - 2 * start;
            let c: Vec<f64> = (start..start + n)
                .map(|i| (1.0 - ((i as f64 - ratio) * s).abs()).clamp(0.0, 1.0))
                .collect();
            let sum: f64 = c.iter().sum();
            c.into_iter().map(|v| v / sum).collect()
        }
        "linear" => vec![1.0 - ratio, ratio],
        "cubic" if r.antialias != 0 => {
            let s = scale.min(1.0);
            let start = (-2.0 / s).floor() as i64 + 1;
            let end = 2 - start;
            let c: Vec<f64> = (start..end).map(|i| cubic_w(s * (i as f64 - ratio), a)).collect();
            let sum: f64 = c.iter().sum();
            c.into_iter().map(|v| v / sum).collect()
        }
        "cubic" => vec![
            cubic_w(ratio + 1.0, a),
            cubic_w(ratio, a),
            cubic_w(1.0 - ratio, a),
            cubic_w(2.0 - ratio, a),
        ],
        m => return Err(OpError::invalid(format!("unknown Resize mode '{m}'"))),
    })
}

fn axis_taps(r: &Resize, l: usize, out: usize, s: f64, roi: (f64, f64)) -> Result<Vec<Taps>, OpError> {
    let tf = r.coordinate_transformation_mode == "tf_crop_and_resize";
    (0..out)
        .map(|o| {
            let x = x_original(&r.coordinate_transformation_mode, o, l, out, s, roi)?;
            if tf && (x < 0.0 || x > l as f64 - 1.0) {
                return Ok(None);
            }
            let (fl, ratio) = if x.fract() == 0.0 {
                (x as i64 - 1, 1.0)
            } else {
                (x.floor() as i64, x - x.floor())
            };
            let mut c = coeffs(r, ratio, s)?;
            let n = c.len() as i64;
            let first = fl - n / 2 + 1;
            if r.exclude_outside != 0 {
                for (j, w) in c.iter_mut().enumerate() {
                    let i = first + j as i64;
                    if i < 0 || i >= l as i64 {
                        *w = 0.0;
                    }
                }
                let sum: f64 = c.iter().sum();
                c.iter_mut().for_each(|w| *w /= sum);
            }
            Ok(Some(
                c.into_iter()
                    .enumerate()
                    .map(|(j, w)| ((first + j as i64).clamp(0, l as i64 - 1) as usize, w))
                    .collect(),
            ))
        })
        .collect()
}

/// `out[i] = a.flat[src[i]]`.
fn gather<T: Clone>(a: &ArrayD<T>, src: &[usize], out: &[usize]) -> Result<ArrayD<T>, OpError> {
    let flat: Vec<&T> = a.iter().collect();
    let v = src
        .iter()
        .map(|&s| flat.get(s).map(|&x| x.clone()))
        .collect::<Option<Vec<T>>>()
        .ok_or_else(|| OpError::invalid("Resize: cannot resize an empty input to a non-empty output"))?;
    ArrayD::from_shape_vec(IxDyn(out), v).map_err(|e| OpError::invalid(e.to_string()))
}

/// ONNX Resize.
pub fn resize(r: &Resize, x: &Tensor, roi: Option<&Tensor>, scales: Option<&Tensor>, sizes: Option<&Tensor>) -> Result<Tensor, OpError> {
    let xs = x.shape().to_vec();
    let rank = xs.len();
    let axes: Vec<usize> = if r.axes.is_empty() {
        (0..rank).collect()
    } else {
        r.axes.iter().map(|&a| norm_axis(a, rank)).collect::<Result<_, _>>()?
    };
    let na = axes.len();
    let scales = scales.map(|t| t.to_f64_vec()).transpose()?.filter(|v| !v.is_empty());
    let sizes = sizes.map(|t| t.to_i64_vec()).transpose()?.filter(|v| !v.is_empty());
    let mut sc = vec![1f64; rank];
    let mut out = xs.clone();
    match (scales, sizes) {
        (Some(s), _) => {
            if s.len() != na {
                return Err(OpError::invalid(format!("scales has {} values for {na} axes", s.len())));
            }
            for (i, &a) in axes.iter().enumerate() {
                if s[i] <= 0.0 {
                    return Err(OpError::invalid("scales must be positive"));
                }
                sc[a] = s[i];
                out[a] = (xs[a] as f64 * s[i]).floor() as usize;
            }
        }
        (None, Some(z)) => {
            if z.len() != na {
                return Err(OpError::invalid(format!("sizes has {} values for {na} axes", z.len())));
            }
            let ratio = |i: usize| z[i] as f64 / xs[axes[i]] as f64;
            match r.keep_aspect_ratio_policy.as_str() {
                "stretch" => {
                    for (i, &a) in axes.iter().enumerate() {
                        out[a] = usize::try_from(z[i]).map_err(|_| OpError::invalid("negative size"))?;
                        sc[a] = ratio(i);
                    }
                }
                p @ ("not_larger" | "not_smaller") => {
                    let it = (0..na).map(ratio);
                    let s = if p == "not_larger" {
                        it.fold(f64::INFINITY, f64::min)
                    } else {
                        it.fold(0.0, f64::max)
                    };
                    for &a in &axes {
                        sc[a] = s;
                        out[a] = (s * xs[a] as f64 + 0.5).floor() as usize;
                    }
                }
                p => {
                    return Err(OpError::invalid(format!("unknown keep_aspect_ratio_policy '{p}'")));
                }
            }
        }
        (None, None) => return Err(OpError::invalid("Resize needs scales or sizes")),
    }
    let roi_v = roi.map(|t| t.to_f64_vec()).transpose()?.filter(|v| !v.is_empty());
    let mut rois = vec![(0.0, 1.0); rank];
    if let Some(v) = roi_v {
        if v.len() == 2 * na {
            for (i, &a) in axes.iter().enumerate() {
                rois[a] = (v[i], v[i + na]);
            }
        } else if v.len() == 2 * rank {
            for (a, rr) in rois.iter_mut().enumerate() {
                *rr = (v[a], v[a + rank]);
            }
        } else if r.coordinate_transformation_mode == "tf_crop_and_resize" {
            return Err(OpError::invalid(format!("roi has {} values, expected {}", v.len(), 2 * na)));
        }
    }
    let taps: Vec<Vec<Taps>> = (0..rank)
        .map(|a| {
            if xs[a] == 0 {
                Ok(vec![None; out[a]])
            } else {
                axis_taps(r, xs[a], out[a], sc[a], rois[a])
            }
        })
        .collect::<Result<_, _>>()?;
    let total = prod(&out);
    let ostr = strides_of(&out);
    let extrap_at = |i: usize| (0..rank).any(|a| taps[a][(i / ostr[a]) % out[a]].is_none());
    if r.mode == "nearest" {
        let istr = strides_of(&xs);
        let src: Vec<usize> = (0..total)
            .map(|i| {
                (0..rank)
                    .map(|a| {
                        let t = &taps[a][(i / ostr[a]) % out[a]];
                        let idx = t
                            .as_ref()
                            .and_then(|t| t.iter().find(|p| p.1 == 1.0).or(t.first()).map(|p| p.0))
                            .unwrap_or(0);
                        idx * istr[a]
                    })
                    .sum()
            })
            .collect();
        let y = map_array!(x, a => gather(a, &src, &out)?);
        if r.coordinate_transformation_mode == "tf_crop_and_resize" && (0..total).any(extrap_at) {
            let mut v = y.to_f64_vec()?;
            for (i, e) in v.iter_mut().enumerate() {
                if extrap_at(i) {
                    *e = r.extrapolation_value as f64;
                }
            }
            return Tensor::from_f64(x.dtype(), &out, v);
        }
        return Ok(y);
    }
    // Linear / cubic: separable passes in f64.
    let mut data = x.to_f64_vec()?;
    let mut shape = xs.clone();
    for a in 0..rank {
        let mut ns = shape.clone();
        ns[a] = out[a];
        let outer = prod(&shape[..a]);
        let inner = prod(&shape[a + 1..]);
        let mut nd = vec![0f64; prod(&ns)];
        for o in 0..outer {
            for (j, t) in taps[a].iter().enumerate() {
                let Some(t) = t else { continue };
                let dst = (o * out[a] + j) * inner;
                for &(idx, w) in t {
                    if w == 0.0 {
                        continue;
                    }
                    let src = (o * shape[a] + idx) * inner;
                    for k in 0..inner {
                        nd[dst + k] += w * data[src + k];
                    }
                }
            }
        }
        data = nd;
        shape = ns;
    }
    for (i, v) in data.iter_mut().enumerate() {
        if extrap_at(i) {
            *v = r.extrapolation_value as f64;
        }
    }
    if matches!(x, Tensor::F32(_) | Tensor::F64(_) | Tensor::F16(_) | Tensor::BF16(_)) {
        Tensor::from_f64(x.dtype(), &out, data)
    } else {
        Tensor::from_f64(x.dtype(), &out, data.into_iter().map(round_even).collect())
    }
}
