//! Constants rewritten by the layout pass: transposing a constant's bytes (so a permuted operand
//! costs nothing at run time) and padding its rank for broadcasting.

use super::perm::{apply, inverse, is_perm};
use edgeport_ir::{Graph, NodeId, Op, QuantGranularity, QuantParams, Shape, Tensor, TensorData, ValueId, ValueType};

/// The constant behind `v`: `v`'s own, or the one read through Identity nodes and at most one
/// Cast (TFLite float16 weights arrive as `Cast(f16 constant)`, sometimes behind an Identity),
/// with that Cast node.
pub fn behind_cast(g: &Graph, v: ValueId) -> Option<(&Tensor, Option<NodeId>)> {
    let mut v = v;
    let mut cast = None;
    for _ in 0..8 {
        if let Some(t) = g.constant_of(v) {
            return Some((t, cast));
        }
        match g.get(v.node)?.op {
            Op::Identity(_) => {}
            Op::Cast(_) if cast.is_none() => cast = Some(v.node),
            _ => return None,
        }
        v = g.inputs_of(v.node).first().copied().flatten()?;
    }
    None
}

/// Adds `t` as a constant; with `cast` (a Cast node found by [`behind_cast`]) the constant is
/// named `const_name` and read through a copy of that Cast whose output is named `name`, so a
/// permuted float16 weight stays float16 in the file. Returns the value to read.
pub fn add_behind_cast(
    g: &mut Graph,
    name: &str,
    const_name: &str,
    t: Tensor,
    cast: Option<NodeId>,
) -> Result<ValueId, edgeport_ir::GraphError> {
    let Some(c) = cast else { return Ok(g.add_constant(name, t)) };
    let dims: Vec<u64> = t.shape.iter().map(|&d| d as u64).collect();
    let k = g.add_constant(const_name, t);
    let op = g.node(c).op.clone();
    let dtype = g
        .value(c.out(0))
        .and_then(|v| v.ty.as_ref())
        .and_then(|t| t.as_tensor())
        .map(|t| t.dtype);
    let n = g.add_op(name, op, &[Some(k)], &[name])?;
    if let (Some(val), Some(dt)) = (g.value_mut(n.out(0)), dtype) {
        val.ty = Some(ValueType::tensor(dt, Some(Shape::known(&dims))));
    }
    Ok(n.out(0))
}

/// The constant's tensor with leading size-1 axes added up to rank `r` (numpy broadcasting).
pub fn pad_rank(t: &Tensor, r: usize) -> Option<Tensor> {
    let k = r.checked_sub(t.shape.len())?;
    let mut shape = vec![1; k];
    shape.extend_from_slice(&t.shape);
    let quant = t.quant.as_ref().map(|q| shift_quant(q, k));
    Some(Tensor {
        dtype: t.dtype,
        shape,
        data: t.data.clone(),
        quant,
    })
}

fn shift_quant(q: &QuantParams, k: usize) -> QuantParams {
    let granularity = match q.granularity {
        QuantGranularity::PerTensor => QuantGranularity::PerTensor,
        QuantGranularity::PerAxis { axis } => QuantGranularity::PerAxis { axis: axis + k },
        QuantGranularity::PerBlock { axis, block_size } => QuantGranularity::PerBlock {
            axis: axis + k,
            block_size,
        },
    };
    QuantParams { granularity, ..q.clone() }
}

/// Quantization parameters of a tensor put in state `p` (the quantized axis moves).
pub fn permute_quant(q: &QuantParams, p: &[usize]) -> QuantParams {
    let inv = inverse(p);
    let mv = |a: usize| inv.get(a).copied().unwrap_or(a);
    let granularity = match q.granularity {
        QuantGranularity::PerTensor => QuantGranularity::PerTensor,
        QuantGranularity::PerAxis { axis } => QuantGranularity::PerAxis { axis: mv(axis) },
        QuantGranularity::PerBlock { axis, block_size } => QuantGranularity::PerBlock {
            axis: mv(axis),
            block_size,
        },
    };
    QuantParams { granularity, ..q.clone() }
}

/// `transpose(t, p)`: a new tensor whose axis `i` is `t`'s axis `p[i]`. `None` for string and
/// sub-byte tensors (the caller keeps a Transpose node) or a `p` that does not fit.
pub fn transpose(t: &Tensor, p: &[usize]) -> Option<Tensor> {
    if p.len() != t.shape.len() || !is_perm(p) {
        return None;
    }
    let TensorData::Raw(bytes) = &t.data else { return None };
    let bits = t.dtype.bits();
    if bits == 0 || !bits.is_multiple_of(8) {
        return None;
    }
    let es = bits / 8;
    let n = edgeport_ir::tensor::checked_numel(&t.shape).ok()?;
    if n.checked_mul(es)? != bytes.len() {
        return None;
    }
    let out_shape = apply(&t.shape, p)?;
    let r = t.shape.len();
    // Strides of the source, in elements, taken in output-axis order.
    let mut src_strides = vec![1usize; r];
    for i in (0..r.saturating_sub(1)).rev() {
        src_strides[i] = src_strides[i + 1] * t.shape[i + 1];
    }
    let strides: Vec<usize> = apply(&src_strides, p)?;
    let mut out = Vec::with_capacity(bytes.len());
    let mut idx = vec![0usize; r];
    for _ in 0..n {
        let off: usize = idx.iter().zip(&strides).map(|(i, s)| i * s).sum();
        let start = off * es;
        out.extend_from_slice(bytes.get(start..start + es)?);
        // Advance the output index (row-major).
        for ax in (0..r).rev() {
            idx[ax] += 1;
            if idx[ax] < out_shape[ax] {
                break;
            }
            idx[ax] = 0;
        }
    }
    let mut nt = Tensor::from_bytes(t.dtype, out_shape, edgeport_ir::Bytes::from_vec(out)).ok()?;
    nt.quant = t.quant.as_ref().map(|q| permute_quant(q, p));
    Some(nt)
}

/// A 2-D tensor with its `axis` (0 rows, 1 columns) reordered: new index `i` takes old `idx[i]`.
pub fn reorder_2d(t: &Tensor, axis: usize, idx: &[usize]) -> Option<Tensor> {
    let &[rows, cols] = t.shape.as_slice() else { return None };
    let TensorData::Raw(bytes) = &t.data else { return None };
    let bits = t.dtype.bits();
    let quant_on_axis = t.quant.as_ref().is_some_and(|q| match q.granularity {
        QuantGranularity::PerTensor => false,
        QuantGranularity::PerAxis { axis: qa } => qa == axis,
        QuantGranularity::PerBlock { .. } => true,
    });
    if bits == 0 || !bits.is_multiple_of(8) || quant_on_axis {
        return None;
    }
    let es = bits / 8;
    let n = if axis == 0 { rows } else { cols };
    if idx.len() != n || idx.iter().any(|&i| i >= n) || rows.checked_mul(cols)?.checked_mul(es)? != bytes.len() {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len());
    for r in 0..rows {
        for c in 0..cols {
            let (sr, sc) = if axis == 0 { (idx[r], c) } else { (r, idx[c]) };
            let off = (sr * cols + sc) * es;
            out.extend_from_slice(bytes.get(off..off + es)?);
        }
    }
    let mut nt = Tensor::from_bytes(t.dtype, t.shape.clone(), edgeport_ir::Bytes::from_vec(out)).ok()?;
    nt.quant = t.quant.clone();
    Some(nt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_matches_index_math() {
        let vals: Vec<f32> = (0..24).map(|x| x as f32).collect();
        let t = Tensor::from_f32(vec![2, 3, 4], &vals).unwrap();
        let tt = transpose(&t, &[2, 0, 1]).unwrap();
        assert_eq!(tt.shape, vec![4, 2, 3]);
        let got = tt.to_f64_vec().unwrap();
        for c in 0..4 {
            for a in 0..2 {
                for b in 0..3 {
                    assert_eq!(got[c * 6 + a * 3 + b], (a * 12 + b * 4 + c) as f64);
                }
            }
        }
        assert!(transpose(&t, &[0, 0, 1]).is_none());
        let p = pad_rank(&Tensor::from_f32(vec![3], &[1.0, 2.0, 3.0]).unwrap(), 4).unwrap();
        assert_eq!(p.shape, vec![1, 1, 1, 3]);
    }
}
