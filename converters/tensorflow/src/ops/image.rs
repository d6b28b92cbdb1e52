//! Image resizing: ResizeBilinear / ResizeNearestNeighbor (NHWC) onto the IR's Resize over the
//! two spatial axes, with TF's `align_corners` / `half_pixel_centers` coordinate modes.

use super::{Cx, Rule};
use edgeport_ir::ops::Layout;
use edgeport_ir::ops::tensor::Resize;
use edgeport_ir::{Op, ValueId};

pub const OPS: &[&str] = &["ResizeBilinear", "ResizeNearestNeighbor"];

pub fn rule(op: &str) -> Option<Rule> {
    Some(match op {
        "ResizeBilinear" | "ResizeNearestNeighbor" => resize,
        _ => return None,
    })
}

fn resize(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let x = cx.input(0)?;
    let size = cx.input(1)?;
    let size = cx.to_i64(size, "sizes")?;
    let align = cx.attr_b("align_corners");
    let half = cx.attr_b("half_pixel_centers");
    let bilinear = cx.node.op == "ResizeBilinear";
    let (ctm, nearest_mode) = match (align, half, bilinear) {
        (true, _, true) => ("align_corners", "round_prefer_floor"),
        (false, true, true) => ("half_pixel", "round_prefer_floor"),
        (false, false, true) => ("asymmetric", "round_prefer_floor"),
        (true, _, false) => ("align_corners", "round_prefer_ceil"),
        // TF: floor((x + 0.5) * scale) == round_prefer_ceil((x + 0.5) * scale - 0.5).
        (false, true, false) => ("half_pixel", "round_prefer_ceil"),
        (false, false, false) => ("asymmetric", "floor"),
    };
    let op = Op::Resize(Resize {
        axes: vec![1, 2],
        coordinate_transformation_mode: ctm.into(),
        mode: if bilinear { "linear" } else { "nearest" }.into(),
        nearest_mode: nearest_mode.into(),
        layout: Layout::ChannelsLast,
        ..Default::default()
    });
    cx.op("", op, &[Some(x), None, None, Some(size)], 1)
}
