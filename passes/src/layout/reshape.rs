//! Flatten and Reshape of permuted data. When the permuted tensor has the same element order in
//! memory as the logical one (the axes that are not 1 keep their order, e.g. NHWC `[N,1,1,C]`),
//! the op reads the physical tensor directly. Otherwise, when the result `[N, K]` only feeds
//! Gemm/MatMul with a constant weight, the weight's K rows are permuted instead of the data
//! (the flattened physical order is `(h, w, c)`, the logical one `(c, h, w)`). Else the data is
//! transposed back.

use super::consts;
use super::cx::{Cx, err};
use super::perm::{self, Perm};
use crate::manager::PassError;
use edgeport_ir::{Dim, Graph, NodeId, Op, ValueId};

/// Flatten or Reshape.
pub fn reshape_like(cx: &mut Cx, g: &mut Graph, id: NodeId) -> Result<(), PassError> {
    let ins = g.inputs_of(id);
    let Some(Some(x)) = ins.first().copied() else { return Ok(()) };
    let Some(p) = cx.state(x).cloned() else {
        return cx.materialize_inputs(g, id);
    };
    if ins.iter().skip(1).flatten().any(|v| cx.state(*v).is_some()) {
        return cx.materialize_inputs(g, id);
    }
    let Some(dims) = cx.logical_dims(g, x) else {
        return cx.materialize_inputs(g, id);
    };
    let name = g.node(id).name.clone();
    if perm::same_memory_order(&p, &dims) {
        match g.node(id).op.clone() {
            Op::Flatten(f) => {
                let Some(a) = perm::norm_axis(f.axis, p.len()).or((f.axis == p.len() as i64).then_some(p.len())) else {
                    return cx.materialize_inputs(g, id);
                };
                // The physical split at `a` must hold the same axes (ignoring 1s).
                let split_ok = p
                    .iter()
                    .enumerate()
                    .all(|(i, &d)| matches!(dims.get(d), Some(Dim::Known(1))) || (i < a) == (d < a));
                if split_ok {
                    return Ok(());
                }
            }
            Op::Reshape(rs) => {
                if let Some(shape_v) = ins.get(1).copied().flatten()
                    && let Some(shape) = Cx::konst(g, shape_v).and_then(|t| t.to_i64_vec())
                {
                    if rs.allowzero != 0 || !shape.contains(&0) {
                        return Ok(());
                    }
                    // A 0 copies the input's dim at that index: resolve it from the logical dims.
                    let resolved: Option<Vec<i64>> = shape
                        .iter()
                        .enumerate()
                        .map(|(j, &s)| {
                            if s == 0 {
                                dims.get(j).and_then(Dim::known).and_then(|k| i64::try_from(k).ok())
                            } else {
                                Some(s)
                            }
                        })
                        .collect();
                    if let Some(res) = resolved {
                        let nv = cx.const_i64(g, &format!("{name}__shape"), &res)?;
                        g.set_input(id, 1, Some(nv)).map_err(|e| err(&name, e))?;
                        return Ok(());
                    }
                }
            }
            _ => {}
        }
    }
    if permute_weights(cx, g, id, &p, &dims)? {
        return Ok(());
    }
    cx.materialize_inputs(g, id)
}

/// The `[N, K]` flatten feeding only Gemm/MatMul with constant weights: permute the weights.
fn permute_weights(cx: &mut Cx, g: &mut Graph, id: NodeId, p: &Perm, dims: &[Dim]) -> Result<bool, PassError> {
    if p.first() != Some(&0) {
        return Ok(false);
    }
    // The op must flatten everything after the batch axis.
    let flat_batch = match &g.node(id).op {
        Op::Flatten(f) => f.axis == 1,
        Op::Reshape(_) => {
            let out = g
                .value(id.out(0))
                .and_then(|v| v.ty.as_ref())
                .and_then(|t| t.as_tensor())
                .and_then(|t| t.shape.clone());
            matches!(out, Some(s) if s.rank() == 2 && s.0.first() == dims.first())
        }
        _ => false,
    };
    if !flat_batch || g.is_output(id.out(0)) {
        return Ok(false);
    }
    let Some(rest) = dims.iter().skip(1).map(Dim::known).collect::<Option<Vec<u64>>>() else {
        return Ok(false);
    };
    let rest: Vec<usize> = rest.into_iter().map(|d| d as usize).collect();
    let Some(k) = rest.iter().try_fold(1usize, |a, &d| a.checked_mul(d)) else {
        return Ok(false);
    };
    let consumers = g.consumers(id.out(0));
    if consumers.is_empty() {
        return Ok(false);
    }
    // (consumer, weight value, axis of K in the weight)
    let mut plan: Vec<(NodeId, ValueId, usize)> = Vec::new();
    for &(c, slot) in &consumers {
        if slot != 0 {
            return Ok(false);
        }
        let w = g.inputs_of(c).get(1).copied().flatten();
        let Some(w) = w else { return Ok(false) };
        let Some(t) = Cx::konst(g, w) else { return Ok(false) };
        if t.shape.len() != 2 {
            return Ok(false);
        }
        let axis = match &g.node(c).op {
            Op::Gemm(a) if a.transA == 0 => usize::from(a.transB != 0),
            Op::MatMul(_) => 0,
            _ => return Ok(false),
        };
        if t.shape.get(axis) != Some(&k) {
            return Ok(false);
        }
        plan.push((c, w, axis));
    }
    // Physical flat index → logical flat index, over the non-batch axes.
    let phys_axes: Vec<usize> = p.iter().skip(1).map(|&a| a - 1).collect();
    let phys_dims: Vec<usize> = phys_axes.iter().map(|&a| rest.get(a).copied().unwrap_or(1)).collect();
    let mut log_strides = vec![1usize; rest.len()];
    for i in (0..rest.len().saturating_sub(1)).rev() {
        log_strides[i] = log_strides[i + 1] * rest[i + 1];
    }
    let mut idx = Vec::with_capacity(k);
    let mut coord = vec![0usize; phys_dims.len()];
    for _ in 0..k {
        let li: usize = coord
            .iter()
            .zip(&phys_axes)
            .map(|(&c, &a)| c * log_strides.get(a).copied().unwrap_or(0))
            .sum();
        idx.push(li);
        for ax in (0..coord.len()).rev() {
            coord[ax] += 1;
            if coord[ax] < phys_dims[ax] {
                break;
            }
            coord[ax] = 0;
        }
    }
    let mut new_weights = Vec::with_capacity(plan.len());
    for &(c, w, axis) in &plan {
        let Some(t) = Cx::konst(g, w) else { return Ok(false) };
        let Some(nt) = consts::reorder_2d(t, axis, &idx) else {
            return Ok(false);
        };
        new_weights.push((c, nt, super::cx::value_name(g, w)));
    }
    for (c, nt, base) in new_weights {
        let nm = cx.fresh(&format!("{base}__nhwc_rows"));
        let nv = g.add_constant(nm, nt);
        g.set_input(c, 1, Some(nv)).map_err(|e| err(&g.node(c).name, e))?;
    }
    // The flatten now reads the physical tensor as is; its output keeps its type [N, K].
    Ok(true)
}
