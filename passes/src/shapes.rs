//! Static shapes: `Shape`/`Size` of values whose dims are all known become constants, then
//! constant folding and type inference run again, repeated until nothing changes (at most 8
//! rounds). Shape computations over static dims (torch's `Shape → Slice → Concat → Reshape`)
//! then leave every value with a known shape — what backends without dynamic shapes (TFLite)
//! need.

use crate::manager::{Changed, Context, Pass, PassError};
use edgeport_ir::{Graph, NodeId, Op, Tensor, ValueId};

/// The static-shapes pass.
pub struct StaticShapes;

impl Pass for StaticShapes {
    fn name(&self) -> &'static str {
        "shapes"
    }
    fn run(&self, g: &mut Graph, cx: &mut Context) -> Result<Changed, PassError> {
        let mut any = false;
        for _ in 0..8 {
            let mut changed = shapes_to_constants(g)?;
            changed |= crate::FoldConstants::default().run(g, cx)? == Changed::Yes;
            edgeport_ir::infer::infer_types(g).map_err(|e| PassError::Failed {
                pass: "shapes".into(),
                msg: e.to_string(),
            })?;
            any |= changed;
            if !changed {
                break;
            }
        }
        Ok(Changed::from_bool(any))
    }
}

/// The known dims of a value, if every one is known.
fn known_dims(g: &Graph, v: ValueId) -> Option<Vec<i64>> {
    let shape = g.value(v)?.ty.as_ref()?.as_tensor()?.shape.as_ref()?;
    shape.as_known()?.into_iter().map(|d| i64::try_from(d).ok()).collect()
}

fn shapes_to_constants(g: &mut Graph) -> Result<bool, PassError> {
    let ids: Vec<NodeId> = g.node_ids().collect();
    let mut changed = false;
    for id in ids {
        let value = match &g.node(id).op {
            Op::Shape(s) => {
                let Some(x) = g.inputs_of(id).first().copied().flatten() else {
                    continue;
                };
                let Some(d) = known_dims(g, x) else { continue };
                let r = d.len() as i64;
                let clamp = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
                let (a, b) = (clamp(s.start), clamp(s.end.unwrap_or(r)));
                let picked: Vec<i64> = d.get(a..b.max(a)).map(<[i64]>::to_vec).unwrap_or_default();
                Tensor::from_i64(vec![picked.len()], &picked)
            }
            Op::Size(_) => {
                let Some(x) = g.inputs_of(id).first().copied().flatten() else {
                    continue;
                };
                let Some(d) = known_dims(g, x) else { continue };
                let Some(n) = d.iter().try_fold(1i64, |a, &b| a.checked_mul(b)) else {
                    continue;
                };
                Ok(Tensor::scalar_i64(n))
            }
            _ => continue,
        };
        let Ok(t) = value else { continue };
        let out = ValueId { node: id, port: 0 };
        let name = g.value(out).map(|v| v.name.clone()).unwrap_or_default();
        let c = g.add_constant(name, t);
        g.replace_all_uses(out, c).map_err(|e| PassError::Failed {
            pass: "shapes".into(),
            msg: e.to_string(),
        })?;
        g.remove_node(id);
        changed = true;
    }
    Ok(changed)
}
