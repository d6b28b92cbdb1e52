//! Direct float GEMM on the `gemm` crate (the kernels candle itself calls), without candle's
//! tensor round trip: operands are read in place through their strides (so a transposed operand
//! costs nothing) and the product is written straight into the caller's buffer. Going through
//! candle copied both operands in, and the result out twice, for every product.
//!
//! The one `unsafe` block is the `gemm` call; every slice length is checked against the
//! largest offset the strides can reach before it.

use crate::error::OpError;
use std::any::TypeId;

/// A strided read-only matrix operand: element (i, j) is `data[i * rs + j * cs]`.
#[derive(Clone, Copy)]
pub struct Mat<'a, T> {
    pub data: &'a [T],
    pub rs: usize,
    pub cs: usize,
}

impl<'a, T> Mat<'a, T> {
    /// A row-major `rows × cols` matrix.
    pub fn rows(data: &'a [T], cols: usize) -> Self {
        Mat { data, rs: cols, cs: 1 }
    }
    /// The transpose of a row-major `rows × cols` matrix (so a `cols × rows` operand).
    pub fn transposed(data: &'a [T], cols: usize) -> Self {
        Mat { data, rs: 1, cs: cols }
    }
    fn fits(&self, r: usize, c: usize) -> bool {
        if r == 0 || c == 0 {
            return true;
        }
        (r - 1)
            .checked_mul(self.rs)
            .and_then(|a| (c - 1).checked_mul(self.cs).and_then(|b| a.checked_add(b)))
            .is_some_and(|last| last < self.data.len())
    }
}

/// Products worth splitting across threads (multiply-adds).
const PARALLEL_WORK: usize = 1 << 21;

thread_local! {
    static SINGLE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with this thread's products on one thread: for callers that already run one
/// forward per core (calibration), where splitting each product again only adds contention.
pub fn single_threaded<R>(f: impl FnOnce() -> R) -> R {
    let before = SINGLE.with(|c| c.replace(true));
    let r = f();
    SINGLE.with(|c| c.set(before));
    r
}

fn threads(work: usize) -> usize {
    if work < PARALLEL_WORK || SINGLE.with(|c| c.get()) {
        return 1;
    }
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
}

/// Threads a product (or another kernel) of `work` multiply-adds may use here: 1 inside
/// [`single_threaded`] or when the work is too small to split.
pub fn threads_for(work: usize) -> usize {
    threads(work)
}

/// Whether `T` has a direct kernel (f32, f64).
pub fn supported<T: 'static>() -> bool {
    TypeId::of::<T>() == TypeId::of::<f32>() || TypeId::of::<f64>() == TypeId::of::<T>()
}

/// `dst (m × n, row-major) = a (m × k) · b (k × n)`, or `dst += a · b` with `accumulate` (a
/// bias already in `dst`). `T` must be f32 or f64 ([`supported`]).
pub fn gemm_into<T: Copy + num_traits::Zero + num_traits::One + 'static>(
    dst: &mut [T],
    a: Mat<'_, T>,
    b: Mat<'_, T>,
    (m, k, n): (usize, usize, usize),
    accumulate: bool,
) -> Result<(), OpError> {
    let size = m.checked_mul(n).ok_or_else(|| OpError::invalid("gemm: output size overflows"))?;
    if dst.len() != size {
        return Err(OpError::invalid(format!("gemm: output buffer {} for {m}×{n}", dst.len())));
    }
    gemm_into_strided(dst, n, a, b, (m, k, n), accumulate)
}

/// [`gemm_into`] with the destination's rows `dst_rs` elements apart (`dst_rs ≥ n`): element
/// (i, j) is `dst[i * dst_rs + j]`, and the elements between rows are left as they are.
pub fn gemm_into_strided<T: Copy + num_traits::Zero + num_traits::One + 'static>(
    dst: &mut [T],
    dst_rs: usize,
    a: Mat<'_, T>,
    b: Mat<'_, T>,
    (m, k, n): (usize, usize, usize),
    accumulate: bool,
) -> Result<(), OpError> {
    if dst_rs < n {
        return Err(OpError::invalid(format!("gemm: row stride {dst_rs} for {n} columns")));
    }
    gemm_into_general(dst, (dst_rs, 1), a, b, (m, k, n), accumulate)
}

/// [`gemm_into`] with any destination layout: element (i, j) is `dst[i * rs + j * cs]`. The
/// `gemm` crate's widest kernel runs along the destination's contiguous dimension, so a product
/// with few columns and many rows goes faster written column by column (`(1, m)`).
pub fn gemm_into_general<T: Copy + num_traits::Zero + num_traits::One + 'static>(
    dst: &mut [T],
    (dst_rs, dst_cs): (usize, usize),
    a: Mat<'_, T>,
    b: Mat<'_, T>,
    (m, k, n): (usize, usize, usize),
    accumulate: bool,
) -> Result<(), OpError> {
    if !supported::<T>() {
        return Err(OpError::invalid("gemm: only f32 and f64 have a direct kernel"));
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    let out = Mat {
        data: &dst[..],
        rs: dst_rs,
        cs: dst_cs,
    };
    // Distinct (i, j) must not share an element: one stride must step over the other's reach.
    let disjoint = (dst_cs >= 1 && dst_rs > (n - 1) * dst_cs) || (dst_rs >= 1 && dst_cs > (m - 1) * dst_rs);
    if !out.fits(m, n) || !disjoint {
        return Err(OpError::invalid(format!(
            "gemm: output buffer {} (strides {dst_rs}, {dst_cs}) for {m}×{n}",
            dst.len()
        )));
    }
    let size = m * n;
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    dst[i * dst_rs + j * dst_cs] = T::zero();
                }
            }
        }
        return Ok(());
    }
    if !a.fits(m, k) || !b.fits(k, n) {
        return Err(OpError::invalid(format!("gemm: operands too small for {m}×{k} · {k}×{n}")));
    }
    let as_isize = |v: usize| isize::try_from(v).map_err(|_| OpError::invalid("gemm: stride overflows"));
    let (ars, acs, brs, bcs, drs, dcs) = (
        as_isize(a.rs)?,
        as_isize(a.cs)?,
        as_isize(b.rs)?,
        as_isize(b.cs)?,
        as_isize(dst_rs)?,
        as_isize(dst_cs)?,
    );
    let nt = threads(size.saturating_mul(k));
    let par = if nt > 1 {
        ::gemm::Parallelism::Rayon(nt)
    } else {
        ::gemm::Parallelism::None
    };
    // SAFETY: `T` is f32 or f64 (checked above), which `gemm` implements. `fits` checked that
    // the largest destination offset the strides reach over m×n is inside `dst`, and that no two
    // elements share an offset (one stride steps over the other's whole reach); likewise the
    // largest offset either operand's strides reach over m×k and k×n is inside its slice. The
    // destination is read only with `accumulate` (it is fully initialised either way), and the
    // buffers do not overlap (`dst` is a unique borrow).
    unsafe {
        ::gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            dcs,
            drs,
            accumulate,
            a.data.as_ptr(),
            acs,
            ars,
            b.data.as_ptr(),
            bcs,
            brs,
            T::one(),
            T::one(),
            false,
            false,
            false,
            par,
        );
    }
    Ok(())
}

/// `a · b` into a new row-major buffer.
pub fn gemm<T: Copy + num_traits::Zero + num_traits::One + 'static>(
    a: Mat<'_, T>,
    b: Mat<'_, T>,
    m: usize,
    k: usize,
    n: usize,
) -> Result<Vec<T>, OpError> {
    let size = m.checked_mul(n).ok_or_else(|| OpError::invalid("gemm: output size overflows"))?;
    let mut dst = vec![T::zero(); size];
    gemm_into(&mut dst, a, b, (m, k, n), false)?;
    Ok(dst)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut c = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|l| a[i * k + l] * b[l * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn matches_naive_plain_and_transposed() {
        let (m, k, n) = (37, 129, 65);
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 7919) % 101) as f32 / 50.0 - 1.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i * 104_729) % 97) as f32 / 48.0 - 1.0).collect();
        let want = naive(&a, &b, m, k, n);
        let got = gemm(Mat::rows(&a, k), Mat::rows(&b, n), m, k, n).unwrap();
        assert!(got.iter().zip(&want).all(|(x, y)| (x - y).abs() < 1e-3));
        // aᵀ stored as k × m, bᵀ stored as n × k.
        let at: Vec<f32> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
        let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
        let got = gemm(Mat::transposed(&at, m), Mat::transposed(&bt, k), m, k, n).unwrap();
        assert!(got.iter().zip(&want).all(|(x, y)| (x - y).abs() < 1e-3));
    }

    #[test]
    fn refuses_short_operands() {
        let a = vec![1f32; 5];
        let b = vec![1f32; 6];
        assert!(gemm(Mat::rows(&a, 3), Mat::rows(&b, 3), 2, 3, 3).is_err());
        assert!(gemm::<i32>(Mat::rows(&[1], 1), Mat::rows(&[1], 1), 1, 1, 1).is_err());
    }
}
