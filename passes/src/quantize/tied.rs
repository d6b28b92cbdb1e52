//! Activation points around pooling and data-movement ops, so runtimes keep the data in
//! integers through them instead of dequantizing into a float island:
//!
//! - a **tied** point: the output of a MaxPool, a nearest/linear Resize, a zero constant Pad or a
//!   layout op (Reshape, Flatten, Squeeze, Unsqueeze, Transpose) that reads a quantized value
//!   shares that value's scale and zero point. onnxruntime then drops the
//!   `DequantizeLinear → op → QuantizeLinear` around MaxPool (it only does so when both sides
//!   carry the same parameters); the others are moved onto the integers here
//!   ([`integer_moves`]), where they are exact, except a linear Resize (see there). TFLite's
//!   integer MAX_POOL_2D, PAD, RESHAPE and RESIZE kernels want equal parameters too.
//! - a **pool** point: the output of an average pool that reads a quantized value
//!   (onnxruntime's QLinearGlobalAveragePool / QLinearAveragePool).
//! - an **Add** point: an Add whose inputs are all quantized and whose output (after a Relu/Clip
//!   that is its only consumer) feeds a pool or a tied op: onnxruntime runs it as QLinearAdd and
//!   the op after it on the integers (resnet18's last block: `Add → Relu → GlobalAveragePool`;
//!   MediaPipe's pose landmark decoder: `Resize → Add → Resize`).

use crate::quantize::error::{QuantError, gerr};
use edgeport_ir::{DType, Graph, NodeId, Op, ValueId, ValueType};
use std::collections::HashSet;

fn dtype_of(g: &Graph, v: ValueId) -> Option<DType> {
    g.value(v)?.ty.as_ref()?.as_tensor().map(|t| t.dtype)
}

fn is_f32(g: &Graph, v: ValueId) -> bool {
    dtype_of(g, v) == Some(DType::F32)
}

/// The scalar value of a constant input (`None` when absent or not a constant scalar).
fn scalar(g: &Graph, v: Option<ValueId>) -> Option<f64> {
    let v = v?;
    match &g.get(v.node)?.op {
        Op::Constant(k) if k.value.numel() == 1 => k.value.to_f64_vec()?.first().copied(),
        _ => None,
    }
}

/// Whether `id` is a Pad in constant mode whose pad value is absent or 0 (0 is the zero point
/// on the integers, so the padded integers dequantize to the same values).
fn zero_pad(g: &Graph, id: NodeId) -> bool {
    let Op::Pad(p) = &g.node(id).op else { return false };
    if p.mode != "constant" {
        return false;
    }
    match g.inputs_of(id).get(2).copied().flatten() {
        None => true,
        v => scalar(g, v) == Some(0.0),
    }
}

/// The op kinds whose output shares its data input's quantization parameters.
fn ties(g: &Graph, id: NodeId) -> bool {
    match &g.node(id).op {
        // The Indices output (when used) stays as it is; only output 0 is tied.
        Op::MaxPool(_) => true,
        Op::Resize(r) => (r.mode == "nearest" || r.mode == "linear") && r.antialias == 0,
        Op::Pad(_) => zero_pad(g, id),
        Op::Reshape(_) | Op::Flatten(_) | Op::Squeeze(_) | Op::Unsqueeze(_) | Op::Transpose(_) => true,
        _ => false,
    }
}

/// The value whose parameters `v` takes, when `v` is the output of a tying op.
pub fn tie_source(g: &Graph, v: ValueId) -> Option<ValueId> {
    if v.port != 0 || !ties(g, v.node) {
        return None;
    }
    g.inputs_of(v.node).first().copied().flatten()
}

/// Appends the tied, pool and Add points (see the module docs) to `points`, in graph order.
pub fn add_points(g: &Graph, points: &mut Vec<ValueId>) {
    let Ok(order) = g.topo_order() else { return };
    let mut have: HashSet<ValueId> = points.iter().copied().collect();
    let pooled = |op: &Op| {
        matches!(
            op,
            Op::GlobalAveragePool(_) | Op::AveragePool(_) | Op::GlobalMaxPool(_) | Op::MaxPool(_)
        )
    };
    for id in order {
        let node = g.node(id);
        let y = id.out(0);
        if !is_f32(g, y) || g.is_output(y) {
            continue;
        }
        let ins: Vec<Option<ValueId>> = g.inputs_of(id).to_vec();
        let x = ins.first().copied().flatten();
        let reads_point = x.is_some_and(|x| have.contains(&x));
        let new = if ties(g, id) || matches!(node.op, Op::GlobalAveragePool(_) | Op::AveragePool(_) | Op::GlobalMaxPool(_)) {
            reads_point.then_some(y)
        } else if matches!(node.op, Op::Add(_)) && ins.len() == 2 && ins.iter().all(|i| i.is_some_and(|i| have.contains(&i))) {
            // Past a Relu/Clip that is the Add's only consumer (the producer-Clip drop then
            // folds it into the QuantizeLinear).
            let mut v = y;
            let cons = g.consumers(v);
            if let [(c, 0)] = cons[..]
                && matches!(g.node(c).op, Op::Relu(_) | Op::Clip(_))
                && !g.is_output(c.out(0))
            {
                v = c.out(0);
            }
            let feeds = g
                .consumers(v)
                .iter()
                .any(|&(c, slot)| slot == 0 && (pooled(&g.node(c).op) || ties(g, c)));
            feeds.then_some(v)
        } else {
            None
        };
        if let Some(v) = new
            && have.insert(v)
        {
            points.push(v);
        }
    }
}

/// Runs each `DequantizeLinear → op → QuantizeLinear` with equal parameters, for a zero Pad, a
/// nearest Resize or a layout op, on the integers: the op reads the quantized tensor (a Pad pads
/// with its zero point) and the QuantizeLinear goes; all are exact there. onnxruntime fuses none
/// of Pad, Resize and Flatten (MediaPipe's pose landmark model: 4 float Pads between int8 convs;
/// the Flatten before a classifier). Not moved: a MaxPool (onnxruntime fuses it, into its NHWC
/// kernel), and a linear Resize, which stays float between its tied QDQ pairs: onnxruntime's
/// uint8 kernel truncates the interpolated values (a mean shift of half a step; pose landmark's
/// segmentation output went from 0.730 to 0.703 cosine), at no measured gain in speed. For ONNX
/// outputs (the QDQ form); returns how many ops moved.
pub fn integer_moves(g: &mut Graph) -> Result<usize, QuantError> {
    let movable: Vec<NodeId> = g
        .node_ids()
        .filter(|&id| ties(g, id))
        .filter(|&id| match &g.node(id).op {
            Op::MaxPool(_) => false,
            Op::Resize(r) => r.mode == "nearest",
            _ => true,
        })
        .collect();
    let mut moved = 0;
    for p in movable {
        let Some(x) = g.inputs_of(p).first().copied().flatten() else {
            continue;
        };
        let dq = x.node;
        if !matches!(g.node(dq).op, Op::DequantizeLinear(_)) {
            continue;
        }
        let y = p.out(0);
        let cons = g.consumers(y);
        let [(q, 0)] = cons[..] else { continue };
        if g.is_output(y) || !matches!(g.node(q).op, Op::QuantizeLinear(_)) {
            continue;
        }
        let dq_in = g.inputs_of(dq).to_vec();
        let q_in = g.inputs_of(q).to_vec();
        let (Some(Some(codes)), Some(Some(zp))) = (dq_in.first(), dq_in.get(2)) else {
            continue;
        };
        let same = |i: usize| {
            let a = scalar(g, dq_in.get(i).copied().flatten());
            a.is_some() && a == scalar(g, q_in.get(i).copied().flatten())
        };
        let dtype = dtype_of(g, *codes);
        if !same(1) || !same(2) || dtype.is_none() || dtype != dtype_of(g, q.out(0)) || g.is_output(q.out(0)) {
            continue;
        }
        let (codes, zp) = (*codes, *zp);
        let name = g.node(p).name.clone();
        g.set_input(p, 0, Some(codes)).map_err(|e| gerr(&name, e))?;
        if !matches!(g.node(p).op, Op::Pad(_)) {
        } else if g.inputs_of(p).len() > 2 {
            g.set_input(p, 2, Some(zp)).map_err(|e| gerr(&name, e))?;
        } else {
            g.push_input(p, Some(zp), false).map_err(|e| gerr(&name, e))?;
        }
        let shape = g
            .value(y)
            .and_then(|v| v.ty.as_ref())
            .and_then(|t| t.as_tensor())
            .and_then(|t| t.shape.clone());
        if let Some(v) = g.value_mut(y) {
            // No annotation: in the QDQ form the DequantizeLinear after the op (or after the next
            // moved op) carries the parameters.
            v.ty = dtype.map(|d| ValueType::tensor(d, shape));
        }
        g.replace_all_uses(q.out(0), y).map_err(|e| gerr(&name, e))?;
        g.remove_node(q);
        moved += 1;
    }
    Ok(moved)
}
