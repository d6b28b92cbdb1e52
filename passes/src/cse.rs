//! Common-subexpression elimination: two nodes with equal ops (attributes included) and the
//! same inputs compute the same values, so the later one's uses move to the earlier one.
//! Non-deterministic ops and graph-output values that would merge are skipped.

use crate::manager::{Changed, Context, Pass, PassError};
use edgeport_ir::{Graph, NodeId, OpKind, ValueId};
use std::collections::HashMap;

/// The CSE pass.
pub struct Cse;

fn deterministic(k: OpKind) -> bool {
    !crate::manager::is_nondeterministic(k)
}

impl Pass for Cse {
    fn name(&self) -> &'static str {
        "cse"
    }
    fn run(&self, g: &mut Graph, _cx: &mut Context) -> Result<Changed, PassError> {
        let order = g.topo_order().map_err(|e| PassError::Failed {
            pass: "cse".into(),
            msg: e.to_string(),
        })?;
        // Bucket by (op name, inputs); compare ops fully within a bucket.
        let mut seen: HashMap<(String, Vec<Option<ValueId>>), Vec<NodeId>> = HashMap::new();
        let mut changed = false;
        for id in order {
            let kind = g.node(id).op.kind();
            if !deterministic(kind) {
                continue;
            }
            let key = (g.node(id).op.name().to_string(), g.inputs_of(id));
            let bucket = seen.entry(key).or_default();
            let twin = bucket.iter().copied().find(|&o| {
                let (a, b) = (g.node(o), g.node(id));
                a.op == b.op && a.outputs.len() == b.outputs.len() && a.n_captures == b.n_captures
            });
            match twin {
                Some(o) => {
                    let n_out = g.node(id).outputs.len();
                    if (0..n_out).any(|p| g.is_output(id.out(p))) {
                        bucket.push(id);
                        continue;
                    }
                    for p in 0..n_out {
                        g.replace_all_uses(id.out(p), o.out(p)).map_err(|e| PassError::Failed {
                            pass: "cse".into(),
                            msg: e.to_string(),
                        })?;
                    }
                    g.remove_node(id);
                    changed = true;
                }
                None => bucket.push(id),
            }
        }
        Ok(Changed::from_bool(changed))
    }
}
