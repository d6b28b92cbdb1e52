//! Export rules for tensor ops whose inputs used to be attributes: Squeeze/Unsqueeze `axes`
//! and Split `split` (inputs since 13), Split `num_outputs` (since 18), Pad `pads` and
//! `constant_value` (inputs since 11) and `axes` (since 18), Slice `starts/ends/axes/steps`
//! (inputs since 10), Resize's opset-11 form, ScatterElements (Scatter before 11), CastLike
//! (a Cast to the known dtype before 15), GridSample's mode names (before 20) and
//! OptionalGetElement on a plain tensor or sequence (an Identity before 18).

use super::{Emit, OnnxNode, Rule, input_to_attr, ints, keep};
use crate::model::RawAttrValue;

pub(super) fn rule(op_type: &str) -> Option<Rule> {
    match op_type {
        "Squeeze" | "Unsqueeze" => Some(squeeze),
        "Split" => Some(split),
        "Pad" => Some(pad),
        "Slice" => Some(slice),
        "Resize" => Some(resize),
        "ScatterElements" => Some(scatter_elements),
        "CastLike" => Some(cast_like),
        "GridSample" => Some(grid_sample),
        "OptionalGetElement" => Some(optional_get_element),
        _ => None,
    }
}

fn squeeze(n: OnnxNode, em: &mut Emit<'_>) -> Result<(), String> {
    if em.opset >= 13 || n.input(1).is_empty() {
        return keep(n, em);
    }
    let axes = em
        .const_ints(n.input(1))
        .ok_or_else(|| format!("{}: axes must be a constant below opset 13", n.op_type))?;
    let n = input_to_attr(n, 1, "axes", ints(axes));
    keep(n, em)
}

fn split(mut n: OnnxNode, em: &mut Emit<'_>) -> Result<(), String> {
    if em.opset >= 18 && n.input(1).is_empty() && n.attr("num_outputs").is_none() {
        // An equal split (the opset 13–17 form) names its output count from opset 18.
        n.set_attr("num_outputs", RawAttrValue::Int(n.outputs.len() as i64));
    }
    if em.opset < 18
        && let Some(RawAttrValue::Int(k)) = n.take_attr("num_outputs")
    {
        // Equal chunks with a smaller last one (opset 18) need explicit sizes when the
        // dimension is not divisible; an unknown dimension cannot be proven divisible, so
        // that form is refused rather than exported as a possibly wrong equal split.
        let axis = n.int_attr("axis").unwrap_or(0);
        if let Some(sizes) = split_sizes(em, n.input(0), axis, k)? {
            if em.opset >= 13 {
                let s = em.ints_const("split", &sizes)?;
                n.inputs.truncate(1);
                n.inputs.push(s);
            } else {
                n.set_attr("split", ints(sizes));
            }
        }
    }
    if em.opset >= 13 || n.input(1).is_empty() {
        return keep(n, em);
    }
    let sizes = em
        .const_ints(n.input(1))
        .ok_or("Split: split sizes must be a constant below opset 13")?;
    let n = input_to_attr(n, 1, "split", ints(sizes));
    keep(n, em)
}

/// Sizes of a `num_outputs` split: `None` when the known dimension divides evenly (an equal
/// split says the same), explicit sizes when it does not; an error when it is unknown.
fn split_sizes(em: &Emit<'_>, x: &str, axis: i64, k: i64) -> Result<Option<Vec<i64>>, String> {
    let unknown = || "Split: num_outputs below opset 18 needs the split dimension to be known".to_string();
    let t = em.types.get(x).and_then(|t| t.as_tensor()).ok_or_else(unknown)?;
    let shape = t.shape.as_ref().ok_or_else(unknown)?;
    let r = shape.rank() as i64;
    let ax = if axis < 0 { axis + r } else { axis };
    let d = usize::try_from(ax)
        .ok()
        .and_then(|a| shape.0.get(a))
        .and_then(|d| d.known())
        .ok_or_else(unknown)? as i64;
    if k <= 0 || d % k == 0 {
        return Ok(None);
    }
    let chunk = (d + k - 1) / k;
    let mut sizes = Vec::new();
    let mut left = d;
    for _ in 0..k {
        let s = chunk.min(left);
        sizes.push(s);
        left -= s;
    }
    Ok(Some(sizes))
}

fn pad(mut n: OnnxNode, em: &mut Emit<'_>) -> Result<(), String> {
    let axes_in = n.input(3).to_string();
    if em.opset < 18 && !axes_in.is_empty() {
        // Expand pads over `axes` to pads over every axis.
        let axes = em.const_ints(&axes_in).ok_or("Pad: axes must be a constant below opset 18")?;
        let pads = em
            .const_ints(n.input(1))
            .ok_or("Pad: pads must be a constant when axes are given below opset 18")?;
        let r = em
            .rank(n.input(0))
            .ok_or("Pad: the input rank must be known to drop axes below opset 18")? as i64;
        let mut full = vec![0i64; 2 * r as usize];
        for (j, &a) in axes.iter().enumerate() {
            let a = if a < 0 { a + r } else { a };
            if !(0..r).contains(&a) || pads.len() != 2 * axes.len() {
                return Err("Pad: axes and pads do not fit the input rank".into());
            }
            full[a as usize] = pads[j];
            full[(a + r) as usize] = pads[j + axes.len()];
        }
        let p = em.ints_const("pads", &full)?;
        n.inputs[1] = p;
        n.inputs.truncate(3);
        n.trim_inputs();
    }
    if em.opset >= 11 {
        return keep(n, em);
    }
    let pads = em.const_ints(n.input(1)).ok_or("Pad: pads must be a constant below opset 11")?;
    if !n.input(2).is_empty() {
        let v = em
            .const_floats(n.input(2))
            .ok_or("Pad: constant_value must be a constant below opset 11")?;
        n.set_attr("value", RawAttrValue::Float(v.first().copied().unwrap_or(0.0) as f32));
    }
    n.inputs.truncate(1);
    n.set_attr("pads", ints(pads));
    keep(n, em)
}

fn slice(mut n: OnnxNode, em: &mut Emit<'_>) -> Result<(), String> {
    if em.opset >= 10 {
        return keep(n, em);
    }
    let get = |em: &Emit<'_>, i: usize, what: &str| -> Result<Option<Vec<i64>>, String> {
        let s = n.input(i);
        if s.is_empty() {
            return Ok(None);
        }
        em.const_ints(s)
            .map(Some)
            .ok_or_else(|| format!("Slice: {what} must be a constant below opset 10"))
    };
    let starts = get(em, 1, "starts")?.unwrap_or_default();
    let ends = get(em, 2, "ends")?.unwrap_or_default();
    let axes = get(em, 3, "axes")?;
    if let Some(steps) = get(em, 4, "steps")?
        && steps.iter().any(|&s| s != 1)
    {
        return Err("Slice: steps other than 1 need opset 10".into());
    }
    n.inputs.truncate(1);
    n.set_attr("starts", ints(starts));
    n.set_attr("ends", ints(ends));
    if let Some(a) = axes {
        n.set_attr("axes", ints(a));
    }
    keep(n, em)
}

fn resize(mut n: OnnxNode, em: &mut Emit<'_>) -> Result<(), String> {
    if em.opset >= 18 {
        return keep(n, em);
    }
    // Default-valued opset-18 attributes say nothing; drop them.
    if n.int_attr("antialias") == Some(0) {
        n.take_attr("antialias");
    }
    if matches!(n.attr("keep_aspect_ratio_policy"), Some(RawAttrValue::String(s)) if s.as_slice() == b"stretch") {
        n.take_attr("keep_aspect_ratio_policy");
    }
    if n.attr("axes").is_some() {
        expand_resize_axes(&mut n, em)?;
    }
    for a in ["antialias", "keep_aspect_ratio_policy"] {
        if n.attr(a).is_some() {
            return Err(format!("Resize: attribute '{a}' needs opset 18"));
        }
    }
    if em.opset >= 13 {
        return keep(n, em);
    }
    if em.opset < 11 {
        return Err("Resize before opset 11 (Upsample-like) is not exported; use opset 11 or later".into());
    }
    // Opset 11/12: roi and scales are required inputs (empty constants when unused).
    if n.input(1).is_empty() {
        let t = edgeport_ir::Tensor::from_f32(vec![0], &[]).map_err(|e| e.to_string())?;
        let roi = em.add_const("roi", t);
        n.inputs.resize(2, String::new());
        n.inputs[1] = roi;
    }
    if n.input(2).is_empty() {
        let t = edgeport_ir::Tensor::from_f32(vec![0], &[]).map_err(|e| e.to_string())?;
        let sc = em.add_const("scales", t);
        n.inputs.resize(3, String::new());
        n.inputs[2] = sc;
    }
    keep(n, em)
}

/// Rewrites an opset-18 Resize with `axes` into the full-rank form older opsets know: scales
/// get 1 on the other axes; sizes take the other axes' extents from the input (constants when
/// the input's shape is static, else `ScatterElements` into `Shape(x)`).
fn expand_resize_axes(n: &mut OnnxNode, em: &mut Emit<'_>) -> Result<(), String> {
    let Some(RawAttrValue::Ints(axes)) = n.take_attr("axes") else {
        return Err("Resize: attribute 'axes' is not a list of ints".into());
    };
    let x = n.input(0).to_string();
    let rank = em.rank(&x).ok_or("Resize with 'axes' before opset 18 needs the input's rank")?;
    let mut full = Vec::with_capacity(axes.len());
    for &a in &axes {
        let a = if a < 0 { a + rank as i64 } else { a };
        if a < 0 || a >= rank as i64 || full.contains(&(a as usize)) {
            return Err(format!("Resize: axes {axes:?} do not fit rank {rank}"));
        }
        full.push(a as usize);
    }
    let scales = n.input(2).to_string();
    if !scales.is_empty() {
        let v = em
            .const_floats(&scales)
            .ok_or("Resize with 'axes' before opset 18 needs constant scales")?;
        if v.len() != full.len() {
            return Err(format!("Resize: {} scales for {} axes", v.len(), full.len()));
        }
        let mut all = vec![1f32; rank];
        for (a, s) in full.iter().zip(&v) {
            all[*a] = *s as f32;
        }
        let t = edgeport_ir::Tensor::from_f32(vec![rank], &all).map_err(|e| e.to_string())?;
        n.inputs[2] = em.add_const("scales", t);
        return Ok(());
    }
    let sizes = n.input(3).to_string();
    if sizes.is_empty() {
        return Err("Resize: neither scales nor sizes".into());
    }
    let static_dims: Option<Vec<i64>> = em
        .types
        .get(&x)
        .and_then(|t| t.as_tensor())
        .and_then(|t| t.shape.as_ref())
        .and_then(|s| s.as_known())
        .map(|d| d.iter().map(|&v| v as i64).collect());
    match (em.const_ints(&sizes), static_dims) {
        (Some(v), Some(mut dims)) if v.len() == full.len() && dims.len() == rank => {
            for (a, s) in full.iter().zip(&v) {
                dims[*a] = *s;
            }
            n.inputs[3] = em.ints_const("sizes", &dims)?;
        }
        _ => {
            let shape = em.op("resize_in_shape", "Shape", &[&x], vec![]);
            let idx = em.ints_const("resize_axes", &full.iter().map(|&a| a as i64).collect::<Vec<_>>())?;
            n.inputs[3] = em.op(
                "resize_sizes",
                "ScatterElements",
                &[&shape, &idx, &sizes],
                vec![("axis", RawAttrValue::Int(0))],
            );
        }
    }
    Ok(())
}

fn scatter_elements(mut n: OnnxNode, em: &mut Emit<'_>) -> Result<(), String> {
    if em.opset >= 11 {
        return keep(n, em);
    }
    if n.attr("reduction").is_some() {
        return Err("ScatterElements: reduction needs opset 16".into());
    }
    n.op_type = "Scatter".into();
    keep(n, em)
}

fn cast_like(n: OnnxNode, em: &mut Emit<'_>) -> Result<(), String> {
    if em.opset >= 15 {
        return keep(n, em);
    }
    let dt = em
        .dtype(n.input(1))
        .ok_or("CastLike: the target dtype must be known below opset 15")?;
    let out = n.outputs.first().cloned().unwrap_or_default();
    em.op_to(
        &n.name,
        "Cast",
        &[n.input(0)],
        vec![("to", RawAttrValue::Int(dt.onnx_code() as i64))],
        &out,
    );
    Ok(())
}

fn grid_sample(mut n: OnnxNode, em: &mut Emit<'_>) -> Result<(), String> {
    if em.opset >= 20 {
        return keep(n, em);
    }
    // Opset 16 names the modes bilinear/bicubic and takes 4-D input only.
    if let Some(RawAttrValue::String(m)) = n.attr("mode") {
        let old: &[u8] = match m.as_slice() {
            b"linear" => b"bilinear",
            b"cubic" => b"bicubic",
            other => other,
        };
        let old = old.to_vec();
        n.set_attr("mode", RawAttrValue::String(old));
    }
    if em.rank(n.input(0)).is_some_and(|r| r != 4) {
        return Err("GridSample: only 4-D input before opset 20".into());
    }
    keep(n, em)
}

fn optional_get_element(n: OnnxNode, em: &mut Emit<'_>) -> Result<(), String> {
    if em.opset >= 18 {
        return keep(n, em);
    }
    match em.types.get(n.input(0)) {
        // A known plain tensor or sequence: nothing to unwrap.
        Some(t) if !matches!(t, edgeport_ir::ValueType::Optional(_)) => {
            let out = n.outputs.first().cloned().unwrap_or_default();
            em.op_to(&n.name, "Identity", &[n.input(0)], vec![], &out);
            Ok(())
        }
        // Optional, or unknown (then it came from a model of this opset, where it was optional).
        _ => keep(n, em),
    }
}
