//! Export rules for reductions: `axes` became an input at opset 13 (ReduceSum) and 18 (the
//! other Reduce* ops); older targets get it back as an attribute, read from the constant.

use super::{Emit, OnnxNode, Rule, input_to_attr, ints};
use crate::model::RawAttrValue;

pub(super) fn rule(op_type: &str) -> Option<Rule> {
    match op_type {
        "ReduceSum" => Some(reduce_sum),
        "ReduceL1" | "ReduceL2" | "ReduceLogSum" | "ReduceLogSumExp" | "ReduceMax" | "ReduceMean" | "ReduceMin" | "ReduceProd"
        | "ReduceSumSquare" => Some(reduce_other),
        _ => None,
    }
}

fn reduce_sum(n: OnnxNode, em: &mut Emit<'_>) -> Result<(), String> {
    reduce(n, em, 13)
}

fn reduce_other(n: OnnxNode, em: &mut Emit<'_>) -> Result<(), String> {
    reduce(n, em, 18)
}

/// `since`: the opset from which `axes` is an input (and `noop_with_empty_axes` exists).
fn reduce(mut n: OnnxNode, em: &mut Emit<'_>, since: i64) -> Result<(), String> {
    if em.opset >= since {
        em.push(n);
        return Ok(());
    }
    let noop = n.take_attr("noop_with_empty_axes");
    let has_axes = !n.input(1).is_empty();
    if !has_axes && matches!(noop, Some(RawAttrValue::Int(1))) {
        // No axes and noop: the op is the identity.
        em.push(OnnxNode::new(&n.name, "Identity", vec![n.input(0).to_string()], n.outputs.clone()));
        return Ok(());
    }
    if has_axes {
        let axes = em
            .const_ints(n.input(1))
            .ok_or_else(|| format!("{}: axes must be a constant below opset {since}", n.op_type))?;
        if axes.is_empty() {
            if matches!(noop, Some(RawAttrValue::Int(1))) {
                em.push(OnnxNode::new(&n.name, "Identity", vec![n.input(0).to_string()], n.outputs.clone()));
                return Ok(());
            }
            n.inputs.truncate(1);
        } else {
            n = input_to_attr(n, 1, "axes", ints(axes));
        }
    }
    em.push(n);
    Ok(())
}
