//! Resizing: Upsample (removed in opset 10) and Resize-10 become Resize with the coordinate
//! mapping they implied (`asymmetric`, nearest rounding down); Resize-11's empty placeholder
//! `roi`/`scales` constants become omitted inputs.

use super::build::is_empty_const;
use super::{B, NodeIn, Rule, rebuild};
use crate::import::Built;
use edgeport_ir::{AttrValue, Graph};

pub(crate) fn rule(op_type: &str) -> Option<Rule> {
    match op_type {
        "Upsample" => Some(upsample),
        "Resize" => Some(resize),
        _ => None,
    }
}

fn old_mode(n: &mut NodeIn<'_>) -> Result<(), String> {
    let mode = match n.take_attr("mode") {
        None => "nearest".to_string(),
        Some(AttrValue::String(s)) => s,
        Some(v) => {
            return Err(format!("attribute 'mode' should be a string, found {}", v.kind()));
        }
    };
    let mode = match mode.as_str() {
        "nearest" => "nearest",
        "linear" | "bilinear" => "linear",
        other => return Err(format!("unknown resize mode '{other}'")),
    };
    n.set_attr("mode", AttrValue::String(mode.into()));
    n.set_attr("coordinate_transformation_mode", AttrValue::String("asymmetric".into()));
    if mode == "nearest" {
        n.set_attr("nearest_mode", AttrValue::String("floor".into()));
    }
    Ok(())
}

fn upsample(n: &mut NodeIn<'_>, g: &mut Graph) -> Option<Result<Built, String>> {
    Some((|| {
        let x = n.req(0)?;
        let scales = match n.input(1) {
            Some(s) => s,
            None => {
                let s = match n.take_floats("scales")? {
                    Some(s) => s,
                    None => {
                        // Upsample-1: height_scale and width_scale on NCHW.
                        let h = n.take_float("height_scale")?.ok_or("Upsample needs 'scales'")?;
                        let w = n.take_float("width_scale")?.ok_or("Upsample needs 'scales'")?;
                        vec![1.0, 1.0, h, w]
                    }
                };
                B::new(n, g).f32s("scales", vec![s.len()], &s)?
            }
        };
        old_mode(n)?;
        rebuild(n, g, Some("Resize"), &[Some(x), None, Some(scales)])
    })())
}

fn resize(n: &mut NodeIn<'_>, g: &mut Graph) -> Option<Result<Built, String>> {
    if n.opset < 11 {
        return Some((|| {
            let x = n.req(0)?;
            let scales = n.req(1)?;
            old_mode(n)?;
            rebuild(n, g, None, &[Some(x), None, Some(scales)])
        })());
    }
    let placeholder = |i: usize| n.input(i).is_some_and(|v| is_empty_const(g, v));
    if placeholder(1) || placeholder(2) || placeholder(3) {
        let mut inputs = n.inputs.clone();
        for slot in inputs.iter_mut().skip(1) {
            if slot.is_some_and(|v| is_empty_const(g, v)) {
                *slot = None;
            }
        }
        return Some(rebuild(n, g, None, &inputs));
    }
    None
}
