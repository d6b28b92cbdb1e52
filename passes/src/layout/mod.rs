//! The NCHW → NHWC layout pass ([`to_channels_last`], pass name `nhwc`).
//!
//! Every channels-first layout-sensitive op (Conv, ConvTranspose, pools, BatchNormalization,
//! InstanceNormalization, LRN, Resize, DepthToSpace/SpaceToDepth, GridSample) becomes
//! `Layout::ChannelsLast`: its data input and output are NHWC, its weights keep their ONNX order
//! (OIHW; backends permute them at write time). The layout then flows through the graph:
//!
//! 1. **Propagation** (one walk in topological order). Each value has a *state*, the permutation
//!    from its logical (source) layout to the layout it is now stored in ([`perm`]). Ops that do
//!    not care about layout keep the state of their inputs: elementwise ops ([`elementwise`],
//!    constants operands permuted once), axis ops with their axes renamed ([`axes`]), data
//!    movement with constant shape inputs rewritten ([`shape_ops`]), Flatten/Reshape when the
//!    memory order allows or by permuting the following Gemm's weight rows ([`reshape`]). A
//!    Transpose of a permuted value is absorbed into the state. Any other op gets its inputs
//!    back in logical layout through one Transpose per value ([`cx::Cx::in_state`]).
//! 2. **Outputs**: a graph output left permuted is transposed back, unless
//!    [`LayoutOptions::nhwc_io`] and it is NHWC.
//! 3. **Cleanup** ([`cleanup`]): Transpose chains composed, identity Transposes dropped,
//!    Transposes of constants folded; with `nhwc_io` a graph input read only through an
//!    NCHW→NHWC Transpose becomes an NHWC input.
//!
//! Graphs without channels-first layout-sensitive ops (transformers) are left untouched.

mod axes;
mod cleanup;
mod consts;
mod cx;
mod elementwise;
mod nchw;
mod perm;
mod reshape;
mod sensitive;
mod shape_ops;

use crate::manager::{Changed, Context, Pass, PassError};
use cx::{Cx, err};
use edgeport_ir::{Graph, NodeId, OpKind};
pub use nchw::{Nchw, to_channels_first};

/// Options of the layout pass.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LayoutOptions {
    /// Make 3-5-d graph inputs and outputs NHWC too (no Transpose at the boundary). By default
    /// inputs and outputs keep the source's layout: one Transpose at each such boundary.
    pub nhwc_io: bool,
}

/// What the layout pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LayoutReport {
    /// Transpose nodes left between the graph inputs and outputs (not touching either).
    pub transposes_inside: usize,
    /// Transpose nodes reading a graph input or producing a graph output.
    pub boundary_transposes: usize,
    /// Layout-sensitive ops switched to channels-last.
    pub converted_ops: usize,
}

/// Converts `g` to channels-last in place. See the module docs.
pub fn to_channels_last(g: &mut Graph, opts: &LayoutOptions) -> Result<LayoutReport, PassError> {
    let order = g.topo_order().map_err(|e| err(&g.name, e))?;
    if !order.iter().any(|&id| sensitive::is_channels_first_sensitive(&g.node(id).op)) {
        return Ok(count(g, 0));
    }
    let mut cx = Cx::new(g);
    for id in order {
        if g.contains(id) {
            visit(&mut cx, g, id)?;
        }
    }
    cleanup::outputs(&mut cx, g, opts)?;
    cleanup::aliases(&mut cx, g)?;
    cleanup::transposes(g)?;
    if opts.nhwc_io {
        cleanup::nhwc_inputs(g)?;
    }
    cleanup::sweep(g);
    Ok(count(g, cx.converted))
}

/// Rewrites one node of the original graph.
fn visit(cx: &mut Cx, g: &mut Graph, id: NodeId) -> Result<(), PassError> {
    let kind = g.node(id).op.kind();
    if matches!(kind, OpKind::Input | OpKind::Constant) {
        return Ok(());
    }
    if sensitive::is_channels_first_sensitive(&g.node(id).op) {
        if !sensitive::convert(cx, g, id)? {
            cx.materialize_inputs(g, id)?;
        }
        return Ok(());
    }
    see_through(cx, g, id)
}

/// Rewrites a node that is not converted itself: ops that do not care about layout keep their
/// inputs' state (axes renamed, constants permuted); any other op reads its inputs back in their
/// logical layout. Shared by both directions (`nhwc` and `nchw`).
fn see_through(cx: &mut Cx, g: &mut Graph, id: NodeId) -> Result<(), PassError> {
    if !g.inputs_of(id).iter().flatten().any(|v| cx.state(*v).is_some()) {
        return Ok(());
    }
    use OpKind as K;
    match g.node(id).op.kind() {
        k if elementwise::is_unary(k) => elementwise::unary(cx, g, id),
        k if elementwise::is_broadcast(k) => elementwise::broadcast(cx, g, id),
        k if axes::is_reduce(k) => axes::reduce(cx, g, id),
        K::Concat => axes::concat(cx, g, id),
        K::Softmax | K::LogSoftmax | K::Hardmax | K::LpNormalization | K::TopK | K::ArgMax | K::ArgMin | K::Split => {
            axes::single_axis(cx, g, id)
        }
        K::QuantizeLinear | K::DequantizeLinear => axes::qdq(cx, g, id),
        K::Transpose => axes::transpose(cx, g, id),
        K::Slice | K::Pad | K::Squeeze | K::Unsqueeze | K::Gather | K::Expand | K::Tile | K::Shape | K::Size => {
            shape_ops::shape_op(cx, g, id)
        }
        K::Flatten | K::Reshape => reshape::reshape_like(cx, g, id),
        _ => cx.materialize_inputs(g, id),
    }
}

/// Counts the Transposes of `g` by position.
fn count(g: &Graph, converted: usize) -> LayoutReport {
    let mut r = LayoutReport {
        converted_ops: converted,
        ..Default::default()
    };
    for id in g.node_ids() {
        if g.node(id).op.kind() != OpKind::Transpose {
            continue;
        }
        let from_input = g
            .inputs_of(id)
            .first()
            .copied()
            .flatten()
            .is_some_and(|v| g.inputs().contains(&v.node));
        if from_input || g.is_output(id.out(0)) {
            r.boundary_transposes += 1;
        } else {
            r.transposes_inside += 1;
        }
    }
    r
}

/// The layout pass as a pipeline pass (`nhwc`; `nhwc-io` makes the graph I/O NHWC too).
#[derive(Clone, Debug, Default)]
pub struct Nhwc {
    pub opts: LayoutOptions,
}

impl Pass for Nhwc {
    fn name(&self) -> &'static str {
        if self.opts.nhwc_io { "nhwc-io" } else { "nhwc" }
    }
    fn run(&self, g: &mut Graph, cx: &mut Context) -> Result<Changed, PassError> {
        let r = to_channels_last(g, &self.opts)?;
        cx.notes.push(format!(
            "{}: {} ops channels-last, {} transposes inside, {} at the boundary",
            self.name(),
            r.converted_ops,
            r.transposes_inside,
            r.boundary_transposes
        ));
        Ok(Changed::from_bool(r.converted_ops > 0))
    }
}
