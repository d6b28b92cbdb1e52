//! Resizing: `nearest_interp_v2`, `bilinear_interp_v2` (and PIR's `nearest_interp`,
//! `bilinear_interp`) → Resize over axes 2, 3.
//!
//! Output size: the SizeTensor list, else the OutSize tensor, else the scale (tensor or
//! attribute), else out_h/out_w. Coordinates: nearest → `asymmetric` + `floor` (Paddle floors
//! `ratio·k`), or `align_corners` + `round_prefer_ceil` (it adds 0.5 and truncates); bilinear →
//! `align_corners`, `half_pixel` (align_mode 0, source clamped at 0 as ONNX's edge padding does)
//! or `asymmetric` (align_mode 1).

use super::{Rule, check_nchw};
use crate::build::{Attrs, Ctx, RuleResult};
use crate::program::OpDesc;
use edgeport_ir::ops::defs::tensor::Resize;
use edgeport_ir::{Op, Tensor};

pub const RULES: &[(&str, Rule)] = &[("nearest_interp_v2", interp), ("bilinear_interp_v2", interp)];

fn interp(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    check_nchw(op)?;
    let x = cx.input(op, "X")?;
    let out = cx.out_name(op, "Out")?;
    let rank = cx.input_rank(op, "X")?;
    if rank != 4 {
        return Err(format!("input of rank {rank} is not supported (4-D only)"));
    }
    let nearest = op.ty.starts_with("nearest");
    let method = op.string("interp_method", if nearest { "nearest" } else { "bilinear" });
    if method != "nearest" && method != "bilinear" {
        return Err(format!("interp_method '{method}' is not supported"));
    }
    let align_corners = op.boolean("align_corners", false);
    let align_mode = op.int("align_mode", 1);

    // Sizes from the tensor inputs first.
    let mut sizes: Option<Vec<i64>> = None;
    if !op.input_args("SizeTensor").is_empty() {
        let mut v = Vec::new();
        for n in op.input_args("SizeTensor") {
            let id = cx.lookup(n).ok_or_else(|| format!("SizeTensor '{n}' was not produced"))?;
            let t = cx
                .const_of(id)
                .and_then(|t| t.to_i64_vec())
                .ok_or("a run-time SizeTensor is not supported")?;
            v.extend(t);
        }
        sizes = Some(v);
    } else if let Some(v) = cx.const_ints(op, "OutSize")? {
        sizes = Some(v);
    }
    let mut scales: Option<Vec<f64>> = None;
    if sizes.is_none() {
        let s = match cx.const_floats(op, "Scale")? {
            Some(v) => v,
            None => op.floats("scale"),
        };
        let s = match s[..] {
            [a] => vec![a, a],
            _ => s,
        };
        if s.len() == 2 && s.iter().all(|&v| v > 0.0) {
            scales = Some(s);
        } else {
            let (h, w) = (op.int("out_h", -1), op.int("out_w", -1));
            if h <= 0 || w <= 0 {
                return Err("no output size: neither a scale nor out_h/out_w".into());
            }
            sizes = Some(vec![h, w]);
        }
    }
    let (coord, nearest_mode) = match (nearest, align_corners, align_mode) {
        (true, true, _) => ("align_corners", "round_prefer_ceil"),
        (true, false, _) => ("asymmetric", "floor"),
        (false, true, _) => ("align_corners", "floor"),
        (false, false, 0) => ("half_pixel", "floor"),
        (false, false, _) => ("asymmetric", "floor"),
    };
    let r = Resize {
        axes: vec![2, 3],
        coordinate_transformation_mode: coord.into(),
        mode: if nearest { "nearest" } else { "linear" }.into(),
        nearest_mode: nearest_mode.into(),
        ..Default::default()
    };
    let (sc, sz) = match (scales, sizes) {
        (Some(s), _) => {
            let v: Vec<f32> = s.iter().map(|&f| f as f32).collect();
            let t = Tensor::from_f32(vec![2], &v).map_err(|e| e.to_string())?;
            let n = cx.unique(&format!("{out}/scales"));
            (Some(cx.g.add_constant(n, t)), None)
        }
        (None, Some(s)) => {
            if s.len() != 2 || s.iter().any(|&d| d <= 0) {
                return Err(format!("output size {s:?} is not two positive sizes"));
            }
            (None, Some(cx.const_i64(&format!("{out}/sizes"), &s)))
        }
        (None, None) => return Err("no output size".into()),
    };
    cx.emit(op, "Out", Op::Resize(r), &[Some(x), None, sc, sz])
}
