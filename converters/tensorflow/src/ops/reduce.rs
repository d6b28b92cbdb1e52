//! Reductions (Mean/Sum/Max/Min/Prod, with `keep_dims`) and ArgMax/ArgMin. TF passes the axes
//! as an int32/int64 input; the IR's reductions take int64 axes as an input too.

use super::{Cx, Rule};
use edgeport_ir::ops::reduction::{ArgMax, ArgMin, ReduceMax, ReduceMean, ReduceMin, ReduceProd, ReduceSum};
use edgeport_ir::{DType, Op, ValueId};

pub const OPS: &[&str] = &["Mean", "Sum", "Max", "Min", "Prod", "ArgMax", "ArgMin"];

pub fn rule(op: &str) -> Option<Rule> {
    Some(match op {
        "Mean" | "Sum" | "Max" | "Min" | "Prod" => reduce,
        "ArgMax" | "ArgMin" => arg,
        _ => return None,
    })
}

fn reduce(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let x = cx.input(0)?;
    let axes = cx.input(1)?;
    let axes = cx.to_i64(axes, "axes")?;
    let keepdims = i64::from(cx.attr_b("keep_dims"));
    // An empty axes list reduces nothing in TF (noop_with_empty_axes).
    let noop = 1;
    let op = match cx.node.op.as_str() {
        "Mean" => Op::ReduceMean(ReduceMean {
            keepdims,
            noop_with_empty_axes: noop,
        }),
        "Sum" => Op::ReduceSum(ReduceSum {
            keepdims,
            noop_with_empty_axes: noop,
        }),
        "Max" => Op::ReduceMax(ReduceMax {
            keepdims,
            noop_with_empty_axes: noop,
        }),
        "Min" => Op::ReduceMin(ReduceMin {
            keepdims,
            noop_with_empty_axes: noop,
        }),
        _ => Op::ReduceProd(ReduceProd {
            keepdims,
            noop_with_empty_axes: noop,
        }),
    };
    cx.op1("", op, &[x, axes]).map(|v| vec![v])
}

fn arg(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let x = cx.input(0)?;
    let axis = match cx.const_ints(1)?[..] {
        [a] => a,
        ref v => return Err(format!("dimension must be a single constant, got {v:?}")),
    };
    let out = cx.attr_type("output_type").unwrap_or(DType::I64);
    let op = if cx.node.op == "ArgMax" {
        Op::ArgMax(ArgMax {
            axis,
            keepdims: 0,
            select_last_index: 0,
        })
    } else {
        Op::ArgMin(ArgMin {
            axis,
            keepdims: 0,
            select_last_index: 0,
        })
    };
    if out == DType::I64 {
        return cx.op1("", op, &[x]).map(|v| vec![v]);
    }
    let i = cx.op1("i64", op, &[x])?;
    cx.cast(i, out, "").map(|v| vec![v])
}
