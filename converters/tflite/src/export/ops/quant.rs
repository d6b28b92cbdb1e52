//! The IR's quantized (QDQ) form → integer TFLite kernels.
//!
//! A pre-scan records the parameters of every integer value (from the QuantizeLinear producing
//! it or the DequantizeLinear reading it). DequantizeLinear writes nothing: a DEQUANTIZE appears
//! only when a float consumer needs the value. An op whose float inputs all come from
//! DequantizeLinear and whose only consumer is a QuantizeLinear is lowered by its float rule
//! with those float values standing for the integer ones (`Lower::alias`), so it becomes an
//! integer kernel (int8/uint8/int16 tensors with QuantizationParameters, per-channel weights
//! with quantized_dimension). A Relu/Clip between the op and its QuantizeLinear is fused.
//! Ops whose TFLite kernel needs the input's parameters on the output (pools, concat, shape
//! ops) get requantized inputs when the graph's parameters differ; LOGISTIC/SOFTMAX write
//! TFLite's fixed output parameters and requantize to the graph's. `x · HardSigmoid(x)` in QDQ
//! form becomes HARD_SWISH. Any other QuantizeLinear becomes QUANTIZE.

use super::super::lower::{LResult, Lower, QP, Repr, err};
use super::super::model::TQuant;
use crate::codes::BuiltinOperator as B;
use edgeport_ir::{DType, NodeId, Op, ValueId};

fn v0(node: NodeId) -> ValueId {
    ValueId { node, port: 0 }
}

/// Scale, zero point and axis of a Q or DQ node (its input 0 gives the rank).
fn params(cx: &Lower, id: NodeId, axis: i64, block: i64) -> Option<QP> {
    if block != 0 {
        return None;
    }
    let x = cx.input(id, 0).ok()?;
    let rank = cx.rank(x).ok()? as i64;
    let scale: Vec<f32> = cx.const_f64(cx.opt_input(id, 1)?)?.iter().map(|&s| s as f32).collect();
    let zero_point = match cx.opt_input(id, 2) {
        Some(z) => cx.const_i64(z)?,
        None => vec![0; scale.len()],
    };
    if scale.is_empty() || (zero_point.len() != scale.len()) {
        return None;
    }
    let a = if axis < 0 { axis + rank } else { axis };
    let axis = if scale.len() > 1 { usize::try_from(a).ok()? } else { 0 };
    Some(QP { scale, zero_point, axis })
}

/// Records integer values' parameters and the DequantizeLinear outputs.
pub(crate) fn prescan(cx: &mut Lower) {
    let ids: Vec<NodeId> = cx.g.node_ids().collect();
    for id in ids {
        match &cx.g.node(id).op {
            Op::QuantizeLinear(q) => {
                if let Some(p) = params(cx, id, q.axis, q.block_size) {
                    cx.qp.insert(v0(id), p);
                }
            }
            Op::DequantizeLinear(d) => {
                let Ok(x) = cx.input(id, 0) else { continue };
                if !matches!(cx.dtype(x), Ok(DType::I8 | DType::U8 | DType::I16 | DType::I32)) {
                    continue;
                }
                if let Some(p) = params(cx, id, d.axis, d.block_size) {
                    cx.qp.entry(x).or_insert(p);
                    cx.dq.insert(v0(id), x);
                }
            }
            _ => {}
        }
    }
    prescan_hard_swish(cx);
}

/// Lowers QuantizeLinear (QUANTIZE) and DequantizeLinear (nothing until needed).
pub(crate) fn lower(cx: &mut Lower, id: NodeId, op: &Op) -> LResult<bool> {
    match op {
        Op::DequantizeLinear(_) => {
            if !cx.dq.contains_key(&v0(id)) {
                return err("only per-tensor or per-axis int8/uint8/int16/int32 dequantization with constant parameters is exported");
            }
        }
        Op::QuantizeLinear(_) => {
            let q = v0(id);
            if !cx.qp.contains_key(&q) {
                return err("only per-tensor or per-axis quantization with constant parameters is exported");
            }
            let x = cx.input(id, 0)?;
            let r = cx.repr(x)?;
            let qt = cx.out(q, r.perm)?;
            cx.emit(B::QUANTIZE, vec![r.t], vec![qt], None);
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// How an op's integer kernel treats its output parameters.
#[derive(Clone, Copy, PartialEq)]
enum IntKind {
    /// Any output parameters (the kernel rescales).
    Free,
    /// The output must keep the input's parameters (inputs with others are requantized first).
    Same,
    /// The output parameters are fixed by TFLite (LOGISTIC, SOFTMAX: 1/256); a QUANTIZE
    /// requantizes to the graph's parameters when they differ.
    Fixed,
}

/// Ops lowered as integer kernels.
fn integer_kind(op: &Op) -> Option<IntKind> {
    Some(match op {
        Op::Conv(_) | Op::Gemm(_) | Op::MatMul(_) | Op::Add(_) | Op::Sub(_) | Op::Mul(_) => IntKind::Free,
        Op::GlobalAveragePool(_) | Op::ReduceMean(_) | Op::Relu(_) | Op::Clip(_) | Op::HardSwish(_) => IntKind::Free,
        Op::PRelu(_) => IntKind::Free,
        Op::Pad(_) => IntKind::Same,
        Op::MaxPool(_) | Op::AveragePool(_) | Op::Concat(_) | Op::Resize(_) | Op::GlobalMaxPool(_) => IntKind::Same,
        Op::Reshape(_) | Op::Flatten(_) | Op::Squeeze(_) | Op::Unsqueeze(_) | Op::Transpose(_) => IntKind::Same,
        Op::Sigmoid(_) | Op::Softmax(_) => IntKind::Fixed,
        _ => return None,
    })
}

/// Whether an op's float rule can fuse a following Relu/Clip into itself.
fn fuses_activation(op: &Op) -> bool {
    matches!(op, Op::Conv(_) | Op::Gemm(_) | Op::MatMul(_) | Op::Add(_) | Op::Sub(_) | Op::Mul(_))
}

/// The only consumer of `v` if it is a QuantizeLinear with known parameters: (node, output).
fn only_q(cx: &Lower, v: ValueId) -> Option<(NodeId, ValueId)> {
    if cx.g.is_output(v) {
        return None;
    }
    let cons = cx.g.consumers(v);
    let [(qn, 0)] = cons.as_slice() else { return None };
    if !matches!(cx.g.node(*qn).op, Op::QuantizeLinear(_)) || !cx.qp.contains_key(&v0(*qn)) {
        return None;
    }
    Some((*qn, v0(*qn)))
}

/// The QuantizeLinear after `id`'s output, directly or after a fusable Relu/Clip: (Q node, Q
/// output, the activation's output when one sits between).
fn q_after(cx: &Lower, id: NodeId) -> Option<(NodeId, ValueId, Option<ValueId>)> {
    let y = v0(id);
    if let Some((qn, q)) = only_q(cx, y) {
        return Some((qn, q, None));
    }
    if !fuses_activation(&cx.g.node(id).op) || cx.g.is_output(y) {
        return None;
    }
    let cons = cx.g.consumers(y);
    let [(a, 0)] = cons.as_slice() else { return None };
    if !matches!(cx.g.node(*a).op, Op::Relu(_) | Op::Clip(_)) {
        return None;
    }
    let (qn, q) = only_q(cx, v0(*a))?;
    Some((qn, q, Some(v0(*a))))
}

/// The output parameters TFLite fixes for LOGISTIC/SOFTMAX of a storage type.
fn fixed_params(d: DType) -> Option<QP> {
    let (scale, zp) = match d {
        DType::I8 => (1.0 / 256.0, -128),
        DType::U8 => (1.0 / 256.0, 0),
        DType::I16 => (1.0 / 32768.0, 0),
        _ => return None,
    };
    Some(QP {
        scale: vec![scale],
        zero_point: vec![zp],
        axis: 0,
    })
}

fn tquant(p: &QP) -> TQuant {
    TQuant {
        scale: p.scale.clone(),
        zero_point: p.zero_point.clone(),
        quantized_dimension: 0,
    }
}

/// A new tensor like `t` (dims, type) with per-tensor parameters `p`, written by a QUANTIZE
/// (requantization) from `t`.
fn requantize(cx: &mut Lower, t: i32, p: &QP, name: &str) -> LResult<i32> {
    let Some(src) = cx.m.tensors.get(t as usize) else {
        return err("requantize: unknown tensor");
    };
    let dims: Vec<i64> = match &src.shape_signature {
        Some(s) => s.iter().map(|&d| d as i64).collect(),
        None => src.shape.iter().map(|&d| d as i64).collect(),
    };
    let ty = src.ty;
    let t2 = cx.tensor(name, &dims, ty);
    if let Some(x) = cx.m.tensors.get_mut(t2 as usize) {
        x.quant = Some(tquant(p));
    }
    cx.emit(B::QUANTIZE, vec![t], vec![t2], None);
    Ok(t2)
}

/// `x · HardSigmoid(x)` in QDQ form (x → DQ → HardSigmoid(1/6, 1/2) → Q → DQ → Mul with the
/// same DQ'd x): the HardSigmoid node and its QuantizeLinear, for a Mul node.
fn hard_swish_parts(cx: &Lower, mul: NodeId) -> Option<(ValueId, NodeId, NodeId)> {
    if !matches!(cx.g.node(mul).op, Op::Mul(_)) {
        return None;
    }
    let ins = cx.g.inputs_of(mul);
    let (a, b) = (ins.first().copied().flatten()?, ins.get(1).copied().flatten()?);
    for (x, h) in [(a, b), (b, a)] {
        let Some(&hq) = cx.dq.get(&h) else { continue };
        if !cx.dq.contains_key(&x) || cx.g.consumers(h).len() != 1 || cx.g.consumers(hq).len() != 1 {
            continue;
        }
        let qn = hq.node;
        if !matches!(cx.g.node(qn).op, Op::QuantizeLinear(_)) {
            continue;
        }
        let Some(Some(hv)) = cx.g.inputs_of(qn).first().copied() else {
            continue;
        };
        let Op::HardSigmoid(hs) = &cx.g.node(hv.node).op else { continue };
        let input = cx.g.inputs_of(hv.node).first().copied().flatten();
        let ok = (hs.alpha - 1.0 / 6.0).abs() < 1e-6 && (hs.beta - 0.5).abs() < 1e-6;
        if ok && input == Some(x) && cx.g.consumers(hv).len() == 1 && !cx.g.is_output(hv) {
            return Some((x, hv.node, qn));
        }
    }
    None
}

/// Marks the HardSigmoid/QuantizeLinear nodes of QDQ hard-swish patterns as folded (prescan).
fn prescan_hard_swish(cx: &mut Lower) {
    let ids: Vec<NodeId> = cx.g.node_ids().collect();
    for id in ids {
        if let Some((_, hs, q)) = hard_swish_parts(cx, id) {
            cx.skip.insert(hs);
            cx.skip.insert(q);
        }
    }
}

/// Lowers a QDQ hard-swish Mul as HARD_SWISH (integer when a QuantizeLinear follows).
fn hard_swish(cx: &mut Lower, id: NodeId, x: ValueId) -> LResult<()> {
    let xq = cx.dq.get(&x).copied().unwrap_or(x);
    if let Some((qn, q, None)) = q_after(cx, id) {
        let r = cx.repr(xq)?;
        let yt = cx.out(q, r.perm)?;
        cx.emit(B::HARD_SWISH, vec![r.t], vec![yt], None);
        cx.skip.insert(qn);
        return Ok(());
    }
    let r = cx.repr(x)?;
    let yt = cx.out(v0(id), r.perm)?;
    cx.emit(B::HARD_SWISH, vec![r.t], vec![yt], None);
    Ok(())
}

/// Lowers `id` as an integer kernel when its QDQ neighbourhood allows; returns whether it did.
pub(crate) fn try_integer(cx: &mut Lower, id: NodeId) -> LResult<bool> {
    if let Some((x, _, _)) = hard_swish_parts(cx, id) {
        hard_swish(cx, id, x)?;
        return Ok(true);
    }
    let node = cx.g.node(id);
    let Some(kind) = integer_kind(&node.op) else {
        return Ok(false);
    };
    let Some((qn, q_out, act)) = q_after(cx, id) else {
        return try_hybrid(cx, id);
    };
    let Some(out_p) = cx.qp.get(&q_out).cloned() else {
        return Ok(false);
    };
    // Every float data input must come from a DequantizeLinear (shape/axes inputs are integer
    // constants and stay as they are).
    let y = v0(id);
    let mut alias = vec![(y, q_out)];
    if let Some(a) = act {
        alias.push((a, q_out));
    }
    let mut requant = Vec::new();
    for v in cx.g.inputs_of(id).into_iter().flatten() {
        if let Some(&q) = cx.dq.get(&v) {
            if kind == IntKind::Same && cx.qp.get(&q) != Some(&out_p) {
                if out_p.scale.len() != 1 {
                    return Ok(false);
                }
                requant.push(q);
            }
            alias.push((v, q));
        } else if cx.const_of(v).is_none_or(|c| c.dtype.is_float()) {
            return Ok(false);
        }
    }
    // Inputs with other parameters than the output's: requantized copies stand for them while
    // the op is lowered.
    let mut saved = Vec::new();
    for q in requant {
        if saved.iter().any(|(v, _)| *v == q) {
            continue;
        }
        let r = cx.repr(q)?;
        let name = format!("{}_requantized", cx.vname(q));
        let t2 = requantize(cx, r.t, &out_p, &name)?;
        cx.bind(
            q,
            Repr {
                t: t2,
                perm: r.perm.clone(),
            },
        );
        saved.push((q, r));
    }
    cx.alias = alias.into_iter().collect();
    let res = super::lower_float(cx, id, cx.g.node(id));
    cx.alias.clear();
    for (q, r) in saved {
        cx.bind(q, r);
    }
    if let Err(e) = &res {
        if std::env::var_os("EDGEPORT_DEBUG_INT").is_some() {
            eprintln!("integer {}: {e:?}", cx.g.node(id).name);
        }
        // Not expressible as an integer kernel: the float rule runs between DEQUANTIZE and
        // QUANTIZE instead (anything written so far is unused and dropped at the end).
        return Ok(false);
    }
    if kind == IntKind::Fixed {
        let d = cx.dtype(q_out)?;
        let Some(fixed) = fixed_params(d) else {
            return err(format!("no fixed output parameters for {} LOGISTIC/SOFTMAX", d.name()));
        };
        let r = cx.repr(q_out)?;
        if let Some(t) = cx.m.tensors.get_mut(r.t as usize) {
            t.quant = Some(tquant(&fixed));
        }
        if out_p != fixed {
            let name = format!("{}_requantized", cx.vname(q_out));
            let t2 = requantize(cx, r.t, &out_p, &name)?;
            cx.bind(q_out, Repr { t: t2, perm: r.perm });
        }
    }
    cx.skip.insert(qn);
    Ok(true)
}

/// With integer graph I/O: the QuantizeLinear output standing for graph input `v` (its only
/// consumer, with known parameters), whose QUANTIZE is then not written.
pub(crate) fn int_input(cx: &mut Lower, v: ValueId) -> Option<ValueId> {
    if !cx.opts.int8_io {
        return None;
    }
    let (qn, q) = only_q(cx, v)?;
    cx.skip.insert(qn);
    Some(q)
}

/// Dynamic-range ("hybrid") kernels: a Conv/Gemm/MatMul with a float activation and a
/// symmetric int8 weight behind a DequantizeLinear is written with the int8 weight itself
/// (CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED / BATCH_MATMUL quantize the activation at run
/// time); the output stays float.
fn try_hybrid(cx: &mut Lower, id: NodeId) -> LResult<bool> {
    if !matches!(cx.g.node(id).op, Op::Conv(_) | Op::Gemm(_) | Op::MatMul(_)) {
        return Ok(false);
    }
    let (Some(x), Some(w)) = (cx.opt_input(id, 0), cx.opt_input(id, 1)) else {
        return Ok(false);
    };
    let Some(&wq) = cx.dq.get(&w) else { return Ok(false) };
    if cx.dq.contains_key(&x) || cx.const_of(wq).is_none_or(|c| c.dtype != DType::I8) {
        return Ok(false);
    }
    if cx.qp.get(&wq).is_none_or(|p| p.zero_point.iter().any(|&z| z != 0)) {
        return Ok(false);
    }
    if let Some(b) = cx.opt_input(id, 2)
        && cx.const_of(b).is_none_or(|c| !c.dtype.is_float())
    {
        return Ok(false);
    }
    cx.alias = [(w, wq)].into_iter().collect();
    let res = super::lower_float(cx, id, cx.g.node(id));
    cx.alias.clear();
    Ok(res.is_ok())
}
