//! SmoothQuant-style scale migration for static int8 MatMuls. Transformer activations have a
//! few outlier channels (MiniLM: ±190 next to ±4), which one per-tensor int8 range erases.
//! For a group of MatMuls reading the same activation `X [.., K]` with weights `W [K, N]`,
//! per-channel factors `s_j = max|X_j|^α / max_n|W_jn|^(1-α)` move the range from the
//! activation into the weight:
//!
//! ```text
//! X → Mul(1/s) → X' ;  W' = diag(s) · W      (X' W' = X W exactly, before quantization)
//! ```
//!
//! [`apply`] makes that float-exact rewrite before calibration, so the calibration, the
//! sensitivity search and the weight quantizer see `X'` and `W'` as any other layer.
//!
//! The Mul stays an op of its own. Folding it into the QuantizeLinear that reads it (a
//! per-tensor `Q(X'; s_t, z)` is the per-channel `Q(X; s_t·s_j, z)` along the last axis) gives
//! the same codes without the Mul, but onnxruntime runs a per-axis QuantizeLinear on a generic
//! path: 23 of them took 23.9 ms of a 37.9 ms MiniLM run (measured), against ~0.02 ms for a
//! [64, 384] Mul.

use crate::quantize::error::{QuantError, gerr};
use crate::quantize::layers::{self, Kind, float_const};
use crate::quantize::par;
use crate::quantize::qdq::{const_f32, unique};
use edgeport_eval::{Value, run_graph_with};
use edgeport_ir::ops::defs::math::Mul;
use edgeport_ir::{Graph, Op, ValueId};
use std::collections::HashMap;

/// Bounds of a smoothing factor (a channel that is zero in the activation or the weights keeps
/// factor 1).
const S_MIN: f64 = 1e-4;
const S_MAX: f64 = 1e4;

/// One smoothed group: the Mul node's output and the factors `s` (the Mul multiplies by 1/s).
#[derive(Clone, Debug)]
pub struct Smoothed {
    pub mul_out: ValueId,
    pub layers: Vec<String>,
    pub factors: Vec<f64>,
}

/// Per-channel max |x| and the activation's rank.
type ChannelMax = (Vec<f64>, usize);

/// Per-channel (last axis) max |x| of `acts` over `samples`, with each activation's rank.
pub fn channel_absmax(g: &Graph, samples: &[Vec<Value>], acts: &[(ValueId, usize)]) -> Result<HashMap<ValueId, ChannelMax>, QuantError> {
    let opts = crate::quantize::eval_options(g, true)?;
    let per_sample = par::map(samples, |i, s| -> Result<Vec<Option<ChannelMax>>, QuantError> {
        let (_, mut kept) = run_graph_with(g, s.clone(), &opts).map_err(|e| QuantError::Eval {
            sample: i,
            msg: e.to_string(),
        })?;
        for (&id, v) in g.inputs().iter().zip(s) {
            kept.entry(id.out(0)).or_insert_with(|| v.clone());
        }
        let mut out = Vec::with_capacity(acts.len());
        for &(v, k) in acts {
            let t = kept.get(&v).and_then(|x| x.as_tensor());
            let Some(a) = t.and_then(|t| t.to_f32_array().ok()) else {
                out.push(None);
                continue;
            };
            if a.shape().last() != Some(&k) || k == 0 {
                out.push(None);
                continue;
            }
            let mut m = vec![0f64; k];
            for (j, &x) in a.iter().enumerate() {
                if !x.is_finite() {
                    return Err(QuantError::Calibration(format!(
                        "sample {i}: activation '{}' has NaN or infinite values",
                        g.value(v).map(|x| x.name.clone()).unwrap_or_default()
                    )));
                }
                if let Some(c) = m.get_mut(j % k) {
                    *c = c.max(f64::from(x.abs()));
                }
            }
            out.push(Some((m, a.ndim())));
        }
        Ok(out)
    });
    let mut res: HashMap<ValueId, ChannelMax> = HashMap::new();
    for r in per_sample {
        for (&(v, _), m) in acts.iter().zip(r?) {
            let Some((m, rank)) = m else { continue };
            let e = res.entry(v).or_insert_with(|| (vec![0.0; m.len()], rank));
            if e.1 != rank {
                return Err(QuantError::Calibration(format!(
                    "activation '{}' changes rank between samples",
                    g.value(v).map(|x| x.name.clone()).unwrap_or_default()
                )));
            }
            for (a, b) in e.0.iter_mut().zip(m) {
                *a = a.max(b);
            }
        }
    }
    Ok(res)
}

/// The smoothing factors of one channel set.
pub fn factors(act_max: &[f64], w_max: &[f64], alpha: f64) -> Vec<f64> {
    act_max
        .iter()
        .zip(w_max)
        .map(|(&a, &w)| {
            if a > 0.0 && w > 0.0 && a.is_finite() && w.is_finite() {
                (a.powf(alpha) / w.powf(1.0 - alpha)).clamp(S_MIN, S_MAX)
            } else {
                1.0
            }
        })
        .collect()
}

/// Smooths every group of 2-D-weight MatMuls sharing a float activation (except `exclude`d
/// layers' groups); returns the groups. The float function is unchanged.
pub fn apply(g: &mut Graph, samples: &[Vec<Value>], alpha: f64, exclude: &[String]) -> Result<Vec<Smoothed>, QuantError> {
    if !(0.0..=1.0).contains(&alpha) {
        return Err(QuantError::Options(format!("smoothing alpha {alpha} is outside 0..=1")));
    }
    let ls: Vec<layers::Layer> = layers::find(g)
        .into_iter()
        .filter(|l| l.kind == Kind::MatMul && l.w_shape.len() == 2 && l.red_axis == Some(0))
        .collect();
    let mut groups: Vec<(ValueId, Vec<layers::Layer>)> = Vec::new();
    for l in ls {
        let Some(a) = l.act else { continue };
        match groups.iter_mut().find(|(v, _)| *v == a) {
            Some((_, v)) => v.push(l),
            None => groups.push((a, vec![l])),
        }
    }
    groups.retain(|(_, ls)| !ls.iter().any(|l| exclude.contains(&l.name)));
    let acts: Vec<(ValueId, usize)> = groups.iter().filter_map(|(a, ls)| ls.first().map(|l| (*a, l.w_shape[0]))).collect();
    if acts.is_empty() || samples.is_empty() {
        return Ok(Vec::new());
    }
    let amax = channel_absmax(g, samples, &acts)?;
    let mut done = Vec::new();
    for (a, ls) in groups {
        let Some((am, _)) = amax.get(&a) else { continue };
        let k = am.len();
        let mut wmax = vec![0f64; k];
        let mut ws = Vec::with_capacity(ls.len());
        for l in &ls {
            let w = float_const(g, l.weight)
                .and_then(|t| t.to_f64_vec())
                .ok_or_else(|| gerr(&l.name, "weight is not a readable float constant"))?;
            let n = l.w_shape[1];
            if l.w_shape[0] != k || w.len() != k.saturating_mul(n) {
                return Err(gerr(
                    &l.name,
                    format!("weight {:?} does not match {k} activation channels", l.w_shape),
                ));
            }
            for (i, &x) in w.iter().enumerate() {
                wmax[i / n] = wmax[i / n].max(x.abs());
            }
            ws.push(w);
        }
        let s = factors(am, &wmax, alpha);
        let base = g.value(a).map(|v| v.name.clone()).unwrap_or_else(|| "act".into());
        let inv: Vec<f32> = s.iter().map(|&x| (1.0 / x) as f32).collect();
        let c = const_f32(g, &format!("{base}_smooth"), vec![k], &inv)?;
        let ty = g.value(a).and_then(|v| v.ty.clone());
        let mul = g
            .add_op(
                unique(g, &format!("{base}_Smooth")),
                Op::Mul(Mul {}),
                &[Some(a), Some(c)],
                &[&unique(g, &format!("{base}_smoothed"))],
            )
            .map_err(|e| gerr(&base, e))?;
        if let Some(v) = g.value_mut(mul.out(0)) {
            v.ty = ty;
        }
        let mut names = Vec::new();
        for (l, w) in ls.iter().zip(ws) {
            let n = l.w_shape[1];
            // Scaled by the f32 factor the Mul divides by, so X' W' matches X W to rounding.
            let w2: Vec<f32> = w.iter().enumerate().map(|(i, &x)| (x / f64::from(inv[i / n])) as f32).collect();
            let wname = g.value(l.weight).map(|v| v.name.clone()).unwrap_or_else(|| l.name.clone());
            let wc = const_f32(g, &format!("{wname}_smoothed"), l.w_shape.clone(), &w2)?;
            g.set_input(l.node, 0, Some(mul.out(0))).map_err(|e| gerr(&l.name, e))?;
            g.set_input(l.node, l.w_slot, Some(wc)).map_err(|e| gerr(&l.name, e))?;
            names.push(l.name.clone());
        }
        done.push(Smoothed {
            mul_out: mul.out(0),
            layers: names,
            factors: s,
        });
    }
    Ok(done)
}
