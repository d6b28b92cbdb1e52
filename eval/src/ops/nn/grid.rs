//! GridSample (nearest/linear/cubic; zeros/border/reflection padding; 2-D and 3-D) and
//! AffineGrid (2-D and 3-D), following the ONNX reference.

use super::common::{fdata, fout, prod, strides_of, to_usize};
use crate::error::OpError;
use crate::tensor::Tensor;
use edgeport_ir::ops::tensor::{AffineGrid, GridSample};

fn reflect(x: f64, lo: f64, hi: f64) -> f64 {
    let rng = hi - lo;
    if rng <= 0.0 {
        return lo;
    }
    if x < lo {
        let dx = lo - x;
        let n = (dx / rng) as i64;
        let r = dx - n as f64 * rng;
        if n % 2 == 0 { lo + r } else { hi - r }
    } else if x > hi {
        let dx = x - hi;
        let n = (dx / rng) as i64;
        let r = dx - n as f64 * rng;
        if n % 2 == 0 { hi - r } else { lo + r }
    } else {
        x
    }
}

fn cubic(x: f64) -> [f64; 4] {
    let a = -0.75;
    let x = x.abs();
    [
        ((a * (x + 1.0) - 5.0 * a) * (x + 1.0) + 8.0 * a) * (x + 1.0) - 4.0 * a,
        ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0,
        ((a + 2.0) * (1.0 - x) - (a + 3.0)) * (1.0 - x) * (1.0 - x) + 1.0,
        ((a * (2.0 - x) - 5.0 * a) * (2.0 - x) + 8.0 * a) * (2.0 - x) - 4.0 * a,
    ]
}

/// ONNX GridSample.
pub fn grid_sample(a: &GridSample, x: &Tensor, grid: &Tensor) -> Result<Tensor, OpError> {
    let (xv, xs) = fdata(x)?;
    let (gv, gs) = fdata(grid)?;
    let nd = xs.len().saturating_sub(2);
    if nd == 0 || gs.len() != nd + 2 || gs[0] != xs[0] || gs[nd + 1] != nd {
        return Err(OpError::invalid(format!("GridSample X {xs:?} and grid {gs:?} do not fit")));
    }
    let (n, c) = (xs[0], xs[1]);
    let dims = &xs[2..];
    if dims.contains(&0) {
        return Err(OpError::invalid(format!("GridSample input {xs:?} has an empty spatial dim")));
    }
    let ac = a.align_corners != 0;
    let osp = &gs[1..nd + 1];
    let op = prod(osp);
    let ip = prod(dims);
    let istr = strides_of(dims);
    let pm = a.padding_mode.as_str();
    let mut y = vec![0f64; n * c * op];
    let mut taps: Vec<Vec<(i64, f64)>> = vec![Vec::new(); nd];
    for ni in 0..n {
        for o in 0..op {
            let g = &gv[(ni * op + o) * nd..(ni * op + o + 1) * nd];
            for d in 0..nd {
                let len = dims[d] as f64;
                let nv = g[nd - 1 - d];
                let mut v = if ac {
                    (nv + 1.0) / 2.0 * (len - 1.0)
                } else {
                    ((nv + 1.0) * len - 1.0) / 2.0
                };
                let (lo, hi) = if ac { (0.0, len - 1.0) } else { (-0.5, len - 0.5) };
                if a.mode == "nearest" {
                    v = super::common::round_even(v);
                }
                if v < lo || v > hi {
                    if pm == "border" {
                        v = v.clamp(0.0, len - 1.0);
                    } else if pm == "reflection" {
                        v = reflect(v, lo, hi);
                    }
                }
                taps[d] = match a.mode.as_str() {
                    "nearest" => vec![(v as i64, 1.0)],
                    "linear" | "bilinear" => {
                        let f = v.floor();
                        vec![(f as i64, 1.0 - (v - f)), (f as i64 + 1, v - f)]
                    }
                    "cubic" | "bicubic" => {
                        let f = v.floor();
                        let w = cubic(v - f);
                        (0..4).map(|k| (f as i64 - 1 + k as i64, w[k])).collect()
                    }
                    m => return Err(OpError::invalid(format!("unknown GridSample mode '{m}'"))),
                };
            }
            // Resolve tap indices with the padding mode.
            let mut res: Vec<Vec<(Option<usize>, f64)>> = Vec::with_capacity(nd);
            for d in 0..nd {
                let len = dims[d] as i64;
                let (lo, hi) = if ac { (0.0, len as f64 - 1.0) } else { (-0.5, len as f64 - 0.5) };
                res.push(
                    taps[d]
                        .iter()
                        .map(|&(i, w)| {
                            let idx = match pm {
                                "zeros" => (i >= 0 && i < len).then_some(i as usize),
                                "border" => Some(i.clamp(0, len - 1) as usize),
                                _ => Some((reflect(i as f64, lo, hi) as i64).clamp(0, len - 1) as usize),
                            };
                            (idx, w)
                        })
                        .collect(),
                );
            }
            let mut k = vec![0usize; nd];
            let mut acc = vec![0f64; c];
            loop {
                let mut w = 1.0;
                let mut off = Some(0usize);
                for d in 0..nd {
                    let (i, wd) = res[d][k[d]];
                    w *= wd;
                    off = match (off, i) {
                        (Some(o), Some(i)) => Some(o + i * istr[d]),
                        _ => None,
                    };
                }
                if let Some(off) = off {
                    for (ci, a) in acc.iter_mut().enumerate() {
                        *a += w * xv[(ni * c + ci) * ip + off];
                    }
                }
                let mut d = nd;
                let mut more = false;
                while d > 0 {
                    d -= 1;
                    k[d] += 1;
                    if k[d] < res[d].len() {
                        more = true;
                        break;
                    }
                    k[d] = 0;
                }
                if !more {
                    break;
                }
            }
            for (ci, v) in acc.into_iter().enumerate() {
                y[(ni * c + ci) * op + o] = v;
            }
        }
    }
    let mut ys = vec![n, c];
    ys.extend(osp);
    fout(x.dtype(), &ys, y)
}

/// ONNX AffineGrid.
pub fn affine_grid(a: &AffineGrid, theta: &Tensor, size: &Tensor) -> Result<Tensor, OpError> {
    let (tv, ts) = fdata(theta)?;
    let size: Vec<usize> = size
        .to_i64_vec()?
        .into_iter()
        .map(|v| to_usize(v, "size"))
        .collect::<Result<_, _>>()?;
    let nd = size.len().saturating_sub(2);
    let n = *size.first().unwrap_or(&0);
    if !(nd == 2 || nd == 3) || ts != [n, nd, nd + 1] {
        return Err(OpError::invalid(format!("AffineGrid theta {ts:?} does not fit size {size:?}")));
    }
    let sp = &size[2..];
    let ac = a.align_corners != 0;
    let coord = |i: usize, len: usize| -> f64 {
        if ac {
            if len <= 1 { -1.0 } else { -1.0 + 2.0 * i as f64 / (len - 1) as f64 }
        } else {
            -1.0 + (2 * i + 1) as f64 / len as f64
        }
    };
    let p = prod(sp);
    let st = strides_of(sp);
    let mut y = Vec::with_capacity(n * p * nd);
    for ni in 0..n {
        let th = &tv[ni * nd * (nd + 1)..(ni + 1) * nd * (nd + 1)];
        for i in 0..p {
            // Homogeneous point (x, y[, z], 1): x is the last spatial dim.
            let mut h: Vec<f64> = (0..nd)
                .map(|k| {
                    let d = nd - 1 - k;
                    coord((i / st[d]) % sp[d], sp[d])
                })
                .collect();
            h.push(1.0);
            for r in 0..nd {
                y.push((0..=nd).map(|k| th[r * (nd + 1) + k] * h[k]).sum());
            }
        }
    }
    let mut ys = vec![n];
    ys.extend(sp);
    ys.push(nd);
    fout(theta.dtype(), &ys, y)
}
