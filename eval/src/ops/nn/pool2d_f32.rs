//! The common case of MaxPool/AveragePool — f32, two spatial dims, no dilation, no indices —
//! on contiguous channel planes, one plane at a time. Same results as the general pool in
//! `pool.rs` (the max is exact; the average sums in f64 in the same kernel order), which walks
//! every output position across all channels in f64 and cost more than the convolutions
//! around it.

use super::common::Geom;
use super::pool::Kind;
use crate::tensor::Tensor;
use ndarray::{ArrayD, IxDyn};

/// Runs the pool when it fits this case; `None` hands it to the general path.
pub fn try_pool(kind: Kind, x: &Tensor, g: &Geom) -> Option<Tensor> {
    let Tensor::F32(a) = x else { return None };
    let xv = a.as_slice()?;
    let xs = a.shape();
    if xs.len() != 4 || g.out.len() != 2 || g.dils.iter().any(|&d| d != 1) || matches!(kind, Kind::Lp(_)) {
        return None;
    }
    let (h, w) = (xs[2], xs[3]);
    let (oh, ow) = (g.out[0], g.out[1]);
    let (kh, kw) = (g.kernel[0], g.kernel[1]);
    let (sh, sw) = (g.strides[0], g.strides[1]);
    let (ph, pw) = (g.pb[0] as isize, g.pb[1] as isize);
    let nc = xs[0] * xs[1];
    let mut y = vec![0f32; nc.checked_mul(oh)?.checked_mul(ow)?];
    // Per output row/column: the clipped input range and, for include_pad, the count of
    // positions inside the padded extent.
    let span = |o: usize, s: usize, k: usize, p: isize, n: usize, pe: usize| {
        let start = o as isize * s as isize - p;
        let lo = start.max(0) as usize;
        let hi = ((start + k as isize).min(n as isize)).max(0) as usize;
        let ext_hi = (start + k as isize).min(n as isize + pe as isize);
        let ext = (ext_hi - start.max(-p)).max(0) as usize;
        (lo, hi.max(lo), ext)
    };
    let rows: Vec<_> = (0..oh).map(|o| span(o, sh, kh, ph, h, g.pe[0])).collect();
    let cols: Vec<_> = (0..ow).map(|o| span(o, sw, kw, pw, w, g.pe[1])).collect();
    if matches!(kind, Kind::Max) {
        // Separable: the max over the window's rows for every column, then over its columns.
        // Each output still starts from the window's first value, so a NaN there stays and a
        // NaN elsewhere is passed over (no `v > m` holds for it), as in pool.rs.
        let mut colmax = vec![0f32; w];
        for (plane, out) in xv.chunks_exact(h * w).zip(y.chunks_exact_mut(oh * ow)) {
            for (oy, &(y0, y1, _)) in rows.iter().enumerate() {
                let orow = &mut out[oy * ow..(oy + 1) * ow];
                if y1 == y0 {
                    orow.fill(f32::NEG_INFINITY);
                    continue;
                }
                colmax.copy_from_slice(&plane[y0 * w..(y0 + 1) * w]);
                for r in y0 + 1..y1 {
                    for (m, &v) in colmax.iter_mut().zip(&plane[r * w..(r + 1) * w]) {
                        *m = if v > *m { v } else { *m };
                    }
                }
                for (o, &(x0, x1, _)) in orow.iter_mut().zip(&cols) {
                    *o = if x1 == x0 {
                        f32::NEG_INFINITY
                    } else {
                        colmax[x0 + 1..x1].iter().fold(colmax[x0], |m, &v| if v > m { v } else { m })
                    };
                }
            }
        }
        let mut ys = vec![xs[0], xs[1]];
        ys.extend(&g.out);
        return ArrayD::from_shape_vec(IxDyn(&ys), y).ok().map(Tensor::F32);
    }
    for (plane, out) in xv.chunks_exact(h * w).zip(y.chunks_exact_mut(oh * ow)) {
        for (oy, &(y0, y1, ey)) in rows.iter().enumerate() {
            for (ox, &(x0, x1, ex)) in cols.iter().enumerate() {
                let v = match kind {
                    Kind::Avg { include_pad } => {
                        let mut s = 0f64;
                        for r in y0..y1 {
                            for &v in &plane[r * w + x0..r * w + x1] {
                                s += v as f64;
                            }
                        }
                        let n = if include_pad { ey * ex } else { (y1 - y0) * (x1 - x0) };
                        if n == 0 { f32::NAN } else { (s / n as f64) as f32 }
                    }
                    // Max took the separable path above.
                    Kind::Max | Kind::Lp(_) => return None,
                };
                out[oy * ow + ox] = v;
            }
        }
    }
    let mut ys = vec![xs[0], xs[1]];
    ys.extend(&g.out);
    ArrayD::from_shape_vec(IxDyn(&ys), y).ok().map(Tensor::F32)
}
