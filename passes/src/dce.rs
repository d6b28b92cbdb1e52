//! Dead-code elimination: removes nodes none of whose outputs reach a graph output. Graph
//! inputs are never removed (the input list is a promise to users); subgraphs are cleaned too.

use crate::manager::{Changed, Context, Pass, PassError};
use edgeport_ir::{Graph, NodeId, Op};
use std::collections::HashSet;

/// The dead-code elimination pass.
pub struct Dce;

impl Pass for Dce {
    fn name(&self) -> &'static str {
        "dce"
    }
    fn run(&self, g: &mut Graph, _cx: &mut Context) -> Result<Changed, PassError> {
        Ok(Changed::from_bool(dce(g)))
    }
}

/// Removes dead nodes; returns whether anything was removed.
pub fn dce(g: &mut Graph) -> bool {
    let mut live: HashSet<NodeId> = HashSet::new();
    let mut stack: Vec<NodeId> = g.outputs().iter().map(|(_, v)| v.node).collect();
    stack.extend(g.inputs().iter().copied());
    stack.extend(g.captures().iter().copied());
    while let Some(n) = stack.pop() {
        if !live.insert(n) {
            continue;
        }
        for v in g.inputs_of(n).into_iter().flatten() {
            stack.push(v.node);
        }
    }
    let dead: Vec<NodeId> = g.node_ids().filter(|n| !live.contains(n)).collect();
    let mut changed = !dead.is_empty();
    for n in dead {
        g.remove_node(n);
    }
    let ids: Vec<NodeId> = g.node_ids().collect();
    for id in ids {
        if matches!(g.node(id).op, Op::Input(_)) {
            continue;
        }
        for sub in g.node_mut(id).op.subgraphs_mut() {
            changed |= dce(sub);
        }
    }
    changed
}
