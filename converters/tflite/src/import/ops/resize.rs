//! RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR → Resize on axes [1, 2] (NHWC) with the
//! coordinate transform TF uses (align_corners, half_pixel_centers, or asymmetric);
//! DEPTH_TO_SPACE / SPACE_TO_DEPTH with `ChannelsLast` layout (TF's order is DCR).

use super::R;
use crate::codes::BuiltinOperator as B;
use crate::import::cx::OpCx;
use crate::import::irops::{DepthToSpace, Layout, Resize, SpaceToDepth, Unsqueeze};
use edgeport_ir::{Graph, Op};

pub fn convert(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> Option<R> {
    Some(match cx.code.builtin {
        B::RESIZE_BILINEAR => resize(cx, g, true),
        B::RESIZE_NEAREST_NEIGHBOR => resize(cx, g, false),
        B::DEPTH_TO_SPACE => d2s(cx, g, true),
        B::SPACE_TO_DEPTH => d2s(cx, g, false),
        _ => return None,
    })
}

fn resize(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph, bilinear: bool) -> R {
    let o = cx.opts();
    let (align, half) = if bilinear {
        (o.bool(2, false)?, o.bool(3, false)?)
    } else {
        (o.bool(0, false)?, o.bool(1, false)?)
    };
    let (coord, nearest) = match (align, half, bilinear) {
        (true, _, true) => ("align_corners", "round_prefer_floor"),
        (true, _, false) => ("align_corners", "round_prefer_ceil"),
        (false, true, true) => ("half_pixel", "round_prefer_floor"),
        (false, true, false) => ("half_pixel", "round_prefer_ceil"),
        (false, false, true) => ("asymmetric", "round_prefer_floor"),
        (false, false, false) => ("asymmetric", "floor"),
    };
    let x = cx.input(g, 0)?;
    let mut sizes = cx.i64_input(g, 1)?;
    if cx.in_rank(1)? == 0 {
        let ax = cx.const_i64(g, "axes", &[0])?;
        sizes = cx.node1(g, "sizes", Op::Unsqueeze(Unsqueeze {}), &[Some(sizes), Some(ax)])?;
    }
    let op = Op::Resize(Resize {
        axes: vec![1, 2],
        coordinate_transformation_mode: coord.into(),
        mode: if bilinear { "linear" } else { "nearest" }.into(),
        nearest_mode: nearest.into(),
        layout: Layout::ChannelsLast,
        ..Default::default()
    });
    let y = cx.node1(g, "", op, &[Some(x), None, None, Some(sizes)])?;
    cx.output(g, 0, y)?;
    Ok(())
}

fn d2s(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph, to_space: bool) -> R {
    let blocksize = i64::from(cx.opts().i32(0, 1)?);
    if blocksize < 1 {
        return Err(format!("block size {blocksize}").into());
    }
    let x = cx.input(g, 0)?;
    let op = if to_space {
        Op::DepthToSpace(DepthToSpace {
            blocksize,
            mode: "DCR".into(),
            layout: Layout::ChannelsLast,
        })
    } else {
        Op::SpaceToDepth(SpaceToDepth {
            blocksize,
            layout: Layout::ChannelsLast,
        })
    };
    let y = cx.node1(g, "", op, &[Some(x)])?;
    cx.output(g, 0, y)?;
    Ok(())
}
