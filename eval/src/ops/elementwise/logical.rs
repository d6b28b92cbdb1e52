//! The logical family: boolean And/Or/Xor/Not, bitwise ops, BitShift and the comparisons
//! (Equal also on bool and string tensors).

use super::kernels::{compare, dtype_err, pair_err};
use crate::error::OpError;
use crate::ops::util::zip_broadcast;
use crate::tensor::Tensor;
use edgeport_ir::Op;
use edgeport_ir::ops::logical::BitShift;
use std::cmp::Ordering;

/// Runs a logical op on `a` (and `b` for binary ops), or `None` if `op` is not one of them.
pub fn run(op: &Op, a: &Tensor, b: Option<&Tensor>) -> Option<Result<Tensor, OpError>> {
    let r = match op {
        Op::Not(_) => match a {
            Tensor::Bool(x) => Ok(Tensor::Bool(x.mapv(|v| !v))),
            other => Err(dtype_err(other)),
        },
        Op::BitwiseNot(_) => bitwise_not(a),
        _ => {
            let b = match b {
                Some(b) => b,
                None => {
                    return is_binary(op).then(|| Err(OpError::invalid("a second input is required")));
                }
            };
            match op {
                Op::And(_) => bools(a, b, |x, y| x & y),
                Op::Or(_) => bools(a, b, |x, y| x | y),
                Op::Xor(_) => bools(a, b, |x, y| x ^ y),
                Op::BitwiseAnd(_) => bitwise(a, b, Bit::And),
                Op::BitwiseOr(_) => bitwise(a, b, Bit::Or),
                Op::BitwiseXor(_) => bitwise(a, b, Bit::Xor),
                Op::BitShift(BitShift { direction }) => bitshift(a, b, direction),
                Op::Equal(_) => equal(a, b),
                Op::Greater(_) => compare(a, b, |o| o == Ordering::Greater),
                Op::GreaterOrEqual(_) => compare(a, b, |o| o != Ordering::Less),
                Op::Less(_) => compare(a, b, |o| o == Ordering::Less),
                Op::LessOrEqual(_) => compare(a, b, |o| o != Ordering::Greater),
                _ => return None,
            }
        }
    };
    Some(r)
}

fn is_binary(op: &Op) -> bool {
    matches!(
        op,
        Op::And(_)
            | Op::Or(_)
            | Op::Xor(_)
            | Op::BitwiseAnd(_)
            | Op::BitwiseOr(_)
            | Op::BitwiseXor(_)
            | Op::BitShift(_)
            | Op::Equal(_)
            | Op::Greater(_)
            | Op::GreaterOrEqual(_)
            | Op::Less(_)
            | Op::LessOrEqual(_)
    )
}

fn bools(a: &Tensor, b: &Tensor, f: fn(bool, bool) -> bool) -> Result<Tensor, OpError> {
    match (a, b) {
        (Tensor::Bool(p), Tensor::Bool(q)) => Ok(Tensor::Bool(zip_broadcast(p, q, |x, y| f(*x, *y))?)),
        (x, y) => Err(pair_err(x, y)),
    }
}

fn equal(a: &Tensor, b: &Tensor) -> Result<Tensor, OpError> {
    match (a, b) {
        (Tensor::Bool(p), Tensor::Bool(q)) => Ok(Tensor::Bool(zip_broadcast(p, q, |x, y| x == y)?)),
        (Tensor::Str(p), Tensor::Str(q)) => Ok(Tensor::Bool(zip_broadcast(p, q, |x, y| x == y)?)),
        _ => compare(a, b, |o| o == Ordering::Equal),
    }
}

#[derive(Clone, Copy)]
enum Bit {
    And,
    Or,
    Xor,
}

/// Matches two tensors of the same integer dtype; `$body` yields the output array.
macro_rules! int_pair {
    ($a:expr, $b:expr, $p:ident, $q:ident => $body:expr; $($v:ident)*) => {
        match ($a, $b) {
            $( (Tensor::$v($p), Tensor::$v($q)) => Tensor::$v($body), )*
            (x, y) => return Err(pair_err(x, y)),
        }
    };
}

fn bitwise(a: &Tensor, b: &Tensor, op: Bit) -> Result<Tensor, OpError> {
    Ok(int_pair!(a, b, p, q => zip_broadcast(p, q, |x, y| match op {
        Bit::And => x & y,
        Bit::Or => x | y,
        Bit::Xor => x ^ y,
    })?; I8 I16 I32 I64 U8 U16 U32 U64))
}

fn bitwise_not(a: &Tensor) -> Result<Tensor, OpError> {
    Ok(match a {
        Tensor::I8(x) => Tensor::I8(x.mapv(|v| !v)),
        Tensor::I16(x) => Tensor::I16(x.mapv(|v| !v)),
        Tensor::I32(x) => Tensor::I32(x.mapv(|v| !v)),
        Tensor::I64(x) => Tensor::I64(x.mapv(|v| !v)),
        Tensor::U8(x) => Tensor::U8(x.mapv(|v| !v)),
        Tensor::U16(x) => Tensor::U16(x.mapv(|v| !v)),
        Tensor::U32(x) => Tensor::U32(x.mapv(|v| !v)),
        Tensor::U64(x) => Tensor::U64(x.mapv(|v| !v)),
        other => return Err(dtype_err(other)),
    })
}

/// BitShift on unsigned integers; shifting by the bit width or more gives 0.
fn bitshift(a: &Tensor, b: &Tensor, direction: &str) -> Result<Tensor, OpError> {
    let left = match direction {
        "LEFT" => true,
        "RIGHT" => false,
        d => {
            return Err(OpError::invalid(format!("BitShift: unknown direction '{d}'")));
        }
    };
    Ok(int_pair!(a, b, p, q => zip_broadcast(p, q, |x, y| {
        let s = shift_amount(*y);
        let r = if left { s.and_then(|s| x.checked_shl(s)) } else { s.and_then(|s| x.checked_shr(s)) };
        r.unwrap_or(0)
    })?; U8 U16 U32 U64))
}

/// A shift count as u32 (`None` if it does not fit).
fn shift_amount<T: TryInto<u32>>(y: T) -> Option<u32> {
    y.try_into().ok()
}
