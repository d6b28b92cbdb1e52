//! Resize → RESIZE_BILINEAR (linear) or RESIZE_NEAREST_NEIGHBOR (nearest) on the channels-last
//! tensor, with align_corners / half_pixel_centers chosen from the coordinate transformation
//! mode. Combinations TFLite cannot reproduce are refused. DepthToSpace (DCR mode, TFLite's
//! order) and SpaceToDepth → DEPTH_TO_SPACE / SPACE_TO_DEPTH on the channels-last tensor.

use super::super::lower::{LResult, Lower, err, opts};
use super::super::model::Field;
use super::conv::orders;
use crate::codes::{BuiltinOperator as B, BuiltinOptions as O};
use edgeport_ir::{NodeId, ValueId};

pub(crate) fn resize(cx: &mut Lower, id: NodeId, r: &edgeport_ir::ops::defs::tensor::Resize) -> LResult<()> {
    let x = cx.input(id, 0)?;
    let xd = cx.dims(x)?;
    if xd.len() != 4 {
        return err(format!("only 4-D Resize is exported (rank {})", xd.len()));
    }
    let (perm, sp) = orders(r.layout);
    // `axes` naming exactly the two spatial axes (as TF/TFLite importers write them) is the
    // same resize: only the output's height and width are used below.
    let spatial_axes = r.axes.len() == 2
        && r.axes.iter().zip(&sp).all(|(&a, &s)| {
            let a = if a < 0 { a + xd.len() as i64 } else { a };
            usize::try_from(a).ok() == Some(s)
        });
    if r.antialias != 0 || r.keep_aspect_ratio_policy != "stretch" || !(r.axes.is_empty() || spatial_axes) {
        return err("antialias, keep_aspect_ratio_policy and axes other than the spatial ones are not exported");
    }
    let y = ValueId { node: id, port: 0 };
    let yd = cx.dims(y)?;
    let (oh, ow) = (yd[sp[0]], yd[sp[1]]);
    if oh < 0 || ow < 0 {
        return err("the output height and width must be known");
    }
    let ctm = r.coordinate_transformation_mode.as_str();
    let (code, align, half, oty) = match r.mode.as_str() {
        "linear" => {
            let (a, h) = match ctm {
                "half_pixel" => (false, true),
                "pytorch_half_pixel" if oh > 1 && ow > 1 => (false, true),
                "align_corners" => (true, false),
                "asymmetric" => (false, false),
                other => return err(format!("linear resize with coordinate_transformation_mode '{other}'")),
            };
            (B::RESIZE_BILINEAR, a, h, O::ResizeBilinearOptions)
        }
        "nearest" => {
            let (a, h) = match (ctm, r.nearest_mode.as_str()) {
                ("asymmetric", "floor") => (false, false),
                ("half_pixel", "round_prefer_ceil") => (false, true),
                ("align_corners", "round_prefer_ceil") => (true, false),
                (c, n) => {
                    // An integer upscale with half_pixel and either rounding gives floor(out / k).
                    let k = (xd[sp[0]] > 0
                        && xd[sp[1]] > 0
                        && oh % xd[sp[0]] == 0
                        && ow % xd[sp[1]] == 0
                        && (oh / xd[sp[0]]) % 2 == 0
                        && (ow / xd[sp[1]]) % 2 == 0)
                        .then_some(());
                    if c == "half_pixel" && n == "round_prefer_floor" && k.is_some() {
                        (false, false)
                    } else {
                        return err(format!(
                            "nearest resize with coordinate_transformation_mode '{c}' and nearest_mode '{n}'"
                        ));
                    }
                }
            };
            (B::RESIZE_NEAREST_NEIGHBOR, a, h, O::ResizeNearestNeighborOptions)
        }
        other => return err(format!("resize mode '{other}' has no TFLite form")),
    };
    let xt = cx.get(x, &perm)?;
    let name = cx.g.node(id).name.clone();
    let st = cx.const_i32(&format!("{name}_size"), &[oh as i32, ow as i32]);
    let yt = cx.out(y, perm)?;
    let o = if code == B::RESIZE_BILINEAR {
        opts(oty).with(2, Field::Bool(align)).with(3, Field::Bool(half))
    } else {
        opts(oty).with(0, Field::Bool(align)).with(1, Field::Bool(half))
    };
    cx.emit(code, vec![xt, st], vec![yt], Some(o));
    Ok(())
}

/// DepthToSpace (`to_space`) or SpaceToDepth on a 4-D tensor.
pub(crate) fn depth_space(
    cx: &mut Lower,
    id: NodeId,
    to_space: bool,
    blocksize: i64,
    mode: &str,
    layout: edgeport_ir::ops::Layout,
) -> LResult<()> {
    if to_space && mode != "DCR" {
        return err(format!("DepthToSpace mode '{mode}' has no TFLite form (DEPTH_TO_SPACE is DCR)"));
    }
    let Some(b) = i32::try_from(blocksize).ok().filter(|&b| b >= 1) else {
        return err(format!("block size {blocksize}"));
    };
    let x = cx.input(id, 0)?;
    if cx.dims(x)?.len() != 4 {
        return err("only 4-D DepthToSpace/SpaceToDepth is exported");
    }
    let (perm, _) = orders(layout);
    let xt = cx.get(x, &perm)?;
    let yt = cx.out(ValueId { node: id, port: 0 }, perm)?;
    let (code, o) = if to_space {
        (B::DEPTH_TO_SPACE, opts(O::DepthToSpaceOptions).with(0, Field::I32(b)))
    } else {
        (B::SPACE_TO_DEPTH, opts(O::SpaceToDepthOptions).with(0, Field::I32(b)))
    };
    cx.emit(code, vec![xt], vec![yt], Some(o));
    Ok(())
}
