//! Scale/zero-point arithmetic and weight quantizers: activation parameters from a range,
//! per-channel symmetric int8 weights along any axis, per-block (u)int4/(u)int8 weights, and
//! sub-byte packing. Rounding is half-to-even, as ONNX QuantizeLinear does.

use edgeport_ir::{DType, QuantGranularity, QuantParams};

/// Integer range of a storage type.
pub fn qrange(d: DType) -> (i32, i32) {
    match d {
        DType::I8 => (-128, 127),
        DType::U8 => (0, 255),
        DType::I4 => (-8, 7),
        DType::U4 => (0, 15),
        DType::I16 => (-32768, 32767),
        DType::U16 => (0, 65535),
        _ => (i32::MIN, i32::MAX),
    }
}

/// Round half to even. Below 2^52 in magnitude, adding and subtracting 2^52 rounds in the
/// hardware's default (ties-to-even) mode: the same result as `round_ties_even` without the
/// library call it compiles to on baseline x86-64 (it ran per weight element).
#[inline]
pub fn round_even(x: f64) -> f64 {
    const TWO52: f64 = 4_503_599_627_370_496.0;
    let a = x.abs();
    if a < TWO52 {
        ((a + TWO52) - TWO52).copysign(x)
    } else {
        x.round_ties_even()
    }
}

/// Asymmetric (u8/u4, i8) or symmetric (`symmetric`) parameters covering `[lo, hi]`.
pub fn from_range(lo: f64, hi: f64, d: DType, symmetric: bool) -> (f32, i32) {
    let (qmin, qmax) = qrange(d);
    let (lo, hi) = (lo.min(0.0), hi.max(0.0));
    if symmetric {
        let amax = lo.abs().max(hi.abs());
        let half = ((qmax - qmin) / 2) as f64;
        let s = if amax > 0.0 { amax / half } else { 1.0 };
        let zp = if qmin < 0 { 0 } else { (qmax + 1) / 2 };
        return (s as f32, zp);
    }
    let s = (hi - lo) / (qmax - qmin) as f64;
    if s <= 0.0 || !s.is_finite() {
        return (1.0, if qmin < 0 { 0 } else { qmin });
    }
    let zp = round_even(qmin as f64 - lo / s).clamp(qmin as f64, qmax as f64) as i32;
    (s as f32, zp)
}

/// The (scale, zero point) for the values `xs` that minimise the squared rounding error, found
/// by shrinking their range from the full min–max down to 70% of it in 16 steps. For 4-bit
/// codes the range's extremes cost more in resolution than their clipping error; for wider
/// types this gives the min–max range back.
pub fn fit_range(xs: &[f64], d: DType, symmetric: bool) -> (f32, i32) {
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || !hi.is_finite() {
        return from_range(0.0, 0.0, d, symmetric);
    }
    let (qmin, qmax) = qrange(d);
    if qmax - qmin > 255 || xs.is_empty() {
        return from_range(lo, hi, d, symmetric);
    }
    let err = |(s, z): (f32, i32)| -> f64 {
        xs.iter()
            .map(|&x| {
                let e = x - (quant1(x, s, z, d) - z) as f64 * s as f64;
                e * e
            })
            .sum()
    };
    let mut best = from_range(lo, hi, d, symmetric);
    let mut best_err = err(best);
    for i in 1..16 {
        let a = 1.0 - 0.02 * i as f64;
        let p = from_range(lo * a, hi * a, d, symmetric);
        let e = err(p);
        if e < best_err {
            best = p;
            best_err = e;
        }
    }
    best
}

/// Quantizes one value.
pub fn quant1(x: f64, s: f32, zp: i32, d: DType) -> i32 {
    let (qmin, qmax) = qrange(d);
    (round_even(x / s as f64) + zp as f64).clamp(qmin as f64, qmax as f64) as i32
}

/// Symmetric int8 per-channel along `axis` of a weight of `shape`: (codes, scales).
pub fn per_channel_i8<T: Copy + Into<f64>>(w: &[T], shape: &[usize], axis: usize) -> (Vec<i8>, Vec<f32>) {
    let c = shape.get(axis).copied().unwrap_or(1).max(1);
    let inner: usize = shape.iter().skip(axis + 1).product::<usize>().max(1);
    // Runs of `inner` values share a channel: walk them in order instead of dividing per element.
    let mut amax = vec![0f64; c];
    for (r, run) in w.chunks(inner).enumerate() {
        let a = &mut amax[r % c];
        *a = run.iter().fold(*a, |m, &x| m.max(x.into().abs()));
    }
    let scales: Vec<f32> = amax.iter().map(|&a| if a > 0.0 { (a / 127.0) as f32 } else { 1.0 }).collect();
    let mut codes = Vec::with_capacity(w.len());
    for (r, run) in w.chunks(inner).enumerate() {
        let s = scales[r % c] as f64;
        codes.extend(run.iter().map(|&x| (round_even(x.into() / s)).clamp(-127.0, 127.0) as i8));
    }
    (codes, scales)
}

/// Per-block parameters along `axis` (blocks of `block` elements): the scale/zero-point tensor
/// has `shape` with `shape[axis]` replaced by `ceil(shape[axis] / block)`.
pub struct Blocked {
    pub codes: Vec<i32>,
    pub scales: Vec<f32>,
    pub zps: Vec<i32>,
    pub param_shape: Vec<usize>,
}

/// Index of the parameter for flat element `i` of `shape`, blocked along `axis`.
pub fn block_index(i: usize, shape: &[usize], axis: usize, block: usize) -> usize {
    let inner: usize = shape.iter().skip(axis + 1).product::<usize>().max(1);
    let n_ax = shape.get(axis).copied().unwrap_or(1).max(1);
    let nb = n_ax.div_ceil(block.max(1));
    let outer = i / (inner * n_ax);
    let a = (i / inner) % n_ax;
    let r = i % inner;
    (outer * nb + a / block.max(1)) * inner + r
}

/// Round-to-nearest per-block quantization (asymmetric unless `symmetric`).
pub fn per_block(w: &[f64], shape: &[usize], axis: usize, block: usize, d: DType, symmetric: bool) -> Blocked {
    let mut param_shape = shape.to_vec();
    if let Some(p) = param_shape.get_mut(axis) {
        *p = p.div_ceil(block.max(1));
    }
    let np: usize = param_shape.iter().product();
    let (qmin, qmax) = qrange(d);
    let params: Vec<(f32, i32)> = if qmax - qmin <= 15 {
        // 4-bit: each block's range fitted to its values (see `fit_range`).
        let mut members: Vec<Vec<f64>> = vec![Vec::new(); np];
        for (i, &x) in w.iter().enumerate() {
            if let Some(m) = members.get_mut(block_index(i, shape, axis, block)) {
                m.push(x);
            }
        }
        members.iter().map(|m| fit_range(m, d, symmetric)).collect()
    } else {
        let mut lo = vec![0f64; np];
        let mut hi = vec![0f64; np];
        for (i, &x) in w.iter().enumerate() {
            let b = block_index(i, shape, axis, block);
            if let (Some(l), Some(h)) = (lo.get_mut(b), hi.get_mut(b)) {
                *l = l.min(x);
                *h = h.max(x);
            }
        }
        lo.iter().zip(&hi).map(|(&l, &h)| from_range(l, h, d, symmetric)).collect()
    };
    let codes = w
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let (s, z) = params.get(block_index(i, shape, axis, block)).copied().unwrap_or((1.0, 0));
            quant1(x, s, z, d)
        })
        .collect();
    Blocked {
        codes,
        scales: params.iter().map(|p| p.0).collect(),
        zps: params.iter().map(|p| p.1).collect(),
        param_shape,
    }
}

/// Packs 4-bit codes two per byte, first element in the low nibble.
pub fn pack4(codes: &[i32]) -> Vec<u8> {
    codes
        .chunks(2)
        .map(|p| {
            let a = (p[0] & 0xF) as u8;
            let b = p.get(1).map(|&x| (x & 0xF) as u8).unwrap_or(0);
            a | (b << 4)
        })
        .collect()
}

/// Raw little-endian bytes of integer codes in storage type `d`.
pub fn encode(codes: &[i32], d: DType) -> Vec<u8> {
    match d {
        DType::I4 | DType::U4 => pack4(codes),
        DType::I8 | DType::U8 => codes.iter().map(|&c| c as u8).collect(),
        DType::I16 | DType::U16 => codes.iter().flat_map(|&c| (c as u16).to_le_bytes()).collect(),
        _ => codes.iter().flat_map(|&c| c.to_le_bytes()).collect(),
    }
}

/// IR quantization parameters.
pub fn qparams(storage: DType, granularity: QuantGranularity, scale: Vec<f32>, zp: Vec<i32>) -> QuantParams {
    QuantParams {
        storage,
        granularity,
        scale,
        zero_point: zp.into_iter().map(i64::from).collect(),
        scale_dtype: DType::F32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_even_matches_the_library() {
        let xs = [
            0.0,
            -0.0,
            0.5,
            1.5,
            2.5,
            -0.5,
            -1.5,
            -2.5,
            0.49999999999999994,
            126.5,
            127.5,
            -127.5,
            1e15 + 0.5,
            4_503_599_627_370_495.5,
            4_503_599_627_370_497.0,
            1e300,
            -1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            3.7,
            -3.7,
        ];
        for x in xs {
            let (a, b) = (round_even(x), x.round_ties_even());
            assert!(a == b && a.is_sign_negative() == b.is_sign_negative(), "{x}: {a} vs {b}");
        }
        assert!(round_even(f64::NAN).is_nan());
    }

    #[test]
    fn per_channel_round_trip_error_is_half_a_step() {
        let shape = [2, 3];
        let w = [0.5, -1.0, 0.25, 10.0, -3.0, 7.5];
        let (q, s) = per_channel_i8(&w, &shape, 0);
        assert_eq!(q[1], -127);
        assert_eq!(q[3], 127);
        for (i, &x) in w.iter().enumerate() {
            let d = q[i] as f64 * s[i / 3] as f64;
            assert!((d - x).abs() <= s[i / 3] as f64 / 2.0 + 1e-9);
        }
    }

    #[test]
    fn blocked_u4_covers_each_block() {
        let shape = [4, 2];
        let w = [0.0, 1.0, 1.0, -2.0, 5.0, 0.5, 6.0, 0.0];
        let b = per_block(&w, &shape, 0, 2, DType::U4, false);
        assert_eq!(b.param_shape, vec![2, 2]);
        for (i, &x) in w.iter().enumerate() {
            let p = block_index(i, &shape, 0, 2);
            let d = (b.codes[i] - b.zps[p]) as f64 * b.scales[p] as f64;
            assert!((d - x).abs() <= b.scales[p] as f64 / 2.0 + 1e-6, "{i}: {d} vs {x}");
        }
        assert_eq!(pack4(&[1, 2, 3]), vec![0x21, 0x03]);
    }

    #[test]
    fn activation_params_hit_zero_exactly() {
        let (s, z) = from_range(-1.0, 3.0, DType::U8, false);
        assert!((s - 4.0 / 255.0).abs() < 1e-7);
        assert_eq!(quant1(0.0, s, z, DType::U8), z);
    }
}
