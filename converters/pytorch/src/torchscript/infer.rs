//! Incremental shape/dtype inference for the interpreter. The interpreter needs the type of
//! each new tensor right after its op is built; inferring over the whole graph each time is
//! quadratic in the model size (an unrolled loop of a few thousand ops took minutes). Instead,
//! the nodes built since the last inference are copied into a small graph — values of older
//! nodes become typed inputs, constants are copied (shape-like inputs stay known) — inferred
//! there, and their types copied back. When that leaves a new value untyped (a shape that
//! depended on a value computed by older nodes), the caller infers over the whole graph.

use edgeport_ir::{Graph, NodeId, Op, ValueId};
use std::collections::{HashMap, HashSet};

/// Does the value lack a dtype or a shape?
fn untyped(g: &Graph, v: ValueId) -> bool {
    g.value(v)
        .and_then(|x| x.ty.as_ref())
        .is_none_or(|t| t.as_tensor().is_some_and(|t| t.shape.is_none()))
}

/// Infers the types of the untyped nodes behind `seeds` (the seeds' producers and, through
/// their untyped inputs, the helper nodes the rules built before them). Returns `Ok(false)`
/// when some stay untyped (the caller falls back to whole-graph inference).
pub fn infer_new(g: &mut Graph, seeds: &[ValueId]) -> Result<bool, String> {
    let mut new: Vec<NodeId> = Vec::new();
    let mut seen: HashSet<NodeId> = HashSet::new();
    let mut stack: Vec<NodeId> = seeds.iter().map(|v| v.node).collect();
    while let Some(n) = stack.pop() {
        if !g.contains(n) || !seen.insert(n) {
            continue;
        }
        let node = g.node(n);
        if matches!(node.op, Op::Input(_) | Op::Constant(_)) || !(0..node.outputs.len()).any(|p| untyped(g, n.out(p))) {
            continue;
        }
        new.push(n);
        for v in g.inputs_of(n).into_iter().flatten() {
            stack.push(v.node);
        }
    }
    if new.is_empty() {
        return Ok(true);
    }
    // Creation (index) order is a topological order here: an op's inputs always exist before
    // it. (Were it not, an input would be copied untyped and the caller would fall back.)
    new.sort_by_key(|n| n.index());
    let mut tmp = Graph::new("sync");
    let mut map: HashMap<ValueId, ValueId> = HashMap::new();
    let mut back = Vec::with_capacity(new.len());
    for &n in &new {
        let ins = g.inputs_of(n);
        let node = g.node(n);
        let declared = node.n_declared_inputs();
        let mut tins = Vec::with_capacity(ins.len());
        for v in ins {
            let Some(v) = v else {
                tins.push(None);
                continue;
            };
            if let Some(&t) = map.get(&v) {
                tins.push(Some(t));
                continue;
            }
            let src = g.node(v.node);
            let t = match &src.op {
                Op::Constant(c) if v.port == 0 => tmp.add_constant(src.name.clone(), c.value.clone()),
                _ => {
                    let ty = src.outputs.get(v.port).and_then(|o| o.ty.clone());
                    tmp.add_input(format!("in{}", map.len()), ty)
                }
            };
            map.insert(v, t);
            tins.push(Some(t));
        }
        let id = tmp.add_node(node.name.clone(), node.op.clone(), 0, node.outputs.clone());
        for (i, v) in tins.into_iter().enumerate() {
            tmp.push_input(id, v, i >= declared).map_err(|e| e.to_string())?;
        }
        for port in 0..node.outputs.len() {
            map.insert(n.out(port), id.out(port));
        }
        back.push((n, id));
    }
    edgeport_ir::infer::infer_types(&mut tmp).map_err(|e| format!("shape inference: {e}"))?;
    let mut complete = true;
    for (n, id) in back {
        for port in 0..g.node(n).outputs.len() {
            let ty = tmp.value(id.out(port)).and_then(|x| x.ty.clone());
            if let Some(v) = g.value_mut(n.out(port))
                && ty.is_some()
            {
                v.ty = ty;
            }
            if untyped(g, n.out(port)) {
                complete = false;
            }
        }
    }
    Ok(complete)
}
