//! Reductions: `reduce_mean/sum/max/min` (dim, keep_dim, reduce_all; PIR passes the axes as
//! an operand) and `mean` (mean of all elements, shape [1] in legacy programs).

use super::Rule;
use crate::build::{Attrs, Ctx, RuleResult};
use crate::program::OpDesc;
use edgeport_ir::Op;
use edgeport_ir::ops::defs::reduction::{ReduceMax, ReduceMean, ReduceMin, ReduceSum};
use edgeport_ir::ops::defs::tensor::Reshape;

pub const RULES: &[(&str, Rule)] = &[
    ("reduce_mean", reduce),
    ("reduce_sum", reduce),
    ("reduce_max", reduce),
    ("reduce_min", reduce),
    ("mean", mean_all),
];

fn reduce(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    let x = cx.input(op, "X")?;
    let out = cx.out_name(op, "Out")?;
    let axes = cx.ints_attr_or_input(op, "dim", "AxesTensor")?.unwrap_or_default();
    let keep = i64::from(op.boolean("keep_dim", false));
    let all = op.boolean("reduce_all", false) || axes.is_empty();
    let axes_v = if all {
        None
    } else {
        Some(cx.const_i64(&format!("{out}/axes"), &axes))
    };
    let ir = match op.ty.as_str() {
        "reduce_mean" => Op::ReduceMean(ReduceMean {
            keepdims: keep,
            noop_with_empty_axes: 0,
        }),
        "reduce_sum" => Op::ReduceSum(ReduceSum {
            keepdims: keep,
            noop_with_empty_axes: 0,
        }),
        "reduce_max" => Op::ReduceMax(ReduceMax {
            keepdims: keep,
            noop_with_empty_axes: 0,
        }),
        "reduce_min" => Op::ReduceMin(ReduceMin {
            keepdims: keep,
            noop_with_empty_axes: 0,
        }),
        t => return Err(format!("'{t}' is not supported")),
    };
    cx.emit(op, "Out", ir, &[Some(x), axes_v])
}

/// Legacy `mean`: the mean of every element, as a tensor of shape [1].
fn mean_all(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    let x = cx.input(op, "X")?;
    let out = cx.out_name(op, "Out")?;
    let m = cx.node(
        &format!("{out}/mean"),
        Op::ReduceMean(ReduceMean {
            keepdims: 0,
            noop_with_empty_axes: 0,
        }),
        &[Some(x), None],
    )?;
    let one = cx.const_i64(&format!("{out}/shape"), &[1]);
    cx.emit(op, "Out", Op::Reshape(Reshape::default()), &[Some(m), Some(one)])
}
