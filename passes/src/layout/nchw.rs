//! The NHWC → NCHW pass ([`to_channels_first`], pass name `nchw`), for writing graphs imported
//! from channels-last formats (TensorFlow, TFLite) to formats whose ops are channels-first
//! (ONNX).
//!
//! Every channels-last layout-sensitive op (Conv, ConvTranspose, pools, BatchNormalization,
//! InstanceNormalization, LRN, DepthToSpace/SpaceToDepth, Resize) becomes channels-first: its data
//! input is taken in NCHW (one Transpose per value, unless it already is) and its output is left
//! NCHW. The layout then flows through the rest of the graph exactly as in the `nhwc` pass (see
//! the module docs of [`super`]): elementwise ops, axis ops and data movement keep their inputs'
//! state, so `Conv → Relu6 → Add → Conv` runs NCHW throughout and only ops that need the logical
//! layout (and graph outputs) get a Transpose back. Weights and per-channel parameters are
//! already in ONNX order. A Resize's `axes` are renamed to the NCHW axes and expanded to
//! full-rank `sizes`/`scales` (ScatterElements into `Shape(x)` or ones), so no opset-18 `axes`
//! attribute is needed. Wrapping each op in its own pair of Transposes instead left 293 of them in
//! MediaPipe's pose landmark model (Conv → Transpose → Clip → Transpose → Conv).
//!
//! Refused (the pass fails naming the node): unknown rank, rank outside 3..=5, a MaxPool whose
//! Indices output is read, GridSample (its grid input has its own layout).

use super::cx::{Cx, err};
use super::perm::{self, Perm};
use super::{LayoutOptions, cleanup};
use crate::manager::{Changed, Context, Pass, PassError};
use edgeport_ir::ops::Layout;
use edgeport_ir::ops::defs::tensor::{ScatterElements, Shape as ShapeOp};
use edgeport_ir::{DType, Graph, NodeId, Op, Tensor, ValueId, ValueType};

/// The op's layout field when it is channels-last.
fn channels_last_layout(op: &mut Op) -> Option<&mut Layout> {
    let l = match op {
        Op::Conv(a) => &mut a.layout,
        Op::ConvInteger(a) => &mut a.layout,
        Op::QLinearConv(a) => &mut a.layout,
        Op::ConvTranspose(a) => &mut a.layout,
        Op::AveragePool(a) => &mut a.layout,
        Op::MaxPool(a) => &mut a.layout,
        Op::LpPool(a) => &mut a.layout,
        Op::GlobalAveragePool(a) => &mut a.layout,
        Op::GlobalMaxPool(a) => &mut a.layout,
        Op::GlobalLpPool(a) => &mut a.layout,
        Op::BatchNormalization(a) => &mut a.layout,
        Op::InstanceNormalization(a) => &mut a.layout,
        Op::LRN(a) => &mut a.layout,
        Op::DepthToSpace(a) => &mut a.layout,
        Op::SpaceToDepth(a) => &mut a.layout,
        Op::Resize(a) => &mut a.layout,
        Op::GridSample(a) => &mut a.layout,
        _ => return None,
    };
    (*l == Layout::ChannelsLast).then_some(l)
}

fn is_channels_last(op: &Op) -> bool {
    let mut op = op.clone();
    channels_last_layout(&mut op).is_some()
}

fn rank(g: &Graph, v: ValueId) -> Option<usize> {
    Some(g.value(v)?.ty.as_ref()?.as_tensor()?.shape.as_ref()?.rank())
}

/// Converts `g` to channels-first in place; returns the number of ops converted.
pub fn to_channels_first(g: &mut Graph) -> Result<usize, PassError> {
    let order = g.topo_order().map_err(|e| err(&g.name, e))?;
    if !order.iter().any(|&id| is_channels_last(&g.node(id).op)) {
        return Ok(0);
    }
    let mut cx = Cx::new(g);
    let mut converted = 0;
    for id in order {
        if !g.contains(id) {
            continue;
        }
        if is_channels_last(&g.node(id).op) {
            convert(&mut cx, g, id)?;
            converted += 1;
        } else {
            super::see_through(&mut cx, g, id)?;
        }
    }
    cleanup::outputs(&mut cx, g, &LayoutOptions::default())?;
    cleanup::aliases(&mut cx, g)?;
    cleanup::transposes(g)?;
    cleanup::sweep(g);
    Ok(converted)
}

fn convert(cx: &mut Cx, g: &mut Graph, id: NodeId) -> Result<(), PassError> {
    let name = g.node(id).name.clone();
    if matches!(g.node(id).op, Op::GridSample(_)) {
        return Err(err(&name, "a channels-last GridSample has no channels-first rewrite here"));
    }
    if matches!(g.node(id).op, Op::MaxPool(_)) && !g.consumers(id.out(1)).is_empty() {
        return Err(err(&name, "the Indices of a channels-last MaxPool cannot be rewritten to NCHW"));
    }
    let Some(Some(x)) = g.inputs_of(id).first().copied() else {
        return Err(err(&name, "the data input is missing"));
    };
    let spatial = match &g.node(id).op {
        Op::Conv(c) => c.kernel_shape.len(),
        Op::ConvTranspose(c) => c.kernel_shape.len(),
        Op::AveragePool(c) => c.kernel_shape.len(),
        Op::MaxPool(c) => c.kernel_shape.len(),
        Op::Resize(c) if c.axes.len() == 2 => 2,
        _ => 0,
    };
    let r = cx
        .rank(g, x)
        .or_else(|| rank(g, id.out(0)))
        .or_else(|| (spatial > 0).then_some(spatial + 2))
        .ok_or_else(|| err(&name, "the data input's rank is unknown"))?;
    if !(3..=5).contains(&r) {
        return Err(err(&name, format!("channels-last op on a rank-{r} tensor")));
    }
    let to_last: Perm = perm::channels_last(r);
    let to_first: Perm = perm::inverse(&to_last);
    // Input: NHWC → NCHW (nothing to do when the producer already left it NCHW).
    let xt = cx.in_state_of_rank(g, x, &to_first, true)?;
    g.set_input(id, 0, Some(xt)).map_err(|e| err(&name, e))?;
    if let Some(l) = channels_last_layout(&mut g.node_mut(id).op) {
        *l = Layout::ChannelsFirst;
    }
    if matches!(g.node(id).op, Op::Resize(_)) {
        resize_axes(cx, g, id, xt, r, &to_last)?;
    }
    // Output 0 stays NCHW: its logical layout is still NHWC, stored channels-first.
    cx.set_state(g, id.out(0), to_first);
    Ok(())
}

/// A Resize with `axes` (named on the NHWC tensor): renames them to NCHW and expands
/// `sizes`/`scales` to full rank so the op needs no `axes` attribute.
fn resize_axes(cx: &mut Cx, g: &mut Graph, id: NodeId, xt: ValueId, r: usize, to_last: &[usize]) -> Result<(), PassError> {
    let name = g.node(id).name.clone();
    let Op::Resize(rs) = &g.node(id).op else { return Ok(()) };
    if rs.axes.is_empty() {
        // Full-rank sizes/scales name NHWC axes: permute them like the data.
        return Err(err(&name, "a channels-last Resize without axes is not rewritten"));
    }
    let mut axes = Vec::new();
    for &a in &rs.axes {
        let a = if a < 0 { a + r as i64 } else { a };
        let p = usize::try_from(a)
            .ok()
            .and_then(|a| to_last.get(a).copied())
            .ok_or_else(|| err(&name, format!("axis {a} out of range")))?;
        axes.push(p as i64);
    }
    let ins = g.inputs_of(id);
    let (scales, sizes) = (ins.get(2).copied().flatten(), ins.get(3).copied().flatten());
    let k = axes.len();
    let idx = Tensor::from_i64(vec![k], &axes).map_err(|e| err(&name, e))?;
    let idx = g.add_constant(cx.fresh(&format!("{name}__axes")), idx);
    let (slot, data, updates) = match (sizes, scales) {
        (Some(s), _) => {
            let sn = cx.fresh(&format!("{name}__shape"));
            let sh = g
                .add_op(&sn, Op::Shape(ShapeOp::default()), &[Some(xt)], &[&sn])
                .map_err(|e| err(&name, e))?
                .out(0);
            if let Some(v) = g.value_mut(sh) {
                v.ty = Some(ValueType::tensor(DType::I64, Some(edgeport_ir::Shape::known(&[r as u64]))));
            }
            (3, sh, s)
        }
        (None, Some(s)) => {
            let ones = Tensor::from_f32(vec![r], &vec![1.0; r]).map_err(|e| err(&name, e))?;
            (2, g.add_constant(cx.fresh(&format!("{name}__ones")), ones), s)
        }
        (None, None) => return Err(err(&name, "Resize has neither scales nor sizes")),
    };
    let fname = cx.fresh(&format!("{name}__full"));
    let full = g
        .add_op(
            &fname,
            Op::ScatterElements(ScatterElements {
                axis: 0,
                ..Default::default()
            }),
            &[Some(data), Some(idx), Some(updates)],
            &[&fname],
        )
        .map_err(|e| err(&name, e))?
        .out(0);
    let dt = if slot == 3 { DType::I64 } else { DType::F32 };
    if let Some(v) = g.value_mut(full) {
        v.ty = Some(ValueType::tensor(dt, Some(edgeport_ir::Shape::known(&[r as u64]))));
    }
    g.set_input(id, slot, Some(full)).map_err(|e| err(&name, e))?;
    if let Op::Resize(rs) = &mut g.node_mut(id).op {
        rs.axes.clear();
    }
    Ok(())
}

/// The NHWC → NCHW pass as a pipeline pass (`nchw`).
#[derive(Clone, Debug, Default)]
pub struct Nchw;

impl Pass for Nchw {
    fn name(&self) -> &'static str {
        "nchw"
    }
    fn run(&self, g: &mut Graph, cx: &mut Context) -> Result<Changed, PassError> {
        let n = to_channels_first(g)?;
        cx.notes.push(format!("nchw: {n} ops channels-first"));
        Ok(Changed::from_bool(n > 0))
    }
}
