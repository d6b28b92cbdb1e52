//! `DFT` (forward/inverse, one-sided, real or complex input, `dft_length` padding/truncation,
//! axis input) and `STFT`. Transforms are direct O(n²) sums in `f64` with exact twiddles.

use super::num::{lanes, out, scalar_int, want_float};
use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use crate::ops::util::norm_axis;
use crate::tensor::Tensor;
use std::f64::consts::PI;

/// Cosine and sine tables of `2π j / n` for `j < n`.
fn twiddles(n: usize) -> (Vec<f64>, Vec<f64>) {
    (0..n)
        .map(|j| {
            let a = 2.0 * PI * j as f64 / n as f64;
            (a.cos(), a.sin())
        })
        .unzip()
}

/// The DFT of one complex lane zero-padded/truncated to `n`, keeping the first `keep` bins;
/// `sign` is -1 for forward, +1 for inverse (unnormalized).
fn dft_lane(re: &[f64], im: &[f64], n: usize, keep: usize, sign: f64, tw: &(Vec<f64>, Vec<f64>)) -> (Vec<f64>, Vec<f64>) {
    let m = re.len().min(n);
    if n >= 8 && n.is_power_of_two() {
        return fft_lane(&re[..m], &im[..m], n, keep, sign, tw);
    }
    let mut or = vec![0.0; keep];
    let mut oi = vec![0.0; keep];
    for k in 0..keep {
        let (mut sr, mut si) = (0.0, 0.0);
        for t in 0..m {
            let j = (k * t) % n;
            let (c, s) = (tw.0[j], sign * tw.1[j]);
            sr += re[t] * c - im[t] * s;
            si += re[t] * s + im[t] * c;
        }
        or[k] = sr;
        oi[k] = si;
    }
    (or, oi)
}

/// Real parts, imaginary parts and the signal shape (without the complex dim).
type Parts = (Vec<f64>, Vec<f64>, Vec<usize>);

/// Radix-2 FFT of a lane zero-padded to `n` (a power of two), keeping the first `keep` bins.
fn fft_lane(re: &[f64], im: &[f64], n: usize, keep: usize, sign: f64, tw: &(Vec<f64>, Vec<f64>)) -> (Vec<f64>, Vec<f64>) {
    let bits = n.trailing_zeros();
    let (mut xr, mut xi) = (vec![0.0; n], vec![0.0; n]);
    for (t, (&a, &b)) in re.iter().zip(im).enumerate() {
        let r = t.reverse_bits() >> (usize::BITS - bits);
        xr[r] = a;
        xi[r] = b;
    }
    let mut len = 2;
    while len <= n {
        let step = n / len;
        for start in (0..n).step_by(len) {
            for j in 0..len / 2 {
                let (c, s) = (tw.0[j * step], sign * tw.1[j * step]);
                let (u, v) = (start + j, start + j + len / 2);
                let tr = xr[v] * c - xi[v] * s;
                let ti = xr[v] * s + xi[v] * c;
                xr[v] = xr[u] - tr;
                xi[v] = xi[u] - ti;
                xr[u] += tr;
                xi[u] += ti;
            }
        }
        len *= 2;
    }
    xr.truncate(keep);
    xi.truncate(keep);
    (xr, xi)
}

/// Splits a `[..., 1|2]` tensor into real and imaginary parts of its signal shape.
fn complex_parts(x: &Tensor) -> Result<Parts, OpError> {
    let s = x.shape();
    let Some((&c, sig)) = s.split_last() else {
        return Err(OpError::invalid("signal must have rank ≥ 1"));
    };
    let v = x.to_f64_vec()?;
    match c {
        1 => {
            let n = v.len();
            Ok((v, vec![0.0; n], sig.to_vec()))
        }
        2 => Ok((
            v.iter().step_by(2).copied().collect(),
            v.iter().skip(1).step_by(2).copied().collect(),
            sig.to_vec(),
        )),
        _ => Err(OpError::invalid(format!("the last dim of a signal must be 1 or 2, got {c}"))),
    }
}

/// Interleaves real/imaginary parts into a `[..., 2]` tensor (or `[..., 1]` for real output).
fn from_parts(d: edgeport_ir::DType, sig: &[usize], re: Vec<f64>, im: Option<Vec<f64>>) -> Result<Tensor, OpError> {
    let mut shape = sig.to_vec();
    match im {
        Some(im) => {
            shape.push(2);
            let v = re.into_iter().zip(im).flat_map(|(a, b)| [a, b]).collect();
            Tensor::from_f64(d, &shape, v)
        }
        None => {
            shape.push(1);
            Tensor::from_f64(d, &shape, re)
        }
    }
}

/// Runs `DFT`.
pub fn dft(cx: &NodeCtx<'_>, inverse: i64, onesided: i64) -> OpResult {
    let x = cx.tensor(0)?;
    want_float(x, "DFT")?;
    let rank = x.rank();
    let axis = match cx.opt_tensor(2)? {
        Some(a) => scalar_int(a, "axis")?,
        None => -2,
    };
    let ax = norm_axis(axis, rank)?;
    if ax + 1 >= rank {
        return Err(OpError::invalid("DFT axis must not be the last (complex) dim"));
    }
    let (re, im, sig) = complex_parts(x)?;
    let len = sig[ax];
    let (inv, one) = (inverse != 0, onesided != 0);
    let n = match cx.opt_tensor(1)? {
        Some(t) => usize::try_from(scalar_int(t, "dft_length")?).map_err(|_| OpError::invalid("dft_length must be ≥ 0"))?,
        None if inv && one => 2 * len.saturating_sub(1),
        None => len,
    };
    if n == 0 {
        return Err(OpError::invalid("DFT length must be positive"));
    }
    let (outer, _, inner) = lanes(&sig, ax);
    let keep = if one && !inv { n / 2 + 1 } else { n };
    let tw = twiddles(n);
    let mut osig = sig.clone();
    osig[ax] = keep;
    let total = outer * keep * inner;
    let (mut or, mut oi) = (vec![0.0; total], vec![0.0; total]);
    let mut lr = vec![0.0; len];
    let mut li = vec![0.0; len];
    for o in 0..outer {
        for i in 0..inner {
            for t in 0..len {
                lr[t] = re[(o * len + t) * inner + i];
                li[t] = im[(o * len + t) * inner + i];
            }
            let (rr, ri) = if inv && one {
                // Inverse of a one-sided spectrum: rebuild the Hermitian full spectrum.
                let half = n / 2 + 1;
                let get = |k: usize| if k < len { (lr[k], li[k]) } else { (0.0, 0.0) };
                let (fr, fi): (Vec<f64>, Vec<f64>) = (0..n)
                    .map(|k| {
                        if k < half {
                            get(k)
                        } else {
                            let (a, b) = get(n - k);
                            (a, -b)
                        }
                    })
                    .unzip();
                dft_lane(&fr, &fi, n, n, 1.0, &tw)
            } else {
                dft_lane(&lr, &li, n, keep, if inv { 1.0 } else { -1.0 }, &tw)
            };
            for k in 0..keep {
                let at = (o * keep + k) * inner + i;
                let s = if inv { 1.0 / n as f64 } else { 1.0 };
                or[at] = rr[k] * s;
                oi[at] = ri[k] * s;
            }
        }
    }
    out(from_parts(x.dtype(), &osig, or, if inv && one { None } else { Some(oi) })?)
}

/// Runs `STFT` on `[batch, length, 1|2]`: windowed frames, DFT of `frame_length` each.
pub fn stft(cx: &NodeCtx<'_>, onesided: i64) -> OpResult {
    let x = cx.tensor(0)?;
    want_float(x, "STFT")?;
    if x.rank() != 3 {
        return Err(OpError::invalid(format!(
            "STFT signal must be [batch, length, 1|2], got {:?}",
            x.shape()
        )));
    }
    let step = scalar_int(cx.tensor(1)?, "frame_step")?;
    let window = match cx.opt_tensor(2)? {
        Some(w) => Some(w.to_f64_vec()?),
        None => None,
    };
    let (re, im, sig) = complex_parts(x)?;
    let (batch, len) = (sig[0], sig[1]);
    let fl = match cx.opt_tensor(3)? {
        Some(t) => scalar_int(t, "frame_length")?,
        None => window.as_ref().map_or(len, |w| w.len()) as i64,
    };
    if step <= 0 || fl <= 0 || fl as usize > len {
        return Err(OpError::invalid(format!(
            "STFT: bad frame_step {step} / frame_length {fl} for a signal of {len}"
        )));
    }
    let (step, fl) = (step as usize, fl as usize);
    let window = window.unwrap_or_else(|| vec![1.0; fl]);
    let ws = window.len();
    let frames = 1 + (len - fl) / step;
    let keep = if onesided != 0 { fl / 2 + 1 } else { fl };
    let tw = twiddles(fl);
    let (mut or, mut oi) = (Vec::with_capacity(batch * frames * keep), Vec::with_capacity(batch * frames * keep));
    for b in 0..batch {
        for f in 0..frames {
            let (fr, fi): (Vec<f64>, Vec<f64>) = (0..ws)
                .map(|t| {
                    let p = f * step + t;
                    if p < len {
                        (re[b * len + p] * window[t], im[b * len + p] * window[t])
                    } else {
                        (0.0, 0.0)
                    }
                })
                .unzip();
            let (rr, ri) = dft_lane(&fr, &fi, fl, keep, -1.0, &tw);
            or.extend(rr);
            oi.extend(ri);
        }
    }
    out(from_parts(x.dtype(), &[batch, frames, keep], or, Some(oi))?)
}
