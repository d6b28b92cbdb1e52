//! BatchNormalization folding (pass `fold_bn`). An inference-mode BatchNormalization with
//! constant f32 parameters computes `y = a·x + b` per channel, `a = scale / √(var + ε)`,
//! `b = B − mean·a`. When it follows a Conv, ConvTranspose or Gemm (whose only reader it is)
//! with constant weights, `a` and `b` are folded into the weights and bias; otherwise it becomes
//! `Mul` + `Add` with constants shaped for its layout.

use crate::manager::{Changed, Context, Pass, PassError};
use edgeport_ir::ops::Layout;
use edgeport_ir::ops::defs::math::{Add, Mul};
use edgeport_ir::{Graph, NodeId, Op, Tensor, ValueId};
use std::collections::HashSet;

/// The BatchNormalization-folding pass.
pub struct FoldBatchNorm;

fn fail(node: &str, msg: impl std::fmt::Display) -> PassError {
    PassError::Failed {
        pass: "fold_bn".into(),
        msg: format!("node '{node}': {msg}"),
    }
}

fn konst(g: &Graph, v: Option<ValueId>) -> Option<&Tensor> {
    g.constant_of(v?)
}

fn f32s(t: &Tensor) -> Option<Vec<f32>> {
    t.quant.is_none().then(|| t.f32_values().map(|v| v.into_owned()))?
}

/// Per-channel `(a, b)` of a BatchNormalization, if its parameters are constant f32 vectors.
fn bn_affine(g: &Graph, id: NodeId) -> Option<(Vec<f32>, Vec<f32>)> {
    let Op::BatchNormalization(bn) = &g.node(id).op else { return None };
    if bn.training_mode != 0 {
        return None;
    }
    let ins = g.inputs_of(id);
    let get = |i: usize| konst(g, ins.get(i).copied().flatten()).and_then(f32s);
    let (scale, bias, mean, var) = (get(1)?, get(2)?, get(3)?, get(4)?);
    let c = scale.len();
    if c == 0 || bias.len() != c || mean.len() != c || var.len() != c {
        return None;
    }
    let a: Vec<f32> = scale.iter().zip(&var).map(|(s, v)| s / (v + bn.epsilon).sqrt()).collect();
    let b: Vec<f32> = bias.iter().zip(&mean).zip(&a).map(|((bb, m), a)| bb - m * a).collect();
    Some((a, b))
}

impl Pass for FoldBatchNorm {
    fn name(&self) -> &'static str {
        "fold_bn"
    }
    fn run(&self, g: &mut Graph, cx: &mut Context) -> Result<Changed, PassError> {
        let order = g.topo_order().map_err(|e| fail(&g.name, e))?;
        let mut names: HashSet<String> = HashSet::new();
        for id in g.node_ids() {
            names.insert(g.node(id).name.clone());
            names.extend(g.node(id).outputs.iter().map(|v| v.name.clone()));
        }
        let (mut fused, mut split) = (0usize, 0usize);
        for id in order {
            if !g.contains(id) || !matches!(g.node(id).op, Op::BatchNormalization(_)) {
                continue;
            }
            let node = g.node(id);
            if node.outputs.iter().skip(1).any(|v| !v.name.is_empty()) {
                continue; // running statistics requested: training graph
            }
            let Some((a, b)) = bn_affine(g, id) else { continue };
            if fold_into_producer(g, id, &a, &b, &mut names)? {
                fused += 1;
            } else if to_mul_add(g, id, &a, &b, &mut names)? {
                split += 1;
            }
        }
        if fused + split > 0 {
            cx.notes.push(format!("fold_bn: {fused} folded into weights, {split} into Mul+Add"));
            sweep_constants(g);
        }
        Ok(Changed::from_bool(fused + split > 0))
    }
}

fn fresh(names: &mut HashSet<String>, base: &str) -> String {
    let mut n = base.to_string();
    let mut k = 1;
    while names.contains(&n) {
        n = format!("{base}_{k}");
        k += 1;
    }
    names.insert(n.clone());
    n
}

fn f32_tensor(shape: Vec<usize>, v: &[f32], node: &str) -> Result<Tensor, PassError> {
    Tensor::from_f32(shape, v).map_err(|e| fail(node, e))
}

/// Folds into a Conv/ConvTranspose/Gemm producer; `false` when the pattern does not apply.
fn fold_into_producer(g: &mut Graph, bn: NodeId, a: &[f32], b: &[f32], names: &mut HashSet<String>) -> Result<bool, PassError> {
    let Some(Some(x)) = g.inputs_of(bn).first().copied() else {
        return Ok(false);
    };
    let p = x.node;
    if g.consumers(x).len() != 1 || g.is_output(x) {
        return Ok(false);
    }
    let c = a.len();
    let pins = g.inputs_of(p);
    let Some(w) = konst(g, pins.get(1).copied().flatten()) else {
        return Ok(false);
    };
    let Some(wv) = f32s(w) else { return Ok(false) };
    let wshape = w.shape.clone();
    let bias_in = pins.get(2).copied().flatten();
    let old_bias: Option<Vec<f32>> = match bias_in {
        None => None,
        Some(v) => match konst(g, Some(v)).and_then(f32s) {
            Some(bv) => Some(bv),
            None => return Ok(false),
        },
    };
    let bn_layout = match &g.node(bn).op {
        Op::BatchNormalization(x) => x.layout,
        _ => return Ok(false),
    };
    let pname = g.node(p).name.clone();
    // Scale of each weight element: the output channel it feeds.
    let (new_w, bias_len): (Vec<f32>, usize) = match &g.node(p).op {
        Op::Conv(cv) if cv.layout == bn_layout => {
            let Some(&o) = wshape.first() else { return Ok(false) };
            if o != c || wv.is_empty() {
                return Ok(false);
            }
            let per = wv.len() / o;
            (wv.iter().enumerate().map(|(i, w)| w * a[i / per]).collect(), c)
        }
        Op::ConvTranspose(ct) if ct.layout == bn_layout => {
            let (Some(&cin), Some(&opg)) = (wshape.first(), wshape.get(1)) else {
                return Ok(false);
            };
            let groups = usize::try_from(ct.group).unwrap_or(0);
            if groups == 0 || opg.checked_mul(groups) != Some(c) || cin % groups != 0 || wv.is_empty() {
                return Ok(false);
            }
            let k: usize = wshape.iter().skip(2).product();
            let ipg = cin / groups;
            let nw = wv
                .iter()
                .enumerate()
                .map(|(idx, w)| {
                    let i = idx / (opg * k);
                    let j = (idx / k) % opg;
                    w * a[(i / ipg) * opg + j]
                })
                .collect();
            (nw, c)
        }
        Op::Gemm(gm) if gm.transA == 0 => {
            let (Some(&r0), Some(&r1)) = (wshape.first(), wshape.get(1)) else {
                return Ok(false);
            };
            let m = if gm.transB != 0 { r0 } else { r1 };
            if m != c || wshape.len() != 2 {
                return Ok(false);
            }
            let nw = wv
                .iter()
                .enumerate()
                .map(|(idx, w)| {
                    let col = if gm.transB != 0 { idx / r1 } else { idx % r1 };
                    w * gm.alpha * a[col]
                })
                .collect();
            // C must be absent, a scalar or a [M]/[1,M] vector.
            if let Some(bv) = &old_bias
                && bv.len() != 1
                && bv.len() != c
            {
                return Ok(false);
            }
            (nw, c)
        }
        _ => return Ok(false),
    };
    let beta = match &g.node(p).op {
        Op::Gemm(gm) => gm.beta,
        _ => 1.0,
    };
    let new_b: Vec<f32> = (0..bias_len)
        .map(|i| {
            let ob = old_bias.as_ref().map(|v| if v.len() == 1 { v[0] } else { v[i] }).unwrap_or(0.0) * beta;
            ob * a[i] + b[i]
        })
        .collect();
    let wname = fresh(names, &format!("{pname}__w_bn"));
    let bname = fresh(names, &format!("{pname}__b_bn"));
    let wc = g.add_constant(wname, f32_tensor(wshape, &new_w, &pname)?);
    let bc = g.add_constant(bname, f32_tensor(vec![bias_len], &new_b, &pname)?);
    g.set_input(p, 1, Some(wc)).map_err(|e| fail(&pname, e))?;
    if g.node(p).n_declared_inputs() < 3 {
        g.push_input(p, Some(bc), false).map_err(|e| fail(&pname, e))?;
    } else {
        g.set_input(p, 2, Some(bc)).map_err(|e| fail(&pname, e))?;
    }
    if let Op::Gemm(gm) = &mut g.node_mut(p).op {
        gm.alpha = 1.0;
        gm.beta = 1.0;
    }
    // The producer's output takes over the BatchNormalization's output (and its name).
    let out = g.node(bn).outputs[0].clone();
    g.replace_all_uses(bn.out(0), x).map_err(|e| fail(&pname, e))?;
    g.remove_node(bn);
    if let Some(v) = g.value_mut(x) {
        v.name = out.name;
        if out.ty.is_some() {
            v.ty = out.ty;
        }
    }
    Ok(true)
}

/// Rewrites a standalone BatchNormalization as `x · a + b`.
fn to_mul_add(g: &mut Graph, bn: NodeId, a: &[f32], b: &[f32], names: &mut HashSet<String>) -> Result<bool, PassError> {
    let Some(Some(x)) = g.inputs_of(bn).first().copied() else {
        return Ok(false);
    };
    let Op::BatchNormalization(op) = &g.node(bn).op else {
        return Ok(false);
    };
    let layout = op.layout;
    let rank = g
        .value(x)
        .and_then(|v| v.ty.as_ref())
        .and_then(|t| t.as_tensor())
        .and_then(|t| t.shape.as_ref())
        .map(|s| s.rank());
    let c = a.len();
    let shape = match (layout, rank) {
        (Layout::ChannelsLast, _) => vec![c],
        (Layout::ChannelsFirst, Some(r)) if r >= 2 => {
            let mut s = vec![c];
            s.extend(std::iter::repeat_n(1, r - 2));
            s
        }
        _ => return Ok(false),
    };
    let name = g.node(bn).name.clone();
    let out = g.node(bn).outputs[0].clone();
    let an = fresh(names, &format!("{name}__a"));
    let bnm = fresh(names, &format!("{name}__b"));
    let ac = g.add_constant(an, f32_tensor(shape.clone(), a, &name)?);
    let bc = g.add_constant(bnm, f32_tensor(shape, b, &name)?);
    let mname = fresh(names, &format!("{name}__mul"));
    let mul = g
        .add_op(mname.clone(), Op::Mul(Mul {}), &[Some(x), Some(ac)], &[&mname])
        .map_err(|e| fail(&name, e))?;
    let add_name = fresh(names, &format!("{name}__add"));
    let add = g
        .add_op(add_name, Op::Add(Add {}), &[Some(mul.out(0)), Some(bc)], &[""])
        .map_err(|e| fail(&name, e))?;
    if let Some(v) = g.value_mut(mul.out(0)) {
        v.ty = out.ty.clone();
    }
    g.replace_all_uses(bn.out(0), add.out(0)).map_err(|e| fail(&name, e))?;
    g.remove_node(bn);
    if let Some(v) = g.value_mut(add.out(0)) {
        *v = out;
    }
    Ok(true)
}

/// Removes constants nothing reads any more (the replaced weights).
fn sweep_constants(g: &mut Graph) {
    let dead: Vec<NodeId> = g
        .node_ids()
        .filter(|&id| matches!(g.node(id).op, Op::Constant(_)) && !g.is_output(id.out(0)) && g.consumers(id.out(0)).is_empty())
        .collect();
    for id in dead {
        g.remove_node(id);
    }
}
