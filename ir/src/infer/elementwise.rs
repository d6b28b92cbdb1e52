//! Shapes of elementwise ops: unary ops keep their input's shape; binary and variadic ops
//! broadcast (numpy rules, symbolic dims included).

use super::{Cx, Rule, one};
use crate::ops::Op;
use crate::shape::{Dim, Shape};

/// Broadcasts two shapes. `Ok(None)` when the result cannot be known (two different symbols);
/// `Err` when known sizes conflict.
pub(crate) fn broadcast(a: &Shape, b: &Shape) -> Result<Option<Shape>, String> {
    let r = a.rank().max(b.rank());
    let mut out = Vec::with_capacity(r);
    for i in 0..r {
        let da = (i + a.rank()).checked_sub(r).map(|j| &a.0[j]);
        let db = (i + b.rank()).checked_sub(r).map(|j| &b.0[j]);
        let d = match (da, db) {
            (Some(x), None) | (None, Some(x)) => x.clone(),
            (Some(x), Some(y)) if x == y => x.clone(),
            (Some(Dim::Known(1)), Some(y)) => y.clone(),
            (Some(x), Some(Dim::Known(1))) => x.clone(),
            (Some(Dim::Known(x)), Some(Dim::Known(y))) => {
                return Err(format!("shapes {a} and {b} do not broadcast ({x} vs {y})"));
            }
            // A symbol against a known size > 1 must be that size (or the op is invalid).
            (Some(Dim::Sym(_)), Some(k @ Dim::Known(_))) | (Some(k @ Dim::Known(_)), Some(Dim::Sym(_))) => k.clone(),
            _ => return Ok(None),
        };
        out.push(d);
    }
    Ok(Some(Shape(out)))
}

/// Broadcasts the shapes of the given inputs (unknown if any is unknown).
pub(crate) fn broadcast_inputs(cx: &Cx<'_>, slots: impl IntoIterator<Item = usize>) -> Result<Option<Shape>, String> {
    let mut acc: Option<Shape> = Some(Shape(vec![]));
    for i in slots {
        let Some(s) = cx.shape(i) else {
            return Ok(None);
        };
        acc = match acc {
            Some(a) => broadcast(&a, s)?,
            None => return Ok(None),
        };
    }
    Ok(acc)
}

fn same(cx: &Cx<'_>) -> Rule {
    one(cx.shape(0).cloned())
}

pub(crate) fn infer(cx: &Cx<'_>) -> Rule {
    use Op::*;
    match cx.op {
        Abs(_)
        | Acos(_)
        | Acosh(_)
        | Asin(_)
        | Asinh(_)
        | Atan(_)
        | Atanh(_)
        | Ceil(_)
        | Celu(_)
        | Cos(_)
        | Cosh(_)
        | Elu(_)
        | Erf(_)
        | Exp(_)
        | Floor(_)
        | Gelu(_)
        | HardSigmoid(_)
        | HardSwish(_)
        | Hardmax(_)
        | LeakyRelu(_)
        | Log(_)
        | LogSoftmax(_)
        | Mish(_)
        | Neg(_)
        | Reciprocal(_)
        | Relu(_)
        | Round(_)
        | Selu(_)
        | Sigmoid(_)
        | Sign(_)
        | Sin(_)
        | Sinh(_)
        | Softmax(_)
        | Softplus(_)
        | Softsign(_)
        | Sqrt(_)
        | Swish(_)
        | Tan(_)
        | Tanh(_)
        | ThresholdedRelu(_)
        | Not(_)
        | BitwiseNot(_)
        | IsInf(_)
        | IsNaN(_)
        | Identity(_)
        | Cast(_)
        | CastLike(_)
        | Shrink(_)
        | LRN(_)
        | LpNormalization(_)
        | MeanVarianceNormalization(_)
        | InstanceNormalization(_)
        | CumSum(_)
        | CumProd(_)
        | Trilu(_)
        | ReverseSequence(_)
        | ScatterElements(_)
        | ScatterND(_)
        | EyeLike(_)
        | RandomNormalLike(_)
        | RandomUniformLike(_)
        | Bernoulli(_)
        | Clip(_)
        | GroupNormalization(_)
        | DequantizeLinear(_)
        | QuantizeLinear(_) => same(cx),
        BitCast(b) => {
            // Same width: same shape. (Other widths change the last dim; left unknown.)
            let to = i32::try_from(b.to).ok().and_then(crate::dtype::DType::from_onnx_code);
            let same = to.zip(cx.dtype(0)).is_some_and(|(t, f)| t.bits() == f.bits());
            one(if same { cx.shape(0).cloned() } else { None })
        }
        Dropout(_) => Ok(Some(vec![cx.shape(0).cloned(); cx.n_out])),
        DynamicQuantizeLinear(_) => {
            let scalar = Some(crate::shape::Shape(vec![]));
            Ok(Some(vec![cx.shape(0).cloned(), scalar.clone(), scalar]))
        }
        Add(_) | Sub(_) | Mul(_) | Div(_) | Pow(_) | Mod(_) | And(_) | Or(_) | Xor(_) | Equal(_) | Greater(_) | GreaterOrEqual(_)
        | Less(_) | LessOrEqual(_) | BitShift(_) | BitwiseAnd(_) | BitwiseOr(_) | BitwiseXor(_) | PRelu(_) => {
            one(broadcast_inputs(cx, 0..2)?)
        }
        Max(_) | Min(_) | Sum(_) | Mean(_) | Where(_) => one(broadcast_inputs(cx, 0..cx.n_in())?),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(d: &[&str]) -> Shape {
        Shape(
            d.iter()
                .map(|x| x.parse::<u64>().map(Dim::Known).unwrap_or_else(|_| Dim::Sym(x.to_string())))
                .collect(),
        )
    }

    #[test]
    fn broadcasting() {
        assert_eq!(broadcast(&s(&["N", "1", "3"]), &s(&["4", "1"])).unwrap(), Some(s(&["N", "4", "3"])));
        assert_eq!(broadcast(&s(&["N"]), &s(&["5"])).unwrap(), Some(s(&["5"])));
        assert_eq!(broadcast(&s(&["N"]), &s(&["M"])).unwrap(), None);
        assert!(broadcast(&s(&["2"]), &s(&["3"])).is_err());
    }
}
