//! Resizing layers of common forks: Upsample (nearest, integer `scale`) and Interp (bilinear
//! with corners aligned, output from `height`/`width`, `zoom_factor` or `shrink_factor`).

use super::Layer;
use crate::build::{Ctx, string};
use edgeport_ir::ValueId;

pub fn upsample(cx: &mut Ctx, l: &Layer<'_>) -> Result<Vec<ValueId>, String> {
    let x = l.input(0)?;
    if l.ins.len() > 1 {
        return Err("Upsample with an index bottom (max unpooling) is not supported".into());
    }
    let s = l.p.upsample_param.map_or(2, |p| p.scale());
    if s < 1 {
        return Err(format!("scale {s} must be at least 1"));
    }
    let rank = cx.shape(x)?.len();
    let mut scales = vec![1.0f32; rank];
    for v in scales.iter_mut().skip(2) {
        *v = s as f32;
    }
    let sc = cx.f32s("scales", vec![rank], &scales)?;
    let attrs = vec![
        string("mode", "nearest"),
        string("coordinate_transformation_mode", "asymmetric"),
        string("nearest_mode", "floor"),
    ];
    cx.op_n("", "Resize", attrs, &[Some(x), None, Some(sc)], 1)
}

pub fn interp(cx: &mut Ctx, l: &Layer<'_>) -> Result<Vec<ValueId>, String> {
    let x = l.input(0)?;
    let shape = cx.shape(x)?;
    if shape.len() != 4 {
        return Err(format!("input of shape {shape:?}: only 4-D inputs are supported"));
    }
    let p = l.p.interp_param.unwrap_or_default();
    if p.pad_beg() != 0 || p.pad_end() != 0 {
        return Err("pad_beg/pad_end are not supported".into());
    }
    let (h, w) = (shape[2] as i64, shape[3] as i64);
    let (oh, ow) = if let Some(&r) = l.ins.get(1) {
        let rs = cx.shape(r)?;
        (
            *rs.get(2).ok_or("reference bottom is not 4-D")? as i64,
            *rs.get(3).ok_or("reference bottom is not 4-D")? as i64,
        )
    } else if p.height() > 0 && p.width() > 0 {
        (p.height().into(), p.width().into())
    } else if p.zoom_factor.is_some() && p.shrink_factor.is_some() {
        let (z, s) = (i64::from(p.zoom_factor()), i64::from(p.shrink_factor()));
        if z < 1 || s < 1 {
            return Err("zoom_factor and shrink_factor must be at least 1".into());
        }
        let (h1, w1) = ((h - 1) / s + 1, (w - 1) / s + 1);
        (h1 + (h1 - 1) * (z - 1), w1 + (w1 - 1) * (z - 1))
    } else if p.shrink_factor.is_some() {
        let s = i64::from(p.shrink_factor());
        if s < 1 {
            return Err("shrink_factor must be at least 1".into());
        }
        ((h - 1) / s + 1, (w - 1) / s + 1)
    } else {
        let z = i64::from(p.zoom_factor());
        if z < 1 {
            return Err("zoom_factor must be at least 1".into());
        }
        (h + (h - 1) * (z - 1), w + (w - 1) * (z - 1))
    };
    if oh < 1 || ow < 1 {
        return Err(format!("output size {oh}x{ow} is empty"));
    }
    let sizes = cx.ints("sizes", &[shape[0] as i64, shape[1] as i64, oh, ow])?;
    let attrs = vec![string("mode", "linear"), string("coordinate_transformation_mode", "align_corners")];
    cx.op_n("", "Resize", attrs, &[Some(x), None, None, Some(sizes)], 1)
}
