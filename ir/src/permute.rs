//! Axis permutations of raw tensor bytes, in memory or streamed in bounded chunks.
//!
//! Converters move weights between layouts (TensorFlow's HWIO filters to ONNX's OIHW, OIHW to
//! TFLite's OHWI, `[K, N]` matrices to `[N, K]`). Materializing each permuted weight next to its
//! memory-mapped source holds the model twice. [`permute_chunks`] instead hands the permuted
//! bytes to a sink a bounded chunk at a time: each chunk is filled by one pass over the source in
//! its own order (so the source is read sequentially and its mapped pages are given back behind
//! the scan, see [`crate::mapped::release`]), scattering only the elements that land in the
//! chunk. A permutation that moves no bytes (only size-1 axes move) streams the source as is.
//!
//! Shapes and permutations are checked ([`check`]); the byte length of `src` must be the shape's
//! element count times `elem`.

use std::io;

/// Bytes of output produced per pass over the source.
const CHUNK: usize = 1 << 20;

/// Why a permutation cannot be applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PermuteError {
    #[error("permutation {perm:?} does not fit shape {shape:?}")]
    BadPerm { shape: Vec<usize>, perm: Vec<usize> },
    #[error("{len} bytes do not hold shape {shape:?} of {elem}-byte elements")]
    BadLength { shape: Vec<usize>, elem: usize, len: usize },
}

/// Checks that `perm` permutes `shape`'s axes and `len` bytes hold `shape` of `elem`-byte
/// elements; returns the permuted shape.
pub fn check(len: usize, elem: usize, shape: &[usize], perm: &[usize]) -> Result<Vec<usize>, PermuteError> {
    let bad = || PermuteError::BadPerm {
        shape: shape.to_vec(),
        perm: perm.to_vec(),
    };
    if perm.len() != shape.len() {
        return Err(bad());
    }
    let mut seen = vec![false; shape.len()];
    for &p in perm {
        match seen.get_mut(p) {
            Some(s) if !*s => *s = true,
            _ => return Err(bad()),
        }
    }
    let numel = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if elem == 0 || numel.and_then(|n| n.checked_mul(elem)) != Some(len) {
        return Err(PermuteError::BadLength {
            shape: shape.to_vec(),
            elem,
            len,
        });
    }
    Ok(perm.iter().map(|&p| shape[p]).collect())
}

/// True when the permutation moves no bytes: the axes whose size is not 1 keep their order.
pub fn moves_nothing(shape: &[usize], perm: &[usize]) -> bool {
    let kept: Vec<usize> = perm.iter().copied().filter(|&p| shape.get(p).is_some_and(|&d| d != 1)).collect();
    kept.windows(2).all(|w| w[0] < w[1])
}

/// For each source axis, the stride (in elements) of that axis in the permuted output.
fn out_strides_of_src(shape: &[usize], perm: &[usize]) -> Vec<usize> {
    let rank = shape.len();
    let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let mut out_strides = vec![1usize; rank];
    for i in (0..rank.saturating_sub(1)).rev() {
        out_strides[i] = out_strides[i + 1] * out_shape[i + 1];
    }
    let mut of_src = vec![0usize; rank];
    for (i, &p) in perm.iter().enumerate() {
        of_src[p] = out_strides[i];
    }
    of_src
}

/// The permuted bytes, made in memory (`out.shape[i] = shape[perm[i]]`).
pub fn permute_bytes(src: &[u8], elem: usize, shape: &[usize], perm: &[usize]) -> Result<Vec<u8>, PermuteError> {
    let mut out = Vec::with_capacity(src.len());
    // Writing into a Vec cannot fail.
    let _ = permute_chunks(src, elem, shape, perm, usize::MAX, &mut |c| {
        out.extend_from_slice(c);
        Ok(())
    })?;
    Ok(out)
}

/// Streams the permuted bytes of `src` to `sink` in chunks of at most `chunk` bytes (at least
/// one element; `usize::MAX` for one chunk), giving back the source's mapped pages as they are
/// read. Returns the number of bytes produced.
pub fn permute_chunks(
    src: &[u8],
    elem: usize,
    shape: &[usize],
    perm: &[usize],
    chunk: usize,
    sink: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> Result<io::Result<usize>, PermuteError> {
    check(src.len(), elem, shape, perm)?;
    Ok(stream(src, elem, shape, perm, chunk, sink))
}

/// [`permute_chunks`] with the default chunk size.
pub fn write_permuted(
    src: &[u8],
    elem: usize,
    shape: &[usize],
    perm: &[usize],
    w: &mut dyn io::Write,
) -> Result<io::Result<usize>, PermuteError> {
    permute_chunks(src, elem, shape, perm, CHUNK, &mut |c| w.write_all(c))
}

fn stream(
    src: &[u8],
    elem: usize,
    shape: &[usize],
    perm: &[usize],
    chunk: usize,
    sink: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<usize> {
    if src.is_empty() {
        return Ok(0);
    }
    if moves_nothing(shape, perm) {
        for c in src.chunks(chunk.clamp(elem, CHUNK)) {
            sink(c)?;
            crate::mapped::release(c);
        }
        return Ok(src.len());
    }
    let rank = shape.len();
    if rank > 1 && perm[0] == 0 && shape[0] > 1 {
        // The leading axis stays: each of its slices is contiguous in the source and in the
        // result, so permute them one at a time.
        let step = src.len() / shape[0];
        let inner: Vec<usize> = perm[1..].iter().map(|&p| p - 1).collect();
        let mut released = 0usize;
        for i in 0..shape[0] {
            stream(&src[i * step..(i + 1) * step], elem, &shape[1..], &inner, chunk, sink)?;
            let done = (i + 1) * step;
            if done - released >= CHUNK {
                crate::mapped::release(&src[released..done]);
                released = done;
            }
        }
        crate::mapped::release(&src[released..]);
        return Ok(src.len());
    }
    let strides = out_strides_of_src(shape, perm);
    let per_chunk = (chunk / elem).max(1);
    let total = src.len() / elem;
    let mut buf = vec![0u8; per_chunk.min(total) * elem];
    let mut lo = 0usize;
    while lo < total {
        let hi = (lo + per_chunk).min(total);
        // One pass over the source in its own order, keeping the elements whose output index
        // falls in [lo, hi).
        let mut idx = vec![0usize; rank];
        let mut o = 0usize;
        let mut released = 0usize;
        for (k, e) in src.chunks_exact(elem).enumerate() {
            if (lo..hi).contains(&o) {
                let at = (o - lo) * elem;
                if let Some(d) = buf.get_mut(at..at + elem) {
                    d.copy_from_slice(e);
                }
            }
            // Next source index; `o` follows it through the output strides.
            for d in (0..rank).rev() {
                idx[d] += 1;
                o += strides[d];
                if idx[d] < shape[d] {
                    break;
                }
                o -= strides[d] * shape[d];
                idx[d] = 0;
            }
            let done = (k + 1) * elem;
            if done - released >= CHUNK {
                crate::mapped::release(&src[released..done]);
                released = done;
            }
        }
        crate::mapped::release(&src[released..]);
        sink(&buf[..(hi - lo) * elem])?;
        lo = hi;
    }
    Ok(src.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Element-by-element reference.
    fn naive(src: &[u32], shape: &[usize], perm: &[usize]) -> Vec<u32> {
        let rank = shape.len();
        let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
        let mut in_strides = vec![1usize; rank];
        for i in (0..rank.saturating_sub(1)).rev() {
            in_strides[i] = in_strides[i + 1] * shape[i + 1];
        }
        let n: usize = shape.iter().product();
        let mut out = Vec::with_capacity(n);
        let mut idx = vec![0usize; rank];
        for _ in 0..n {
            out.push(src[idx.iter().enumerate().map(|(i, &x)| x * in_strides[perm[i]]).sum::<usize>()]);
            for d in (0..rank).rev() {
                idx[d] += 1;
                if idx[d] < out_shape[d] {
                    break;
                }
                idx[d] = 0;
            }
        }
        out
    }

    fn bytes(v: &[u32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn matches_the_naive_permutation_in_any_chunking() {
        let cases: &[(&[usize], &[usize])] = &[
            (&[3, 3, 5, 7], &[3, 2, 0, 1]),
            (&[3, 3, 5, 7], &[2, 3, 0, 1]),
            (&[6, 4, 3, 3], &[0, 2, 3, 1]),
            (&[37, 11], &[1, 0]),
            (&[1, 9, 1, 4], &[2, 0, 3, 1]),
            (&[5], &[0]),
            (&[2, 3, 4, 5, 6], &[4, 3, 0, 1, 2]),
        ];
        for &(shape, perm) in cases {
            let n: usize = shape.iter().product();
            let src: Vec<u32> = (0..n as u32).map(|i| i.wrapping_mul(2_654_435_761)).collect();
            let want = bytes(&naive(&src, shape, perm));
            let sb = bytes(&src);
            assert_eq!(permute_bytes(&sb, 4, shape, perm).unwrap(), want, "{shape:?} {perm:?}");
            for chunk in [4, 12, 100, 4096] {
                let mut got = Vec::new();
                let mut calls = 0;
                let r = permute_chunks(&sb, 4, shape, perm, chunk, &mut |c| {
                    assert!(c.len() <= chunk.max(4));
                    calls += 1;
                    got.extend_from_slice(c);
                    Ok(())
                });
                assert_eq!(r.unwrap().unwrap(), sb.len());
                assert_eq!(got, want, "{shape:?} {perm:?} chunk {chunk}");
                assert!(calls >= sb.len().div_ceil(chunk.max(4)).min(sb.len() / 4));
            }
        }
    }

    #[test]
    fn bad_shapes_and_permutations_are_errors() {
        let src = vec![0u8; 24];
        assert!(matches!(
            permute_bytes(&src, 4, &[2, 3], &[0, 0]),
            Err(PermuteError::BadPerm { .. })
        ));
        assert!(matches!(
            permute_bytes(&src, 4, &[2, 3], &[1, 2]),
            Err(PermuteError::BadPerm { .. })
        ));
        assert!(matches!(permute_bytes(&src, 4, &[2, 3], &[1]), Err(PermuteError::BadPerm { .. })));
        assert!(matches!(
            permute_bytes(&src, 4, &[2, 4], &[1, 0]),
            Err(PermuteError::BadLength { .. })
        ));
        assert!(matches!(
            permute_bytes(&src, 0, &[2, 3], &[1, 0]),
            Err(PermuteError::BadLength { .. })
        ));
        assert!(matches!(
            permute_bytes(&src, 4, &[usize::MAX, 3], &[1, 0]),
            Err(PermuteError::BadLength { .. })
        ));
        assert!(moves_nothing(&[1, 5, 1, 3], &[1, 0, 3, 2]));
        assert!(!moves_nothing(&[2, 5], &[1, 0]));
    }
}
