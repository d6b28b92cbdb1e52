//! The layout pass's last steps: graph outputs back to their logical layout (or left NHWC),
//! absorbed Transposes removed, Transpose chains composed and folded into constants, NHWC graph
//! inputs, and a sweep of the constants and Transposes nothing reads any more.

use super::LayoutOptions;
use super::consts;
use super::cx::{Cx, err, value_name};
use super::perm::{self, Perm};
use crate::manager::PassError;
use edgeport_ir::{Graph, NodeId, Op, OpKind};

/// Graph outputs left permuted get a Transpose back, which takes over the output's value name.
pub fn outputs(cx: &mut Cx, g: &mut Graph, opts: &LayoutOptions) -> Result<(), PassError> {
    let mut outs = g.outputs().to_vec();
    let mut changed = false;
    for (_, v) in outs.iter_mut() {
        let Some(p) = cx.state(*v).cloned() else { continue };
        if opts.nhwc_io && p == perm::channels_last(p.len()) {
            continue;
        }
        let t = cx.logical(g, *v)?;
        let vname = value_name(g, *v);
        let tname = value_name(g, t);
        if tname != vname {
            let renamed = cx.fresh(&format!("{vname}__nhwc"));
            if let Some(val) = g.value_mut(*v) {
                val.name = renamed;
            }
            if let Some(val) = g.value_mut(t) {
                val.name = vname;
            }
        }
        *v = t;
        changed = true;
    }
    if changed {
        g.set_outputs(outs).map_err(|e| err(&g.name, e))?;
    }
    Ok(())
}

/// Removes the Identity nodes that stood for absorbed Transposes.
pub fn aliases(cx: &mut Cx, g: &mut Graph) -> Result<(), PassError> {
    for id in std::mem::take(&mut cx.aliases) {
        if !g.contains(id) || g.is_output(id.out(0)) {
            continue;
        }
        let Some(Some(x)) = g.inputs_of(id).first().copied() else {
            continue;
        };
        g.replace_all_uses(id.out(0), x).map_err(|e| err(&g.node(id).name, e))?;
        g.remove_node(id);
    }
    Ok(())
}

fn perm_of(g: &Graph, id: NodeId) -> Option<Perm> {
    let Op::Transpose(t) = &g.node(id).op else { return None };
    let r = g
        .inputs_of(id)
        .first()
        .copied()
        .flatten()
        .and_then(|v| g.value(v))
        .and_then(|v| v.ty.as_ref())
        .and_then(|t| t.as_tensor())
        .and_then(|t| t.shape.as_ref())
        .map(|s| s.rank());
    let p: Perm = if t.perm.is_empty() {
        (0..r?).rev().collect()
    } else {
        t.perm.iter().map(|&a| usize::try_from(a).ok()).collect::<Option<Vec<_>>>()?
    };
    perm::is_perm(&p).then_some(p)
}

/// Composes Transpose chains, drops identity Transposes and folds Transposes of constants (also
/// through the Cast of a float16 constant, which stays float16).
pub fn transposes(g: &mut Graph) -> Result<(), PassError> {
    let order = g.topo_order().map_err(|e| err(&g.name, e))?;
    for id in order {
        if !g.contains(id) || g.node(id).op.kind() != OpKind::Transpose {
            continue;
        }
        let Some(mut p) = perm_of(g, id) else { continue };
        let Some(Some(mut x)) = g.inputs_of(id).first().copied() else {
            continue;
        };
        // Transpose(Transpose(y, p1), p2) = Transpose(y, p1∘p2).
        if g.node(x.node).op.kind() == OpKind::Transpose
            && let Some(p1) = perm_of(g, x.node)
            && p1.len() == p.len()
            && let Some(Some(y)) = g.inputs_of(x.node).first().copied()
        {
            p = p.iter().map(|&i| p1[i]).collect();
            x = y;
            g.set_input(id, 0, Some(x)).map_err(|e| err(&g.node(id).name, e))?;
            if let Op::Transpose(t) = &mut g.node_mut(id).op {
                t.perm = p.iter().map(|&a| a as i64).collect();
            }
        }
        let out = id.out(0);
        if g.is_output(out) {
            continue; // keeps the output's name and producer
        }
        if perm::is_identity(&p) {
            g.replace_all_uses(out, x).map_err(|e| err(&g.node(id).name, e))?;
            g.remove_node(id);
            continue;
        }
        if let Some((ct, cast)) = consts::behind_cast(g, x).and_then(|(c, cast)| Some((consts::transpose(c, &p)?, cast))) {
            let name = g.node(id).outputs[0].name.clone();
            let mut const_name = format!("{name}__c");
            while g.find_value(&const_name).is_some() {
                const_name.push('_');
            }
            let c = consts::add_behind_cast(g, &name, &const_name, ct, cast).map_err(|e| err(&name, e))?;
            g.replace_all_uses(out, c).map_err(|e| err(&g.node(id).name, e))?;
            g.remove_node(id);
        }
    }
    Ok(())
}

/// With `nhwc_io`: a graph input read only through NCHW→NHWC Transposes becomes an NHWC input.
pub fn nhwc_inputs(g: &mut Graph) -> Result<(), PassError> {
    for n in g.inputs().to_vec() {
        let v = n.out(0);
        let Some(ty) = g.value(v).and_then(|x| x.ty.clone()) else {
            continue;
        };
        let Some(r) = ty.as_tensor().and_then(|t| t.shape.as_ref()).map(|s| s.rank()) else {
            continue;
        };
        if !(3..=5).contains(&r) || g.is_output(v) {
            continue;
        }
        let want = perm::channels_last(r);
        let users = g.consumers(v);
        let all_t = !users.is_empty()
            && users
                .iter()
                .all(|&(u, _)| perm_of(g, u).as_deref() == Some(&want[..]) && !g.is_output(u.out(0)));
        if !all_t {
            continue;
        }
        if let Some(val) = g.value_mut(v) {
            val.ty = perm::permute_type(&ty, &want);
        }
        let mut seen: Vec<NodeId> = users.iter().map(|&(u, _)| u).collect();
        seen.dedup();
        for u in seen {
            g.replace_all_uses(u.out(0), v).map_err(|e| err(&g.node(u).name, e))?;
            g.remove_node(u);
        }
    }
    Ok(())
}

/// Removes constants, Transposes and Casts that nothing reads and that are not graph outputs.
pub fn sweep(g: &mut Graph) {
    let mut stack: Vec<NodeId> = g
        .node_ids()
        .filter(|&id| matches!(g.node(id).op.kind(), OpKind::Constant | OpKind::Transpose | OpKind::Cast))
        .collect();
    while let Some(id) = stack.pop() {
        if !g.contains(id) || !matches!(g.node(id).op.kind(), OpKind::Constant | OpKind::Transpose | OpKind::Cast) {
            continue;
        }
        let n_out = g.node(id).outputs.len();
        let used = (0..n_out).any(|p| g.is_output(id.out(p)) || !g.consumers(id.out(p)).is_empty());
        if used {
            continue;
        }
        let ins: Vec<NodeId> = g.inputs_of(id).into_iter().flatten().map(|v| v.node).collect();
        g.remove_node(id);
        stack.extend(ins);
    }
}
