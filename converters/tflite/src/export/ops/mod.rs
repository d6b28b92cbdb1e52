//! Op rules, one family per file, and the dispatch from an IR op to its rule.

mod binary;
pub(crate) mod conv;
mod custom;
mod detection;
pub(crate) mod gelu;
mod gelu_apply;
mod gemm;
pub(crate) mod heads;
mod norm;
mod pool;
pub(crate) mod quant;
mod reduce;
mod resize;
mod shape;
mod slice;
pub(crate) mod static_shapes;
mod unary;

use super::lower::{LResult, Lower, err};
use edgeport_ir::{Node, NodeId, Op};
use pool::Kind;

/// Lowers one node: matched patterns first, then an integer kernel when the node sits between
/// DequantizeLinear and QuantizeLinear, else the float rule.
pub(crate) fn lower_node(cx: &mut Lower, id: NodeId, node: &Node) -> LResult<()> {
    if let Some(&x) = cx.gelu.get(&id) {
        return gelu_apply::gelu(cx, id, x);
    }
    if quant::lower(cx, id, &node.op)? || quant::try_integer(cx, id)? {
        return Ok(());
    }
    lower_float(cx, id, node)
}

/// The float rule of a node (also used, with aliases, for integer kernels).
pub(crate) fn lower_float(cx: &mut Lower, id: NodeId, node: &Node) -> LResult<()> {
    let op = &node.op;
    match op {
        Op::Conv(c) => return conv::conv(cx, id, c),
        Op::ConvTranspose(c) => return conv::conv_transpose(cx, id, c),
        Op::MaxPool(p) => {
            if p.storage_order != 0 {
                return err("storage_order=1 is not exported");
            }
            return pool::pool(
                cx,
                id,
                Kind::Max,
                &p.kernel_shape,
                &p.strides,
                &p.dilations,
                &p.pads,
                &p.auto_pad,
                p.ceil_mode,
                p.layout,
            );
        }
        Op::AveragePool(p) => {
            let kind = Kind::Avg {
                count_include_pad: p.count_include_pad != 0,
            };
            return pool::pool(
                cx,
                id,
                kind,
                &p.kernel_shape,
                &p.strides,
                &p.dilations,
                &p.pads,
                &p.auto_pad,
                p.ceil_mode,
                p.layout,
            );
        }
        Op::GlobalAveragePool(g) => return pool::global(cx, id, false, g.layout),
        Op::GlobalMaxPool(g) => return pool::global(cx, id, true, g.layout),
        Op::Gemm(g) => return gemm::gemm(cx, id, g),
        Op::MatMul(_) => return gemm::matmul(cx, id),
        Op::BatchNormalization(b) => return norm::batch_norm(cx, id, b),
        Op::LRN(l) => return norm::lrn(cx, id, l),
        Op::Resize(r) => return resize::resize(cx, id, r),
        Op::DepthToSpace(d) => return resize::depth_space(cx, id, true, d.blocksize, &d.mode, d.layout),
        Op::SpaceToDepth(d) => return resize::depth_space(cx, id, false, d.blocksize, "DCR", d.layout),
        Op::Custom(c) => return custom::custom(cx, id, c, node.n_inputs, node.outputs.len()),
        _ => {}
    }
    if binary::lower(cx, id, op)?
        || unary::lower(cx, id, op)?
        || reduce::lower(cx, id, op)?
        || shape::lower(cx, id, op)?
        || slice::lower(cx, id, op)?
        || detection::lower(cx, id, op)?
    {
        return Ok(());
    }
    err("no TFLite lowering for this op")
}
