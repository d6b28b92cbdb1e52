//! Builds the graph of a symbol: variables (`op: "null"`) become constants when the params file
//! has them (`arg:`/`aux:` names) and graph inputs otherwise; other nodes go through the rules in
//! [`crate::ops`]; `heads` become the outputs, named after their nodes. Every node that cannot be
//! imported is collected into one error.

use crate::build::Ctx;
use crate::error::{Error, NodeIssue};
use crate::ops::{self, N};
use crate::params::NdArray;
use crate::symbol::{Symbol, parse_ints};
use edgeport_ir::{DType, Graph, Tensor, ValueId};
use std::collections::HashMap;

/// Output ops whose inputs after the first are training labels.
const LOSS_OUTPUTS: &[&str] = &[
    "SoftmaxOutput",
    "Softmax",
    "LinearRegressionOutput",
    "LogisticRegressionOutput",
    "MAERegressionOutput",
    "SVMOutput",
];

/// Creates the graph input for variable node `src` on first use.
fn materialize(
    cx: &mut Ctx,
    sym: &Symbol,
    src: usize,
    values: &mut [Vec<ValueId>],
    input_shapes: &[(String, Vec<usize>)],
) -> Result<(), String> {
    let Some(node) = sym.nodes.get(src) else { return Ok(()) };
    if node.op != "null" || values.get(src).is_none_or(|v| !v.is_empty()) {
        return Ok(());
    }
    let shape: Vec<usize> = match input_shapes.iter().find(|(n, _)| n == &node.name) {
        Some((_, s)) => s.clone(),
        None => match node.attrs.get("__shape__") {
            Some(s) => parse_ints(s)?
                .iter()
                .map(|&v| {
                    usize::try_from(v).ok().filter(|&v| v > 0 && v <= i32::MAX as usize).ok_or_else(|| {
                        format!(
                            "input '{}': __shape__ {s} has an unknown dimension: give the input's shape",
                            node.name
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
            None => {
                return Err(format!(
                    "input '{}' is not in the params file and has no shape: give its shape (or the params file lacks this weight)",
                    node.name
                ));
            }
        },
    };
    let v = cx.input(&node.name, DType::F32, &shape);
    if let Some(slot) = values.get_mut(src) {
        slot.push(v);
    }
    Ok(())
}

/// Builds the graph. `params` maps bare names (prefix stripped) to arrays.
pub fn build(sym: &Symbol, params: &HashMap<String, NdArray>, file: &str, input_shapes: &[(String, Vec<usize>)]) -> Result<Graph, Error> {
    let mut cx = Ctx::new("mxnet");
    let mut values: Vec<Vec<ValueId>> = Vec::with_capacity(sym.nodes.len());
    let mut issues = Vec::new();
    for node in &sym.nodes {
        cx.layer = node.name.clone();
        let issue = |reason: String| NodeIssue {
            node: node.name.clone(),
            op: node.op.clone(),
            reason,
        };
        if node.op == "null" {
            if let Some(a) = params.get(&node.name) {
                let t = match &a.data {
                    Some(d) => Tensor::from_bytes(a.dtype, a.shape.clone(), d.clone()).map_err(|e| e.to_string()),
                    None => Err("the params file holds an empty array".to_string()),
                };
                match t {
                    Ok(t) => values.push(vec![cx.constant(&node.name, t)]),
                    Err(m) => {
                        issues.push(issue(m));
                        values.push(Vec::new());
                    }
                }
                continue;
            }
            // Graph input: created when a node reads it (a loss op's label is never read).
            values.push(Vec::new());
            continue;
        }
        let mut ins = Vec::new();
        let mut bad = None;
        let used = if LOSS_OUTPUTS.contains(&node.op.as_str()) {
            1
        } else {
            node.inputs.len()
        };
        for &(src, port) in node.inputs.iter().take(used) {
            if let Err(m) = materialize(&mut cx, sym, src, &mut values, input_shapes) {
                bad = Some(m);
                break;
            }
            match values.get(src).and_then(|v| v.get(port)) {
                Some(v) => ins.push(*v),
                None => {
                    bad = Some(format!(
                        "input ({src}, {port}) is not available (node '{}' failed or has no such output)",
                        sym.nodes.get(src).map_or("?", |n| n.name.as_str())
                    ));
                    break;
                }
            }
        }
        if let Some(m) = bad {
            // A missing input whose node already failed is not reported again.
            if m.starts_with("input '") || issues.is_empty() {
                issues.push(issue(m));
            }
            values.push(Vec::new());
            continue;
        }
        let Some(rule) = ops::rule(&node.op) else {
            issues.push(issue("unsupported op".into()));
            values.push(Vec::new());
            continue;
        };
        let n = N { node, ins: &ins };
        match rule(&mut cx, &n) {
            Ok(outs) => {
                if let Some(&v) = outs.first()
                    && !ins.contains(&v)
                {
                    let name = cx.unique(&format!("{}_output", node.name));
                    if let Some(val) = cx.g.value_mut(v) {
                        val.name = name;
                    }
                }
                values.push(outs)
            }
            Err(m) => {
                issues.push(issue(m));
                values.push(Vec::new());
            }
        }
    }
    if !issues.is_empty() {
        return Err(Error::Nodes { file: file.into(), issues });
    }
    let mut outs = Vec::new();
    for &(src, port) in &sym.heads {
        materialize(&mut cx, sym, src, &mut values, input_shapes).map_err(|msg| Error::Symbol { file: file.into(), msg })?;
        let node = &sym.nodes[src];
        let v = values.get(src).and_then(|v| v.get(port)).copied().ok_or_else(|| Error::Symbol {
            file: file.into(),
            msg: format!("head ({src}, {port}): node '{}' has no output {port}", node.name),
        })?;
        let name = if port == 0 {
            format!("{}_output", node.name)
        } else {
            format!("{}_output{port}", node.name)
        };
        outs.push((name, v));
    }
    let mut g = cx.g;
    g.set_outputs(outs).map_err(|e| Error::Symbol {
        file: file.into(),
        msg: e.to_string(),
    })?;
    Ok(g)
}
