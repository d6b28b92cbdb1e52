//! Normalisations: `batch_norm` / `_native_batch_norm_legit_no_training` (inference form only),
//! `layer_norm` / `native_layer_norm`, `group_norm` / `native_group_norm`. Missing affine
//! weights become constants of ones/zeros.

use super::{Out, Rule};
use crate::export_program::ctx::{Ctx, N, R, af, ai, scalar_tensor};
use edgeport_ir::ValueId;

pub fn rule(op: &str) -> Option<Rule> {
    Some(match op {
        "batch_norm" | "_native_batch_norm_legit_no_training" => batch_norm,
        "layer_norm" | "native_layer_norm" => layer_norm,
        "group_norm" | "native_group_norm" => group_norm,
        _ => return None,
    })
}

/// The given tensor, or a constant of `shape` filled with `fill` in `x`'s dtype.
fn or_fill(cx: &mut Ctx, n: &N, arg: &str, x: &str, shape: Vec<usize>, fill: f64) -> R<ValueId> {
    if let Some(v) = cx.opt_tensor(n, arg)? {
        return Ok(v);
    }
    let dt = cx.meta(x)?.dtype;
    let t = scalar_tensor(dt, fill, shape)?;
    Ok(cx.constant(&format!("{}_{arg}", n.name), t))
}

fn channels(cx: &Ctx, n: &N) -> R<usize> {
    let m = cx.meta(&n.tensor_name("input")?)?;
    m.shape
        .get(1)
        .and_then(|d| d.known())
        .map(|c| c as usize)
        .ok_or_else(|| "channel dimension is not known".to_string())
}

fn batch_norm(cx: &mut Ctx, n: &N) -> R<Out> {
    if n.bool("training", false)? {
        return Err("batch_norm in training mode is not supported (export the model in eval mode)".into());
    }
    let x_name = n.tensor_name("input")?;
    let x = cx.value(&x_name)?;
    let c = channels(cx, n)?;
    let w = or_fill(cx, n, "weight", &x_name, vec![c], 1.0)?;
    let b = or_fill(cx, n, "bias", &x_name, vec![c], 0.0)?;
    let mean = cx
        .opt_tensor(n, "running_mean")?
        .ok_or("batch_norm without running_mean is not supported")?;
    let var = cx
        .opt_tensor(n, "running_var")?
        .ok_or("batch_norm without running_var is not supported")?;
    let eps = n.float("eps", 1e-5)?;
    let out = n.out(0);
    let v = cx.op("BatchNormalization", vec![("epsilon", af(eps))], &[x, w, b, mean, var], &out)?;
    Ok(Out::Values(vec![v]))
}

fn layer_norm(cx: &mut Ctx, n: &N) -> R<Out> {
    let x_name = n.tensor_name("input")?;
    let x = cx.value(&x_name)?;
    let rank = cx.meta(&x_name)?.rank();
    let norm_shape = n.ints("normalized_shape", &[], 1)?;
    let k = norm_shape.len();
    if k == 0 || k > rank {
        return Err(format!("normalized_shape {norm_shape:?} does not fit rank {rank}"));
    }
    let shape: Vec<usize> = norm_shape.iter().map(|&d| d.max(0) as usize).collect();
    let w = or_fill(cx, n, "weight", &x_name, shape.clone(), 1.0)?;
    let b = or_fill(cx, n, "bias", &x_name, shape, 0.0)?;
    let eps = n.float("eps", 1e-5)?;
    let out = n.out(0);
    let v = cx.op(
        "LayerNormalization",
        vec![("axis", ai(-(k as i64))), ("epsilon", af(eps))],
        &[x, w, b],
        &out,
    )?;
    Ok(Out::Values(vec![v]))
}

fn group_norm(cx: &mut Ctx, n: &N) -> R<Out> {
    let x_name = n.tensor_name("input")?;
    let x = cx.value(&x_name)?;
    let c = channels(cx, n)?;
    let groups = if n.get("num_groups").is_some() {
        n.int("num_groups", 1)?
    } else {
        n.int("group", 1)?
    };
    let w = or_fill(cx, n, "weight", &x_name, vec![c], 1.0)?;
    let b = or_fill(cx, n, "bias", &x_name, vec![c], 0.0)?;
    let eps = n.float("eps", 1e-5)?;
    let out = n.out(0);
    let v = cx.op(
        "GroupNormalization",
        vec![("num_groups", ai(groups)), ("epsilon", af(eps))],
        &[x, w, b],
        &out,
    )?;
    Ok(Out::Values(vec![v]))
}
