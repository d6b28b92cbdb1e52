//! Elementwise ops: unary and binary arithmetic, activations, comparisons and logic, casts.
//!
//! | file | ops |
//! |---|---|
//! | `kernels` | the generic element trait, dtype dispatch and broadcasting helpers |
//! | `unary` | unary math and activations |
//! | `binary` | binary/variadic arithmetic, Pow, Mod, PRelu, Clip, Expand |
//! | `logical` | boolean, bitwise and comparison ops |
//! | `cast_ops` | Cast, CastLike, BitCast, IsInf, IsNaN, Where |

mod binary;
mod cast_ops;
pub(crate) mod kernels;
mod logical;
mod unary;

use super::OpResult;
use crate::interp::NodeCtx;
use crate::value::Value;
use edgeport_ir::Op;

/// Runs the op if it belongs to this group.
pub fn run(op: &Op, cx: &mut NodeCtx<'_>) -> Option<OpResult> {
    let out = if let Some(r) = binary::run(op, cx) {
        r
    } else if is_type_op(op) {
        let inputs: Result<Vec<_>, _> = (0..cx.n_inputs()).map(|i| cx.opt_tensor(i)).collect();
        match inputs {
            Ok(v) => cast_ops::run(op, &v)?,
            Err(e) => Err(e),
        }
    } else {
        let a = match cx.tensor(0) {
            Ok(a) => a,
            Err(e) => return is_mine(op).then_some(Err(e)),
        };
        if let Some(r) = unary::run(op, a) {
            r
        } else {
            let b = cx.opt_tensor(1).ok().flatten();
            logical::run(op, a, b)?
        }
    };
    Some(out.map(|t| vec![Value::Tensor(t)]))
}

fn is_type_op(op: &Op) -> bool {
    matches!(
        op,
        Op::Cast(_) | Op::CastLike(_) | Op::BitCast(_) | Op::IsInf(_) | Op::IsNaN(_) | Op::Where(_)
    )
}

/// Whether the op is one of the unary or logical ops of this group (for input errors).
fn is_mine(op: &Op) -> bool {
    matches!(
        op,
        Op::Abs(_)
            | Op::Acos(_)
            | Op::Acosh(_)
            | Op::Asin(_)
            | Op::Asinh(_)
            | Op::Atan(_)
            | Op::Atanh(_)
            | Op::Ceil(_)
            | Op::Celu(_)
            | Op::Cos(_)
            | Op::Cosh(_)
            | Op::Elu(_)
            | Op::Erf(_)
            | Op::Exp(_)
            | Op::Floor(_)
            | Op::Gelu(_)
            | Op::HardSigmoid(_)
            | Op::HardSwish(_)
            | Op::LeakyRelu(_)
            | Op::Log(_)
            | Op::Mish(_)
            | Op::Neg(_)
            | Op::Reciprocal(_)
            | Op::Relu(_)
            | Op::Round(_)
            | Op::Selu(_)
            | Op::Sigmoid(_)
            | Op::Sign(_)
            | Op::Sin(_)
            | Op::Sinh(_)
            | Op::Softplus(_)
            | Op::Softsign(_)
            | Op::Sqrt(_)
            | Op::Swish(_)
            | Op::Tan(_)
            | Op::Tanh(_)
            | Op::ThresholdedRelu(_)
            | Op::Shrink(_)
            | Op::And(_)
            | Op::BitShift(_)
            | Op::BitwiseAnd(_)
            | Op::BitwiseNot(_)
            | Op::BitwiseOr(_)
            | Op::BitwiseXor(_)
            | Op::Equal(_)
            | Op::Greater(_)
            | Op::GreaterOrEqual(_)
            | Op::Less(_)
            | Op::LessOrEqual(_)
            | Op::Not(_)
            | Op::Or(_)
            | Op::Xor(_)
    )
}
