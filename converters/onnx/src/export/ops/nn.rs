//! Export rules for normalization and dropout: LayerNormalization (<17), GroupNormalization
//! (<21: opsets 18–20 scale per group, not per channel) and RMSNormalization (<23) are
//! decomposed into Reduce/arith ops; Dropout's `ratio` is an attribute before 12.

use super::{Emit, OnnxNode, Rule, keep, norm_axis};
use crate::model::RawAttrValue;

pub(super) fn rule(op_type: &str) -> Option<Rule> {
    match op_type {
        "LayerNormalization" => Some(layer_norm),
        "GroupNormalization" => Some(group_norm),
        "RMSNormalization" => Some(rms_norm),
        "Dropout" => Some(dropout),
        _ => None,
    }
}

fn eps(n: &OnnxNode) -> f64 {
    n.float_attr("epsilon").unwrap_or(1e-5) as f64
}

/// (x - mean) / sqrt(var + eps) over `axes`; returns (normalized, mean, 1/std).
fn standardize(em: &mut Emit<'_>, x: &str, axes: &[i64], eps: f64) -> Result<(String, String, String), String> {
    let mean = em.reduce_mean("mean", x, axes)?;
    let d = em.op("centered", "Sub", &[x, &mean], vec![]);
    let sq = em.op("sq", "Mul", &[&d, &d], vec![]);
    let var = em.reduce_mean("var", &sq, axes)?;
    let e = em.like_const("epsilon", x, eps)?;
    let ve = em.op("var_eps", "Add", &[&var, &e], vec![]);
    let sd = em.op("std", "Sqrt", &[&ve], vec![]);
    let inv = em.op("inv_std", "Reciprocal", &[&sd], vec![]);
    let norm = em.op("normalized", "Mul", &[&d, &inv], vec![]);
    Ok((norm, mean, inv))
}

fn layer_norm(n: OnnxNode, em: &mut Emit<'_>) -> Result<(), String> {
    if em.opset >= 17 {
        return keep(n, em);
    }
    let x = n.input(0).to_string();
    let rank = em.need_rank(&x, "LayerNormalization")?;
    let a = norm_axis(n.int_attr("axis").unwrap_or(-1), rank)?;
    let axes: Vec<i64> = (a as i64..rank as i64).collect();
    let (norm, mean, inv) = standardize(em, &x, &axes, eps(&n))?;
    let y = n.outputs.first().cloned().unwrap_or_default();
    let scaled = if n.input(2).is_empty() { y.clone() } else { em.fresh("scaled") };
    em.op_to(&n.name, "Mul", &[&norm, n.input(1)], vec![], &scaled);
    if !n.input(2).is_empty() {
        em.op_to(&n.name, "Add", &[&scaled, n.input(2)], vec![], &y);
    }
    for (i, v) in [(1, mean), (2, inv)] {
        if let Some(o) = n.outputs.get(i).filter(|s| !s.is_empty()) {
            em.op_to(&n.name, "Identity", &[&v], vec![], o);
        }
    }
    Ok(())
}

fn group_norm(n: OnnxNode, em: &mut Emit<'_>) -> Result<(), String> {
    if em.opset >= 21 {
        return keep(n, em);
    }
    let x = n.input(0).to_string();
    let rank = em.need_rank(&x, "GroupNormalization")?;
    if rank < 2 {
        return Err("GroupNormalization: input rank must be at least 2".into());
    }
    let groups = n.int_attr("num_groups").ok_or("GroupNormalization: num_groups missing")?;
    let shape3 = em.ints_const("group_shape", &[0, groups, -1])?;
    let x3 = em.op("grouped", "Reshape", &[&x, &shape3], vec![]);
    let (norm, _, _) = standardize(em, &x3, &[2], eps(&n))?;
    let xs = em.op("x_shape", "Shape", &[&x], vec![]);
    let back = em.op("ungrouped", "Reshape", &[&norm, &xs], vec![]);
    let mut cshape = vec![-1i64];
    cshape.extend(std::iter::repeat_n(1, rank - 2));
    let cs = em.ints_const("channel_shape", &cshape)?;
    let scale = em.op("scale_c", "Reshape", &[n.input(1), &cs], vec![]);
    let bias = em.op("bias_c", "Reshape", &[n.input(2), &cs], vec![]);
    let m = em.op("scaled", "Mul", &[&back, &scale], vec![]);
    let y = n.outputs.first().cloned().unwrap_or_default();
    em.op_to(&n.name, "Add", &[&m, &bias], vec![], &y);
    Ok(())
}

fn rms_norm(n: OnnxNode, em: &mut Emit<'_>) -> Result<(), String> {
    if em.opset >= 23 {
        return keep(n, em);
    }
    let x = n.input(0).to_string();
    let rank = em.need_rank(&x, "RMSNormalization")?;
    let a = norm_axis(n.int_attr("axis").unwrap_or(-1), rank)?;
    let axes: Vec<i64> = (a as i64..rank as i64).collect();
    let sq = em.op("sq", "Mul", &[&x, &x], vec![]);
    let ms = em.reduce_mean("mean_sq", &sq, &axes)?;
    let e = em.like_const("epsilon", &x, eps(&n))?;
    let mse = em.op("ms_eps", "Add", &[&ms, &e], vec![]);
    let r = em.op("rms", "Sqrt", &[&mse], vec![]);
    let d = em.op("normalized", "Div", &[&x, &r], vec![]);
    let y = n.outputs.first().cloned().unwrap_or_default();
    em.op_to(&n.name, "Mul", &[&d, n.input(1)], vec![], &y);
    Ok(())
}

fn dropout(mut n: OnnxNode, em: &mut Emit<'_>) -> Result<(), String> {
    if em.opset >= 12 {
        return keep(n, em);
    }
    if !n.input(2).is_empty() {
        let t = em
            .const_ints(n.input(2))
            .ok_or("Dropout: training_mode must be a constant below opset 12")?;
        if t.iter().any(|&v| v != 0) {
            return Err("Dropout: training mode needs opset 12".into());
        }
    }
    if !n.input(1).is_empty() {
        let r = em
            .const_floats(n.input(1))
            .ok_or("Dropout: ratio must be a constant below opset 12")?;
        n.set_attr("ratio", RawAttrValue::Float(r.first().copied().unwrap_or(0.5) as f32));
    }
    n.take_attr("seed");
    n.inputs.truncate(1);
    keep(n, em)
}
