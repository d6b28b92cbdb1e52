//! Shape computations the export does not need: a node whose outputs are read only by the
//! shape-like inputs of Reshape/Expand/Squeeze/Unsqueeze/Resize whose output shape is already
//! inferred (the rules write that shape as a constant), or only by such nodes, is skipped —
//! so `Shape → Gather → Concat → Reshape` chains over static shapes leave nothing behind.

use super::super::lower::Lower;
use edgeport_ir::{NodeId, Op, ValueId};
use std::collections::HashSet;

/// Whether input `slot` of `node` is a shape-like input that its rule replaces with the
/// node's inferred output shape.
fn static_slot(cx: &Lower, node: NodeId, slot: usize) -> bool {
    let op = &cx.g.node(node).op;
    let ok = matches!((op, slot), (Op::Reshape(_), 1) | (Op::Expand(_), 1) | (Op::Resize(_), 1..=3));
    if !ok {
        return false;
    }
    let unknown = cx
        .dims(ValueId { node, port: 0 })
        .map(|d| d.iter().filter(|&&x| x < 0).count())
        .unwrap_or(usize::MAX);
    match op {
        Op::Reshape(_) => unknown <= 1,
        _ => unknown == 0,
    }
}

/// Marks the unneeded shape computations as skipped.
pub(crate) fn skip_dead(cx: &mut Lower) {
    let Ok(order) = cx.g.topo_order() else {
        return;
    };
    let mut dead: HashSet<NodeId> = HashSet::new();
    for &id in order.iter().rev() {
        let node = cx.g.node(id);
        if matches!(node.op, Op::Input(_)) || node.outputs.is_empty() {
            continue;
        }
        let all_dead = (0..node.outputs.len()).all(|port| {
            let v = ValueId { node: id, port };
            !cx.g.is_output(v)
                && cx
                    .g
                    .consumers(v)
                    .iter()
                    .all(|&(c, slot)| dead.contains(&c) || static_slot(cx, c, slot))
        });
        let used = (0..node.outputs.len()).any(|port| !cx.g.consumers(ValueId { node: id, port }).is_empty());
        if all_dead && used {
            dead.insert(id);
        }
    }
    cx.skip.extend(dead);
}
