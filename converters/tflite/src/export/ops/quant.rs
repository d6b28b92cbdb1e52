//! The IR's quantized (QDQ) form → integer TFLite kernels.
//!
//! A pre-scan records the parameters of every integer value (from the QuantizeLinear producing
//! it or the DequantizeLinear reading it). DequantizeLinear writes nothing: a DEQUANTIZE appears
//! only when a float consumer needs the value. An op whose float inputs all come from
//! DequantizeLinear and whose only consumer is a QuantizeLinear is lowered by its float rule
//! with those float values standing for the integer ones (`Lower::alias`), so it becomes an
//! integer kernel (int8/uint8/int16 tensors with QuantizationParameters, per-channel weights
//! with quantized_dimension). Any other QuantizeLinear becomes QUANTIZE.

use super::super::lower::{LResult, Lower, QP, err};
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

/// Ops lowered as integer kernels, and whether their output must keep the input's parameters.
fn integer_kind(op: &Op) -> Option<bool> {
    Some(match op {
        Op::Conv(_) | Op::Gemm(_) | Op::MatMul(_) | Op::Add(_) | Op::Sub(_) | Op::Mul(_) => false,
        Op::GlobalAveragePool(_) | Op::ReduceMean(_) | Op::Relu(_) | Op::Clip(_) => false,
        Op::MaxPool(_) | Op::AveragePool(_) | Op::Concat(_) | Op::Resize(_) => true,
        Op::Reshape(_) | Op::Flatten(_) | Op::Squeeze(_) | Op::Unsqueeze(_) | Op::Transpose(_) => true,
        _ => return None,
    })
}

/// Lowers `id` as an integer kernel when its QDQ neighbourhood allows; returns whether it did.
pub(crate) fn try_integer(cx: &mut Lower, id: NodeId) -> LResult<bool> {
    let node = cx.g.node(id);
    let Some(same_params) = integer_kind(&node.op) else {
        return Ok(false);
    };
    let y = v0(id);
    if cx.g.is_output(y) {
        return Ok(false);
    }
    let cons = cx.g.consumers(y);
    let [(qn, 0)] = cons.as_slice() else {
        return Ok(false);
    };
    let qn = *qn;
    if !matches!(cx.g.node(qn).op, Op::QuantizeLinear(_)) {
        return Ok(false);
    }
    let q_out = v0(qn);
    let Some(out_p) = cx.qp.get(&q_out).cloned() else {
        return Ok(false);
    };
    // Every float data input must come from a DequantizeLinear (shape/axes inputs are integer
    // constants and stay as they are).
    let mut alias = vec![(y, q_out)];
    for v in cx.g.inputs_of(id).into_iter().flatten() {
        if let Some(&q) = cx.dq.get(&v) {
            if same_params && cx.qp.get(&q) != Some(&out_p) {
                return Ok(false);
            }
            alias.push((v, q));
        } else if cx.const_of(v).is_none_or(|c| c.dtype.is_float()) {
            return Ok(false);
        }
    }
    cx.alias = alias.into_iter().collect();
    let res = super::lower_float(cx, id, cx.g.node(id));
    cx.alias.clear();
    match res {
        Ok(()) => {
            cx.skip.insert(qn);
            Ok(true)
        }
        // Not expressible as an integer kernel: the float rule runs between DEQUANTIZE and
        // QUANTIZE instead (anything written so far is unused and dropped at the end).
        Err(_) => Ok(false),
    }
}
