//! Conv, ConvInteger and QLinearConv: im2col + GEMM (candle's gemm; a 1×1 stride-1 unpadded
//! conv multiplies the input itself, and im2col skips zeroing when nothing is padded) for dense
//! and grouped convolutions, and a direct kernel for depthwise ones. 1-D, 2-D and 3-D (any rank)
//! spatial. f32 inputs are read in place (no copy) when they are contiguous.

use super::common::{Geom, GeomSpec, fdata, fout, gemm, prod, round_even, strides_of, with_scratch};
use super::winograd;
use crate::error::OpError;
use crate::ops::linalg::sgemm;
use crate::tensor::Tensor;
use candle_core::WithDType;
use edgeport_ir::DType;
use ndarray::{ArrayD, IxDyn};
use std::borrow::Cow;
use std::sync::Arc;

/// Attributes shared by the conv-like ops.
pub struct ConvAttrs<'a> {
    pub auto_pad: &'a str,
    pub dilations: &'a [i64],
    pub group: i64,
    pub kernel_shape: &'a [i64],
    pub pads: &'a [i64],
    pub strides: &'a [i64],
}

/// Checks shapes and resolves geometry; returns (geom, group).
pub fn conv_geom(a: &ConvAttrs<'_>, xs: &[usize], ws: &[usize]) -> Result<(Geom, usize), OpError> {
    if xs.len() < 3 || ws.len() != xs.len() {
        return Err(OpError::invalid(format!("conv input {xs:?} and weight {ws:?} ranks do not fit")));
    }
    let group = usize::try_from(a.group)
        .ok()
        .filter(|&g| g > 0)
        .ok_or_else(|| OpError::invalid("group must be positive"))?;
    let (c, m) = (xs[1], ws[0]);
    if c % group != 0 || m % group != 0 || ws[1] * group != c {
        return Err(OpError::invalid(format!("conv channels: input {c}, weight {ws:?}, group {group}")));
    }
    let kernel: Vec<i64> = if a.kernel_shape.is_empty() {
        ws[2..].iter().map(|&k| k as i64).collect()
    } else {
        a.kernel_shape.to_vec()
    };
    if kernel.iter().zip(&ws[2..]).any(|(&k, &w)| k as usize != w) {
        return Err(OpError::invalid(format!("kernel_shape {kernel:?} does not match weight {ws:?}")));
    }
    let g = GeomSpec {
        input: &xs[2..],
        kernel: &kernel,
        strides: a.strides,
        dils: a.dilations,
        pads: a.pads,
        auto_pad: a.auto_pad,
        ceil_mode: false,
    }
    .resolve()?;
    Ok((g, group))
}

/// For one spatial dim: the input coordinate read by (kernel pos k, output pos o), or usize::MAX
/// when it falls in the padding.
fn coord_table(inp: usize, k: usize, o: usize, s: usize, d: usize, pb: usize) -> Vec<usize> {
    let mut t = vec![usize::MAX; k * o];
    for ki in 0..k {
        for oi in 0..o {
            let p = (oi * s + ki * d) as isize - pb as isize;
            if p >= 0 && (p as usize) < inp {
                t[ki * o + oi] = p as usize;
            }
        }
    }
    t
}

/// Iterates an odometer over `dims`, calling `f` with the multi-index.
fn odometer(dims: &[usize], mut f: impl FnMut(&[usize])) {
    if dims.contains(&0) {
        return;
    }
    let mut idx = vec![0usize; dims.len()];
    loop {
        f(&idx);
        let mut d = dims.len();
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < dims[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

/// Fills `cols` (`[cg·K, O]`) with the patches of channels `c0..c0+cg` of `x` (plane size `ip`);
/// padded positions are written as zero, so `cols` needs no clearing between calls.
#[allow(clippy::too_many_arguments)]
fn im2col<T: Copy + num_traits::Zero>(
    cols: &mut [T],
    x: &[T],
    c0: usize,
    cg: usize,
    ip: usize,
    kp: usize,
    tables: &[Vec<usize>],
    istr: &[usize],
    g: &Geom,
    outer_k: &[usize],
    outer_o: &[usize],
    (or0, or1): (usize, usize),
) -> Result<(), OpError> {
    let last = tables.len().saturating_sub(1);
    let (ol, kl) = (g.out[last], g.kernel[last]);
    // Only output rows or0..or1 (rows of the last dim, counted over the outer output dims) are
    // written, as the columns of a `cg·K × (or1−or0)·ol` matrix.
    let op = (or1 - or0) * ol;
    let zero = T::zero();
    let step = g.strides[last].max(1);
    // Along the last dim, kernel position k reads a contiguous run of outputs lo..hi (the
    // input position grows with the output one), from input position p0 in steps of `step`;
    // the outputs outside it read padding.
    let spans: Vec<(usize, usize, usize)> = (0..kl)
        .map(|k| {
            let t = &tables[last][k * ol..(k + 1) * ol];
            match (t.iter().position(|&p| p != usize::MAX), t.iter().rposition(|&p| p != usize::MAX)) {
                (Some(lo), Some(hi)) => (lo, hi + 1, t[lo]),
                _ => (0, 0, 0),
            }
        })
        .collect();
    for cc in 0..cg {
        let xb = x
            .get((c0 + cc) * ip..(c0 + cc + 1) * ip)
            .ok_or_else(|| OpError::invalid("conv input is shorter than its shape"))?;
        let mut krow = 0usize;
        odometer(outer_k, |kidx| {
            let mut row = 0usize;
            odometer(outer_o, |oidx| {
                if row < or0 || row >= or1 {
                    row += 1;
                    return;
                }
                let orow = row - or0;
                row += 1;
                let mut base = 0usize;
                for d in 0..last {
                    let p = tables[d][kidx[d] * g.out[d] + oidx[d]];
                    if p == usize::MAX {
                        // The whole output row reads padding for these kernel rows.
                        for k in 0..kl {
                            let r = cc * kp + krow * kl + k;
                            cols[r * op + orow * ol..r * op + (orow + 1) * ol].fill(zero);
                        }
                        return;
                    }
                    base += p * istr[d];
                }
                for (k, &(lo, hi, p0)) in spans.iter().enumerate() {
                    let r = cc * kp + krow * kl + k;
                    let dst = &mut cols[r * op + orow * ol..r * op + (orow + 1) * ol];
                    dst[..lo].fill(zero);
                    dst[hi..].fill(zero);
                    let src = &xb[base + p0..];
                    if step == 1 {
                        dst[lo..hi].copy_from_slice(&src[..hi - lo]);
                    } else {
                        for (dv, &x) in dst[lo..hi].iter_mut().zip(src.iter().step_by(step)) {
                            *dv = x;
                        }
                    }
                }
            });
            krow += 1;
        });
    }
    Ok(())
}

/// The convolution itself: `x: [N, C, S…]`, `w: [M, C/g, K…]` → `[N, M, O…]`.
pub fn conv_core<T: WithDType>(
    x: &[T],
    xs: &[usize],
    w: &[T],
    ws: &[usize],
    b: Option<&[T]>,
    g: &Geom,
    group: usize,
) -> Result<(Vec<T>, Vec<usize>), OpError> {
    let (n, c, m) = (xs[0], xs[1], ws[0]);
    let sp = &xs[2..];
    let nd = sp.len();
    let (cg, mg) = (c / group, m / group);
    let kp = prod(&g.kernel);
    let op = prod(&g.out);
    let ip = prod(sp);
    let mut oshape = vec![n, m];
    oshape.extend(&g.out);
    if let Some(b) = b
        && b.len() != m
    {
        return Err(OpError::invalid(format!("bias has {} values, expected {m}", b.len())));
    }
    let len = n * m * op;
    if len == 0 {
        return Ok((Vec::new(), oshape));
    }
    // The GEMM paths add their products to the bias: the output starts as the bias itself
    // (one pass, instead of zeroing it and writing the bias over it).
    let depthwise = cg == 1 && mg >= 1 && group > 1;
    let prefilled = !depthwise && b.is_some() && sgemm::supported::<T>();
    let mut y: Vec<T> = match b {
        Some(b) if prefilled => {
            let mut y = Vec::with_capacity(len);
            for _ in 0..n {
                for &bv in b {
                    y.extend(std::iter::repeat_n(bv, op));
                }
            }
            y
        }
        _ => vec![T::zero(); len],
    };
    let tables: Vec<Vec<usize>> = (0..nd)
        .map(|d| coord_table(sp[d], g.kernel[d], g.out[d], g.strides[d], g.dils[d], g.pb[d]))
        .collect();
    let istr = strides_of(sp);
    let last = nd - 1;
    let (ol, kl) = (g.out[last], g.kernel[last]);
    let outer_o = &g.out[..last];
    let outer_k = &g.kernel[..last];
    if depthwise {
        // Depthwise: direct kernel.
        for ni in 0..n {
            for mi in 0..m {
                let ci = mi / mg;
                let xb = &x[(ni * c + ci) * ip..(ni * c + ci + 1) * ip];
                let wb = &w[mi * kp..(mi + 1) * kp];
                let yb = &mut y[(ni * m + mi) * op..(ni * m + mi + 1) * op];
                let mut krow = 0usize;
                odometer(outer_k, |kidx| {
                    let mut orow = 0usize;
                    odometer(outer_o, |oidx| {
                        let mut base = 0usize;
                        for d in 0..last {
                            let p = tables[d][kidx[d] * g.out[d] + oidx[d]];
                            if p == usize::MAX {
                                orow += 1;
                                return;
                            }
                            base += p * istr[d];
                        }
                        let yr = &mut yb[orow * ol..(orow + 1) * ol];
                        for k in 0..kl {
                            let wv = wb[krow * kl + k];
                            let t = &tables[last][k * ol..(k + 1) * ol];
                            for (yo, &p) in yr.iter_mut().zip(t) {
                                if p != usize::MAX {
                                    *yo += wv * xb[base + p];
                                }
                            }
                        }
                        orow += 1;
                    });
                    krow += 1;
                });
            }
        }
    } else {
        let rows = cg * kp;
        // A 1×1 kernel with unit strides and no padding reads the input as it is.
        let direct = kp == 1 && op == ip && g.strides.iter().all(|&s| s == 1) && g.pb.iter().all(|&p| p == 0);
        let orows = op / g.out[last].max(1);
        // Banding needs the direct GEMM (f32, f64); other types take all rows at once.
        let band = if direct || !sgemm::supported::<T>() {
            orows
        } else {
            band_rows(rows, g.out[last], orows)
        };
        with_scratch::<T, _>(if direct { 0 } else { rows * band * g.out[last] }, |cols| {
            conv_gemm(
                x,
                w,
                b,
                &mut y,
                (n, c, m, group, cg, mg, rows, op, ip, kp),
                (direct, band, prefilled),
                cols,
                &tables,
                &istr,
                g,
                outer_k,
                outer_o,
            )
        })?;
        return Ok((y, oshape));
    }
    if let Some(b) = b {
        for ni in 0..n {
            for (mi, &bv) in b.iter().enumerate() {
                y[(ni * m + mi) * op..(ni * m + mi + 1) * op].iter_mut().for_each(|v| *v += bv);
            }
        }
    }
    Ok((y, oshape))
}

/// im2col columns aimed at per band (f32: 1 MB, within a core's L2 cache).
const BAND_ELEMS: usize = 256 << 10;

/// Output rows (of `ol` positions) per im2col band for `rows` column rows: all `orows` when
/// they fit, else enough rows for about [`BAND_ELEMS`] (at least one).
fn band_rows(rows: usize, ol: usize, orows: usize) -> usize {
    let per_row = rows.saturating_mul(ol).max(1);
    (BAND_ELEMS / per_row).clamp(1, orows.max(1))
}

/// The im2col + GEMM part of [`conv_core`] (dense and grouped convs), writing `y`.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn conv_gemm<T: WithDType>(
    x: &[T],
    w: &[T],
    b: Option<&[T]>,
    y: &mut [T],
    dims: (usize, usize, usize, usize, usize, usize, usize, usize, usize, usize),
    (direct, band, prefilled): (bool, usize, bool),
    cols: &mut [T],
    tables: &[Vec<usize>],
    istr: &[usize],
    g: &Geom,
    outer_k: &[usize],
    outer_o: &[usize],
) -> Result<(), OpError> {
    let (n, c, m, group, cg, mg, rows, op, ip, kp) = dims;
    let ol = g.out.last().copied().unwrap_or(1).max(1);
    let orows = op / ol;
    for ni in 0..n {
        for gi in 0..group {
            let wg = &w[gi * mg * rows..(gi + 1) * mg * rows];
            let y0 = (ni * m + gi * mg) * op;
            if direct || !sgemm::supported::<T>() {
                let src: &[T] = if direct {
                    &x[(ni * c + gi * cg) * ip..(ni * c + (gi + 1) * cg) * ip]
                } else {
                    im2col(cols, x, ni * c + gi * cg, cg, ip, kp, tables, istr, g, outer_k, outer_o, (0, orows))?;
                    cols
                };
                let dst = &mut y[y0..y0 + mg * op];
                if sgemm::supported::<T>() {
                    // Straight into the output, on top of the bias.
                    if let Some(b) = b.filter(|_| !prefilled) {
                        for (row, &bv) in dst.chunks_mut(op).zip(&b[gi * mg..(gi + 1) * mg]) {
                            row.fill(bv);
                        }
                    }
                    sgemm::gemm_into(
                        dst,
                        sgemm::Mat::rows(wg, rows),
                        sgemm::Mat::rows(src, op),
                        (mg, rows, op),
                        b.is_some(),
                    )?;
                    continue;
                }
                let yg = gemm(wg, src, mg, rows, op)?;
                if yg.len() != dst.len() {
                    return Err(OpError::invalid("conv gemm returned a wrong size"));
                }
                dst.copy_from_slice(&yg);
                if let Some(b) = b {
                    for (row, &bv) in dst.chunks_mut(op).zip(&b[gi * mg..(gi + 1) * mg]) {
                        row.iter_mut().for_each(|v| *v += bv);
                    }
                }
                continue;
            }
            // Bands of output rows: each band's columns stay in cache between im2col and the
            // product, which writes its part of every output channel's plane (row stride op).
            let mut r0 = 0;
            while r0 < orows {
                let r1 = (r0 + band).min(orows);
                let bw = (r1 - r0) * ol;
                let cb = &mut cols[..rows * bw];
                im2col(cb, x, ni * c + gi * cg, cg, ip, kp, tables, istr, g, outer_k, outer_o, (r0, r1))?;
                let start = y0 + r0 * ol;
                let dst = &mut y[start..start + (mg - 1) * op + bw];
                if let Some(b) = b.filter(|_| !prefilled) {
                    for (row, &bv) in dst.chunks_mut(op).zip(&b[gi * mg..(gi + 1) * mg]) {
                        row[..bw].fill(bv);
                    }
                }
                sgemm::gemm_into_strided(
                    dst,
                    op,
                    sgemm::Mat::rows(wg, rows),
                    sgemm::Mat::rows(cb, bw),
                    (mg, rows, bw),
                    b.is_some(),
                )?;
                r0 = r1;
            }
        }
    }
    Ok(())
}

/// A tensor's values as f32: borrowed when it is a contiguous f32 array.
pub(crate) fn f32s(t: &Tensor) -> Result<Cow<'_, [f32]>, OpError> {
    Ok(match t {
        Tensor::F32(a) => match a.as_slice() {
            Some(s) => Cow::Borrowed(s),
            None => Cow::Owned(a.iter().copied().collect()),
        },
        t => Cow::Owned(fdata(t)?.0.into_iter().map(|v| v as f32).collect()),
    })
}

/// ONNX Conv (a Winograd filter transform, where one is used, is made for this call).
pub fn conv(a: &ConvAttrs<'_>, x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor, OpError> {
    conv_with(a, x, w, b, false, |tile| {
        winograd::Filter::new(tile, &f32s(w)?, w.shape()).map(Arc::new)
    })
}

/// ONNX Conv; f32 3×3 stride-1 convs that Winograd wins on ([`winograd::choose`]) take their
/// transformed weight from `filter`; `cached` says whether that transform is kept across runs
/// (fewer convs win when it is not).
pub fn conv_with(
    a: &ConvAttrs<'_>,
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    cached: bool,
    filter: impl Fn(winograd::Tile) -> Result<Arc<winograd::Filter>, OpError>,
) -> Result<Tensor, OpError> {
    let (geom, group) = conv_geom(a, x.shape(), w.shape())?;
    if x.dtype() == DType::F32
        && w.dtype() == DType::F32
        && let Some(tile) = winograd::choose(x.shape(), w.shape(), &geom, group, cached)
    {
        let f = filter(tile)?;
        if f.tile() != tile {
            return Err(OpError::invalid("winograd: prepared weight is for another tile size"));
        }
        let xv = f32s(x)?;
        let bv = b.map(f32s).transpose()?;
        let (y, ys) = winograd::conv(&xv, x.shape(), &f, bv.as_deref(), &geom)?;
        return ArrayD::from_shape_vec(IxDyn(&ys), y)
            .map(Tensor::F32)
            .map_err(|e| OpError::invalid(e.to_string()));
    }
    if x.dtype() == DType::F64 {
        let (xv, xs) = fdata(x)?;
        let (wv, ws) = fdata(w)?;
        let bv = b.map(|b| fdata(b).map(|d| d.0)).transpose()?;
        let (y, ys) = conv_core(&xv, &xs, &wv, &ws, bv.as_deref(), &geom, group)?;
        return fout(DType::F64, &ys, y);
    }
    let xv = f32s(x)?;
    let wv = f32s(w)?;
    let bv = b.map(f32s).transpose()?;
    let (y, ys) = conv_core(&xv, x.shape(), &wv, w.shape(), bv.as_deref(), &geom, group)?;
    match x.dtype() {
        DType::F32 => ArrayD::from_shape_vec(IxDyn(&ys), y)
            .map(Tensor::F32)
            .map_err(|e| OpError::invalid(e.to_string())),
        d => fout(d, &ys, y.into_iter().map(|v| v as f64).collect()),
    }
}

/// Per-output-channel (or scalar) values of an optional zero point or scale.
fn per_channel(t: Option<&Tensor>, m: usize, what: &str) -> Result<Vec<f64>, OpError> {
    let v = match t {
        None => return Ok(vec![0.0; m]),
        Some(t) => t.to_f64_vec()?,
    };
    match v.len() {
        1 => Ok(vec![v[0]; m]),
        l if l == m => Ok(v),
        l => Err(OpError::invalid(format!("{what} has {l} values, expected 1 or {m}"))),
    }
}

/// Integer conv in f64 (exact for 8-bit data): returns (y, shape).
fn int_conv(
    a: &ConvAttrs<'_>,
    x: &Tensor,
    w: &Tensor,
    xzp: Option<&Tensor>,
    wzp: Option<&Tensor>,
) -> Result<(Vec<f64>, Vec<usize>), OpError> {
    let (geom, group) = conv_geom(a, x.shape(), w.shape())?;
    let xz = per_channel(xzp, 1, "x_zero_point")?[0];
    let m = w.shape()[0];
    let wz = per_channel(wzp, m, "w_zero_point")?;
    let xv: Vec<f64> = x.to_f64_vec()?.into_iter().map(|v| v - xz).collect();
    let per = w.len() / m.max(1);
    let wv: Vec<f64> = w
        .to_f64_vec()?
        .into_iter()
        .enumerate()
        .map(|(i, v)| v - wz[i / per.max(1)])
        .collect();
    conv_core(&xv, x.shape(), &wv, w.shape(), None, &geom, group)
}

/// ONNX ConvInteger.
pub fn conv_integer(a: &ConvAttrs<'_>, x: &Tensor, w: &Tensor, xzp: Option<&Tensor>, wzp: Option<&Tensor>) -> Result<Tensor, OpError> {
    let (y, ys) = int_conv(a, x, w, xzp, wzp)?;
    fout(DType::I32, &ys, y.into_iter().map(|v| v.round()).collect())
}

/// ONNX QLinearConv.
#[allow(clippy::too_many_arguments)]
pub fn qlinear_conv(
    a: &ConvAttrs<'_>,
    x: &Tensor,
    xs: &Tensor,
    xzp: &Tensor,
    w: &Tensor,
    wsc: &Tensor,
    wzp: &Tensor,
    ysc: &Tensor,
    yzp: &Tensor,
    b: Option<&Tensor>,
) -> Result<Tensor, OpError> {
    let (mut y, shape) = int_conv(a, x, w, Some(xzp), Some(wzp))?;
    let m = w.shape()[0];
    let xs = per_channel(Some(xs), 1, "x_scale")?[0];
    let ws = per_channel(Some(wsc), m, "w_scale")?;
    let ys = per_channel(Some(ysc), 1, "y_scale")?[0];
    let yz = per_channel(Some(yzp), 1, "y_zero_point")?[0];
    let bias = per_channel(b, m, "B")?;
    let op = prod(&shape[2..]);
    let (lo, hi) = match yzp.dtype() {
        DType::U8 => (0.0, 255.0),
        DType::I8 => (-128.0, 127.0),
        d => return Err(OpError::DType(d.to_string())),
    };
    for (i, v) in y.iter_mut().enumerate() {
        let mi = (i / op.max(1)) % m.max(1);
        let r = (*v + bias[mi]) * (xs * ws[mi] / ys);
        *v = (round_even(r) + yz).clamp(lo, hi);
    }
    fout(yzp.dtype(), &shape, y)
}
