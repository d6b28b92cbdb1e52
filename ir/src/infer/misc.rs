//! Shapes of the remaining ops with simple rules: losses, GridSample, attention, rotary
//! embedding, causal conv with state, Einsum, the training optimizers, Det and ML binarizer.

use super::{Cx, Rule, one};
use crate::ops::Op;
use crate::shape::{Dim, Shape};

fn add(a: &Dim, b: &Dim) -> Option<Dim> {
    Some(Dim::Known(a.known()?.checked_add(b.known()?)?))
}

fn div(a: &Dim, h: Option<i64>) -> Option<Dim> {
    let h = u64::try_from(h?).ok().filter(|&h| h > 0)?;
    let a = a.known()?;
    (a % h == 0).then_some(Dim::Known(a / h))
}

fn mul(a: &Dim, h: Option<i64>) -> Option<Dim> {
    Some(Dim::Known(a.known()?.checked_mul(u64::try_from(h?).ok()?)?))
}

fn attention(cx: &Cx<'_>, a: &crate::ops::defs::nn::Attention) -> Vec<Option<Shape>> {
    let mut out = vec![None; cx.n_out];
    let (Some(q), Some(k), Some(v)) = (cx.dims(0), cx.dims(1), cx.dims(2)) else {
        return out;
    };
    // Work in 4-D: [B, H, S, E].
    let four = |d: &[Dim], heads: Option<i64>| -> Option<Vec<Dim>> {
        match d.len() {
            4 => Some(d.to_vec()),
            3 => Some(vec![
                d[0].clone(),
                Dim::Known(u64::try_from(heads?).ok()?),
                d[1].clone(),
                div(&d[2], heads)?,
            ]),
            _ => None,
        }
    };
    let (Some(q4), Some(k4), Some(v4)) = (four(q, a.q_num_heads), four(k, a.kv_num_heads), four(v, a.kv_num_heads)) else {
        return out;
    };
    out[0] = if q.len() == 4 {
        Some(Shape(vec![q4[0].clone(), q4[1].clone(), q4[2].clone(), v4[3].clone()]))
    } else {
        mul(&v4[3], a.q_num_heads).map(|e| Shape(vec![q4[0].clone(), q4[2].clone(), e]))
    };
    let past = if cx.present(4) {
        cx.dims(4).and_then(|p| p.get(2)).cloned()
    } else {
        Some(Dim::Known(0))
    };
    let total = past.as_ref().and_then(|p| add(p, &k4[2]));
    let kv = |x: &[Dim]| total.clone().map(|t| Shape(vec![x[0].clone(), x[1].clone(), t, x[3].clone()]));
    if cx.n_out > 1 {
        out[1] = kv(&k4);
    }
    if cx.n_out > 2 {
        out[2] = kv(&v4);
    }
    if cx.n_out > 3 {
        out[3] = total.clone().map(|t| Shape(vec![q4[0].clone(), q4[1].clone(), q4[2].clone(), t]));
    }
    out
}

/// Einsum without ellipses: each letter names one dim; the output is explicit (`->`) or the
/// letters used once, in alphabetical order.
fn einsum(cx: &Cx<'_>, eq: &str) -> Result<Option<Shape>, String> {
    let eq: String = eq.chars().filter(|c| !c.is_whitespace()).collect();
    if eq.contains('.') {
        return Ok(None);
    }
    let (lhs, rhs) = match eq.split_once("->") {
        Some((l, r)) => (l, Some(r)),
        None => (eq.as_str(), None),
    };
    let terms: Vec<&str> = lhs.split(',').collect();
    if terms.len() != cx.n_in() {
        return Err(format!("equation has {} operands, op has {} inputs", terms.len(), cx.n_in()));
    }
    let mut dims: std::collections::BTreeMap<char, Dim> = Default::default();
    let mut count: std::collections::BTreeMap<char, usize> = Default::default();
    for (i, t) in terms.iter().enumerate() {
        let Some(d) = cx.dims(i) else { return Ok(None) };
        if d.len() != t.chars().count() {
            return Err(format!("operand {i} has rank {}, the equation says {}", d.len(), t.len()));
        }
        for (c, x) in t.chars().zip(d) {
            *count.entry(c).or_default() += 1;
            match dims.get(&c) {
                Some(Dim::Known(1)) | None => {
                    dims.insert(c, x.clone());
                }
                Some(Dim::Known(a)) if matches!(x, Dim::Known(b) if b != a && *b != 1) => {
                    return Err(format!("letter {c} is {a} and {x}"));
                }
                Some(_) => {}
            }
        }
    }
    let out: String = match rhs {
        Some(r) => r.to_string(),
        None => count.iter().filter(|(_, n)| **n == 1).map(|(c, _)| *c).collect(),
    };
    Ok(out.chars().map(|c| dims.get(&c).cloned()).collect::<Option<Vec<_>>>().map(Shape))
}

pub(crate) fn infer(cx: &Cx<'_>) -> Rule {
    match cx.op {
        Op::SoftmaxCrossEntropyLoss(l) => {
            let loss = if l.reduction == "none" {
                cx.shape(1).cloned()
            } else {
                Some(Shape(vec![]))
            };
            Ok(Some(
                (0..cx.n_out)
                    .map(|k| if k == 0 { loss.clone() } else { cx.shape(0).cloned() })
                    .collect(),
            ))
        }
        Op::NegativeLogLikelihoodLoss(l) => one(if l.reduction == "none" {
            cx.shape(1).cloned()
        } else {
            Some(Shape(vec![]))
        }),
        Op::GridSample(g) if g.layout == crate::ops::Layout::ChannelsFirst => {
            let (Some(x), Some(grid)) = (cx.dims(0), cx.dims(1)) else {
                return one(None);
            };
            if x.len() < 3 || grid.len() != x.len() {
                return one(None);
            }
            let mut o = vec![x[0].clone(), x[1].clone()];
            o.extend(grid[1..grid.len() - 1].iter().cloned());
            one(Some(Shape(o)))
        }
        Op::Attention(a) => Ok(Some(attention(cx, a))),
        Op::Einsum(e) => one(einsum(cx, &e.equation)?),
        Op::RotaryEmbedding(_) | Op::Binarizer(_) => one(cx.shape(0).cloned()),
        Op::CausalConvWithState(_) => {
            let state = cx.dims(0).zip(cx.dims(1)).and_then(|(x, w)| {
                let k = w.last()?.known()?;
                let mut s = x.to_vec();
                *s.last_mut()? = Dim::Known(k.checked_sub(1)?);
                Some(Shape(s))
            });
            Ok(Some(vec![cx.shape(0).cloned(), state]))
        }
        Op::Adam(_) | Op::Adagrad(_) | Op::Momentum(_) => {
            // Outputs are the updated tensors, shaped like the inputs after R and T, in order.
            Ok(Some((0..cx.n_out).map(|k| cx.shape(2 + k).cloned()).collect()))
        }
        Op::Det(_) => {
            let Some(d) = cx.dims(0) else {
                return one(None);
            };
            if d.len() < 2 {
                return Err("Det needs a matrix".into());
            }
            one(Some(Shape(d[..d.len() - 2].to_vec())))
        }
        _ => Ok(None),
    }
}
