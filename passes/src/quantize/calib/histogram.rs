//! A streamed histogram of one tensor's values over a range that grows as data arrives: when a
//! batch falls outside the current range, the range is widened (doubled about its centre until it
//! covers the batch) and the old counts are merged into the wider bins. Memory is fixed by the
//! bin count, whatever the number of samples.

/// A fixed-size histogram over `[lo, hi]` that widens itself to cover new data.
#[derive(Clone, Debug)]
pub struct Histogram {
    pub lo: f64,
    pub hi: f64,
    pub counts: Vec<f64>,
    /// Exact extremes seen.
    pub min: f64,
    pub max: f64,
    /// Number of finite values seen.
    pub n: u64,
    /// Running sum (for means).
    pub sum: f64,
}

impl Histogram {
    /// An empty histogram with `bins` bins (at least 16).
    pub fn new(bins: usize) -> Histogram {
        Histogram {
            lo: 0.0,
            hi: 0.0,
            counts: vec![0.0; bins.max(16)],
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            n: 0,
            sum: 0.0,
        }
    }

    /// Bin width.
    pub fn width(&self) -> f64 {
        (self.hi - self.lo) / self.counts.len() as f64
    }

    /// Adds values to the extremes, count and sum only, leaving the bins alone (for the min–max
    /// estimator, which reads nothing else). Returns false, adding nothing, when a value is
    /// NaN or infinite.
    pub fn add_extremes(&mut self, xs: &[f32]) -> bool {
        let Some((mn, mx, s)) = extremes(xs) else { return false };
        if !xs.is_empty() {
            self.min = self.min.min(mn as f64);
            self.max = self.max.max(mx as f64);
            self.n += xs.len() as u64;
            self.sum += s;
        }
        true
    }

    /// Adds the (min, max, sum, count) of `n` finite values scanned elsewhere ([`extremes`]):
    /// the same as [`Histogram::add_extremes`] on those values.
    pub fn merge_extremes(&mut self, mn: f32, mx: f32, sum: f64, n: usize) {
        if n > 0 {
            self.min = self.min.min(mn as f64);
            self.max = self.max.max(mx as f64);
            self.n += n as u64;
            self.sum += sum;
        }
    }

    /// Adds finite values (non-finite ones are the caller's to reject).
    pub fn add(&mut self, xs: &[f32]) {
        let (mut bmin, mut bmax) = (f64::INFINITY, f64::NEG_INFINITY);
        let mut s = 0.0;
        for &x in xs {
            let x = x as f64;
            bmin = bmin.min(x);
            bmax = bmax.max(x);
            s += x;
        }
        if xs.is_empty() || !bmin.is_finite() || !bmax.is_finite() {
            return;
        }
        self.sum += s;
        self.n += xs.len() as u64;
        self.min = self.min.min(bmin);
        self.max = self.max.max(bmax);
        if self.n == xs.len() as u64 {
            // First batch: the range is the batch's, made symmetric-safe and non-empty.
            let (lo, hi) = (bmin.min(0.0), bmax.max(0.0));
            let span = (hi - lo).max(1e-12);
            self.lo = lo;
            self.hi = lo + span;
        } else if bmin < self.lo || bmax > self.hi {
            self.widen(bmin, bmax);
        }
        let nb = self.counts.len();
        let w = self.width();
        for &x in xs {
            let i = (((x as f64) - self.lo) / w) as isize;
            let i = i.clamp(0, nb as isize - 1) as usize;
            if let Some(c) = self.counts.get_mut(i) {
                *c += 1.0;
            }
        }
    }

    /// Widens the range to cover `[a, b]` and merges the old counts into the new bins.
    fn widen(&mut self, a: f64, b: f64) {
        let (old_lo, old_w) = (self.lo, self.width());
        let (mut lo, mut hi) = (self.lo, self.hi);
        let mut guard = 0;
        while (a < lo || b > hi) && guard < 64 {
            let span = hi - lo;
            if a < lo {
                lo -= span;
            }
            if b > hi {
                hi += span;
            }
            guard += 1;
        }
        if a < lo {
            lo = a;
        }
        if b > hi {
            hi = b;
        }
        let nbins = self.counts.len();
        let old = std::mem::replace(&mut self.counts, vec![0.0; nbins]);
        self.lo = lo;
        self.hi = hi;
        let nb = self.counts.len();
        let w = self.width();
        for (i, c) in old.into_iter().enumerate() {
            if c == 0.0 {
                continue;
            }
            let centre = old_lo + (i as f64 + 0.5) * old_w;
            let j = ((centre - lo) / w) as isize;
            let j = j.clamp(0, nb as isize - 1) as usize;
            if let Some(d) = self.counts.get_mut(j) {
                *d += c;
            }
        }
    }

    /// The value below which fraction `q` (0..1) of the mass lies.
    pub fn quantile(&self, q: f64) -> f64 {
        let total: f64 = self.counts.iter().sum();
        if total <= 0.0 {
            return 0.0;
        }
        let target = q.clamp(0.0, 1.0) * total;
        let mut acc = 0.0;
        let w = self.width();
        for (i, &c) in self.counts.iter().enumerate() {
            if acc + c >= target {
                let frac = if c > 0.0 { (target - acc) / c } else { 0.0 };
                return (self.lo + (i as f64 + frac) * w).clamp(self.min, self.max);
            }
            acc += c;
        }
        self.max
    }

    /// The histogram of the values clamped to `[a, b]` (what a downstream Relu or Clip makes of
    /// them): the mass outside piles up at the bound, over bins spanning only the clamped range.
    /// Range estimators must see that distribution: a Relu6's negative half and its values above
    /// 6 are not there to represent, and its saturated values are a mass at 6, not a tail.
    pub fn clamped(&self, a: f64, b: f64) -> Histogram {
        let (lo, hi) = (self.lo.max(a), self.hi.min(b));
        if self.n == 0 || hi <= lo || (lo <= self.lo && hi >= self.hi) {
            return self.clone();
        }
        let nb = self.counts.len();
        let (w, nw) = (self.width(), (hi - lo) / nb as f64);
        let mut counts = vec![0.0; nb];
        let mut sum = 0.0;
        for (i, &c) in self.counts.iter().enumerate() {
            if c == 0.0 {
                continue;
            }
            let x = (self.lo + (i as f64 + 0.5) * w).clamp(lo, hi);
            let j = (((x - lo) / nw) as usize).min(nb - 1);
            counts[j] += c;
            sum += c * x;
        }
        Histogram {
            lo,
            hi,
            counts,
            min: self.min.clamp(a, b),
            max: self.max.clamp(a, b),
            n: self.n,
            sum,
        }
    }

    /// Mean of the values seen.
    pub fn mean(&self) -> f64 {
        if self.n == 0 { 0.0 } else { self.sum / self.n as f64 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widening_keeps_mass_and_extremes() {
        let mut h = Histogram::new(256);
        let a: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
        h.add(&a);
        let b: Vec<f32> = (0..1000).map(|i| -5.0 + i as f32 / 100.0).collect();
        h.add(&b);
        let total: f64 = h.counts.iter().sum();
        assert_eq!(total, 2000.0);
        assert_eq!(h.min, -5.0);
        assert!((h.max - 4.99).abs() < 1e-5);
        assert!(h.lo <= -5.0 && h.hi >= 4.99);
        // Median of the union lies in [0, 1).
        let m = h.quantile(0.5);
        assert!((-0.2..1.1).contains(&m), "{m}");
    }

    #[test]
    fn clamping_piles_the_mass_at_the_bounds() {
        let mut h = Histogram::new(256);
        let a: Vec<f32> = (0..1000).map(|i| -2.0 + i as f32 / 100.0).collect();
        h.add(&a);
        let c = h.clamped(0.0, 6.0);
        assert_eq!(c.counts.iter().sum::<f64>(), 1000.0);
        assert_eq!((c.min, c.max), (0.0, 6.0));
        assert!(c.lo >= 0.0 && c.hi <= 6.0, "{} {}", c.lo, c.hi);
        // A fifth of the values were negative: they are zeros now, in the first bin.
        assert!((c.counts[0] - 200.0).abs() <= 3.0, "{}", c.counts[0]);
        assert!((c.counts[255] - 200.0).abs() <= 3.0, "{}", c.counts[255]);
        // Nothing to clamp: the same histogram.
        assert_eq!(h.clamped(-10.0, 10.0).counts, h.counts);
    }
}

/// (min, max, sum) of `xs`, or `None` when a value is NaN or infinite. One pass in sixteen
/// independent lanes with plain comparisons (which vectorise, where `f32::min`'s NaN rules do
/// not); f32 lane sums are flushed to f64 every 4096 values, as in [`lane_sum`]. A NaN never wins
/// a comparison but makes the sum NaN, an infinity becomes the min or max: so the result is
/// finite exactly when every value is, except that a finite sum can overflow to infinity, which
/// a plain scan then settles.
pub fn extremes(xs: &[f32]) -> Option<(f32, f32, f64)> {
    const L: usize = 16;
    let (mut mn, mut mx) = ([f32::INFINITY; L], [f32::NEG_INFINITY; L]);
    let mut total = 0f64;
    for block in xs.chunks(4096) {
        let mut s = [0f32; L];
        let mut it = block.chunks_exact(L);
        for c in &mut it {
            for j in 0..L {
                let x = c[j];
                mn[j] = if x < mn[j] { x } else { mn[j] };
                mx[j] = if x > mx[j] { x } else { mx[j] };
                s[j] += x;
            }
        }
        for &x in it.remainder() {
            mn[0] = if x < mn[0] { x } else { mn[0] };
            mx[0] = if x > mx[0] { x } else { mx[0] };
            s[0] += x;
        }
        total += s.iter().map(|&v| v as f64).sum::<f64>();
    }
    let lo = mn.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = mx.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if xs.is_empty() {
        return Some((lo, hi, 0.0));
    }
    if lo.is_finite() && hi.is_finite() && total.is_finite() {
        return Some((lo, hi, total));
    }
    if xs.iter().any(|x| !x.is_finite()) {
        return None;
    }
    Some((lo, hi, xs.iter().map(|&x| x as f64).sum()))
}

/// The sum of `xs`: eight f32 lanes over blocks of 4096, f64 across blocks (vectorises, where
/// one f64 running sum waits on every addition).
pub fn lane_sum(xs: &[f32]) -> f64 {
    let mut total = 0f64;
    for block in xs.chunks(4096) {
        let mut s = [0f32; 8];
        let mut it = block.chunks_exact(8);
        for c in &mut it {
            for j in 0..8 {
                s[j] += c[j];
            }
        }
        for &x in it.remainder() {
            s[0] += x;
        }
        total += s.iter().map(|&v| v as f64).sum::<f64>();
    }
    total
}

#[cfg(test)]
mod extremes_tests {
    #[test]
    fn extremes_match_a_plain_scan_and_refuse_nan() {
        let xs: Vec<f32> = (0..10_007).map(|i| ((i * 37) % 1001) as f32 / 100.0 - 5.0).collect();
        let (lo, hi, s) = super::extremes(&xs).unwrap();
        assert_eq!(lo, xs.iter().copied().fold(f32::INFINITY, f32::min));
        assert_eq!(hi, xs.iter().copied().fold(f32::NEG_INFINITY, f32::max));
        let plain: f64 = xs.iter().map(|&x| x as f64).sum();
        assert!((s - plain).abs() < 1e-3 * plain.abs().max(1.0), "{s} vs {plain}");
        let mut ys = xs.clone();
        ys[5003] = f32::NAN;
        assert!(super::extremes(&ys).is_none());
        ys[5003] = f32::INFINITY;
        assert!(super::extremes(&ys).is_none());
        ys[5003] = f32::NEG_INFINITY;
        assert!(super::extremes(&ys).is_none());
        // A NaN in the remainder of a block, and a lone NaN.
        ys[5003] = 1.0;
        ys[10_006] = f32::NAN;
        assert!(super::extremes(&ys).is_none());
        assert!(super::extremes(&[f32::NAN]).is_none());
        // Finite values whose f32 lane sums overflow are still finite data.
        let big = vec![3.0e38f32; 64];
        let (lo, hi, s) = super::extremes(&big).unwrap();
        assert_eq!((lo, hi), (3.0e38, 3.0e38));
        assert!((s - 64.0 * 3.0e38).abs() < 1e33, "{s}");
        // Scanned on another thread and merged = added in place, sample by sample.
        let (mut a, mut b) = (super::Histogram::new(16), super::Histogram::new(16));
        for part in xs.chunks(3001) {
            assert!(a.add_extremes(part));
            let (lo, hi, s) = super::extremes(part).unwrap();
            b.merge_extremes(lo, hi, s, part.len());
        }
        assert_eq!((a.min, a.max, a.sum, a.n), (b.min, b.max, b.sum, b.n));
    }
}
