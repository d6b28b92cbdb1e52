//! Factor views: how a value is held by a tensor when its dims are not a plain permutation of
//! the tensor's dims.
//!
//! The tensor's bytes are seen as a row-major list of *factors* (`tf`, sizes > 1, in tensor
//! order); the value lists the same factors in its own row-major order (`order`), each value dim
//! being the product of `groups[i]` consecutive entries of `order` (0 entries = a size-1 dim).
//! Reshapes only regroup (splitting a factor when a dim boundary falls inside it), transposes
//! reorder the groups, and a scalar gather on a one-factor dim drops that factor — none of them
//! moves bytes. A view needs a TRANSPOSE only when a consumer asks for an order whose factors are
//! not in tensor order. A TransformerEncoderLayer's head split (`[L, B, H·d] → [L, B·H, d] →
//! [B·H, L, d] → [B, H, L, d]`) passes through values that are no permutation of any tensor but
//! ends as one, so nothing is written for it.

use super::util::invert;

/// A value held by tensor `t` through factors (see the module doc).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FView {
    pub t: i32,
    /// Factor sizes (all > 1) in the tensor's row-major order.
    pub tf: Vec<i64>,
    /// Factor indices (into `tf`) in the value's row-major order.
    pub order: Vec<usize>,
    /// Per value dim: how many consecutive entries of `order` it spans.
    pub groups: Vec<usize>,
}

impl FView {
    /// The view of a tensor of static dims `tdims` holding a value whose dim `perm[i]` is tensor
    /// dim `i`.
    pub(crate) fn from_held(t: i32, tdims: &[i64], perm: &[usize]) -> Option<FView> {
        if tdims.len() != perm.len() || tdims.iter().any(|&d| d < 0) || !super::util::is_perm(perm) {
            return None;
        }
        let mut fidx = vec![None; tdims.len()];
        let mut tf = Vec::new();
        for (i, &d) in tdims.iter().enumerate() {
            if d > 1 {
                fidx[i] = Some(tf.len());
                tf.push(d);
            }
        }
        let inv = invert(perm);
        let mut order = Vec::new();
        let mut groups = Vec::new();
        for &td in &inv {
            match fidx.get(td).copied().flatten() {
                Some(f) => {
                    order.push(f);
                    groups.push(1);
                }
                None => groups.push(0),
            }
        }
        Some(FView { t, tf, order, groups })
    }

    /// The start of each value dim's run in `order`.
    fn starts(&self) -> Vec<usize> {
        let mut s = Vec::with_capacity(self.groups.len());
        let mut k = 0;
        for &g in &self.groups {
            s.push(k);
            k += g;
        }
        s
    }

    /// The factors of value dim `d`, in value order.
    pub(crate) fn factors_of(&self, d: usize) -> &[usize] {
        let s = self.starts();
        match (s.get(d), self.groups.get(d)) {
            (Some(&a), Some(&g)) => self.order.get(a..a + g).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// The value's dims.
    pub(crate) fn vdims(&self) -> Vec<i64> {
        (0..self.groups.len())
            .map(|d| self.factors_of(d).iter().map(|&f| self.tf[f]).product())
            .collect()
    }

    /// The view of `transpose(value, q)` (new dim i = old dim q\[i\]).
    pub(crate) fn transpose(&self, q: &[usize]) -> Option<FView> {
        if q.len() != self.groups.len() || !super::util::is_perm(q) {
            return None;
        }
        let mut order = Vec::with_capacity(self.order.len());
        let mut groups = Vec::with_capacity(q.len());
        for &d in q {
            order.extend_from_slice(self.factors_of(d));
            groups.push(self.groups[d]);
        }
        Some(FView {
            t: self.t,
            tf: self.tf.clone(),
            order,
            groups,
        })
    }

    /// The view of `reshape(value, dims)`, splitting factors where a new dim boundary falls
    /// inside one; `None` when the dims do not refine (sizes not divisible, unknown dims).
    pub(crate) fn reshape(&self, dims: &[i64]) -> Option<FView> {
        if dims.iter().any(|&d| d < 1) {
            return None;
        }
        let mut tf = self.tf.clone();
        let mut order = self.order.clone();
        let mut groups = Vec::with_capacity(dims.len());
        let mut k = 0;
        for &d in dims {
            let mut need = d;
            let mut cnt = 0;
            while need > 1 {
                let f = *order.get(k)?;
                let s = *tf.get(f)?;
                if s <= need {
                    if need % s != 0 {
                        return None;
                    }
                    need /= s;
                } else {
                    if s % need != 0 {
                        return None;
                    }
                    // Split factor f into (outer = need, inner = s / need).
                    tf[f] = need;
                    tf.insert(f + 1, s / need);
                    for o in order.iter_mut() {
                        if *o > f {
                            *o += 1;
                        }
                    }
                    order.insert(k + 1, f + 1);
                    need = 1;
                }
                cnt += 1;
                k += 1;
            }
            groups.push(cnt);
        }
        if k != order.len() {
            return None;
        }
        Some(FView {
            t: self.t,
            tf,
            order,
            groups,
        })
    }

    /// The view without value dim `d`, which must span at most one factor; when it spans one,
    /// the caller has selected one index of that factor (`t` is then the new tensor).
    pub(crate) fn drop_dim(&self, d: usize, t: i32) -> Option<FView> {
        let fs = self.factors_of(d).to_vec();
        if fs.len() > 1 || d >= self.groups.len() {
            return None;
        }
        let mut tf = self.tf.clone();
        let mut order = self.order.clone();
        let mut groups = self.groups.clone();
        if let Some(&f) = fs.first() {
            tf.remove(f);
            order.retain(|&o| o != f);
            for o in order.iter_mut() {
                if *o > f {
                    *o -= 1;
                }
            }
        }
        groups.remove(d);
        Some(FView { t, tf, order, groups })
    }

    /// When every value dim spans at most one factor: the tensor dims and order (`perm`, value
    /// dim of each tensor dim) that hold the value as a plain permutation with the factors in
    /// tensor order (size-1 dims placed after the dim before them in value order).
    pub(crate) fn plain(&self) -> Option<(Vec<i64>, Vec<usize>)> {
        if self.groups.iter().any(|&g| g > 1) {
            return None;
        }
        let vd = self.vdims();
        let mut keys: Vec<(i64, usize, usize)> = Vec::with_capacity(vd.len());
        let mut prev = (-1i64, 0usize);
        for d in 0..self.groups.len() {
            let key = match self.factors_of(d).first() {
                Some(&f) => (f as i64, 0),
                None => (prev.0, prev.1 + 1),
            };
            keys.push((key.0, key.1, d));
            prev = key;
        }
        keys.sort_unstable();
        let perm: Vec<usize> = keys.iter().map(|k| k.2).collect();
        let dims = perm.iter().map(|&p| vd[p]).collect();
        Some((dims, perm))
    }

    /// The factor order (tensor-factor indices) of the value held in order `perm` (tensor dim i
    /// = value dim perm\[i\]).
    pub(crate) fn factor_order(&self, perm: &[usize]) -> Vec<usize> {
        perm.iter().flat_map(|&d| self.factors_of(d).to_vec()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies `v` to concrete data: the value's elements in row-major order, given the tensor's
    /// elements `0..n` in row-major order.
    fn materialize(v: &FView) -> Vec<usize> {
        let n: usize = v.tf.iter().map(|&d| d as usize).product();
        let mut strides = vec![1usize; v.tf.len()];
        for i in (0..v.tf.len().saturating_sub(1)).rev() {
            strides[i] = strides[i + 1] * v.tf[i + 1] as usize;
        }
        let mut out = Vec::with_capacity(n);
        let mut idx = vec![0usize; v.order.len()];
        for _ in 0..n {
            out.push(idx.iter().zip(&v.order).map(|(i, &f)| i * strides[f]).sum());
            for k in (0..idx.len()).rev() {
                idx[k] += 1;
                if idx[k] < v.tf[v.order[k]] as usize {
                    break;
                }
                idx[k] = 0;
            }
        }
        out
    }

    /// Reference: transpose of row-major data.
    fn transpose_ref(data: &[usize], dims: &[i64], q: &[usize]) -> Vec<usize> {
        let shape: Vec<usize> = dims.iter().map(|&d| d as usize).collect();
        let bytes: Vec<u8> = data.iter().flat_map(|&x| (x as u32).to_le_bytes()).collect();
        let t = crate::export::util::transpose_bytes(&bytes, 4, &shape, q);
        t.chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize)
            .collect()
    }

    #[test]
    fn attention_head_split_ends_as_a_permutation() {
        // Tensor [B=2, L=10, D=32] holding value [L, B, D] (a torch batch_first transpose).
        let v = FView::from_held(7, &[2, 10, 32], &[1, 0, 2]).unwrap();
        assert_eq!(v.vdims(), vec![10, 2, 32]);
        let data = materialize(&v);
        let want = transpose_ref(&(0..640).collect::<Vec<_>>(), &[2, 10, 32], &[1, 0, 2]);
        assert_eq!(data, want);
        // [L, B, D] → [L, B·H, d]: no permutation of any tensor, still a view.
        let r = v.reshape(&[10, 8, 8]).unwrap();
        assert!(r.plain().is_none());
        assert_eq!(materialize(&r), want, "a reshape keeps the element order");
        // → [B·H, L, d] → [B, H, L, d]
        let t = r.transpose(&[1, 0, 2]).unwrap();
        let want_t = transpose_ref(&want, &[10, 8, 8], &[1, 0, 2]);
        assert_eq!(materialize(&t), want_t);
        let q = t.reshape(&[2, 4, 10, 8]).unwrap();
        assert_eq!(materialize(&q), want_t);
        let (dims, perm) = q.plain().unwrap();
        assert_eq!(dims, vec![2, 10, 4, 8]);
        assert_eq!(perm, vec![0, 2, 1, 3]);
        assert_eq!(q.tf, vec![2, 10, 4, 8]);
    }

    #[test]
    fn size_one_dims_and_drops() {
        let v = FView::from_held(0, &[1, 4, 1, 6], &[0, 1, 2, 3]).unwrap();
        assert_eq!(v.tf, vec![4, 6]);
        assert_eq!(v.groups, vec![0, 1, 0, 1]);
        assert_eq!(v.plain().unwrap(), (vec![1, 4, 1, 6], vec![0, 1, 2, 3]));
        let u = v.reshape(&[1, 1, 24]).unwrap();
        assert_eq!(u.groups, vec![0, 0, 2]);
        let s = u.reshape(&[2, 2, 6]).unwrap();
        assert_eq!(s.tf, vec![2, 2, 6]);
        let d = s.drop_dim(0, 3).unwrap();
        assert_eq!(d.tf, vec![2, 6]);
        assert_eq!(d.vdims(), vec![2, 6]);
        assert!(v.reshape(&[5, 5]).is_none());
        assert!(v.reshape(&[7, 1]).is_none());
        assert!(v.transpose(&[0, 0, 1, 2]).is_none());
    }

    #[test]
    fn factor_order_of_a_permuted_request() {
        let v = FView::from_held(0, &[2, 3, 5], &[0, 1, 2]).unwrap();
        let t = v.transpose(&[2, 0, 1]).unwrap();
        assert_eq!(t.factor_order(&[1, 2, 0]), vec![0, 1, 2]);
        assert_eq!(t.factor_order(&[0, 1, 2]), vec![2, 0, 1]);
    }
}
