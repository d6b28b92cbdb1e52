//! GPTQ-style error-compensating weight quantization: with `H = X^T X` from calibration
//! activations, columns along the reduction axis are quantized one at a time and each column's
//! rounding error, scaled by the inverse Hessian's Cholesky factor, is pushed onto the columns
//! not yet quantized. Block parameters are chosen when a block's first column is reached, from
//! the already-updated weights.

use crate::quantize::params::{fit_range, qrange, round_even};
use edgeport_ir::DType;

/// Cholesky factor `L` (lower, row-major) of a symmetric positive definite `n×n` matrix.
pub(crate) fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let dot: f64 = l[i * n..i * n + j].iter().zip(&l[j * n..j * n + j]).map(|(x, y)| x * y).sum();
            let s = a[i * n + j] - dot;
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// Inverse of `L` (lower triangular), row by row with contiguous row updates.
fn tri_inverse(l: &[f64], n: usize) -> Vec<f64> {
    let mut inv = vec![0.0; n * n];
    for i in 0..n {
        let (done, rest) = inv.split_at_mut(i * n);
        let row = &mut rest[..n];
        for k in 0..i {
            let lik = l[i * n + k];
            if lik == 0.0 {
                continue;
            }
            let src = &done[k * n..k * n + k + 1];
            for (d, &x) in row[..=k].iter_mut().zip(src) {
                *d += lik * x;
            }
        }
        let d = 1.0 / l[i * n + i];
        for x in row[..i].iter_mut() {
            *x *= -d;
        }
        row[i] = d;
    }
    inv
}

/// Upper Cholesky factor `U` of `H^-1` (`H^-1 = U^T U`), with dampening `damp` × mean diagonal.
///
/// With `J` the index reversal and `J H J = L L^T`, `H = R R^T` for the upper `R = J L J`, so
/// `H^-1 = R^-T R^-1` and `U = R^-1 = J L^-1 J`: one Cholesky and one triangular inverse.
pub fn inverse_factor(h: &[f64], n: usize, damp: f64) -> Option<Vec<f64>> {
    if h.len() != n.checked_mul(n)? {
        return None;
    }
    let mean_diag = (0..n).map(|i| h[i * n + i]).sum::<f64>() / n.max(1) as f64;
    let d = damp * mean_diag.max(1e-12);
    // J H J with the dampened diagonal.
    let mut r = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            r[(n - 1 - i) * n + (n - 1 - j)] = h[i * n + j];
        }
    }
    for i in 0..n {
        if r[i * n + i] == 0.0 {
            r[i * n + i] = 1.0;
        }
        r[i * n + i] += d;
    }
    let l = cholesky(&r, n)?;
    let li = tri_inverse(&l, n);
    let mut u = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            u[(n - 1 - i) * n + (n - 1 - j)] = li[i * n + j];
        }
    }
    Some(u)
}

/// Columns per lazy-batch step: updates inside a step are immediate, the rest of the matrix
/// gets the step's accumulated error in one matrix product.
const STEP: usize = 128;

/// Quantizes `w` (`rows × k`, row-major; each row one output channel, columns along the
/// reduction axis) in blocks of `block` columns. Returns (codes, scales, zps) with parameters
/// laid out `[row][block]`.
pub fn gptq(w: &[f64], rows: usize, k: usize, u: &[f64], block: usize, d: DType, symmetric: bool) -> (Vec<i32>, Vec<f32>, Vec<i32>) {
    let (qmin, qmax) = qrange(d);
    gptq_with(w, rows, k, u, block, (qmin, qmax), &|_, _, xs| fit_range(xs, d, symmetric))
}

/// Chooses `(scale, zero point)` for (row, block, the block's current values).
pub type FitFn<'a> = dyn Fn(usize, usize, &[f64]) -> (f32, i32) + 'a;

/// The GPTQ sweep with the parameters chosen by `fit(row, block, values)` when a block's first
/// column is reached (`values` = that block's already-updated weights of the row) and codes
/// clamped to `clamp` (e.g. `(-127, 127)` for symmetric int8 weights). With `block >= k` a
/// row has one parameter pair, fitted on the original row.
pub fn gptq_with(
    w: &[f64],
    rows: usize,
    k: usize,
    u: &[f64],
    block: usize,
    clamp: (i32, i32),
    fit: &FitFn<'_>,
) -> (Vec<i32>, Vec<f32>, Vec<i32>) {
    let block = block.max(1);
    let nb = k.div_ceil(block);
    let mut w = w.to_vec();
    let mut codes = vec![0i32; rows * k];
    let mut scales = vec![1f32; rows * nb];
    let mut zps = vec![0i32; rows * nb];
    let step = (STEP / block).max(1) * block;
    let (qmin, qmax) = (clamp.0 as f64, clamp.1 as f64);
    let mut b0 = 0;
    while b0 < k {
        let b1 = (b0 + step).min(k);
        let bw = b1 - b0;
        let mut errs = vec![0.0f64; rows * bw];
        for i in b0..b1 {
            let b = i / block;
            if i % block == 0 {
                let end = (i + block).min(k);
                for r in 0..rows {
                    let (s, z) = fit(r, b, &w[r * k + i..r * k + end]);
                    scales[r * nb + b] = s;
                    zps[r * nb + b] = z;
                }
            }
            let uii = u[i * k + i];
            let urow = &u[i * k + i + 1..i * k + b1];
            for r in 0..rows {
                let (s, z) = (scales[r * nb + b], zps[r * nb + b]);
                let x = w[r * k + i];
                let q = (round_even(x / s as f64) + z as f64).clamp(qmin, qmax) as i32;
                codes[r * k + i] = q;
                let err = (x - (q - z) as f64 * s as f64) / uii;
                errs[r * bw + (i - b0)] = err;
                for (wj, &uj) in w[r * k + i + 1..r * k + b1].iter_mut().zip(urow) {
                    *wj -= err * uj;
                }
            }
        }
        if b1 < k {
            // W[:, b1..] -= E · U[b0..b1, b1..]
            let e = ndarray::ArrayView2::from_shape((rows, bw), &errs);
            let ub: Vec<f64> = (b0..b1).flat_map(|i| u[i * k + b1..(i + 1) * k].iter().copied()).collect();
            let ub = ndarray::ArrayView2::from_shape((bw, k - b1), &ub);
            if let (Ok(e), Ok(ub)) = (e, ub) {
                let upd = e.dot(&ub);
                for r in 0..rows {
                    let dst = &mut w[r * k + b1..(r + 1) * k];
                    for (x, &v) in dst.iter_mut().zip(upd.row(r)) {
                        *x -= v;
                    }
                }
            }
        }
        b0 = b1;
    }
    (codes, scales, zps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_factor_is_the_upper_cholesky_of_the_inverse() {
        let n = 5;
        let mut h = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                h[i * n + j] = 1.0 / (1.0 + (i as f64 - j as f64).abs()) + if i == j { 1.0 } else { 0.0 };
            }
        }
        let u = inverse_factor(&h, n, 0.0).unwrap();
        // U^T U H = I, U upper triangular.
        for i in 0..n {
            for j in 0..i {
                assert_eq!(u[i * n + j], 0.0);
            }
        }
        for i in 0..n {
            for j in 0..n {
                let mut s = 0.0;
                for a in 0..n {
                    let mut utu = 0.0;
                    for b in 0..n {
                        utu += u[b * n + i] * u[b * n + a];
                    }
                    s += utu * h[a * n + j];
                }
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((s - want).abs() < 1e-9, "({i},{j}) {s}");
            }
        }
    }

    #[test]
    fn gptq_beats_rounding_on_correlated_inputs() {
        let (k, rows, n) = (32, 4, 256);
        // Correlated activations x_j = a + small noise.
        let mut seed = 7u64;
        let mut rnd = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((seed >> 33) as f64 / (1u64 << 31) as f64) - 0.5
        };
        let xs: Vec<f64> = (0..n)
            .flat_map(|_| {
                let a = rnd();
                (0..k).map(|_| a + 0.1 * rnd()).collect::<Vec<_>>()
            })
            .collect();
        let w: Vec<f64> = (0..rows * k).map(|_| rnd()).collect();
        let mut h = vec![0.0; k * k];
        for row in xs.chunks(k) {
            for i in 0..k {
                for j in 0..k {
                    h[i * k + j] += row[i] * row[j];
                }
            }
        }
        let u = inverse_factor(&h, k, 0.01).unwrap();
        let (gq, gs, gz) = gptq(&w, rows, k, &u, 16, DType::U4, false);
        let (rq, rs, rz) = gptq(
            &w,
            rows,
            k,
            &{
                let mut id = vec![0.0; k * k];
                for i in 0..k {
                    id[i * k + i] = 1.0;
                }
                id
            },
            16,
            DType::U4,
            false,
        );
        let out_err = |q: &[i32], s: &[f32], z: &[i32]| -> f64 {
            let mut e = 0.0;
            for row in xs.chunks(k) {
                for r in 0..rows {
                    let mut y = 0.0;
                    let mut yq = 0.0;
                    for i in 0..k {
                        let p = r * 2 + i / 16;
                        y += row[i] * w[r * k + i];
                        yq += row[i] * (q[r * k + i] - z[p]) as f64 * s[p] as f64;
                    }
                    e += (y - yq).powi(2);
                }
            }
            e
        };
        let (eg, er) = (out_err(&gq, &gs, &gz), out_err(&rq, &rs, &rz));
        assert!(eg < er, "gptq {eg} vs rtn {er}");
    }
}
