//! Tensor helpers for pruning: reading a constant input, slicing raw little-endian data along
//! one axis by a list of kept indices (dtype-agnostic for byte-sized elements), and per-channel
//! norms.

use edgeport_ir::{Bytes, Graph, NodeId, Op, Tensor, TensorData};

/// The constant tensor feeding `node`'s input `port`, if that input is a `Constant`.
pub(crate) fn const_input(g: &Graph, node: NodeId, port: usize) -> Option<&Tensor> {
    let v = (*g.inputs_of(node).get(port)?)?;
    match &g.get(v.node)?.op {
        Op::Constant(c) if v.port == 0 => Some(&c.value),
        _ => None,
    }
}

/// Keeps the given indices of `axis` (indices must be in range and ascending).
pub(crate) fn take_axis(t: &Tensor, axis: usize, keep: &[usize]) -> Result<Tensor, String> {
    let bits = t.dtype.bits();
    if bits < 8 || !bits.is_multiple_of(8) {
        return Err(format!("cannot slice a {} tensor", t.dtype));
    }
    let TensorData::Raw(raw) = &t.data else {
        return Err("cannot slice a string tensor".into());
    };
    let dim = *t
        .shape
        .get(axis)
        .ok_or_else(|| format!("axis {axis} out of range for shape {:?}", t.shape))?;
    if let Some(&bad) = keep.iter().find(|&&k| k >= dim) {
        return Err(format!("index {bad} out of range for axis {axis} of shape {:?}", t.shape));
    }
    let elem = bits / 8;
    let outer: usize = t.shape[..axis].iter().product();
    let inner: usize = t.shape[axis + 1..].iter().product::<usize>() * elem;
    if raw.len() != outer * dim * inner {
        return Err(format!("data of shape {:?} has {} bytes", t.shape, raw.len()));
    }
    let mut out = Vec::with_capacity(outer * keep.len() * inner);
    for o in 0..outer {
        let base = o * dim * inner;
        for &k in keep {
            out.extend_from_slice(&raw[base + k * inner..base + (k + 1) * inner]);
        }
    }
    let mut shape = t.shape.clone();
    shape[axis] = keep.len();
    let mut n = Tensor::from_bytes(t.dtype, shape, Bytes::from_vec(out)).map_err(|e| e.to_string())?;
    n.quant = t.quant.clone();
    Ok(n)
}

/// Per-index norm along `axis`: L1 (`p == 1`) or L2 of every slice.
pub(crate) fn axis_norms(t: &Tensor, axis: usize, p: u8) -> Option<Vec<f64>> {
    let v = t.to_f64_vec()?;
    let dim = *t.shape.get(axis)?;
    let inner: usize = t.shape[axis + 1..].iter().product();
    let mut acc = vec![0f64; dim];
    for (i, x) in v.iter().enumerate() {
        let c = (i / inner.max(1)) % dim.max(1);
        acc[c] += if p == 1 { x.abs() } else { x * x };
    }
    if p != 1 {
        acc.iter_mut().for_each(|a| *a = a.sqrt());
    }
    Some(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_middle_axis() {
        let t = Tensor::from_f32(vec![2, 3, 2], &(0..12).map(|x| x as f32).collect::<Vec<_>>()).unwrap();
        let s = take_axis(&t, 1, &[0, 2]).unwrap();
        assert_eq!(s.shape, vec![2, 2, 2]);
        assert_eq!(s.to_f64_vec().unwrap(), vec![0., 1., 4., 5., 6., 7., 10., 11.]);
        assert!(take_axis(&t, 1, &[3]).is_err());
        assert!(take_axis(&t, 3, &[0]).is_err());
    }

    #[test]
    fn norms() {
        let t = Tensor::from_f32(vec![2, 2], &[1., -2., 3., 4.]).unwrap();
        assert_eq!(axis_norms(&t, 0, 1).unwrap(), vec![3., 7.]);
        assert_eq!(axis_norms(&t, 1, 1).unwrap(), vec![4., 6.]);
        assert_eq!(axis_norms(&t, 0, 2).unwrap(), vec![5f64.sqrt(), 5.]);
    }
}
