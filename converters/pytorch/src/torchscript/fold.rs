//! Arithmetic on numbers known at import time, with Python/torch semantics: integer results
//! stay integers (checked, no overflow), true division gives a float, `//` and `%` floor,
//! comparisons give bools. Used for Python operators on ints and for ATen ops whose operands
//! are all known (traced size arithmetic such as `torch.mul(bsz, CONSTANTS.c0)`).

use super::ast::BinOp;
use super::value::Num;

type R<T> = Result<T, String>;

fn both_int(a: Num, b: Num) -> Option<(i64, i64)> {
    match (a, b) {
        (Num::Float(_), _) | (_, Num::Float(_)) => None,
        _ => Some((a.i64(), b.i64())),
    }
}

fn floor_div(x: i64, y: i64) -> R<i64> {
    if y == 0 {
        return Err("integer division by zero".into());
    }
    let q = x.checked_div(y).ok_or("integer overflow")?;
    Ok(if (x % y != 0) && ((x < 0) != (y < 0)) { q - 1 } else { q })
}

/// `a op b`.
pub fn binary(op: BinOp, a: Num, b: Num) -> R<Num> {
    let ints = both_int(a, b);
    let (x, y) = (a.f64(), b.f64());
    let ovf = || "integer overflow".to_string();
    Ok(match op {
        BinOp::Add => match ints {
            Some((i, j)) => Num::Int(i.checked_add(j).ok_or_else(ovf)?),
            None => Num::Float(x + y),
        },
        BinOp::Sub => match ints {
            Some((i, j)) => Num::Int(i.checked_sub(j).ok_or_else(ovf)?),
            None => Num::Float(x - y),
        },
        BinOp::Mul => match ints {
            Some((i, j)) => Num::Int(i.checked_mul(j).ok_or_else(ovf)?),
            None => Num::Float(x * y),
        },
        BinOp::Div => Num::Float(x / y),
        BinOp::FloorDiv => match ints {
            Some((i, j)) => Num::Int(floor_div(i, j)?),
            None => Num::Float((x / y).floor()),
        },
        BinOp::Mod => match ints {
            Some((i, j)) => Num::Int(i.checked_sub(floor_div(i, j)?.checked_mul(j).ok_or_else(ovf)?).ok_or_else(ovf)?),
            None => Num::Float(x - (x / y).floor() * y),
        },
        BinOp::Pow => match ints {
            Some((i, j)) if j >= 0 => Num::Int(i.checked_pow(u32::try_from(j).map_err(|_| ovf())?).ok_or_else(ovf)?),
            _ => Num::Float(x.powf(y)),
        },
        BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor | BinOp::Shl | BinOp::Shr => {
            let (i, j) = ints.ok_or("bitwise operator on floats")?;
            let r = match op {
                BinOp::BitAnd => i & j,
                BinOp::BitOr => i | j,
                BinOp::BitXor => i ^ j,
                BinOp::Shl => i.checked_shl(u32::try_from(j).map_err(|_| ovf())?).ok_or_else(ovf)?,
                _ => i.checked_shr(u32::try_from(j).map_err(|_| ovf())?).ok_or_else(ovf)?,
            };
            if matches!((a, b), (Num::Bool(_), Num::Bool(_))) && !matches!(op, BinOp::Shl | BinOp::Shr) {
                Num::Bool(r != 0)
            } else {
                Num::Int(r)
            }
        }
        BinOp::Eq => Num::Bool(x == y),
        BinOp::Ne => Num::Bool(x != y),
        BinOp::Lt => Num::Bool(x < y),
        BinOp::Le => Num::Bool(x <= y),
        BinOp::Gt => Num::Bool(x > y),
        BinOp::Ge => Num::Bool(x >= y),
        BinOp::And | BinOp::Or | BinOp::Is | BinOp::IsNot | BinOp::In | BinOp::NotIn | BinOp::MatMul => {
            return Err(format!("operator {op:?} on numbers"));
        }
    })
}

/// An ATen op on known numbers (`add`, `mul`, `div` with its rounding modes, comparisons …);
/// `None` when the op is not plain arithmetic.
pub fn aten(op: &str, args: &[Num], rounding: Option<&str>) -> Option<R<Num>> {
    let op = op.trim_end_matches('_');
    let a = *args.first()?;
    let b = args.get(1).copied();
    let bin = |o: BinOp| b.map(|b| binary(o, a, b));
    match op {
        "add" => {
            let alpha = args.get(2).copied().unwrap_or(Num::Int(1));
            let b = b?;
            Some(binary(BinOp::Mul, b, alpha).and_then(|s| binary(BinOp::Add, a, s)))
        }
        "sub" => {
            let alpha = args.get(2).copied().unwrap_or(Num::Int(1));
            let b = b?;
            Some(binary(BinOp::Mul, b, alpha).and_then(|s| binary(BinOp::Sub, a, s)))
        }
        "rsub" => b.map(|b| binary(BinOp::Sub, b, a)),
        "mul" => bin(BinOp::Mul),
        "div" => match rounding {
            Some("trunc") => b.map(|b| match (a, b) {
                (Num::Float(_), _) | (_, Num::Float(_)) => Ok(Num::Float((a.f64() / b.f64()).trunc())),
                _ => {
                    let (i, j) = (a.i64(), b.i64());
                    i.checked_div(j).map(Num::Int).ok_or_else(|| "integer division by zero".to_string())
                }
            }),
            Some("floor") => bin(BinOp::FloorDiv),
            _ => bin(BinOp::Div),
        },
        "floor_divide" | "floordiv" => bin(BinOp::FloorDiv),
        "remainder" => bin(BinOp::Mod),
        "pow" => bin(BinOp::Pow),
        "neg" => Some(match a {
            Num::Float(f) => Ok(Num::Float(-f)),
            n => n.i64().checked_neg().map(Num::Int).ok_or_else(|| "integer overflow".to_string()),
        }),
        "eq" => bin(BinOp::Eq),
        "ne" => bin(BinOp::Ne),
        "lt" => bin(BinOp::Lt),
        "le" => bin(BinOp::Le),
        "gt" => bin(BinOp::Gt),
        "ge" => bin(BinOp::Ge),
        "sqrt" => Some(Ok(Num::Float(a.f64().sqrt()))),
        "floor" => Some(Ok(Num::Float(a.f64().floor()))),
        "ceil" => Some(Ok(Num::Float(a.f64().ceil()))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_semantics() {
        assert_eq!(binary(BinOp::FloorDiv, Num::Int(-7), Num::Int(2)).unwrap(), Num::Int(-4));
        assert_eq!(binary(BinOp::Mod, Num::Int(-7), Num::Int(2)).unwrap(), Num::Int(1));
        assert_eq!(binary(BinOp::Div, Num::Int(7), Num::Int(2)).unwrap(), Num::Float(3.5));
        assert!(binary(BinOp::Mul, Num::Int(i64::MAX), Num::Int(2)).is_err());
        assert!(binary(BinOp::FloorDiv, Num::Int(1), Num::Int(0)).is_err());
        assert_eq!(
            aten("div", &[Num::Int(16), Num::Int(2)], Some("trunc")).unwrap().unwrap(),
            Num::Int(8)
        );
        assert_eq!(aten("add", &[Num::Int(5), Num::Int(0)], None).unwrap().unwrap(), Num::Int(5));
    }
}
