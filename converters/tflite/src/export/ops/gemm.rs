//! Matrix products: Gemm → FULLY_CONNECTED (weights [out, in], alpha/beta folded, transposed
//! operands taken from constants or from the order the value is held in); MatMul with a 2-D
//! constant right-hand side → FULLY_CONNECTED with keep_num_dims (absorbing a following
//! bias Add), else BATCH_MATMUL with adj_x/adj_y when an operand is held with its last two
//! dims swapped.

use super::super::lower::{LResult, Lower, err, opts};
use super::super::model::{BufData, Field};
use super::super::util::{f32_bytes, ident};
use crate::codes::{BuiltinOperator as B, BuiltinOptions as O, TensorType};
use edgeport_ir::{DType, NodeId, Op, ValueId};

fn fc_options(act: i8, keep: bool) -> super::super::model::Options {
    let o = opts(O::FullyConnectedOptions).with(0, Field::I8(act));
    if keep { o.with(2, Field::Bool(true)) } else { o }
}

/// A 1-D bias tensor of `n` elements from a constant of shape [n], [1, n] or a scalar,
/// scaled by `scale`.
fn bias_from_const(cx: &mut Lower, c: ValueId, n: i64, scale: f32) -> Option<i32> {
    let t = cx.const_of(c)?;
    if t.dtype == DType::I32 && scale == 1.0 && t.shape.len() == 1 && t.shape[0] as i64 == n {
        // An integer kernel's bias (the quantized int32 constant, with its parameters).
        return cx.get_id(c).ok();
    }
    if t.dtype != DType::F32 {
        return None;
    }
    let numel: usize = t.shape.iter().product();
    let name = format!("{}_bias", cx.vname(c));
    if numel as i64 == n && t.shape.last().copied().map(|d| d as i64) == Some(n) {
        if scale == 1.0 {
            let raw = t.raw()?.clone();
            return Some(cx.const_tensor(&name, &[n], TensorType::FLOAT32, BufData::Shared(raw)));
        }
        let v: Vec<f32> = t.to_f64_vec()?.iter().map(|&x| x as f32 * scale).collect();
        return Some(cx.const_tensor(&name, &[n], TensorType::FLOAT32, BufData::Owned(f32_bytes(&v))));
    }
    if numel == 1 {
        let x = t.to_f64_vec()?[0] as f32 * scale;
        return Some(cx.const_f32(&name, &[n], &vec![x; n as usize]));
    }
    None
}

pub(crate) fn gemm(cx: &mut Lower, id: NodeId, g: &edgeport_ir::ops::defs::math::Gemm) -> LResult<()> {
    let a = cx.input(id, 0)?;
    let b = cx.input(id, 1)?;
    if cx.rank(a)? != 2 || cx.rank(b)? != 2 {
        return err("Gemm needs 2-D operands");
    }
    if g.transA == 0
        && g.alpha == 1.0
        && (g.beta == 1.0 || cx.opt_input(id, 2).is_none())
        && cx.const_of(b).is_some()
        && let Some(()) = super::heads::split_contraction(cx, id, a, b, Some((g.transB != 0, cx.opt_input(id, 2))))?
    {
        return Ok(());
    }
    let name = cx.g.node(id).name.clone();
    let mut at = cx.get(a, if g.transA != 0 { &[1, 0] } else { &[0, 1] })?;
    let bd = cx.dims(b)?;
    let n = if g.transB != 0 { bd[0] } else { bd[1] };
    let integer = cx.dtype(b)?.is_int();
    if integer && (g.alpha != 1.0 || (g.beta != 1.0 && cx.opt_input(id, 2).is_some())) {
        return err("an integer Gemm needs alpha = beta = 1");
    }
    if g.alpha != 1.0 {
        let ad: Vec<i64> = cx.m.tensors[at as usize].shape.iter().map(|&d| d as i64).collect();
        let s = cx.const_f32(&format!("{name}_alpha"), &[], &[g.alpha]);
        let t = cx.tensor(&format!("{name}_scaled"), &ad, TensorType::FLOAT32);
        cx.emit(B::MUL, vec![at, s], vec![t], Some(opts(O::MulOptions)));
        at = t;
    }
    let bt = cx.get(b, if g.transB != 0 { &[0, 1] } else { &[1, 0] })?;
    let c = cx.opt_input(id, 2);
    let bias = match c {
        Some(c) if g.beta != 0.0 => bias_from_const(cx, c, n, g.beta),
        _ => None,
    };
    let y = ValueId { node: id, port: 0 };
    match (c, bias) {
        (Some(_), None) if integer && g.beta != 0.0 => return err("an integer Gemm needs a 1-D int32 bias"),
        (Some(c), None) if g.beta != 0.0 => {
            // A full C: FC without bias, then ADD (beta folded into a MUL when needed).
            let yd = cx.dims(y)?;
            let tmp = cx.tensor(&format!("{name}_ab"), &yd, TensorType::FLOAT32);
            cx.emit(B::FULLY_CONNECTED, vec![at, bt, -1], vec![tmp], Some(fc_options(0, false)));
            let mut ct = cx.get_id(c)?;
            if g.beta != 1.0 {
                let cd: Vec<i64> = cx.m.tensors[ct as usize].shape.iter().map(|&d| d as i64).collect();
                let s = cx.const_f32(&format!("{name}_beta"), &[], &[g.beta]);
                let t = cx.tensor(&format!("{name}_c_scaled"), &cd, TensorType::FLOAT32);
                cx.emit(B::MUL, vec![ct, s], vec![t], Some(opts(O::MulOptions)));
                ct = t;
            }
            let (act, yv) = cx.fuse_activation(id);
            let yt = cx.out_id(yv)?;
            cx.emit(B::ADD, vec![tmp, ct], vec![yt], Some(opts(O::AddOptions).with(0, Field::I8(act))));
        }
        (_, bias) => {
            let (act, yv) = cx.fuse_activation(id);
            let yt = cx.out_id(yv)?;
            cx.emit(
                B::FULLY_CONNECTED,
                vec![at, bt, bias.unwrap_or(-1)],
                vec![yt],
                Some(fc_options(act, false)),
            );
        }
    }
    Ok(())
}

/// Whether `v` is held with only its last two dims swapped (usable as adj_x/adj_y).
fn held_swapped(cx: &Lower, v: ValueId, rank: usize) -> bool {
    let mut p = ident(rank);
    if rank >= 2 {
        p.swap(rank - 1, rank - 2);
    }
    cx.perm_of(v).is_some_and(|h| rank >= 2 && h == p)
}

/// The Add that only consumes a MatMul's output and adds a [n] constant: its constant.
pub(crate) fn following_bias(cx: &Lower, id: NodeId, n: i64) -> Option<(NodeId, ValueId)> {
    let y = ValueId { node: id, port: 0 };
    if cx.g.is_output(y) {
        return None;
    }
    let cons = cx.g.consumers(y);
    let [(add, _)] = cons.as_slice() else {
        return None;
    };
    if !matches!(cx.g.node(*add).op, Op::Add(_)) {
        return None;
    }
    let ins = cx.g.inputs_of(*add);
    let other = ins.iter().flatten().find(|v| **v != y).copied()?;
    let t = cx.const_of(other)?;
    (t.dtype == DType::F32 && t.shape.len() == 1 && t.shape[0] as i64 == n).then_some((*add, other))
}

pub(crate) fn matmul(cx: &mut Lower, id: NodeId) -> LResult<()> {
    let a = cx.input(id, 0)?;
    let b = cx.input(id, 1)?;
    let (ra, rb) = (cx.rank(a)?, cx.rank(b)?);
    if ra < 2 || rb < 2 {
        return err("MatMul with a 1-D operand is not exported");
    }
    let y = ValueId { node: id, port: 0 };
    if rb == 2 && cx.const_of(b).is_some() && matches!(cx.dtype(a)?, DType::F32 | DType::I8 | DType::U8 | DType::I16) {
        let n = cx.dims(b)?[1];
        // Head-split chains after the product are computed on their own; the FULLY_CONNECTED
        // below is still written for any other reader and dropped at compaction when unread.
        super::heads::split_outputs(cx, id, a, b)?;
        if let Some(()) = super::heads::split_contraction(cx, id, a, b, None)? {
            return Ok(());
        }
        // The rows may be held in any order as long as the contracted dim stays last.
        let held = cx.perm_of(a).filter(|p| p.last() == Some(&(ra - 1))).unwrap_or_else(|| ident(ra));
        let at = cx.get(a, &held)?;
        let bt = cx.get(b, &[1, 0])?;
        let (bias, out_node) = match following_bias(cx, id, n) {
            Some((add, c)) => match bias_from_const(cx, c, n, 1.0) {
                Some(bt) => {
                    cx.skip.insert(add);
                    (Some(bt), add)
                }
                None => (None, id),
            },
            None => (None, id),
        };
        let (act, yv) = cx.fuse_activation(out_node);
        let yt = cx.out(yv, held)?;
        cx.emit(
            B::FULLY_CONNECTED,
            vec![at, bt, bias.unwrap_or(-1)],
            vec![yt],
            Some(fc_options(act, true)),
        );
        return Ok(());
    }
    let adj_x = held_swapped(cx, a, ra);
    let adj_y = held_swapped(cx, b, rb);
    let at = if adj_x { cx.repr(a)?.t } else { cx.get_id(a)? };
    let bt = if adj_y { cx.repr(b)?.t } else { cx.get_id(b)? };
    let yt = cx.out_id(y)?;
    let o = opts(O::BatchMatMulOptions).with(0, Field::Bool(adj_x)).with(1, Field::Bool(adj_y));
    cx.emit(B::BATCH_MATMUL, vec![at, bt], vec![yt], Some(o));
    Ok(())
}
