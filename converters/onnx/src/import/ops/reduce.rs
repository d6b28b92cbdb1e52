//! Reductions: `axes` was an attribute until opset 13 (ReduceSum) or 18 (the others) and is
//! an input since.

use super::{B, NodeIn, Rule, rebuild};
use crate::import::Built;
use edgeport_ir::Graph;

pub(crate) fn rule(op_type: &str) -> Option<Rule> {
    match op_type {
        "ReduceSum" => Some(reduce_sum),
        "ReduceL1" | "ReduceL2" | "ReduceLogSum" | "ReduceLogSumExp" | "ReduceMax" | "ReduceMean" | "ReduceMin" | "ReduceProd"
        | "ReduceSumSquare" => Some(reduce_18),
        _ => None,
    }
}

fn reduce_sum(n: &mut NodeIn<'_>, g: &mut Graph) -> Option<Result<Built, String>> {
    (n.opset < 13).then(|| axes_to_input(n, g))
}

fn reduce_18(n: &mut NodeIn<'_>, g: &mut Graph) -> Option<Result<Built, String>> {
    (n.opset < 18).then(|| axes_to_input(n, g))
}

fn axes_to_input(n: &mut NodeIn<'_>, g: &mut Graph) -> Result<Built, String> {
    let data = n.req(0)?;
    let axes = n.take_ints("axes")?;
    // An absent or empty `axes` meant "all axes", as an omitted input does now.
    let axes = match axes {
        Some(a) if !a.is_empty() => Some(B::new(n, g).ints("axes", &a)?),
        _ => None,
    };
    let inputs = if axes.is_some() { vec![Some(data), axes] } else { vec![Some(data)] };
    rebuild(n, g, None, &inputs)
}
