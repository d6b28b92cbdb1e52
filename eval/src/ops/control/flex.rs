//! ai.onnx.preview `FlexAttention`: `softmax(score_mod((Q·Kᵀ)·scale))` → `prob_mod` → `·V`
//! over rank-4 inputs, with grouped-query heads.
//!
//! Rounding follows the op's function body: Q and K are each multiplied by `√scale` and their
//! product formed in the input dtype; scores, softmax, the modifiers and the product with V
//! run in `softmax_precision` (f32, or f64 for f64 inputs), and Y is cast back.

use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use crate::tensor::Tensor;
use crate::value::Value;
use edgeport_ir::DType;
use edgeport_ir::ops::defs::training::FlexAttention;
use half::{bf16, f16};

/// Rounds an f64 to the precision of `d` (float dtypes; others unchanged).
fn round_to(d: DType, x: f64) -> f64 {
    match d {
        DType::F32 => x as f32 as f64,
        DType::F16 => f16::from_f64(x).to_f64(),
        DType::BF16 => bf16::from_f64(x).to_f64(),
        _ => x,
    }
}

fn dims4(t: &Tensor, what: &str) -> Result<[usize; 4], OpError> {
    match t.shape() {
        [a, b, c, d] => Ok([*a, *b, *c, *d]),
        s => Err(OpError::invalid(format!("FlexAttention {what} must be rank 4, got {s:?}"))),
    }
}

pub(super) fn run(a: &FlexAttention, cx: &mut NodeCtx<'_>) -> OpResult {
    let (q, k, v) = (cx.tensor(0)?, cx.tensor(1)?, cx.tensor(2)?);
    let dt = q.dtype();
    if !dt.is_float() || k.dtype() != dt || v.dtype() != dt {
        return Err(OpError::DType(format!("{} / {} / {}", dt, k.dtype(), v.dtype())));
    }
    let [b, hq, l, e] = dims4(q, "Q")?;
    let [bk, hkv, s, ek] = dims4(k, "K")?;
    let [bv, hv, sv, ev] = dims4(v, "V")?;
    if bk != b || bv != b || ek != e || hv != hkv || sv != s || hkv == 0 || hq % hkv != 0 {
        return Err(OpError::invalid(format!(
            "FlexAttention shapes do not agree: Q {:?}, K {:?}, V {:?}",
            q.shape(),
            k.shape(),
            v.shape()
        )));
    }
    let group = hq / hkv;
    let prec = match a.softmax_precision {
        Some(code) => DType::from_onnx_code(code as i32)
            .filter(|d| d.is_float())
            .ok_or_else(|| OpError::invalid(format!("softmax_precision {code} is not a float type")))?,
        None if dt == DType::F64 => DType::F64,
        None => DType::F32,
    };
    let scale = a.scale.unwrap_or(1.0 / (e as f32).sqrt());
    let root = round_to(dt, scale.sqrt() as f64);
    let qv: Vec<f64> = q.to_f64_vec()?.into_iter().map(|x| round_to(dt, x * root)).collect();
    let kv: Vec<f64> = k.to_f64_vec()?.into_iter().map(|x| round_to(dt, x * root)).collect();
    let vv: Vec<f64> = v.to_f64_vec()?.into_iter().map(|x| round_to(prec, x)).collect();
    // Scores [b][hq][l][s].
    let mut sc = vec![0.0; b * hq * l * s];
    for bi in 0..b {
        for h in 0..hq {
            let kh = h / group;
            for i in 0..l {
                let qo = ((bi * hq + h) * l + i) * e;
                for j in 0..s {
                    let ko = ((bi * hkv + kh) * s + j) * e;
                    let dot: f64 = (0..e).map(|c| qv[qo + c] * kv[ko + c]).sum();
                    sc[((bi * hq + h) * l + i) * s + j] = round_to(prec, round_to(dt, dot));
                }
            }
        }
    }
    let shape = [b, hq, l, s];
    if let Some(g) = &a.score_mod {
        sc = modify(cx, g, prec, &shape, sc, "score_mod")?;
    }
    for row in sc.chunks_mut(s.max(1)) {
        let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut sum = 0.0;
        for x in row.iter_mut() {
            *x = round_to(prec, (*x - m).exp());
            sum += *x;
        }
        for x in row.iter_mut() {
            *x = round_to(prec, *x / sum);
        }
    }
    if let Some(g) = &a.prob_mod {
        sc = modify(cx, g, prec, &shape, sc, "prob_mod")?;
    }
    let mut y = vec![0.0; b * hq * l * ev];
    for bi in 0..b {
        for h in 0..hq {
            let kh = h / group;
            for i in 0..l {
                let po = ((bi * hq + h) * l + i) * s;
                for c in 0..ev {
                    let acc: f64 = (0..s).map(|j| sc[po + j] * vv[((bi * hkv + kh) * s + j) * ev + c]).sum();
                    y[((bi * hq + h) * l + i) * ev + c] = round_to(prec, acc);
                }
            }
        }
    }
    Ok(vec![Value::Tensor(Tensor::from_f64(dt, &[b, hq, l, ev], y)?)])
}

/// Runs a modifier subgraph on a `prec` tensor of `shape` and reads its one output back.
fn modify(cx: &NodeCtx<'_>, g: &edgeport_ir::Graph, prec: DType, shape: &[usize], x: Vec<f64>, what: &str) -> Result<Vec<f64>, OpError> {
    let t = Tensor::from_f64(prec, shape, x)?;
    let out = cx.run_subgraph(g, vec![Value::Tensor(t)])?;
    match out.first() {
        Some(Value::Tensor(t)) if t.shape() == shape => Ok(t.to_f64_vec()?),
        Some(v) => Err(OpError::invalid(format!(
            "{what} yields {}, expected shape {shape:?}",
            v.describe()
        ))),
        None => Err(OpError::invalid(format!("{what} yields nothing"))),
    }
}
