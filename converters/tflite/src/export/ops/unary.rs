//! One-input element-wise ops: activations (Relu, Clip → RELU6/RELU/RELU_N1_TO_1 or
//! MAXIMUM/MINIMUM, Sigmoid, Tanh, HardSwish, HardSigmoid, Gelu, LeakyRelu, Elu), math (Exp,
//! Log, Sqrt, Neg, Abs, Floor, Ceil, Round, Sin, Cos, Reciprocal), Not, IsNaN (NOT_EQUAL of x
//! and x), Cast, and the aliases
//! Identity/Dropout. They keep the order their input is held in.

use super::super::lower::{LResult, Lower, Repr, err, opts};
use super::super::model::{Field, Options};
use crate::codes::{BuiltinOperator as B, BuiltinOptions as O};
use edgeport_ir::{DType, NodeId, Op, ValueId};

/// Output `y` of `id` stands for the same tensor as `x`.
pub(crate) fn alias(cx: &mut Lower, id: NodeId, x: ValueId) -> LResult<()> {
    let r = cx.repr(x)?;
    cx.bind(ValueId { node: id, port: 0 }, Repr { t: r.t, perm: r.perm });
    Ok(())
}

/// `code` applied to input 0, in the input's order.
pub(crate) fn unary(cx: &mut Lower, id: NodeId, code: B, options: Option<Options>) -> LResult<()> {
    let x = cx.input(id, 0)?;
    let r = cx.repr(x)?;
    let yt = cx.out(ValueId { node: id, port: 0 }, r.perm)?;
    cx.emit(code, vec![r.t], vec![yt], options);
    Ok(())
}

/// Element-wise `code` of input 0 and a scalar constant.
fn with_scalar(cx: &mut Lower, x: i32, value: f32, code: B, name: &str, out: i32) {
    let c = cx.const_f32(name, &[], &[value]);
    cx.emit(code, vec![x, c], vec![out], None);
}

fn clip(cx: &mut Lower, id: NodeId) -> LResult<()> {
    let x = cx.input(id, 0)?;
    let lo = match cx.opt_input(id, 1) {
        Some(v) => Some(
            cx.const_scalar(v)
                .ok_or_else(|| super::super::lower::LErr::Msg("min must be a constant scalar".into()))?,
        ),
        None => None,
    };
    let hi = match cx.opt_input(id, 2) {
        Some(v) => Some(
            cx.const_scalar(v)
                .ok_or_else(|| super::super::lower::LErr::Msg("max must be a constant scalar".into()))?,
        ),
        None => None,
    };
    match (lo, hi) {
        (Some(l), Some(h)) if l == 0.0 && h == 6.0 => return unary(cx, id, B::RELU6, None),
        (Some(0.0), None) => return unary(cx, id, B::RELU, None),
        (Some(l), Some(h)) if l == -1.0 && h == 1.0 => return unary(cx, id, B::RELU_N1_TO_1, None),
        (None, None) => return alias(cx, id, x),
        _ => {}
    }
    if cx.dtype(x)? != DType::F32 {
        return err("general Clip is exported for float32 only");
    }
    let r = cx.repr(x)?;
    let name = cx.g.node(id).name.clone();
    let y = ValueId { node: id, port: 0 };
    let mut cur = r.t;
    if let Some(l) = lo {
        let dims: Vec<i64> = cx.m.tensors[cur as usize].shape.iter().map(|&d| d as i64).collect();
        let ty = cx.m.tensors[cur as usize].ty;
        let t = if hi.is_some() {
            cx.tensor(&format!("{name}_lo"), &dims, ty)
        } else {
            cx.out(y, r.perm.clone())?
        };
        with_scalar(cx, cur, l as f32, B::MAXIMUM, &format!("{name}_min"), t);
        cur = t;
    }
    if let Some(h) = hi {
        let t = cx.out(y, r.perm.clone())?;
        with_scalar(cx, cur, h as f32, B::MINIMUM, &format!("{name}_max"), t);
    }
    Ok(())
}

fn hard_sigmoid(cx: &mut Lower, id: NodeId, alpha: f32, beta: f32) -> LResult<()> {
    let x = cx.input(id, 0)?;
    let r = cx.repr(x)?;
    let name = cx.g.node(id).name.clone();
    let dims: Vec<i64> = cx.m.tensors[r.t as usize].shape.iter().map(|&d| d as i64).collect();
    let ty = cx.m.tensors[r.t as usize].ty;
    let a = cx.const_f32(&format!("{name}_alpha"), &[], &[alpha]);
    let b = cx.const_f32(&format!("{name}_beta"), &[], &[beta]);
    let t1 = cx.tensor(&format!("{name}_ax"), &dims, ty);
    cx.emit(B::MUL, vec![r.t, a], vec![t1], Some(opts(O::MulOptions)));
    let t2 = cx.tensor(&format!("{name}_axb"), &dims, ty);
    cx.emit(B::ADD, vec![t1, b], vec![t2], Some(opts(O::AddOptions).with(0, Field::I8(1))));
    let y = cx.out(ValueId { node: id, port: 0 }, r.perm)?;
    with_scalar(cx, t2, 1.0, B::MINIMUM, &format!("{name}_one"), y);
    Ok(())
}

/// `gamma · (relu(x) + alpha · (elu(x) − relu(x)))`: ELU with any alpha (and SELU) from TFLite's
/// alpha-1 ELU, since `elu(x) − relu(x)` is `exp(min(x, 0)) − 1`.
fn scaled_elu(cx: &mut Lower, id: NodeId, alpha: f32, gamma: f32) -> LResult<()> {
    let x = cx.input(id, 0)?;
    if cx.dtype(x)? != DType::F32 {
        return err("ELU with alpha other than 1, and SELU, are exported for float32 only");
    }
    let r = cx.repr(x)?;
    let name = cx.g.node(id).name.clone();
    let dims: Vec<i64> = cx.m.tensors[r.t as usize].shape.iter().map(|&d| d as i64).collect();
    let ty = cx.m.tensors[r.t as usize].ty;
    let e = cx.tensor(&format!("{name}_elu1"), &dims, ty);
    cx.emit(B::ELU, vec![r.t], vec![e], None);
    let rl = cx.tensor(&format!("{name}_relu"), &dims, ty);
    cx.emit(B::RELU, vec![r.t], vec![rl], None);
    let neg = cx.tensor(&format!("{name}_neg"), &dims, ty);
    cx.emit(B::SUB, vec![e, rl], vec![neg], Some(opts(O::SubOptions)));
    let a = cx.const_f32(&format!("{name}_alpha"), &[], &[alpha]);
    let an = cx.tensor(&format!("{name}_aneg"), &dims, ty);
    cx.emit(B::MUL, vec![neg, a], vec![an], Some(opts(O::MulOptions)));
    let y = cx.out(ValueId { node: id, port: 0 }, r.perm.clone())?;
    if gamma == 1.0 {
        cx.emit(B::ADD, vec![rl, an], vec![y], Some(opts(O::AddOptions)));
    } else {
        let sum = cx.tensor(&format!("{name}_sum"), &dims, ty);
        cx.emit(B::ADD, vec![rl, an], vec![sum], Some(opts(O::AddOptions)));
        let g = cx.const_f32(&format!("{name}_gamma"), &[], &[gamma]);
        cx.emit(B::MUL, vec![sum, g], vec![y], Some(opts(O::MulOptions)));
    }
    Ok(())
}

/// `relu(x) + log(1 + exp(−|x|))`: softplus without overflow for large |x|.
fn softplus(cx: &mut Lower, id: NodeId) -> LResult<()> {
    let x = cx.input(id, 0)?;
    if cx.dtype(x)? != DType::F32 {
        return err("Softplus is exported for float32 only");
    }
    let r = cx.repr(x)?;
    let name = cx.g.node(id).name.clone();
    let dims: Vec<i64> = cx.m.tensors[r.t as usize].shape.iter().map(|&d| d as i64).collect();
    let ty = cx.m.tensors[r.t as usize].ty;
    let step = |cx: &mut Lower, code: B, ins: Vec<i32>, tag: &str, o: Option<Options>| {
        let t = cx.tensor(&format!("{name}_{tag}"), &dims, ty);
        cx.emit(code, ins, vec![t], o);
        t
    };
    let a = step(cx, B::ABS, vec![r.t], "abs", None);
    let n = step(cx, B::NEG, vec![a], "neg", None);
    let e = step(cx, B::EXP, vec![n], "exp", None);
    let one = cx.const_f32(&format!("{name}_one"), &[], &[1.0]);
    let p = step(cx, B::ADD, vec![e, one], "1p", Some(opts(O::AddOptions)));
    let l = step(cx, B::LOG, vec![p], "log", None);
    let rl = step(cx, B::RELU, vec![r.t], "relu", None);
    let y = cx.out(ValueId { node: id, port: 0 }, r.perm)?;
    cx.emit(B::ADD, vec![rl, l], vec![y], Some(opts(O::AddOptions)));
    Ok(())
}

fn cast(cx: &mut Lower, id: NodeId, to: i64) -> LResult<()> {
    let x = cx.input(id, 0)?;
    let from = super::super::lower::tensor_type(cx.dtype(x)?)?;
    let to_dt = DType::from_onnx_code(to as i32).ok_or_else(|| super::super::lower::LErr::Msg(format!("unknown dtype code {to}")))?;
    let to_t = super::super::lower::tensor_type(to_dt)?;
    if from == to_t {
        return alias(cx, id, x);
    }
    unary(
        cx,
        id,
        B::CAST,
        Some(opts(O::CastOptions).with(0, Field::I8(from.0)).with(1, Field::I8(to_t.0))),
    )
}

pub(crate) fn lower(cx: &mut Lower, id: NodeId, op: &Op) -> LResult<bool> {
    match op {
        Op::Identity(_) | Op::Dropout(_) => {
            if let Op::Dropout(_) = op
                && !cx.g.consumers(ValueId { node: id, port: 1 }).is_empty()
            {
                return err("the Dropout mask output has no TFLite form");
            }
            let x = cx.input(id, 0)?;
            alias(cx, id, x)?
        }
        Op::Relu(_) => unary(cx, id, B::RELU, None)?,
        Op::Clip(_) => clip(cx, id)?,
        Op::Sigmoid(_) => unary(cx, id, B::LOGISTIC, None)?,
        Op::Tanh(_) => unary(cx, id, B::TANH, None)?,
        Op::HardSwish(_) => unary(cx, id, B::HARD_SWISH, None)?,
        Op::HardSigmoid(h) => hard_sigmoid(cx, id, h.alpha, h.beta)?,
        Op::Gelu(g) => {
            let approx = match g.approximate.as_str() {
                "none" => false,
                "tanh" => true,
                other => return err(format!("approximate='{other}'")),
            };
            unary(cx, id, B::GELU, Some(opts(O::GeluOptions).with(0, Field::Bool(approx))))?
        }
        Op::LeakyRelu(l) => unary(cx, id, B::LEAKY_RELU, Some(opts(O::LeakyReluOptions).with(0, Field::F32(l.alpha))))?,
        Op::Elu(e) if e.alpha == 1.0 => unary(cx, id, B::ELU, None)?,
        Op::Elu(e) => scaled_elu(cx, id, e.alpha, 1.0)?,
        Op::Selu(s) => scaled_elu(cx, id, s.alpha, s.gamma)?,
        Op::Softplus(_) => softplus(cx, id)?,
        Op::Exp(_) => unary(cx, id, B::EXP, None)?,
        Op::Log(_) => unary(cx, id, B::LOG, None)?,
        Op::Sqrt(_) => unary(cx, id, B::SQRT, None)?,
        Op::Neg(_) => unary(cx, id, B::NEG, None)?,
        Op::Abs(_) => unary(cx, id, B::ABS, None)?,
        Op::Floor(_) => unary(cx, id, B::FLOOR, None)?,
        Op::Ceil(_) => unary(cx, id, B::CEIL, None)?,
        Op::Round(_) => unary(cx, id, B::ROUND, None)?,
        Op::Sin(_) => unary(cx, id, B::SIN, None)?,
        Op::Cos(_) => unary(cx, id, B::COS, None)?,
        Op::Sign(_) => unary(cx, id, B::SIGN, None)?,
        Op::Not(_) => unary(cx, id, B::LOGICAL_NOT, None)?,
        Op::IsNaN(_) => {
            // NaN is the only value not equal to itself.
            let x = cx.input(id, 0)?;
            let r = cx.repr(x)?;
            let yt = cx.out(ValueId { node: id, port: 0 }, r.perm)?;
            cx.emit(B::NOT_EQUAL, vec![r.t, r.t], vec![yt], None);
        }
        Op::Reciprocal(_) => {
            let x = cx.input(id, 0)?;
            let r = cx.repr(x)?;
            let name = cx.g.node(id).name.clone();
            let one = cx.const_f32(&format!("{name}_one"), &[], &[1.0]);
            let y = cx.out(ValueId { node: id, port: 0 }, r.perm)?;
            cx.emit(B::DIV, vec![one, r.t], vec![y], Some(opts(O::DivOptions)));
        }
        Op::Cast(c) => cast(cx, id, c.to)?,
        _ => return Ok(false),
    }
    Ok(true)
}
