//! Layout-sensitive ops: a channels-first Conv, pool, normalization, Resize, depth/space op or
//! GridSample becomes channels-last. Its data input is taken in the channels-last state, its
//! output is left in that state; weights and per-channel parameters keep their ONNX order.

use super::cx::{Cx, err};
use super::perm;
use crate::manager::PassError;
use edgeport_ir::ops::Layout;
use edgeport_ir::{Graph, NodeId, Op};

/// The op's layout field, if it is a layout-sensitive op this pass converts.
fn layout_mut(op: &mut Op) -> Option<&mut Layout> {
    Some(match op {
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
        Op::BatchNormalization(a) if a.training_mode == 0 => &mut a.layout,
        Op::InstanceNormalization(a) => &mut a.layout,
        Op::LRN(a) => &mut a.layout,
        Op::DepthToSpace(a) => &mut a.layout,
        Op::SpaceToDepth(a) => &mut a.layout,
        Op::Resize(a) => &mut a.layout,
        Op::GridSample(a) => &mut a.layout,
        _ => return None,
    })
}

/// Does the op carry a channels-first layout field this pass converts?
pub fn is_channels_first_sensitive(op: &Op) -> bool {
    match op {
        Op::Conv(a) => a.layout == Layout::ChannelsFirst,
        Op::ConvInteger(a) => a.layout == Layout::ChannelsFirst,
        Op::QLinearConv(a) => a.layout == Layout::ChannelsFirst,
        Op::ConvTranspose(a) => a.layout == Layout::ChannelsFirst,
        Op::AveragePool(a) => a.layout == Layout::ChannelsFirst,
        Op::MaxPool(a) => a.layout == Layout::ChannelsFirst,
        Op::LpPool(a) => a.layout == Layout::ChannelsFirst,
        Op::GlobalAveragePool(a) => a.layout == Layout::ChannelsFirst,
        Op::GlobalMaxPool(a) => a.layout == Layout::ChannelsFirst,
        Op::GlobalLpPool(a) => a.layout == Layout::ChannelsFirst,
        Op::BatchNormalization(a) => a.layout == Layout::ChannelsFirst && a.training_mode == 0,
        Op::InstanceNormalization(a) => a.layout == Layout::ChannelsFirst,
        Op::LRN(a) => a.layout == Layout::ChannelsFirst,
        Op::DepthToSpace(a) => a.layout == Layout::ChannelsFirst,
        Op::SpaceToDepth(a) => a.layout == Layout::ChannelsFirst,
        Op::Resize(a) => a.layout == Layout::ChannelsFirst,
        Op::GridSample(a) => a.layout == Layout::ChannelsFirst,
        _ => false,
    }
}

/// Converts node `id` to channels-last. Returns `false` (nothing changed) when it cannot: the
/// data rank is unknown or below 3, MaxPool's Indices output is used, or Resize's scales/sizes
/// are not constants.
pub fn convert(cx: &mut Cx, g: &mut Graph, id: NodeId) -> Result<bool, PassError> {
    if !is_channels_first_sensitive(&g.node(id).op) {
        return Ok(false);
    }
    let ins = g.inputs_of(id);
    let Some(Some(x)) = ins.first().copied() else {
        return Ok(false);
    };
    let Some(r) = cx.rank(g, x) else { return Ok(false) };
    if r < 3 {
        return Ok(false);
    }
    if let Op::MaxPool(_) = &g.node(id).op
        && g.node(id).outputs.len() > 1
        && !g.node(id).outputs[1].name.is_empty()
        && (!g.consumers(id.out(1)).is_empty() || g.is_output(id.out(1)))
    {
        return Ok(false);
    }
    let want = perm::channels_last(r);
    let name = g.node(id).name.clone();
    if let Op::Resize(a) = &g.node(id).op {
        let axes = a.axes.clone();
        if !resize_inputs(cx, g, id, &ins, &want, &axes, &name)? {
            return Ok(false);
        }
    }
    let xin = cx.in_state(g, x, &want)?;
    g.set_input(id, 0, Some(xin)).map_err(|e| err(&name, e))?;
    if let Some(l) = layout_mut(&mut g.node_mut(id).op) {
        *l = Layout::ChannelsLast;
    }
    cx.set_state(g, id.out(0), want);
    cx.converted += 1;
    Ok(true)
}

/// Resize's roi/scales/sizes (or its `axes` attribute) name the tensor's own axes: rewrite them
/// for the channels-last tensor. `false` when they are not constants.
fn resize_inputs(
    cx: &mut Cx,
    g: &mut Graph,
    id: NodeId,
    ins: &[Option<edgeport_ir::ValueId>],
    want: &[usize],
    axes: &[i64],
    name: &str,
) -> Result<bool, PassError> {
    if !axes.is_empty() {
        let mut new_axes = Vec::with_capacity(axes.len());
        for &a in axes {
            let Some(p) = perm::phys_axis(a, want) else {
                return Err(err(name, format!("Resize axis {a} out of range for rank {}", want.len())));
            };
            new_axes.push(p as i64);
        }
        if let Op::Resize(a) = &mut g.node_mut(id).op {
            a.axes = new_axes;
        }
        return Ok(true);
    }
    // roi = [starts…, ends…] (2r), scales and sizes (r each) follow the axes.
    let mut plan = Vec::new();
    for slot in 1..4 {
        let Some(Some(v)) = ins.get(slot).copied() else { continue };
        let Some(t) = Cx::konst(g, v) else { return Ok(false) };
        if t.numel() == 0 {
            continue;
        }
        plan.push((slot, v, t.clone()));
    }
    let r = want.len();
    let mut rewired = Vec::new();
    for (slot, v, t) in plan {
        let vals_len = t.numel();
        let p: Vec<usize> = if vals_len == 2 * r && slot == 1 {
            want.iter().copied().chain(want.iter().map(|&a| a + r)).collect()
        } else if vals_len == r {
            want.to_vec()
        } else {
            return Err(err(name, format!("Resize input {slot} has {vals_len} values for rank {r}")));
        };
        let Some(nt) = gather1d(&flat(&t), &p) else {
            return Ok(false);
        };
        let base = super::cx::value_name(g, v);
        let nm = cx.fresh(&format!("{base}__nhwc"));
        rewired.push((slot, g.add_constant(nm, nt)));
    }
    for (slot, nv) in rewired {
        g.set_input(id, slot, Some(nv)).map_err(|e| err(name, e))?;
    }
    Ok(true)
}

fn flat(t: &edgeport_ir::Tensor) -> edgeport_ir::Tensor {
    edgeport_ir::Tensor {
        shape: vec![t.numel()],
        ..t.clone()
    }
}

/// `t[p]` for a 1-D tensor of whole-byte elements.
fn gather1d(t: &edgeport_ir::Tensor, p: &[usize]) -> Option<edgeport_ir::Tensor> {
    let raw = t.raw()?;
    let bits = t.dtype.bits();
    if bits == 0 || !bits.is_multiple_of(8) {
        return None;
    }
    let es = bits / 8;
    let mut out = Vec::with_capacity(p.len() * es);
    for &i in p {
        out.extend_from_slice(raw.get(i * es..(i + 1) * es)?);
    }
    edgeport_ir::Tensor::from_bytes(t.dtype, vec![p.len()], edgeport_ir::Bytes::from_vec(out)).ok()
}
