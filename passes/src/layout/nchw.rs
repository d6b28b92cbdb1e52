//! The NHWC → NCHW pass ([`to_channels_first`], pass name `nchw`), for writing graphs imported
//! from channels-last formats (TensorFlow, TFLite) to formats whose ops are channels-first
//! (ONNX).
//!
//! Every channels-last layout-sensitive op (Conv, ConvTranspose, pools, BatchNormalization,
//! InstanceNormalization, LRN, DepthToSpace/SpaceToDepth, Resize) becomes channels-first: its data
//! input is read through a Transpose NHWC→NCHW and its output goes back through a Transpose
//! NCHW→NHWC, which keeps the output's name, so the rest of the graph is unchanged. Weights and
//! per-channel parameters are already in ONNX order. A Resize's `axes` are renamed to the NCHW
//! axes and expanded to full-rank `sizes`/`scales` (ScatterElements into `Shape(x)` or ones), so
//! no opset-18 `axes` attribute is needed. Then back-to-back Transposes are composed and the
//! identities dropped (`cleanup`), so chains of layout-sensitive ops keep NCHW between them.
//!
//! Refused (the pass fails naming the node): unknown rank, rank outside 3..=5, a MaxPool whose
//! Indices output is read, GridSample (its grid input has its own layout).

use super::cleanup;
use super::cx::err;
use super::perm::{self, Perm};
use crate::manager::{Changed, Context, Pass, PassError};
use edgeport_ir::ops::Layout;
use edgeport_ir::ops::defs::tensor::{ScatterElements, Shape as ShapeOp, Transpose};
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

/// A name not used by any value of `g` yet.
fn fresh(g: &Graph, base: &str) -> String {
    let mut name = base.to_string();
    let mut i = 1;
    while g.find_value(&name).is_some() {
        name = format!("{base}_{i}");
        i += 1;
    }
    name
}

/// Adds `Transpose(v, p)` with its type permuted.
fn transpose(g: &mut Graph, v: ValueId, p: &[usize], name: &str, node: &str) -> Result<ValueId, PassError> {
    let ty = g.value(v).and_then(|x| x.ty.clone());
    let quant = g.value(v).and_then(|x| x.quant.clone());
    let op = Op::Transpose(Transpose {
        perm: p.iter().map(|&a| a as i64).collect(),
    });
    let n = g.add_op(node, op, &[Some(v)], &[name]).map_err(|e| err(name, e))?;
    if let Some(val) = g.value_mut(n.out(0)) {
        val.ty = ty.as_ref().and_then(|ty| perm::permute_type(ty, p));
        val.quant = quant.filter(|q| matches!(q.granularity, edgeport_ir::quant::QuantGranularity::PerTensor));
    }
    Ok(n.out(0))
}

/// Converts `g` to channels-first in place; returns the number of ops converted.
pub fn to_channels_first(g: &mut Graph) -> Result<usize, PassError> {
    let order = g.topo_order().map_err(|e| err(&g.name, e))?;
    let mut converted = 0;
    for id in order {
        if g.contains(id) && is_channels_last(&g.node(id).op) {
            convert(g, id)?;
            converted += 1;
        }
    }
    if converted > 0 {
        cleanup::transposes(g)?;
        cleanup::sweep(g);
    }
    Ok(converted)
}

fn convert(g: &mut Graph, id: NodeId) -> Result<(), PassError> {
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
    let r = rank(g, x)
        .or_else(|| rank(g, id.out(0)))
        .or_else(|| (spatial > 0).then_some(spatial + 2))
        .ok_or_else(|| err(&name, "the data input's rank is unknown"))?;
    if !(3..=5).contains(&r) {
        return Err(err(&name, format!("channels-last op on a rank-{r} tensor")));
    }
    let to_last: Perm = perm::channels_last(r);
    let to_first: Perm = perm::inverse(&to_last);
    // Input: NHWC → NCHW.
    let tname = fresh(g, &format!("{}__nchw", g.value(x).map(|v| v.name.clone()).unwrap_or_default()));
    let xt = transpose(g, x, &to_first, &tname, &tname)?;
    g.set_input(id, 0, Some(xt)).map_err(|e| err(&name, e))?;
    if let Some(l) = channels_last_layout(&mut g.node_mut(id).op) {
        *l = Layout::ChannelsFirst;
    }
    if matches!(g.node(id).op, Op::Resize(_)) {
        resize_axes(g, id, xt, r, &to_last)?;
    }
    // Output 0: computed NCHW under a fresh name, then NCHW → NHWC under the old name.
    let y = id.out(0);
    let users = g.consumers(y);
    let old = g.value(y).map(|v| v.name.clone()).unwrap_or_default();
    let inner = fresh(g, &format!("{old}__nchw"));
    let ty = g.value(y).and_then(|v| v.ty.clone());
    if let Some(val) = g.value_mut(y) {
        val.name = inner;
        val.ty = ty.as_ref().and_then(|t| perm::permute_type(t, &to_first));
    }
    let back = transpose(g, y, &to_last, &old, &format!("{old}__to_nhwc"))?;
    if let Some(val) = g.value_mut(back) {
        val.ty = ty;
    }
    for (u, slot) in users {
        g.set_input(u, slot, Some(back)).map_err(|e| err(&name, e))?;
    }
    if g.is_output(y) {
        let outs: Vec<(String, ValueId)> = g
            .outputs()
            .iter()
            .map(|(n, v)| (n.clone(), if *v == y { back } else { *v }))
            .collect();
        g.set_outputs(outs).map_err(|e| err(&name, e))?;
    }
    Ok(())
}

/// A Resize with `axes` (named on the NHWC tensor): renames them to NCHW and expands
/// `sizes`/`scales` to full rank so the op needs no `axes` attribute.
fn resize_axes(g: &mut Graph, id: NodeId, xt: ValueId, r: usize, to_last: &[usize]) -> Result<(), PassError> {
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
    let idx = g.add_constant(fresh(g, &format!("{name}__axes")), idx);
    let (slot, data, updates) = match (sizes, scales) {
        (Some(s), _) => {
            let sn = fresh(g, &format!("{name}__shape"));
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
            (2, g.add_constant(fresh(g, &format!("{name}__ones")), ones), s)
        }
        (None, None) => return Err(err(&name, "Resize has neither scales nor sizes")),
    };
    let fname = fresh(g, &format!("{name}__full"));
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
