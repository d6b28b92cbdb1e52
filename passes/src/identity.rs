//! Identity removal: uses of an `Identity` output are pointed at its input. An Identity whose
//! output is a graph output is kept when removing it would rename or merge graph outputs.

use crate::manager::{Changed, Context, Pass, PassError};
use edgeport_ir::{Graph, NodeId, Op};

/// The Identity-removal pass.
pub struct RemoveIdentity;

impl Pass for RemoveIdentity {
    fn name(&self) -> &'static str {
        "identity"
    }
    fn run(&self, g: &mut Graph, _cx: &mut Context) -> Result<Changed, PassError> {
        let ids: Vec<NodeId> = g.node_ids().filter(|&n| matches!(g.node(n).op, Op::Identity(_))).collect();
        let mut changed = false;
        for id in ids {
            let Some(Some(src)) = g.inputs_of(id).first().copied() else {
                continue;
            };
            // Only tensors pass through unchanged for certain; sequences/optionals are too.
            let out = id.out(0);
            if g.is_output(out) && (g.is_output(src) || g.inputs().contains(&src.node)) {
                continue; // would merge two graph outputs, or make an input an output
            }
            if g.is_output(out) {
                // Keep the output's value name: move it to the source value.
                let name = g.value(out).map(|v| v.name.clone()).unwrap_or_default();
                if g.consumers(src).iter().any(|(n, _)| *n != id) {
                    continue;
                }
                if let Some(v) = g.value_mut(src) {
                    v.name = name;
                }
            }
            g.replace_all_uses(out, src).map_err(|e| PassError::Failed {
                pass: "identity".into(),
                msg: e.to_string(),
            })?;
            g.remove_node(id);
            changed = true;
        }
        Ok(Changed::from_bool(changed))
    }
}
