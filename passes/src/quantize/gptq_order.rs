//! GPTQ with act-order and static groups. Plain GPTQ quantizes the reduction columns left to
//! right; act-order quantizes the columns with the largest `H_jj = Σ x_j²` first, while the
//! most columns remain to absorb their rounding error. Block parameters must still follow the
//! storage order (a MatMulNBits block is `block` consecutive columns), so they are fitted on the
//! original weights before the pass ("static groups") and looked up through the permutation.

use crate::quantize::gptq::inverse_factor;
use crate::quantize::params::{fit_range, quant1};
use edgeport_ir::DType;

/// Columns per lazy-batch step (as in `gptq`).
const STEP: usize = 128;

/// Quantizes `w` (`rows × k`, row-major, rows = output channels) in blocks of `block` columns
/// with act-order over the Gram matrix `h` (`k × k`) dampened by `damp` × its mean diagonal.
/// Returns (codes, scales, zps) in storage order with parameters laid out `[row][block]`, or
/// `None` when the sizes disagree or `h` is not positive definite after dampening.
pub fn gptq_act_order(
    w: &[f64],
    rows: usize,
    k: usize,
    h: &[f64],
    block: usize,
    d: DType,
    damp: f64,
) -> Option<(Vec<i32>, Vec<f32>, Vec<i32>)> {
    if block == 0 || k == 0 || !k.is_multiple_of(block) || h.len() != k.checked_mul(k)? || w.len() != rows.checked_mul(k)? {
        return None;
    }
    let nb = k / block;
    let mut scales = vec![1f32; rows * nb];
    let mut zps = vec![0i32; rows * nb];
    for r in 0..rows {
        for b in 0..nb {
            let (s, z) = fit_range(w.get(r * k + b * block..r * k + (b + 1) * block)?, d, false);
            scales[r * nb + b] = s;
            zps[r * nb + b] = z;
        }
    }
    let mut perm: Vec<usize> = (0..k).collect();
    perm.sort_by(|&a, &b| h[b * k + b].partial_cmp(&h[a * k + a]).unwrap_or(std::cmp::Ordering::Equal));
    let mut hp = vec![0.0; k * k];
    for (i, &pi) in perm.iter().enumerate() {
        for (j, &pj) in perm.iter().enumerate() {
            hp[i * k + j] = h[pi * k + pj];
        }
    }
    let u = inverse_factor(&hp, k, damp)?;
    let mut wp = vec![0.0; rows * k];
    for r in 0..rows {
        for (i, &pi) in perm.iter().enumerate() {
            wp[r * k + i] = w[r * k + pi];
        }
    }
    let mut codes = vec![0i32; rows * k];
    let mut b0 = 0;
    while b0 < k {
        let b1 = (b0 + STEP).min(k);
        let bw = b1 - b0;
        let mut errs = vec![0.0f64; rows * bw];
        for i in b0..b1 {
            let col = perm[i];
            let b = col / block;
            let uii = u[i * k + i];
            let urow = &u[i * k + i + 1..i * k + b1];
            for r in 0..rows {
                let (s, z) = (scales[r * nb + b], zps[r * nb + b]);
                let x = wp[r * k + i];
                let q = quant1(x, s, z, d);
                codes[r * k + col] = q;
                let err = (x - (q - z) as f64 * s as f64) / uii;
                errs[r * bw + (i - b0)] = err;
                for (wj, &uj) in wp[r * k + i + 1..r * k + b1].iter_mut().zip(urow) {
                    *wj -= err * uj;
                }
            }
        }
        if b1 < k {
            // W[:, b1..] -= E · U[b0..b1, b1..]
            let e = ndarray::ArrayView2::from_shape((rows, bw), &errs).ok()?;
            let ub: Vec<f64> = (b0..b1).flat_map(|i| u[i * k + b1..(i + 1) * k].iter().copied()).collect();
            let ub = ndarray::ArrayView2::from_shape((bw, k - b1), &ub).ok()?;
            let upd = e.dot(&ub);
            for r in 0..rows {
                let dst = &mut wp[r * k + b1..(r + 1) * k];
                for (x, &v) in dst.iter_mut().zip(upd.row(r)) {
                    *x -= v;
                }
            }
        }
        b0 = b1;
    }
    Some((codes, scales, zps))
}
