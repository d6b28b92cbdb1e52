//! Tensor-family ops whose older forms differ: attributes that became inputs (Reshape < 5,
//! Squeeze/Unsqueeze/Split < 13, Slice < 10, Pad < 11, Tile < 6), Split's `num_outputs`
//! (18), Concat's default axis (< 4), Cast's string `to` (< 6), and Scatter → ScatterElements.

use super::build::{const_ints, rank};
use super::{B, NodeIn, Rule, rebuild};
use crate::import::Built;
use edgeport_ir::{AttrValue, DType, Graph};

pub(crate) fn rule(op_type: &str) -> Option<Rule> {
    match op_type {
        "Reshape" => Some(reshape),
        "Squeeze" | "Unsqueeze" => Some(squeeze),
        "Split" => Some(split),
        "Slice" => Some(slice),
        "Pad" => Some(pad),
        "Tile" => Some(tile),
        "Concat" => Some(concat),
        "Cast" => Some(cast),
        "Scatter" => Some(scatter),
        _ => None,
    }
}

fn reshape(n: &mut NodeIn<'_>, g: &mut Graph) -> Option<Result<Built, String>> {
    (n.opset < 5).then(|| {
        let data = n.req(0)?;
        let shape = n.take_ints("shape")?.ok_or("Reshape-1 needs a 'shape' attribute")?;
        let s = B::new(n, g).ints("shape", &shape)?;
        rebuild(n, g, None, &[Some(data), Some(s)])
    })
}

fn squeeze(n: &mut NodeIn<'_>, g: &mut Graph) -> Option<Result<Built, String>> {
    (n.opset < 13).then(|| {
        let data = n.req(0)?;
        let axes = match n.take_ints("axes")? {
            Some(a) => Some(B::new(n, g).ints("axes", &a)?),
            None if n.raw.op_type == "Unsqueeze" => return Err("Unsqueeze needs 'axes'".into()),
            None => None,
        };
        let inputs = if axes.is_some() { vec![Some(data), axes] } else { vec![Some(data)] };
        rebuild(n, g, None, &inputs)
    })
}

fn split(n: &mut NodeIn<'_>, g: &mut Graph) -> Option<Result<Built, String>> {
    (n.opset < 18).then(|| {
        let data = n.req(0)?;
        let mut sizes = n.input(1);
        if let Some(s) = n.take_ints("split")? {
            sizes = Some(B::new(n, g).ints("split", &s)?);
        }
        if sizes.is_none() {
            // Equal parts, one per output (implicit before opset 18).
            n.set_attr("num_outputs", AttrValue::Int(n.raw.outputs.len() as i64));
        }
        let inputs = if sizes.is_some() {
            vec![Some(data), sizes]
        } else {
            vec![Some(data)]
        };
        rebuild(n, g, None, &inputs)
    })
}

fn slice(n: &mut NodeIn<'_>, g: &mut Graph) -> Option<Result<Built, String>> {
    (n.opset < 10).then(|| {
        let data = n.req(0)?;
        let starts = n.take_ints("starts")?.ok_or("Slice-1 needs 'starts'")?;
        let ends = n.take_ints("ends")?.ok_or("Slice-1 needs 'ends'")?;
        let axes = n.take_ints("axes")?;
        let mut b = B::new(n, g);
        let s = b.ints("starts", &starts)?;
        let e = b.ints("ends", &ends)?;
        let mut inputs = vec![Some(data), Some(s), Some(e)];
        if let Some(a) = axes {
            inputs.push(Some(b.ints("axes", &a)?));
        }
        rebuild(n, g, None, &inputs)
    })
}

fn pad(n: &mut NodeIn<'_>, g: &mut Graph) -> Option<Result<Built, String>> {
    (n.opset < 11).then(|| {
        let data = n.req(0)?;
        let pads = match n.take_ints("pads")? {
            Some(p) => p,
            None => n.take_ints("paddings")?.ok_or("Pad needs 'pads'")?,
        };
        let value = n.take_float("value")?.unwrap_or(0.0);
        let mut b = B::new(n, g);
        let p = b.ints("pads", &pads)?;
        let mut inputs = vec![Some(data), Some(p)];
        if value != 0.0 {
            inputs.push(Some(b.floats_like("value", vec![], &[value as f64], data)?));
        }
        rebuild(n, g, None, &inputs)
    })
}

fn tile(n: &mut NodeIn<'_>, g: &mut Graph) -> Option<Result<Built, String>> {
    (n.opset < 6 && n.inputs.len() == 3).then(|| {
        // Tile-1: (input, tiles, axis), repeating one axis.
        let data = n.req(0)?;
        let tiles = const_ints(g, n.req(1)?).and_then(|v| v.first().copied());
        let axis = const_ints(g, n.req(2)?).and_then(|v| v.first().copied());
        let (Some(tiles), Some(axis), Some(r)) = (tiles, axis, rank(g, data)) else {
            return Err("Tile-1 needs constant 'tiles' and 'axis' and an input of known rank".into());
        };
        let axis = if axis < 0 { axis + r as i64 } else { axis };
        if axis < 0 || axis as usize >= r {
            return Err(format!("Tile-1 axis {axis} out of range for rank {r}"));
        }
        let mut reps = vec![1i64; r];
        reps[axis as usize] = tiles;
        let reps = B::new(n, g).ints("repeats", &reps)?;
        rebuild(n, g, None, &[Some(data), Some(reps)])
    })
}

fn concat(n: &mut NodeIn<'_>, g: &mut Graph) -> Option<Result<Built, String>> {
    (n.opset < 4 && !n.attrs.iter().any(|(k, _)| k == "axis")).then(|| {
        n.set_attr("axis", AttrValue::Int(1));
        let inputs = n.inputs.clone();
        rebuild(n, g, None, &inputs)
    })
}

/// Cast-1 names the target type as a string.
fn cast(n: &mut NodeIn<'_>, g: &mut Graph) -> Option<Result<Built, String>> {
    let is_string = n.attrs.iter().any(|(k, v)| k == "to" && matches!(v, AttrValue::String(_)));
    is_string.then(|| {
        let Some(AttrValue::String(s)) = n.take_attr("to") else {
            return Err("Cast needs 'to'".into());
        };
        let dt = match s.to_ascii_uppercase().as_str() {
            "FLOAT" => DType::F32,
            "UINT8" => DType::U8,
            "INT8" => DType::I8,
            "UINT16" => DType::U16,
            "INT16" => DType::I16,
            "INT32" => DType::I32,
            "INT64" => DType::I64,
            "STRING" => DType::String,
            "BOOL" => DType::Bool,
            "FLOAT16" => DType::F16,
            "DOUBLE" => DType::F64,
            "UINT32" => DType::U32,
            "UINT64" => DType::U64,
            other => return Err(format!("Cast to unknown type '{other}'")),
        };
        n.set_attr("to", AttrValue::Int(dt.onnx_code() as i64));
        let inputs = n.inputs.clone();
        rebuild(n, g, None, &inputs)
    })
}

/// Scatter (opset 9–10) is ScatterElements under its old name.
fn scatter(n: &mut NodeIn<'_>, g: &mut Graph) -> Option<Result<Built, String>> {
    let inputs = n.inputs.clone();
    Some(rebuild(n, g, Some("ScatterElements"), &inputs))
}
