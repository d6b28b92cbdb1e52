//! Small helpers of the exporter: permutations (compose, invert, identity tests), byte-level
//! transposition of constant data and f32 → f16 conversion.

use std::borrow::Cow;

/// The identity permutation of a rank.
pub(crate) fn ident(rank: usize) -> Vec<usize> {
    (0..rank).collect()
}

pub(crate) fn is_ident(p: &[usize]) -> bool {
    p.iter().enumerate().all(|(i, &x)| i == x)
}

/// The inverse permutation (`inv[p[i]] = i`). `p` must be a permutation.
pub(crate) fn invert(p: &[usize]) -> Vec<usize> {
    let mut inv = vec![0; p.len()];
    for (i, &x) in p.iter().enumerate() {
        if let Some(s) = inv.get_mut(x) {
            *s = i;
        }
    }
    inv
}

/// True when `p` is a permutation of 0..len.
pub(crate) fn is_perm(p: &[usize]) -> bool {
    let mut seen = vec![false; p.len()];
    for &x in p {
        match seen.get_mut(x) {
            Some(s) if !*s => *s = true,
            _ => return false,
        }
    }
    true
}

/// NCHW-style (channels second) → channels last, for a rank: [0, 2, 3, …, 1].
pub(crate) fn to_last(rank: usize) -> Vec<usize> {
    if rank < 3 {
        return ident(rank);
    }
    let mut p = vec![0];
    p.extend(2..rank);
    p.push(1);
    p
}

/// True when transposing a tensor of `dims` by `perm` keeps the order of all dims larger than 1,
/// so that the transpose is a pure reshape (the bytes do not move).
pub(crate) fn perm_is_reshape(dims: &[i64], perm: &[usize]) -> bool {
    let moved: Vec<usize> = perm.iter().copied().filter(|&p| dims.get(p).is_none_or(|&d| d != 1)).collect();
    moved.windows(2).all(|w| w[0] < w[1])
}

/// Transposes row-major data of `shape` (elements of `elem` bytes) so that output dim `i` is
/// input dim `perm[i]` (`edgeport_ir::permute`). Returns the input (no copy) when the
/// permutation moves no bytes, or does not fit the data.
pub(crate) fn transpose_bytes<'a>(src: &'a [u8], elem: usize, shape: &[usize], perm: &[usize]) -> Cow<'a, [u8]> {
    if edgeport_ir::permute::moves_nothing(shape, perm) {
        return Cow::Borrowed(src);
    }
    match edgeport_ir::permute::permute_bytes(src, elem, shape, perm) {
        Ok(v) => Cow::Owned(v),
        Err(_) => Cow::Borrowed(src),
    }
}

/// Converts little-endian f32 data to f16.
pub(crate) fn f32_to_f16_bytes(src: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(src.len() / 2);
    for c in src.chunks_exact(4) {
        let v = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        out.extend_from_slice(&half::f16::from_f32(v).to_le_bytes());
    }
    out
}

/// Little-endian bytes of i32 values.
pub(crate) fn i32_bytes(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Little-endian bytes of f32 values.
pub(crate) fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposes_oihw_to_ohwi() {
        // shape [1, 2, 1, 3] (O, I, H, W) with values 0..6 → OHWI [1, 1, 3, 2]
        let src: Vec<u8> = (0u8..6).collect();
        let out = transpose_bytes(&src, 1, &[1, 2, 1, 3], &[0, 2, 3, 1]);
        assert_eq!(&out[..], &[0, 3, 1, 4, 2, 5]);
        // 1×1 kernel: OIHW [2, 3, 1, 1] → OHWI moves only size-1 dims: borrowed, unchanged.
        let src: Vec<u8> = (0u8..6).collect();
        let out = transpose_bytes(&src, 1, &[2, 3, 1, 1], &[0, 2, 3, 1]);
        assert!(matches!(out, Cow::Borrowed(_)));
        assert_eq!(&out[..], &src[..]);
    }

    #[test]
    fn reshape_only_perms() {
        assert!(perm_is_reshape(&[1, 64, 1, 1], &[0, 2, 3, 1]));
        assert!(!perm_is_reshape(&[1, 64, 7, 7], &[0, 2, 3, 1]));
        assert_eq!(invert(&[0, 2, 3, 1]), vec![0, 3, 1, 2]);
        assert_eq!(to_last(4), vec![0, 2, 3, 1]);
    }
}
