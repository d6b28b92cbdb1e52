//! Elementwise ops seen through by the layout pass: unary ops keep their input's state;
//! broadcasting ops take every operand in the state of their highest-rank permuted operand
//! (constants are permuted once, lower-rank operands padded with leading 1s first).

use super::cx::{Cx, err};
use crate::manager::PassError;
use edgeport_ir::{Graph, NodeId, OpKind};

/// Ops whose output `k` is elementwise in input 0 alone (other inputs are scalars or types).
pub fn is_unary(k: OpKind) -> bool {
    use OpKind as K;
    matches!(
        k,
        K::Relu
            | K::LeakyRelu
            | K::Sigmoid
            | K::HardSigmoid
            | K::HardSwish
            | K::Tanh
            | K::Elu
            | K::Selu
            | K::Celu
            | K::Gelu
            | K::Mish
            | K::Swish
            | K::Softplus
            | K::Softsign
            | K::ThresholdedRelu
            | K::Shrink
            | K::Erf
            | K::Exp
            | K::Log
            | K::Sqrt
            | K::Reciprocal
            | K::Neg
            | K::Abs
            | K::Floor
            | K::Ceil
            | K::Round
            | K::Sign
            | K::Sin
            | K::Cos
            | K::Tan
            | K::Sinh
            | K::Cosh
            | K::Asin
            | K::Acos
            | K::Atan
            | K::Asinh
            | K::Acosh
            | K::Atanh
            | K::Cast
            | K::CastLike
            | K::Identity
            | K::Not
            | K::IsNaN
            | K::IsInf
            | K::Clip
            | K::Dropout
            | K::BitwiseNot
    )
}

/// Broadcasting ops: every input is an elementwise operand.
pub fn is_broadcast(k: OpKind) -> bool {
    use OpKind as K;
    matches!(
        k,
        K::Add
            | K::Sub
            | K::Mul
            | K::Div
            | K::Pow
            | K::Mod
            | K::Max
            | K::Min
            | K::Sum
            | K::Mean
            | K::PRelu
            | K::Equal
            | K::Greater
            | K::GreaterOrEqual
            | K::Less
            | K::LessOrEqual
            | K::And
            | K::Or
            | K::Xor
            | K::Where
            | K::BitwiseAnd
            | K::BitwiseOr
            | K::BitwiseXor
            | K::BitShift
    )
}

/// A unary op: every output takes input 0's state.
pub fn unary(cx: &mut Cx, g: &mut Graph, id: NodeId) -> Result<(), PassError> {
    let ins = g.inputs_of(id);
    let Some(Some(x)) = ins.first().copied() else { return Ok(()) };
    let Some(p) = cx.state(x).cloned() else {
        return cx.materialize_inputs(g, id);
    };
    // Clip's min/max, CastLike's target: not data; they must be logical (they are scalars).
    for (slot, v) in ins.iter().enumerate().skip(1) {
        if let Some(v) = v
            && cx.state(*v).is_some()
        {
            let l = cx.logical(g, *v)?;
            g.set_input(id, slot, Some(l)).map_err(|e| err(&g.node(id).name, e))?;
        }
    }
    let n_out = g.node(id).outputs.len();
    for port in 0..n_out {
        if !g.node(id).outputs[port].name.is_empty() {
            cx.set_state(g, id.out(port), p.clone());
        }
    }
    Ok(())
}

/// A broadcasting op.
pub fn broadcast(cx: &mut Cx, g: &mut Graph, id: NodeId) -> Result<(), PassError> {
    let ins = g.inputs_of(id);
    let mut ranks = Vec::with_capacity(ins.len());
    for v in ins.iter().flatten() {
        match cx.rank(g, *v) {
            Some(r) => ranks.push(r),
            None => return cx.materialize_inputs(g, id),
        }
    }
    let Some(&r) = ranks.iter().max() else { return Ok(()) };
    // The target state: the first permuted operand of full rank.
    let target = ins
        .iter()
        .flatten()
        .filter_map(|v| cx.state(*v).filter(|p| p.len() == r).cloned())
        .next();
    let Some(p) = target else {
        return cx.materialize_inputs(g, id);
    };
    let name = g.node(id).name.clone();
    for (slot, v) in ins.iter().enumerate() {
        let Some(v) = v else { continue };
        let nv = cx.broadcast_to_state(g, *v, r, &p)?;
        if nv != *v {
            g.set_input(id, slot, Some(nv)).map_err(|e| err(&name, e))?;
        }
    }
    cx.set_state(g, id.out(0), p);
    Ok(())
}
