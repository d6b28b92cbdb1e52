//! Range estimators over a streamed [`Histogram`]: min-max, percentile, entropy (KL divergence
//! between the clipped reference distribution and its quantized form, as TensorRT does) and MSE
//! (the clipping range with the least expected squared quantization error).

use super::histogram::Histogram;

/// How an activation's range is chosen from its calibration statistics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    MinMax,
    /// Keep this percentile of the mass on each side (e.g. 99.999).
    Percentile(f64),
    Entropy,
    Mse,
}

impl Method {
    /// Parses `minmax`, `percentile`, `percentile:99.99`, `entropy`, `mse`.
    pub fn parse(s: &str) -> Option<Method> {
        match s {
            "minmax" => Some(Method::MinMax),
            "percentile" => Some(Method::Percentile(99.999)),
            "entropy" | "kl" => Some(Method::Entropy),
            "mse" => Some(Method::Mse),
            _ => {
                let p: f64 = s.strip_prefix("percentile:")?.parse().ok()?;
                (50.0..=100.0).contains(&p).then_some(Method::Percentile(p))
            }
        }
    }
}

/// The range `[lo, hi]` (always containing 0) for `levels` quantization steps.
pub fn estimate(h: &Histogram, method: Method, levels: f64) -> (f64, f64) {
    if h.n == 0 {
        return (0.0, 0.0);
    }
    let (mn, mx) = (h.min.min(0.0), h.max.max(0.0));
    let (lo, hi) = match method {
        Method::MinMax => (mn, mx),
        Method::Percentile(p) => {
            let q = p / 100.0;
            (h.quantile(1.0 - q).min(0.0), h.quantile(q).max(0.0))
        }
        Method::Entropy => {
            let t = kl_threshold(h, levels);
            (mn.max(-t), mx.min(t))
        }
        Method::Mse => mse_range(h, levels),
    };
    (lo.min(0.0), hi.max(0.0))
}

/// Folds the signed histogram into one of |x| with `nb` bins over `[0, amax]`.
fn abs_hist(h: &Histogram, nb: usize) -> (Vec<f64>, f64) {
    let amax = h.lo.abs().max(h.hi.abs()).max(1e-12);
    let mut out = vec![0.0; nb];
    let w = h.width();
    for (i, &c) in h.counts.iter().enumerate() {
        if c == 0.0 {
            continue;
        }
        let centre = (h.lo + (i as f64 + 0.5) * w).abs();
        let j = ((centre / amax) * nb as f64) as usize;
        if let Some(o) = out.get_mut(j.min(nb - 1)) {
            *o += c;
        }
    }
    (out, amax)
}

/// Share of the samples in the top bin that marks a saturating activation (a smooth tail puts a
/// handful of samples there, far below this).
const SATURATED: f64 = 1e-3;

/// TensorRT-style entropy calibration: the |x| threshold minimising KL(P || Q).
fn kl_threshold(h: &Histogram, levels: f64) -> f64 {
    let nb = h.counts.len();
    let (mut hist, amax) = abs_hist(h, nb);
    // Zeros are exact at any range (the zero point), but a ReLU's half of them in the first bin
    // would steer KL towards the narrowest range: the wider the range, the more bins each merged
    // level spreads that spike over (mobilenet_v2: its Relu6 ranges were cut from 6 to 1.5,
    // cosine 0.82; 0.97 with the spike levelled with its neighbour, as NVIDIA's entropy
    // calibrator does).
    if nb > 1 {
        hist[0] = hist[1];
    }
    // A one-sided tensor (a ReLU's output) spends every level on |x|; a signed one about half.
    let one_sided = h.min >= 0.0 || h.max <= 0.0;
    let nq = (if one_sided { levels } else { levels / 2.0 }).round().max(2.0) as usize;
    if nb <= nq {
        return amax;
    }
    // A saturating activation (Relu6, a clipped output) piles its bound up in the top bin: that
    // mass is data, not an outlier, and clipping below it moves every saturated value (KL sees
    // only the shape of the distribution, not how far those values move).
    let total: f64 = hist.iter().sum();
    if let Some(top) = hist.iter().rposition(|&c| c > 0.0)
        && hist[top] >= SATURATED * total
    {
        return amax;
    }
    let w = amax / nb as f64;
    let step = (nb / 256).max(1);
    let mut best = (f64::INFINITY, nb);
    let mut i = nq;
    while i <= nb {
        let mut p: Vec<f64> = hist[..i].to_vec();
        let outliers: f64 = hist[i..].iter().sum();
        if let Some(last) = p.last_mut() {
            *last += outliers;
        }
        // Q: merge the i bins into nq, spread each merged count back over its non-empty bins.
        let mut q = vec![0.0; i];
        for k in 0..nq {
            let a = k * i / nq;
            let b = ((k + 1) * i / nq).max(a + 1).min(i);
            let sum: f64 = hist[a..b].iter().sum();
            let nz = hist[a..b].iter().filter(|&&c| c > 0.0).count();
            if nz > 0 {
                for j in a..b {
                    if hist[j] > 0.0 {
                        q[j] = sum / nz as f64;
                    }
                }
            }
        }
        let ps: f64 = p.iter().sum();
        let qs: f64 = q.iter().sum();
        if ps > 0.0 && qs > 0.0 {
            let mut kl = 0.0;
            for j in 0..i {
                if p[j] > 0.0 {
                    let pj = p[j] / ps;
                    let qj = if q[j] > 0.0 { q[j] / qs } else { 1e-12 };
                    kl += pj * (pj / qj).ln();
                }
            }
            if kl < best.0 {
                best = (kl, i);
            }
        }
        i += step;
    }
    (best.1 as f64 + 0.5) * w
}

/// Expected squared error of quantizing the histogram to `levels` steps over `[lo, hi]`.
fn mse_of(h: &Histogram, lo: f64, hi: f64, levels: f64) -> f64 {
    let s = ((hi - lo) / levels).max(1e-12);
    let w = h.width();
    let mut err = 0.0;
    for (i, &c) in h.counts.iter().enumerate() {
        if c == 0.0 {
            continue;
        }
        let x = h.lo + (i as f64 + 0.5) * w;
        let q = ((x.clamp(lo, hi) - lo) / s).round() * s + lo;
        err += c * (x - q) * (x - q);
    }
    err
}

/// The shrunken min-max range with the least expected squared error.
fn mse_range(h: &Histogram, levels: f64) -> (f64, f64) {
    let (mn, mx) = (h.min.min(0.0), h.max.max(0.0));
    let mut best = (f64::INFINITY, mn, mx);
    for k in 1..=100 {
        let f = k as f64 / 100.0;
        let (lo, hi) = (mn * f, mx * f);
        let e = mse_of(h, lo, hi, levels);
        if e < best.0 {
            best = (e, lo, hi);
        }
    }
    (best.1, best.2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heavy_tail() -> Histogram {
        let mut h = Histogram::new(2048);
        // A Gaussian-like bulk in [-1, 1] and one far outlier.
        let mut v: Vec<f32> = (0..20000)
            .map(|i| ((i as f32 * 0.618).fract() - 0.5) * 2.0 * ((i % 7) as f32 / 7.0))
            .collect();
        v.push(50.0);
        h.add(&v);
        h
    }

    #[test]
    fn clipping_estimators_ignore_the_outlier() {
        let h = heavy_tail();
        let (_, mm) = estimate(&h, Method::MinMax, 255.0);
        assert_eq!(mm, 50.0);
        // MSE may keep a single outlier (clipping it costs more than the coarser step).
        let (_, mse_hi) = estimate(&h, Method::Mse, 255.0);
        assert!(mse_hi <= 50.0 && mse_hi > 0.5, "{mse_hi}");
        for m in [Method::Percentile(99.99), Method::Entropy] {
            let (lo, hi) = estimate(&h, m, 255.0);
            assert!(hi < 10.0 && hi > 0.5, "{m:?}: {hi}");
            assert!(lo < -0.5, "{m:?}: {lo}");
        }
    }

    /// Deterministic N(0, sigma²) samples (Box–Muller over a fixed LCG).
    fn normal(n: usize, sigma: f32) -> Vec<f32> {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut uniform = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        (0..n)
            .map(|_| {
                let (u, v) = (uniform(), uniform());
                ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32 * sigma
            })
            .collect()
    }

    #[test]
    fn entropy_is_not_steered_by_a_relus_zeros() {
        // ReLU(N(0, 1)): half the values are exact zeros. The range must cover the bulk of the
        // positive half (the old estimator cut it at about 1.5).
        let mut h = Histogram::new(2048);
        let v: Vec<f32> = normal(200_000, 1.0).into_iter().map(|x| x.max(0.0)).collect();
        h.add(&v);
        let (lo, hi) = estimate(&h, Method::Entropy, 255.0);
        assert_eq!(lo, 0.0);
        assert!(hi > 2.5 && hi <= h.max, "{hi}");
    }

    #[test]
    fn entropy_keeps_a_saturating_bound() {
        // Relu6 of N(0, 3²): a sixth of the values sit at 6; clipping below 6 moves them all.
        let mut h = Histogram::new(2048);
        let pre: Vec<f32> = normal(100_000, 3.0);
        h.add(&pre);
        let (lo, hi) = estimate(&h.clamped(0.0, 6.0), Method::Entropy, 255.0);
        assert_eq!((lo, hi), (0.0, 6.0));
    }

    #[test]
    fn parse_methods() {
        assert_eq!(Method::parse("percentile:99.9"), Some(Method::Percentile(99.9)));
        assert_eq!(Method::parse("kl"), Some(Method::Entropy));
        assert_eq!(Method::parse("bogus"), None);
    }
}
