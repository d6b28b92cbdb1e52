//! Data-movement ops seen through by the layout pass when their shape-like inputs are
//! constants: Slice and Pad (axes or pads permuted), Squeeze/Unsqueeze (state shrinks or grows),
//! Gather (axis renamed), Expand/Tile (shape or repeats permuted), Shape (physical shape
//! gathered back into logical order) and Size (layout-free).

use super::cx::{Cx, err};
use super::perm::{self, Perm};
use crate::manager::PassError;
use edgeport_ir::ops::defs::tensor::Gather;
use edgeport_ir::{Graph, NodeId, Op, ValueId};

fn ints(g: &Graph, v: Option<ValueId>) -> Option<Vec<i64>> {
    Cx::konst(g, v?)?.to_i64_vec()
}

/// Sets input `slot` of `id`, appending declared slots when the node has fewer.
fn put_input(g: &mut Graph, id: NodeId, slot: usize, v: ValueId, name: &str) -> Result<(), PassError> {
    while g.node(id).n_declared_inputs() <= slot {
        g.push_input(id, None, false).map_err(|e| err(name, e))?;
    }
    g.set_input(id, slot, Some(v)).map_err(|e| err(name, e))
}

fn phys_list(name: &str, axes: &[i64], p: &[usize]) -> Result<Vec<i64>, PassError> {
    axes.iter()
        .map(|&a| {
            perm::phys_axis(a, p)
                .map(|x| x as i64)
                .ok_or_else(|| err(name, format!("axis {a} out of range for rank {}", p.len())))
        })
        .collect()
}

/// Data input 0 in a non-identity state; others must be logical. `None` after falling back.
fn setup(cx: &mut Cx, g: &mut Graph, id: NodeId) -> Result<Option<(ValueId, Perm)>, PassError> {
    let ins = g.inputs_of(id);
    let Some(Some(x)) = ins.first().copied() else { return Ok(None) };
    let Some(p) = cx.state(x).cloned() else {
        cx.materialize_inputs(g, id)?;
        return Ok(None);
    };
    if ins.iter().skip(1).flatten().any(|v| cx.state(*v).is_some()) {
        cx.materialize_inputs(g, id)?;
        return Ok(None);
    }
    Ok(Some((x, p)))
}

/// Slice, Pad, Squeeze, Unsqueeze, Gather, Expand, Tile, Shape, Size.
pub fn shape_op(cx: &mut Cx, g: &mut Graph, id: NodeId) -> Result<(), PassError> {
    let Some((x, p)) = setup(cx, g, id)? else { return Ok(()) };
    let name = g.node(id).name.clone();
    let ins = g.inputs_of(id);
    let r = p.len();
    let op = g.node(id).op.clone();
    let out_p: Option<Perm> = match &op {
        Op::Size(_) => Some(Vec::new()),
        Op::Slice(_) => {
            let axes = match ins.get(3).copied().flatten() {
                Some(v) => ints(g, Some(v)),
                None => ints(g, ins.get(1).copied().flatten()).map(|s| (0..s.len() as i64).collect()),
            };
            match axes {
                Some(axes) => {
                    let nv = cx.const_i64(g, &format!("{name}__axes"), &phys_list(&name, &axes, &p)?)?;
                    put_input(g, id, 3, nv, &name)?;
                    Some(p.clone())
                }
                None => None,
            }
        }
        Op::Pad(_) => match ins.get(3).copied().flatten() {
            Some(av) => match ints(g, Some(av)) {
                Some(axes) => {
                    let nv = cx.const_i64(g, &format!("{name}__axes"), &phys_list(&name, &axes, &p)?)?;
                    put_input(g, id, 3, nv, &name)?;
                    Some(p.clone())
                }
                None => None,
            },
            None => match ints(g, ins.get(1).copied().flatten()) {
                Some(pads) if pads.len() == 2 * r => {
                    let (b, e) = pads.split_at(r);
                    let mut np = perm::apply(b, &p).unwrap_or_default();
                    np.extend(perm::apply(e, &p).unwrap_or_default());
                    let nv = cx.const_i64(g, &format!("{name}__pads"), &np)?;
                    put_input(g, id, 1, nv, &name)?;
                    Some(p.clone())
                }
                _ => None,
            },
        },
        Op::Squeeze(_) => {
            let axes = match ins.get(1).copied().flatten() {
                Some(v) => ints(g, Some(v)),
                None => cx.logical_dims(g, x).and_then(|d| {
                    let ones: Option<Vec<i64>> = d
                        .iter()
                        .enumerate()
                        .map(|(i, d)| d.known().map(|k| (k == 1, i as i64)))
                        .collect::<Option<Vec<_>>>()
                        .map(|v| v.into_iter().filter(|(o, _)| *o).map(|(_, i)| i).collect());
                    ones
                }),
            };
            match axes {
                Some(axes) => {
                    let logical: Option<Vec<usize>> = axes.iter().map(|&a| perm::norm_axis(a, r)).collect();
                    let logical = logical.ok_or_else(|| err(&name, "Squeeze axis out of range"))?;
                    let nv = cx.const_i64(g, &format!("{name}__axes"), &phys_list(&name, &axes, &p)?)?;
                    put_input(g, id, 1, nv, &name)?;
                    Some(perm::remove_axes(&p, &logical))
                }
                None => None,
            }
        }
        Op::Unsqueeze(_) => match ints(g, ins.get(1).copied().flatten()) {
            Some(axes) => {
                let out_r = r + axes.len();
                let new: Option<Vec<usize>> = axes.iter().map(|&a| perm::norm_axis(a, out_r)).collect();
                let new = new.ok_or_else(|| err(&name, "Unsqueeze axis out of range"))?;
                // Logical input axis d goes to the d-th output axis that is not new.
                let kept: Vec<usize> = (0..out_r).filter(|a| !new.contains(a)).collect();
                let mut q: Perm = p.iter().filter_map(|&a| kept.get(a).copied()).collect();
                let mut sorted = new.clone();
                sorted.sort_unstable();
                q.extend(sorted);
                // Physically the new axes go last.
                let phys_new: Vec<i64> = (r..out_r).map(|a| a as i64).collect();
                let nv = cx.const_i64(g, &format!("{name}__axes"), &phys_new)?;
                put_input(g, id, 1, nv, &name)?;
                Some(q)
            }
            None => None,
        },
        Op::Gather(a) => {
            let axis = a.axis;
            let q_rank = ins.get(1).copied().flatten().and_then(|v| cx.rank(g, v));
            match (perm::norm_axis(axis, r), q_rank) {
                (Some(la), Some(q)) => {
                    let pa = perm::phys_axis(axis, &p).unwrap_or(la);
                    let f = |d: usize| if d < la { d } else { d + q - 1 };
                    let mut out = Vec::with_capacity(r + q - 1);
                    for (i, &d) in p.iter().enumerate() {
                        if i == pa {
                            out.extend((0..q).map(|k| la + k));
                        } else {
                            out.push(f(d));
                        }
                    }
                    if let Op::Gather(a) = &mut g.node_mut(id).op {
                        a.axis = pa as i64;
                    }
                    Some(out)
                }
                _ => None,
            }
        }
        Op::Expand(_) => match ints(g, ins.get(1).copied().flatten()) {
            Some(shape) if shape.len() <= r => {
                let mut padded = vec![1i64; r - shape.len()];
                padded.extend(shape);
                let np = perm::apply(&padded, &p).unwrap_or_default();
                let nv = cx.const_i64(g, &format!("{name}__shape"), &np)?;
                put_input(g, id, 1, nv, &name)?;
                Some(p.clone())
            }
            _ => None,
        },
        Op::Tile(_) => match ints(g, ins.get(1).copied().flatten()) {
            Some(rep) if rep.len() == r => {
                let np = perm::apply(&rep, &p).unwrap_or_default();
                let nv = cx.const_i64(g, &format!("{name}__repeats"), &np)?;
                put_input(g, id, 1, nv, &name)?;
                Some(p.clone())
            }
            _ => None,
        },
        Op::Shape(a) => {
            let (start, end) = (a.start, a.end);
            let s = clamp(start, r);
            let e = clamp(end.unwrap_or(r as i64), r);
            let inv = perm::inverse(&p);
            let idx: Vec<i64> = (s..e.max(s)).map(|j| inv[j] as i64).collect();
            if let Op::Shape(a) = &mut g.node_mut(id).op {
                a.start = 0;
                a.end = None;
            }
            // Shape(physical) → Gather(logical order); the Gather takes over the output's name.
            let out_name = g.node(id).outputs[0].name.clone();
            let out_ty = g.node(id).outputs[0].ty.clone();
            let tmp = cx.fresh(&format!("{out_name}__phys"));
            g.node_mut(id).outputs[0].name = tmp;
            g.node_mut(id).outputs[0].ty = Some(edgeport_ir::ValueType::tensor(
                edgeport_ir::DType::I64,
                Some(edgeport_ir::Shape::known(&[r as u64])),
            ));
            let iv = cx.const_i64(g, &format!("{name}__order"), &idx)?;
            let gname = cx.fresh(&format!("{name}__gather"));
            let gn = g
                .add_op(gname, Op::Gather(Gather { axis: 0 }), &[Some(id.out(0)), Some(iv)], &[&out_name])
                .map_err(|e| err(&name, e))?;
            g.replace_all_uses(id.out(0), gn.out(0)).map_err(|e| err(&name, e))?;
            // replace_all_uses also moved the Gather's own input: point it back.
            g.set_input(gn, 0, Some(id.out(0))).map_err(|e| err(&name, e))?;
            if let Some(v) = g.value_mut(gn.out(0)) {
                v.ty = out_ty;
            }
            Some(Vec::new())
        }
        _ => None,
    };
    match out_p {
        Some(q) => {
            if !matches!(g.node(id).op, Op::Shape(_) | Op::Size(_)) {
                cx.set_state(g, id.out(0), q);
            }
            Ok(())
        }
        None => cx.materialize_inputs(g, id),
    }
}

fn clamp(a: i64, r: usize) -> usize {
    let r = r as i64;
    let a = if a < 0 { a + r } else { a };
    a.clamp(0, r) as usize
}
