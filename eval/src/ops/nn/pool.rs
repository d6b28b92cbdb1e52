//! Pooling: AveragePool, MaxPool (with Indices), LpPool, the global pools and MaxUnpool.

use super::common::{GeomSpec, fdata, fout, prod, strides_of, to_usize};
use crate::error::OpError;
use crate::tensor::Tensor;
use edgeport_ir::DType;

/// Pool kind.
#[derive(Clone, Copy, PartialEq)]
pub enum Kind {
    Avg { include_pad: bool },
    Max,
    Lp(f64),
}

/// Shared pool attributes.
pub struct PoolAttrs<'a> {
    pub auto_pad: &'a str,
    pub ceil_mode: bool,
    pub dilations: &'a [i64],
    pub kernel_shape: &'a [i64],
    pub pads: &'a [i64],
    pub strides: &'a [i64],
    pub storage_order: i64,
}

fn odo_next(idx: &mut [usize], dims: &[usize]) -> bool {
    let mut d = dims.len();
    while d > 0 {
        d -= 1;
        idx[d] += 1;
        if idx[d] < dims[d] {
            return true;
        }
        idx[d] = 0;
    }
    false
}

/// Runs a pool; returns Y and (for max) the indices.
pub fn pool(kind: Kind, a: &PoolAttrs<'_>, x: &Tensor, want_idx: bool) -> Result<Vec<Tensor>, OpError> {
    let xs = x.shape().to_vec();
    if xs.len() < 3 {
        return Err(OpError::invalid(format!("pool input must have rank >= 3, got {xs:?}")));
    }
    let sp = &xs[2..];
    let nd = sp.len();
    let g = GeomSpec {
        input: sp,
        kernel: a.kernel_shape,
        strides: a.strides,
        dils: a.dilations,
        pads: a.pads,
        auto_pad: a.auto_pad,
        ceil_mode: a.ceil_mode,
    }
    .resolve()?;
    if !want_idx && let Some(t) = super::pool2d_f32::try_pool(kind, x, &g) {
        return Ok(vec![t]);
    }
    let xv = match x {
        Tensor::I8(_) | Tensor::U8(_) if kind == Kind::Max => x.to_f64_vec()?,
        _ => fdata(x)?.0,
    };
    let nc = xs[0] * xs[1];
    let ip = prod(sp);
    let op = prod(&g.out);
    let istr = strides_of(sp);
    // Column-major spatial strides for storage_order = 1.
    let mut cstr = vec![1usize; nd];
    for d in 1..nd {
        cstr[d] = cstr[d - 1] * sp[d - 1];
    }
    let mut y = vec![0f64; nc * op];
    let mut ind = vec![0i64; if want_idx { nc * op } else { 0 }];
    if nc * op > 0 {
        let mut oidx = vec![0usize; nd];
        let mut kidx = vec![0usize; nd];
        for o in 0..op {
            // Precompute per-dim the window's padded coordinate start.
            for b in 0..nc {
                let xb = &xv[b * ip..(b + 1) * ip];
                let mut acc = match kind {
                    Kind::Max => f64::NEG_INFINITY,
                    _ => 0.0,
                };
                let mut arg = usize::MAX;
                let mut count = 0usize;
                kidx.iter_mut().for_each(|k| *k = 0);
                loop {
                    let mut off = 0usize;
                    let mut inside = true;
                    let mut in_pad = true;
                    for d in 0..nd {
                        let p = (oidx[d] * g.strides[d] + kidx[d] * g.dils[d]) as isize - g.pb[d] as isize;
                        if p < 0 || p as usize >= sp[d] {
                            inside = false;
                            if p < -(g.pb[d] as isize) || p >= (sp[d] + g.pe[d]) as isize {
                                in_pad = false;
                            }
                        } else {
                            off += p as usize * istr[d];
                        }
                    }
                    if inside {
                        let v = xb[off];
                        match kind {
                            Kind::Max => {
                                if v > acc || arg == usize::MAX {
                                    acc = v;
                                    arg = off;
                                }
                            }
                            Kind::Avg { .. } => {
                                acc += v;
                                count += 1;
                            }
                            Kind::Lp(p) => acc += v.abs().powf(p),
                        }
                    } else if in_pad && kind == (Kind::Avg { include_pad: true }) {
                        count += 1;
                    }
                    if !odo_next(&mut kidx, &g.kernel) {
                        break;
                    }
                }
                y[b * op + o] = match kind {
                    Kind::Max => acc,
                    Kind::Avg { .. } => {
                        if count == 0 {
                            f64::NAN
                        } else {
                            acc / count as f64
                        }
                    }
                    Kind::Lp(p) => acc.powf(1.0 / p),
                };
                if want_idx {
                    let local = if arg == usize::MAX {
                        0
                    } else if a.storage_order == 1 {
                        (0..nd).map(|d| ((arg / istr[d]) % sp[d]) * cstr[d]).sum()
                    } else {
                        arg
                    };
                    ind[b * op + o] = (b * ip + local) as i64;
                }
            }
            odo_next(&mut oidx, &g.out);
        }
    }
    let mut ys = vec![xs[0], xs[1]];
    ys.extend(&g.out);
    let mut r = vec![fout(x.dtype(), &ys, y)?];
    if want_idx {
        r.push(Tensor::from_f64(DType::I64, &ys, ind.into_iter().map(|v| v as f64).collect())?);
    }
    Ok(r)
}

/// GlobalAveragePool / GlobalMaxPool / GlobalLpPool.
pub fn global_pool(kind: Kind, x: &Tensor) -> Result<Tensor, OpError> {
    let (xv, xs) = fdata(x)?;
    if xs.len() < 2 {
        return Err(OpError::invalid(format!("global pool input must have rank >= 2, got {xs:?}")));
    }
    let nc = xs[0] * xs[1];
    let ip = prod(&xs[2..]);
    let mut y = Vec::with_capacity(nc);
    for b in 0..nc {
        let s = &xv[b * ip..(b + 1) * ip];
        y.push(match kind {
            Kind::Max => s.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            Kind::Avg { .. } => s.iter().sum::<f64>() / ip as f64,
            Kind::Lp(p) => s.iter().map(|v| v.abs().powf(p)).sum::<f64>().powf(1.0 / p),
        });
    }
    let mut ys = vec![xs[0], xs[1]];
    ys.extend(std::iter::repeat_n(1, xs.len() - 2));
    fout(x.dtype(), &ys, y)
}

/// ONNX MaxUnpool.
pub fn max_unpool(
    kernel: &[i64],
    pads: &[i64],
    strides: &[i64],
    x: &Tensor,
    ind: &Tensor,
    out_shape: Option<&Tensor>,
) -> Result<Tensor, OpError> {
    let (xv, xs) = fdata(x)?;
    let iv = ind.to_i64_vec()?;
    if iv.len() != xv.len() || xs.len() < 3 {
        return Err(OpError::invalid("MaxUnpool: X and I must have the same shape, rank >= 3"));
    }
    let nd = xs.len() - 2;
    let mut shape: Vec<usize> = vec![xs[0], xs[1]];
    for d in 0..nd {
        let k = to_usize(
            *kernel.get(d).ok_or_else(|| OpError::invalid("kernel_shape too short"))?,
            "kernel_shape",
        )?;
        let s = strides.get(d).map_or(Ok(1), |&s| to_usize(s, "strides"))?;
        let pb = pads.get(d).map_or(Ok(0), |&p| to_usize(p, "pads"))?;
        let pe = pads.get(d + nd).map_or(Ok(0), |&p| to_usize(p, "pads"))?;
        shape.push(((xs[d + 2].max(1) - 1) * s + k).saturating_sub(pb + pe));
    }
    let total = prod(&shape);
    let mut y = vec![0f64; total];
    for (&i, &v) in iv.iter().zip(&xv) {
        let i = usize::try_from(i)
            .ok()
            .filter(|&i| i < total)
            .ok_or_else(|| OpError::invalid(format!("index {i} out of range")))?;
        y[i] = v;
    }
    let Some(os) = out_shape else {
        return fout(x.dtype(), &shape, y);
    };
    // Indices address the default output; embed it at the origin of the requested shape.
    let target: Vec<usize> = os
        .to_i64_vec()?
        .into_iter()
        .map(|v| to_usize(v, "output_shape"))
        .collect::<Result<_, _>>()?;
    if target.len() != shape.len() {
        return Err(OpError::invalid(format!("output_shape {target:?} has the wrong rank")));
    }
    let tstr = strides_of(&target);
    let sstr = strides_of(&shape);
    let mut out = vec![0f64; prod(&target)];
    for (i, &v) in y.iter().enumerate() {
        let mut off = 0usize;
        let mut ok = true;
        for d in 0..shape.len() {
            let c = (i / sstr[d]) % shape[d];
            if c >= target[d] {
                ok = false;
                break;
            }
            off += c * tstr[d];
        }
        if ok {
            out[off] = v;
        }
    }
    fout(x.dtype(), &target, out)
}
