//! Other array ops: Where (indices of true elements), TopKV2, Einsum, Cumsum,
//! DepthToSpace/SpaceToDepth.

use super::{Cx, Rule};
use edgeport_ir::ops::Layout;
use edgeport_ir::ops::math::{CumSum, Einsum, TopK};
use edgeport_ir::ops::tensor::{DepthToSpace, NonZero, SpaceToDepth};
use edgeport_ir::{DType, Op, ValueId};

pub const OPS: &[&str] = &["Where", "TopKV2", "Einsum", "Cumsum", "DepthToSpace", "SpaceToDepth"];

pub fn rule(op: &str) -> Option<Rule> {
    Some(match op {
        "Where" => where_,
        "TopKV2" => top_k,
        "Einsum" => einsum,
        "Cumsum" => cumsum,
        "DepthToSpace" | "SpaceToDepth" => depth_space,
        _ => return None,
    })
}

/// TF Where(x) gives [n, rank] int64 coordinates; ONNX NonZero gives [rank, n].
fn where_(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    if cx.ins.len() == 3 {
        let ins = cx.ins.clone();
        return cx.op1("", Op::Where(edgeport_ir::ops::tensor::Where {}), &ins).map(|v| vec![v]);
    }
    let x = cx.input(0)?;
    let nz = cx.op1("nonzero", Op::NonZero(NonZero {}), &[x])?;
    cx.transpose(nz, &[1, 0], "").map(|v| vec![v])
}

fn top_k(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let x = cx.input(0)?;
    let k = cx.input(1)?;
    let k = cx.to_i64(k, "k64")?;
    let shape1 = cx.const_i64("k_shape", &[1], false)?;
    let k1 = cx.op1("k", Op::Reshape(Default::default()), &[k, shape1])?;
    let sorted = i64::from(cx.attr("sorted").is_none() || cx.attr_b("sorted"));
    let outs = cx.op(
        "",
        Op::TopK(TopK {
            axis: -1,
            largest: 1,
            sorted,
        }),
        &[Some(x), Some(k1)],
        2,
    )?;
    let idx_type = cx.attr_type("index_type").unwrap_or(DType::I32);
    let idx = if idx_type == DType::I64 {
        outs[1]
    } else {
        cx.cast(outs[1], idx_type, "indices")?
    };
    Ok(vec![outs[0], idx])
}

fn einsum(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let equation = cx.attr_s("equation").ok_or("missing 'equation'")?;
    let ins = cx.ins.clone();
    cx.op1("", Op::Einsum(Einsum { equation }), &ins).map(|v| vec![v])
}

fn cumsum(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let (x, a) = (cx.input(0)?, cx.input(1)?);
    let op = Op::CumSum(CumSum {
        exclusive: i64::from(cx.attr_b("exclusive")),
        reverse: i64::from(cx.attr_b("reverse")),
    });
    cx.op1("", op, &[x, a]).map(|v| vec![v])
}

fn depth_space(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let x = cx.input(0)?;
    let blocksize = cx.attr_i("block_size").ok_or("missing 'block_size'")?;
    let layout = if cx.channels_first() {
        Layout::ChannelsFirst
    } else {
        Layout::ChannelsLast
    };
    let op = if cx.node.op == "DepthToSpace" {
        Op::DepthToSpace(DepthToSpace {
            blocksize,
            mode: "DCR".into(),
            layout,
        })
    } else {
        Op::SpaceToDepth(SpaceToDepth { blocksize, layout })
    };
    cx.op1("", op, &[x]).map(|v| vec![v])
}
