//! Permutation arithmetic for the layout pass.
//!
//! A value's *state* is the permutation `p` with `physical = transpose(logical, p)`: physical
//! axis `i` holds logical axis `p[i]`. The channels-last state of a rank-`r` tensor is
//! `[0, 2, …, r-1, 1]`.

use edgeport_ir::{Dim, Shape, ValueType};

/// A permutation of tensor axes.
pub type Perm = Vec<usize>;

/// The identity permutation of rank `r`.
pub fn identity(r: usize) -> Perm {
    (0..r).collect()
}

/// Is `p` the identity?
pub fn is_identity(p: &[usize]) -> bool {
    p.iter().enumerate().all(|(i, &a)| i == a)
}

/// The channels-last state `[0, 2, …, r-1, 1]` (rank ≥ 3).
pub fn channels_last(r: usize) -> Perm {
    let mut p = vec![0];
    p.extend(2..r);
    p.push(1);
    p
}

/// The inverse: `inverse(p)[p[i]] = i` (where logical axis `a` sits physically).
pub fn inverse(p: &[usize]) -> Perm {
    let mut inv = vec![0; p.len()];
    for (i, &a) in p.iter().enumerate() {
        if let Some(slot) = inv.get_mut(a) {
            *slot = i;
        }
    }
    inv
}

/// Is `p` a permutation of `0..p.len()`?
pub fn is_perm(p: &[usize]) -> bool {
    let mut seen = vec![false; p.len()];
    for &a in p {
        match seen.get_mut(a) {
            Some(s) if !*s => *s = true,
            _ => return false,
        }
    }
    true
}

/// The Transpose perm that turns a tensor in state `from` into state `to` (same rank).
pub fn between(from: &[usize], to: &[usize]) -> Perm {
    let inv = inverse(from);
    to.iter().map(|&a| inv.get(a).copied().unwrap_or(0)).collect()
}

/// The state of `Transpose(perm = t)`'s output when the Transpose is dropped and its input,
/// in state `p`, is used as is: `q[i] = t⁻¹[p[i]]`.
pub fn through_transpose(p: &[usize], t: &[usize]) -> Perm {
    let tinv = inverse(t);
    p.iter().map(|&a| tinv.get(a).copied().unwrap_or(0)).collect()
}

/// Applies a state to a list (dims, pads, …): `out[i] = xs[p[i]]`.
pub fn apply<T: Clone>(xs: &[T], p: &[usize]) -> Option<Vec<T>> {
    p.iter().map(|&a| xs.get(a).cloned()).collect()
}

/// Normalizes a possibly negative axis against rank `r`.
pub fn norm_axis(a: i64, r: usize) -> Option<usize> {
    let r = i64::try_from(r).ok()?;
    let a = if a < 0 { a + r } else { a };
    (0..r).contains(&a).then_some(a as usize)
}

/// The physical position of logical axis `a` (possibly negative) in state `p`.
pub fn phys_axis(a: i64, p: &[usize]) -> Option<usize> {
    let a = norm_axis(a, p.len())?;
    p.iter().position(|&x| x == a)
}

/// The state left after removing the logical axes in `removed` (renumbered).
pub fn remove_axes(p: &[usize], removed: &[usize]) -> Perm {
    p.iter()
        .filter(|a| !removed.contains(a))
        .map(|&a| a - removed.iter().filter(|&&r| r < a).count())
        .collect()
}

/// The type of a value in state `p`: its logical shape permuted.
pub fn permute_type(ty: &ValueType, p: &[usize]) -> Option<ValueType> {
    let t = ty.as_tensor()?;
    let shape = match &t.shape {
        Some(s) if s.rank() == p.len() => Some(Shape(apply(&s.0, p)?)),
        Some(_) => return None,
        None => None,
    };
    Some(ValueType::tensor(t.dtype, shape))
}

/// True when a tensor in state `p` with logical `dims` has the same element order in memory as
/// the logical tensor: the axes that are not known to be 1 keep their relative order.
pub fn same_memory_order(p: &[usize], dims: &[Dim]) -> bool {
    let mut last: Option<usize> = None;
    for &a in p {
        let one = matches!(dims.get(a), Some(Dim::Known(1)));
        if one {
            continue;
        }
        if let Some(l) = last
            && a < l
        {
            return false;
        }
        last = Some(a);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perms() {
        let p = channels_last(4);
        assert_eq!(p, vec![0, 2, 3, 1]);
        assert_eq!(inverse(&p), vec![0, 3, 1, 2]);
        assert_eq!(between(&identity(4), &p), p);
        assert!(is_identity(&between(&p, &p)));
        // NHWC → NCHW Transpose applied to an NHWC-state value gives back identity.
        assert_eq!(through_transpose(&p, &[0, 3, 1, 2]), vec![0, 3, 1, 2]);
        assert_eq!(through_transpose(&identity(4), &[0, 2, 3, 1]), vec![0, 3, 1, 2]);
        assert_eq!(phys_axis(1, &p), Some(3));
        assert_eq!(phys_axis(-1, &p), Some(2));
        assert_eq!(remove_axes(&p, &[2, 3]), vec![0, 1]);
        assert!(same_memory_order(
            &p,
            &[Dim::Sym("N".into()), Dim::Known(8), Dim::Known(1), Dim::Known(1)]
        ));
        assert!(!same_memory_order(
            &p,
            &[Dim::Known(1), Dim::Known(8), Dim::Known(2), Dim::Known(1)]
        ));
        assert!(is_perm(&[2, 0, 1]) && !is_perm(&[0, 0]) && !is_perm(&[3]));
    }
}
