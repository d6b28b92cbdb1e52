//! Ops with axis attributes or axes inputs, seen through by the layout pass: the axis is
//! renamed to its physical position. Concat, Split, Softmax-like ops, ArgMax/ArgMin, TopK,
//! LpNormalization, the Reduce family, Quantize/DequantizeLinear, and Transpose (absorbed).

use super::cx::{Cx, err};
use super::perm::{self, Perm};
use crate::manager::PassError;
use edgeport_ir::ops::defs::tensor::Identity;
use edgeport_ir::{Graph, NodeId, Op, OpKind, ValueId};

/// The physical axis of logical axis `a` in state `p`, or an error naming the node.
fn phys(name: &str, a: i64, p: &[usize]) -> Result<i64, PassError> {
    perm::phys_axis(a, p)
        .map(|x| x as i64)
        .ok_or_else(|| err(name, format!("axis {a} out of range for rank {}", p.len())))
}

/// Input 0's state, or `None` after falling back (inputs materialized).
fn data_state(cx: &mut Cx, g: &mut Graph, id: NodeId) -> Result<Option<(ValueId, Perm)>, PassError> {
    let Some(Some(x)) = g.inputs_of(id).first().copied() else {
        return Ok(None);
    };
    match cx.state(x).cloned() {
        Some(p) => Ok(Some((x, p))),
        None => {
            cx.materialize_inputs(g, id)?;
            Ok(None)
        }
    }
}

/// Single-axis ops whose outputs keep the input's rank.
pub fn single_axis(cx: &mut Cx, g: &mut Graph, id: NodeId) -> Result<(), PassError> {
    let Some((_, p)) = data_state(cx, g, id)? else { return Ok(()) };
    let name = g.node(id).name.clone();
    // Other inputs (TopK's K) must be logical.
    for (slot, v) in g.inputs_of(id).into_iter().enumerate().skip(1) {
        if let Some(v) = v
            && cx.state(v).is_some()
        {
            let l = cx.logical(g, v)?;
            g.set_input(id, slot, Some(l)).map_err(|e| err(&name, e))?;
        }
    }
    let mut keep = true;
    let mut removed = None;
    match &mut g.node_mut(id).op {
        Op::Softmax(a) => a.axis = phys(&name, a.axis, &p)?,
        Op::LogSoftmax(a) => a.axis = phys(&name, a.axis, &p)?,
        Op::Hardmax(a) => a.axis = phys(&name, a.axis, &p)?,
        Op::LpNormalization(a) => a.axis = phys(&name, a.axis, &p)?,
        Op::TopK(a) => a.axis = phys(&name, a.axis, &p)?,
        Op::ArgMax(a) => {
            removed = perm::norm_axis(a.axis, p.len());
            a.axis = phys(&name, a.axis, &p)?;
            keep = a.keepdims != 0;
        }
        Op::ArgMin(a) => {
            removed = perm::norm_axis(a.axis, p.len());
            a.axis = phys(&name, a.axis, &p)?;
            keep = a.keepdims != 0;
        }
        Op::Split(a) => a.axis = phys(&name, a.axis, &p)?,
        _ => return cx.materialize_inputs(g, id),
    }
    let out_p = match (keep, removed) {
        (false, Some(ax)) => perm::remove_axes(&p, &[ax]),
        _ => p,
    };
    let n_out = g.node(id).outputs.len();
    for port in 0..n_out {
        if !g.node(id).outputs[port].name.is_empty() {
            cx.set_state(g, id.out(port), out_p.clone());
        }
    }
    Ok(())
}

/// Concat: every input in the state of the first permuted one; the axis renamed.
pub fn concat(cx: &mut Cx, g: &mut Graph, id: NodeId) -> Result<(), PassError> {
    let ins = g.inputs_of(id);
    let Some(p) = ins.iter().flatten().find_map(|v| cx.state(*v).cloned()) else {
        return Ok(());
    };
    let name = g.node(id).name.clone();
    for v in ins.iter().flatten() {
        if cx.rank(g, *v) != Some(p.len()) {
            return cx.materialize_inputs(g, id);
        }
    }
    let Op::Concat(a) = &g.node(id).op else { return Ok(()) };
    let axis = phys(&name, a.axis, &p)?;
    for (slot, v) in ins.iter().enumerate() {
        let Some(v) = v else { continue };
        let nv = cx.in_state(g, *v, &p)?;
        if nv != *v {
            g.set_input(id, slot, Some(nv)).map_err(|e| err(&name, e))?;
        }
    }
    if let Op::Concat(a) = &mut g.node_mut(id).op {
        a.axis = axis;
    }
    cx.set_state(g, id.out(0), p);
    Ok(())
}

/// The Reduce family: constant `axes` renamed; with `keepdims = 0` the reduced axes leave the state.
pub fn reduce(cx: &mut Cx, g: &mut Graph, id: NodeId) -> Result<(), PassError> {
    let Some((_, p)) = data_state(cx, g, id)? else { return Ok(()) };
    let name = g.node(id).name.clone();
    let (keepdims, noop_empty) = match &g.node(id).op {
        Op::ReduceMean(a) => (a.keepdims, a.noop_with_empty_axes),
        Op::ReduceSum(a) => (a.keepdims, a.noop_with_empty_axes),
        Op::ReduceMax(a) => (a.keepdims, a.noop_with_empty_axes),
        Op::ReduceMin(a) => (a.keepdims, a.noop_with_empty_axes),
        Op::ReduceProd(a) => (a.keepdims, a.noop_with_empty_axes),
        Op::ReduceL1(a) => (a.keepdims, a.noop_with_empty_axes),
        Op::ReduceL2(a) => (a.keepdims, a.noop_with_empty_axes),
        Op::ReduceLogSum(a) => (a.keepdims, a.noop_with_empty_axes),
        Op::ReduceLogSumExp(a) => (a.keepdims, a.noop_with_empty_axes),
        Op::ReduceSumSquare(a) => (a.keepdims, a.noop_with_empty_axes),
        _ => return cx.materialize_inputs(g, id),
    };
    let axes_v = g.inputs_of(id).get(1).copied().flatten();
    let axes: Option<Vec<i64>> = match axes_v {
        None => None,
        Some(v) => match Cx::konst(g, v).and_then(|t| t.to_i64_vec()) {
            Some(a) => Some(a),
            None => return cx.materialize_inputs(g, id),
        },
    };
    let r = p.len();
    let out_p = match axes.as_deref() {
        None | Some([]) if noop_empty != 0 => p.clone(),
        None | Some([]) => {
            if keepdims != 0 {
                p.clone()
            } else {
                Vec::new()
            }
        }
        Some(list) => {
            let mut logical = Vec::with_capacity(list.len());
            let mut physical = Vec::with_capacity(list.len());
            for &a in list {
                let la = perm::norm_axis(a, r).ok_or_else(|| err(&name, format!("axis {a} out of range for rank {r}")))?;
                logical.push(la);
                physical.push(phys(&name, a, &p)?);
            }
            let base = format!("{name}__axes");
            let nv = cx.const_i64(g, &base, &physical)?;
            g.set_input(id, 1, Some(nv)).map_err(|e| err(&name, e))?;
            if keepdims != 0 {
                p.clone()
            } else {
                perm::remove_axes(&p, &logical)
            }
        }
    };
    cx.set_state(g, id.out(0), out_p);
    Ok(())
}

/// Is this one of the Reduce ops?
pub fn is_reduce(k: OpKind) -> bool {
    use OpKind as K;
    matches!(
        k,
        K::ReduceMean
            | K::ReduceSum
            | K::ReduceMax
            | K::ReduceMin
            | K::ReduceProd
            | K::ReduceL1
            | K::ReduceL2
            | K::ReduceLogSum
            | K::ReduceLogSumExp
            | K::ReduceSumSquare
    )
}

/// Quantize/DequantizeLinear: per-tensor or per-axis (axis renamed); block quantization falls back.
pub fn qdq(cx: &mut Cx, g: &mut Graph, id: NodeId) -> Result<(), PassError> {
    let Some((_, p)) = data_state(cx, g, id)? else { return Ok(()) };
    let name = g.node(id).name.clone();
    let ins = g.inputs_of(id);
    for v in ins.iter().skip(1).flatten() {
        if cx.state(*v).is_some() || cx.rank(g, *v).is_none_or(|r| r > 1) {
            return cx.materialize_inputs(g, id);
        }
    }
    match &mut g.node_mut(id).op {
        Op::QuantizeLinear(a) if a.block_size == 0 => a.axis = phys(&name, a.axis, &p)?,
        Op::DequantizeLinear(a) if a.block_size == 0 => a.axis = phys(&name, a.axis, &p)?,
        _ => return cx.materialize_inputs(g, id),
    }
    cx.set_state(g, id.out(0), p);
    Ok(())
}

/// A Transpose of a permuted value is absorbed: it becomes an Identity whose output is in the
/// composed state (the Identity is removed at the end). A Transpose of a logical value stays.
pub fn transpose(cx: &mut Cx, g: &mut Graph, id: NodeId) -> Result<(), PassError> {
    let Some((_, p)) = data_state(cx, g, id)? else { return Ok(()) };
    let Op::Transpose(t) = &g.node(id).op else { return Ok(()) };
    let r = p.len();
    let tp: Perm = if t.perm.is_empty() {
        (0..r).rev().collect()
    } else {
        t.perm.iter().map(|&a| usize::try_from(a).unwrap_or(usize::MAX)).collect()
    };
    if tp.len() != r || !perm::is_perm(&tp) {
        return Err(err(&g.node(id).name, format!("perm {:?} is not a permutation of rank {r}", t.perm)));
    }
    let q = perm::through_transpose(&p, &tp);
    g.node_mut(id).op = Op::Identity(Identity {});
    // The output keeps the input's physical type: set it from the input's, then record q.
    let x = g.inputs_of(id).first().copied().flatten();
    let phys_ty = x.and_then(|x| g.value(x)).and_then(|v| v.ty.clone());
    if let Some(val) = g.value_mut(id.out(0)) {
        val.ty = phys_ty.and_then(|ty| perm::permute_type(&ty, &perm::inverse(&q)).or(Some(ty)));
    }
    cx.set_state(g, id.out(0), q);
    cx.aliases.push(id);
    Ok(())
}
