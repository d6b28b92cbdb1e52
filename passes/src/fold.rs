//! Constant folding: a node whose inputs are all constants is run once on the reference
//! evaluator and replaced by constants. Non-deterministic ops, ops with subgraphs and results
//! much larger than their inputs (e.g. a huge `ConstantOfShape`) are left alone.

use crate::manager::{Changed, Context, Pass, PassError};
use edgeport_ir::{Graph, NodeId, Op, OpKind, Value};

/// The constant-folding pass.
pub struct FoldConstants {
    /// Largest folded result, in elements, unless the inputs were at least as large.
    pub max_elements: usize,
}

impl Default for FoldConstants {
    fn default() -> Self {
        FoldConstants { max_elements: 1 << 16 }
    }
}

fn foldable(op: &Op) -> bool {
    !crate::manager::is_nondeterministic(op.kind()) && op.kind() != OpKind::Constant && op.subgraphs().is_empty()
}

impl Pass for FoldConstants {
    fn name(&self) -> &'static str {
        "fold"
    }
    fn run(&self, g: &mut Graph, cx: &mut Context) -> Result<Changed, PassError> {
        let order = g.topo_order().map_err(|e| PassError::Failed {
            pass: "fold".into(),
            msg: e.to_string(),
        })?;
        let mut changed = false;
        for id in order {
            if !g.contains(id) || !foldable(&g.node(id).op) || g.node(id).n_captures > 0 {
                continue;
            }
            let ins = g.inputs_of(id);
            let mut consts = Vec::with_capacity(ins.len());
            let mut all_const = true;
            for v in &ins {
                match v {
                    None => consts.push(None),
                    Some(v) => match &g.node(v.node).op {
                        Op::Constant(c) => consts.push(Some(c.value.clone())),
                        _ => {
                            all_const = false;
                            break;
                        }
                    },
                }
            }
            if !all_const || ins.iter().all(|v| v.is_none()) {
                continue;
            }
            let input_elems: usize = consts.iter().flatten().map(|t| t.numel()).sum();
            if let Some(results) = evaluate(g, id, &consts) {
                let out_elems: usize = results.iter().map(|t| t.numel()).sum();
                if out_elems > self.max_elements.max(input_elems) {
                    continue;
                }
                replace_with_constants(g, id, results)?;
                changed = true;
            }
        }
        if changed {
            cx.notes.push("fold: replaced constant subexpressions".into());
        }
        Ok(Changed::from_bool(changed))
    }
}

/// Runs one node on constant inputs; `None` if the evaluator cannot (the node stays).
fn evaluate(g: &Graph, id: NodeId, consts: &[Option<edgeport_ir::Tensor>]) -> Option<Vec<edgeport_ir::Tensor>> {
    let node = g.node(id);
    let mut mini = Graph::new("fold");
    let mut ins = Vec::with_capacity(consts.len());
    for (i, c) in consts.iter().enumerate() {
        ins.push(c.as_ref().map(|t| mini.add_constant(format!("c{i}"), t.clone())));
    }
    let names: Vec<String> = (0..node.outputs.len()).map(|p| format!("o{p}")).collect();
    let name_refs: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
    let n = mini.add_op("n", node.op.clone(), &ins, &name_refs).ok()?;
    for (p, nm) in names.iter().enumerate() {
        if !node.outputs[p].name.is_empty() {
            mini.add_output(nm.clone(), n.out(p)).ok()?;
        }
    }
    let outs = edgeport_eval::run_graph(&mini, Vec::new()).ok()?;
    outs.into_iter().map(|v| v.into_tensor().map(|t| t.to_ir())).collect()
}

fn replace_with_constants(g: &mut Graph, id: NodeId, results: Vec<edgeport_ir::Tensor>) -> Result<(), PassError> {
    let outputs: Vec<Value> = g.node(id).outputs.clone();
    let mut it = results.into_iter();
    for (p, val) in outputs.iter().enumerate() {
        if val.name.is_empty() {
            continue;
        }
        let Some(t) = it.next() else { break };
        let c = g.add_constant(val.name.clone(), t);
        if let Some(cv) = g.value_mut(c) {
            if cv.ty.is_none() {
                cv.ty = val.ty.clone();
            }
            cv.quant = val.quant.clone();
        }
        g.replace_all_uses(id.out(p), c).map_err(|e| PassError::Failed {
            pass: "fold".into(),
            msg: e.to_string(),
        })?;
    }
    g.remove_node(id);
    Ok(())
}
