//! GPTQ-style error-compensating weight quantization: with `H = X^T X` from calibration
//! activations, columns along the reduction axis are quantized one at a time and each column's
//! rounding error, scaled by the inverse Hessian's Cholesky factor, is pushed onto the columns
//! not yet quantized. Block parameters are chosen when a block's first column is reached, from
//! the already-updated weights.

use crate::quantize::params::{from_range, quant1};
use edgeport_ir::DType;

/// Cholesky factor `L` (lower, row-major) of a symmetric positive definite `n×n` matrix.
fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
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

/// Inverse of `L` (lower triangular).
fn tri_inverse(l: &[f64], n: usize) -> Vec<f64> {
    let mut inv = vec![0.0; n * n];
    for i in 0..n {
        inv[i * n + i] = 1.0 / l[i * n + i];
        for j in 0..i {
            let mut s = 0.0;
            for k in j..i {
                s += l[i * n + k] * inv[k * n + j];
            }
            inv[i * n + j] = -s / l[i * n + i];
        }
    }
    inv
}

/// Upper Cholesky factor `U` of `H^-1` (`H^-1 = U^T U`), with dampening `damp` × mean diagonal.
pub fn inverse_factor(h: &[f64], n: usize, damp: f64) -> Option<Vec<f64>> {
    let mut h = h.to_vec();
    let mean_diag = (0..n).map(|i| h[i * n + i]).sum::<f64>() / n.max(1) as f64;
    let d = damp * mean_diag.max(1e-12);
    for i in 0..n {
        if h[i * n + i] == 0.0 {
            h[i * n + i] = 1.0;
        }
        h[i * n + i] += d;
    }
    let l = cholesky(&h, n)?;
    let li = tri_inverse(&l, n);
    // H^-1 = L^-T L^-1.
    let mut hinv = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = 0.0;
            for k in i..n {
                s += li[k * n + i] * li[k * n + j];
            }
            hinv[i * n + j] = s;
            hinv[j * n + i] = s;
        }
    }
    let lc = cholesky(&hinv, n)?;
    // U = Lc^T.
    let mut u = vec![0.0; n * n];
    for i in 0..n {
        for j in i..n {
            u[i * n + j] = lc[j * n + i];
        }
    }
    Some(u)
}

/// Quantizes `w` (`rows × k`, row-major; each row one output channel, columns along the
/// reduction axis) in blocks of `block` columns. Returns (codes, scales, zps) with parameters
/// laid out `[row][block]`.
pub fn gptq(w: &[f64], rows: usize, k: usize, u: &[f64], block: usize, d: DType, symmetric: bool) -> (Vec<i32>, Vec<f32>, Vec<i32>) {
    let nb = k.div_ceil(block.max(1));
    let mut w = w.to_vec();
    let mut codes = vec![0i32; rows * k];
    let mut scales = vec![1f32; rows * nb];
    let mut zps = vec![0i32; rows * nb];
    for i in 0..k {
        let b = i / block;
        if i % block == 0 {
            let end = (i + block).min(k);
            for r in 0..rows {
                let seg = &w[r * k + i..r * k + end];
                let lo = seg.iter().cloned().fold(f64::INFINITY, f64::min);
                let hi = seg.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let (s, z) = from_range(lo, hi, d, symmetric);
                scales[r * nb + b] = s;
                zps[r * nb + b] = z;
            }
        }
        let uii = u[i * k + i];
        for r in 0..rows {
            let (s, z) = (scales[r * nb + b], zps[r * nb + b]);
            let x = w[r * k + i];
            let q = quant1(x, s, z, d);
            codes[r * k + i] = q;
            let err = (x - (q - z) as f64 * s as f64) / uii;
            let row = &mut w[r * k..(r + 1) * k];
            for j in i + 1..k {
                row[j] -= err * u[i * k + j];
            }
        }
    }
    (codes, scales, zps)
}

#[cfg(test)]
mod tests {
    use super::*;

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
