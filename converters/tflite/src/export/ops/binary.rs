//! Broadcasting element-wise ops with two or three inputs: Add/Sub/Mul/Div (with a fused
//! following Relu/Relu6), Pow, Max/Min, Mod (FLOOR_MOD), PRelu, comparisons, And/Or, Where (SELECT_V2).
//! They run in the order their inputs are held (channels-last after a conv): constants of lower
//! rank are expanded and permuted at write time, so no transpose is needed.

use super::super::lower::{LErr, LResult, Lower, err, opts};
use super::super::model::{BufData, Field};
use super::super::util::{ident, is_ident};
use crate::codes::{BuiltinOperator as B, BuiltinOptions as O};
use edgeport_ir::{NodeId, Op, ValueId};

/// The tensors of `vs` in one common order for an output of rank `rank`; returns them and the
/// order.
pub(crate) fn aligned(cx: &mut Lower, vs: &[ValueId], rank: usize) -> LResult<(Vec<i32>, Vec<usize>)> {
    let mut perm = cx.common_perm(vs, rank);
    if !is_ident(&perm) {
        // A lower-rank input that is not a constant cannot follow the order: use the IR order.
        for &v in vs {
            if cx.rank(v)? != rank && cx.const_of(v).is_none() {
                perm = ident(rank);
                break;
            }
        }
    }
    let mut ts = Vec::with_capacity(vs.len());
    for &v in vs {
        let r = cx.rank(v)?;
        let t = if r == rank {
            cx.get(v, &perm)?
        } else if is_ident(&perm) || r > rank {
            cx.get_id(v)?
        } else {
            expanded_const(cx, v, rank, &perm)?
        };
        ts.push(t);
    }
    Ok((ts, perm))
}

/// A constant of lower rank, given leading 1-dims up to `rank` and stored in order `perm`, with
/// its quantization when it has one.
fn expanded_const(cx: &mut Lower, v: ValueId, rank: usize, perm: &[usize]) -> LResult<i32> {
    let c = cx.const_of(v).ok_or(LErr::Upstream)?;
    let raw = match c.raw() {
        Some(r) => r.clone(),
        None => return err("string constants cannot be broadcast"),
    };
    let mut shape = vec![1usize; rank - c.shape.len()];
    shape.extend(&c.shape);
    let dims: Vec<i64> = perm.iter().map(|&p| shape[p] as i64).collect();
    let ty = super::super::lower::tensor_type(c.dtype)?;
    let elem = c.dtype.bits() / 8;
    if elem == 0 {
        return err("sub-byte constants cannot be broadcast");
    }
    let name = format!("{}_expanded", cx.vname(v));
    let lead = rank - c.shape.len();
    let t = cx.const_tensor(
        &name,
        &dims,
        ty,
        BufData::Lazy {
            src: raw,
            elem,
            shape,
            perm: perm.to_vec(),
            to_f16: false,
        },
    );
    // An integer constant (an int8 PRELU slope) keeps its scale and zero point.
    cx.set_quant_lead(t, cx.res(v), perm, lead);
    Ok(t)
}

/// Lowers a broadcasting element-wise op of `inputs` to `code` (with `options`), fusing a
/// following activation when `fuse` is set (the options' field `act_field` receives it).
pub(crate) fn elementwise(cx: &mut Lower, id: NodeId, code: B, inputs: &[ValueId], options: Option<(O, Option<u16>)>) -> LResult<()> {
    let y = ValueId { node: id, port: 0 };
    let rank = cx.rank(y)?;
    let (ts, perm) = aligned(cx, inputs, rank)?;
    let (act, yv) = match options {
        Some((_, Some(_))) => cx.fuse_activation(id),
        _ => (0, y),
    };
    let yt = cx.out(yv, perm)?;
    let o = options.map(|(ty, field)| {
        let o = opts(ty);
        match field {
            Some(f) => o.with(f, Field::I8(act)),
            None => o,
        }
    });
    cx.emit(code, ts, vec![yt], o);
    Ok(())
}

pub(crate) fn lower(cx: &mut Lower, id: NodeId, op: &Op) -> LResult<bool> {
    let ins: Vec<ValueId> = cx.g.inputs_of(id).into_iter().flatten().collect();
    let two = |ins: &[ValueId]| -> LResult<Vec<ValueId>> {
        if ins.len() == 2 {
            Ok(ins.to_vec())
        } else {
            err(format!("expected 2 inputs, got {}", ins.len()))
        }
    };
    match op {
        Op::Add(_) => elementwise(cx, id, B::ADD, &two(&ins)?, Some((O::AddOptions, Some(0))))?,
        Op::Sub(_) => elementwise(cx, id, B::SUB, &two(&ins)?, Some((O::SubOptions, Some(0))))?,
        Op::Mul(_) => elementwise(cx, id, B::MUL, &two(&ins)?, Some((O::MulOptions, Some(0))))?,
        Op::Div(_) => elementwise(cx, id, B::DIV, &two(&ins)?, Some((O::DivOptions, Some(0))))?,
        Op::Pow(_) => elementwise(cx, id, B::POW, &two(&ins)?, None)?,
        Op::Max(_) | Op::Min(_) | Op::Sum(_) => {
            let code = match op {
                Op::Max(_) => B::MAXIMUM,
                Op::Min(_) => B::MINIMUM,
                _ => B::ADD,
            };
            match ins.len() {
                1 => {
                    let x = cx.input(id, 0)?;
                    super::unary::alias(cx, id, x)?
                }
                2 => elementwise(cx, id, code, &ins, None)?,
                n => return err(format!("{n} inputs: only 1 or 2 are exported")),
            }
        }
        Op::Mod(m) => {
            if m.fmod != 0 {
                return err("fmod=1 (truncated remainder) has no TFLite form");
            }
            elementwise(cx, id, B::FLOOR_MOD, &two(&ins)?, None)?
        }
        Op::PRelu(_) => elementwise(cx, id, B::PRELU, &two(&ins)?, None)?,
        Op::Equal(_) => elementwise(cx, id, B::EQUAL, &two(&ins)?, None)?,
        Op::Less(_) => elementwise(cx, id, B::LESS, &two(&ins)?, None)?,
        Op::LessOrEqual(_) => elementwise(cx, id, B::LESS_EQUAL, &two(&ins)?, None)?,
        Op::Greater(_) => elementwise(cx, id, B::GREATER, &two(&ins)?, None)?,
        Op::GreaterOrEqual(_) => elementwise(cx, id, B::GREATER_EQUAL, &two(&ins)?, None)?,
        Op::And(_) => elementwise(cx, id, B::LOGICAL_AND, &two(&ins)?, None)?,
        Op::Or(_) => elementwise(cx, id, B::LOGICAL_OR, &two(&ins)?, None)?,
        Op::Where(_) => {
            if ins.len() != 3 {
                return err("Where needs 3 inputs");
            }
            elementwise(cx, id, B::SELECT_V2, &ins, None)?
        }
        _ => return Ok(false),
    }
    Ok(true)
}
