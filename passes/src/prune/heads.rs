//! Attention-head pruning for transformer blocks (structured pruning).
//!
//! A multi-head attention block as exported by PyTorch/ONNX is recognised from its core:
//! `ctx = MatMul(P, V)` where `V` is a projection split into heads (`MatMul(x, Wv) [+ bv]` →
//! `Reshape [.., .., H|-1, hd]` → `Transpose [0,2,1,3]`), `P` comes through per-head ops
//! (Softmax, Where, IsNaN, masks that broadcast over heads, scales) from
//! `scores = MatMul(Q', K')` whose operands are the Q and K projections split the same way
//! (K transposed `[0,2,3,1]`, or `[0,2,1,3]` then `[0,1,3,2]`; optional scalar scales), and
//! `ctx` merges back (`[Reshape] → Transpose [0,2,1,3] → Reshape [.., .., H·hd|-1]`) into the
//! output projection `MatMul(·, Wo)`.
//!
//! Pruning a head removes its `hd` columns of Wq, Wk, Wv (and biases) and its `hd` rows of Wo,
//! and rewrites head counts (`H → kept`, `H·hd → kept·hd`) in the reshape constants. Heads are
//! ranked by the norms of their four weight slices. Every intermediate value must stay inside
//! the block (no other consumer), or the block is reported as locked with the reason.

use super::tensor::{axis_norms, const_input, take_axis};
use super::{Criterion, PruneError};
use edgeport_ir::{Graph, NodeId, Op, Tensor, ValueId};
use std::collections::{BinaryHeap, HashMap, HashSet};

/// One attention block in the report.
#[derive(Clone, Debug, PartialEq)]
pub struct HeadReport {
    /// The output projection's node name.
    pub block: String,
    pub heads_before: usize,
    pub heads_after: usize,
    pub head_dim: usize,
    /// Why the block was left alone.
    pub locked: Option<String>,
}

/// A projection split into heads.
#[derive(Clone, Debug)]
struct Proj {
    matmul: NodeId,
    /// The bias Add and the port of its constant.
    bias: Option<(NodeId, usize)>,
    /// The split Reshape and the position of the head axis in its shape constant.
    reshape: NodeId,
}

/// A recognised block.
#[derive(Clone, Debug)]
struct Block {
    q: Proj,
    k: Proj,
    v: Proj,
    /// Reshapes on the merge side (before the merging Transpose), head axis at 1.
    merge_pre: Option<NodeId>,
    merge: NodeId,
    out: NodeId,
    heads: usize,
    head_dim: usize,
}

fn producer(g: &Graph, v: Option<ValueId>) -> Option<(NodeId, &Op)> {
    let v = v?;
    let n = g.get(v.node)?;
    (v.port == 0).then_some((v.node, &n.op))
}

fn input(g: &Graph, n: NodeId, p: usize) -> Option<ValueId> {
    g.inputs_of(n).get(p).copied().flatten()
}

fn single_use(g: &Graph, n: NodeId) -> bool {
    g.consumers(n.out(0)).len() == 1 && !g.is_output(n.out(0))
}

fn shape_ints(g: &Graph, n: NodeId) -> Option<Vec<i64>> {
    const_input(g, n, 1)?.to_i64_vec()
}

fn value_shape(g: &Graph, v: ValueId) -> Option<Vec<Option<u64>>> {
    let t = g.value(v)?.ty.as_ref()?.as_tensor()?;
    Some(t.shape.as_ref()?.0.iter().map(|d| d.known()).collect())
}

/// Is `v` a scalar (one-element) constant?
fn scalar_const(g: &Graph, v: Option<ValueId>) -> bool {
    match producer(g, v) {
        Some((_, Op::Constant(c))) => c.value.shape.iter().product::<usize>() == 1,
        _ => false,
    }
}

/// `v` = Transpose(Reshape(proj)) splitting a projection into heads; returns the projection,
/// the transpose's perm, H (0 when the shape says -1) and hd.
fn split(g: &Graph, v: Option<ValueId>) -> Option<(Proj, Vec<i64>, usize, usize)> {
    let (t, Op::Transpose(tr)) = producer(g, v)? else { return None };
    let perm = tr.perm.clone();
    if !single_use(g, t) {
        return None;
    }
    let (r, Op::Reshape(_)) = producer(g, input(g, t, 0))? else {
        return None;
    };
    let s = shape_ints(g, r)?;
    if s.len() != 4 || s[3] <= 0 || !(s[2] == -1 || s[2] > 0) || !single_use(g, r) {
        return None;
    }
    let hd = usize::try_from(s[3]).ok()?;
    let h = usize::try_from(s[2]).unwrap_or(0);
    let (mut m, mut op) = producer(g, input(g, r, 0))?;
    let mut bias = None;
    if matches!(op, Op::Add(_)) {
        if !single_use(g, m) {
            return None;
        }
        let add = m;
        let p = (0..2).find(|&p| const_input(g, add, p).is_some())?;
        (m, op) = producer(g, input(g, add, 1 - p))?;
        bias = Some((add, p));
    }
    if !matches!(op, Op::MatMul(_)) || !single_use(g, m) || const_input(g, m, 1).is_none_or(|w| w.shape.len() != 2) {
        return None;
    }
    Some((
        Proj {
            matmul: m,
            bias,
            reshape: r,
        },
        perm,
        h,
        hd,
    ))
}

/// Steps back over multiplications/divisions by a scalar constant.
fn skip_scale(g: &Graph, mut v: Option<ValueId>) -> Option<ValueId> {
    for _ in 0..4 {
        match producer(g, v) {
            Some((n, Op::Mul(_) | Op::Div(_))) if single_use(g, n) => {
                let (a, b) = (input(g, n, 0), input(g, n, 1));
                if scalar_const(g, b) {
                    v = a;
                } else if scalar_const(g, a) && matches!(g.node(n).op, Op::Mul(_)) {
                    v = b;
                } else {
                    return v;
                }
            }
            _ => return v,
        }
    }
    v
}

/// The Q or K side of the scores MatMul.
fn qk_side(g: &Graph, v: Option<ValueId>, want_k: bool) -> Option<(Proj, usize, usize)> {
    let v = skip_scale(g, v);
    if want_k
        && let Some((t, Op::Transpose(tr))) = producer(g, v)
        && tr.perm == [0, 1, 3, 2]
        && single_use(g, t)
    {
        let (p, perm, h, hd) = split(g, skip_scale(g, input(g, t, 0)))?;
        return (perm == [0, 2, 1, 3]).then_some((p, h, hd));
    }
    let (p, perm, h, hd) = split(g, v)?;
    let want: &[i64] = if want_k { &[0, 2, 3, 1] } else { &[0, 2, 1, 3] };
    (perm == want).then_some((p, h, hd))
}

/// Ops that act per head (elementwise, softmax over the last axis, masks).
fn per_head(op: &Op) -> bool {
    match op {
        Op::Softmax(s) => s.axis == -1 || s.axis == 3,
        Op::IsNaN(_) | Op::Cast(_) | Op::Where(_) | Op::Add(_) | Op::Sub(_) | Op::Mul(_) | Op::Div(_) => true,
        _ => false,
    }
}

/// From the probabilities input of `ctx` back to the scores MatMul through per-head ops.
/// A node joins the region only when all its consumers are in the region (or `ctx`); other
/// values (the attention mask shared by all layers, constants) are operands from outside,
/// which must broadcast over the head axis where their shape is known.
fn scores_matmul(g: &Graph, ctx: NodeId, heads: usize, pos: &HashMap<NodeId, usize>) -> Result<NodeId, String> {
    let mut region: HashSet<NodeId> = HashSet::new();
    let mut heap: BinaryHeap<(usize, NodeId)> = BinaryHeap::new();
    let first = input(g, ctx, 0).ok_or("no probabilities input")?;
    let key = |n: NodeId| pos.get(&n).copied().unwrap_or(0);
    heap.push((key(first.node), first.node));
    let mut scores = None;
    let mut outside: Vec<ValueId> = Vec::new();
    while let Some((_, n)) = heap.pop() {
        if region.contains(&n) || Some(n) == scores {
            continue;
        }
        let node = g.get(n).ok_or("dangling value")?;
        let inside = g.consumers(n.out(0)).iter().all(|(c, _)| region.contains(c) || *c == ctx) && !g.is_output(n.out(0));
        if matches!(node.op, Op::MatMul(_)) && const_input(g, n, 0).is_none() && const_input(g, n, 1).is_none() {
            if !inside {
                return Err(format!("the scores '{}' are used outside the attention block", node.name));
            }
            if scores.is_some_and(|s| s != n) {
                return Err("two score products".into());
            }
            scores = Some(n);
            continue;
        }
        if !per_head(&node.op) || !inside {
            if n == first.node {
                return Err(format!("{} '{}' feeds the context product", node.op.name(), node.name));
            }
            outside.push(n.out(0));
            continue;
        }
        if region.len() > 32 {
            return Err("too many ops between the scores and the context product".into());
        }
        region.insert(n);
        for w in g.inputs_of(n).into_iter().flatten() {
            heap.push((key(w.node), w.node));
        }
    }
    for v in outside {
        if let Some(s) = value_shape(g, v)
            && s.len() == 4
            && s[1].is_some_and(|h| h != 1 && h as usize == heads)
        {
            return Err(format!("'{}' has a head axis of its own", g.node(v.node).name));
        }
    }
    scores.ok_or_else(|| "no score product".into())
}

/// Recognises the block whose context product is `ctx`; Ok(None) when `ctx` is not one.
fn block_at(g: &Graph, ctx: NodeId, pos: &HashMap<NodeId, usize>) -> Result<Option<Block>, String> {
    let Some((v, perm, hv, hd)) = split(g, input(g, ctx, 1)) else {
        return Ok(None);
    };
    if perm != [0, 2, 1, 3] {
        return Ok(None);
    }
    // H from the value projection's width (the reshape may say -1).
    let width = const_input(g, v.matmul, 1).map_or(0, |w| w.shape[1]);
    if hd == 0 || !width.is_multiple_of(hd) {
        return Ok(None);
    }
    let heads = width / hd;
    if heads < 2 || (hv != 0 && hv != heads) {
        return Ok(None);
    }
    let scores = scores_matmul(g, ctx, heads, pos)?;
    let q = qk_side(g, input(g, scores, 0), false).ok_or("the query side is not a projection split into heads")?;
    let k = qk_side(g, input(g, scores, 1), true).ok_or("the key side is not a projection split into heads")?;
    if q.2 != hd || k.2 != hd || [q.1, k.1].iter().any(|&h| h != 0 && h != heads) {
        return Err("query, key and value disagree on heads".into());
    }
    if !single_use(g, ctx) || !single_use(g, scores) {
        return Err("the attention products have other consumers".into());
    }
    // Merge side.
    let (mut n, mut op) = g
        .consumers(ctx.out(0))
        .first()
        .and_then(|&(c, _)| g.get(c).map(|x| (c, &x.op)))
        .ok_or("no consumer")?;
    let mut merge_pre = None;
    if matches!(op, Op::Reshape(_)) {
        let s = shape_ints(g, n).ok_or("merge reshape shape is not constant")?;
        if s.len() != 4 || !single_use(g, n) || s[3] != hd as i64 || !(s[1] == -1 || s[1] == heads as i64) {
            return Err("unexpected reshape after the context product".into());
        }
        merge_pre = Some(n);
        let c = g.consumers(n.out(0)).first().map(|c| c.0).ok_or("no consumer")?;
        (n, op) = (c, &g.node(c).op);
    }
    match op {
        Op::Transpose(t) if t.perm == [0, 2, 1, 3] && single_use(g, n) => {}
        _ => return Err("the context is not transposed back to [batch, seq, heads, dim]".into()),
    }
    let merge = g.consumers(n.out(0)).first().map(|c| c.0).ok_or("no consumer")?;
    let ms = match &g.node(merge).op {
        Op::Reshape(_) => shape_ints(g, merge).ok_or("merge reshape shape is not constant")?,
        _ => return Err("the heads are not merged by a Reshape".into()),
    };
    let width = (heads * hd) as i64;
    if ms.len() != 3 || !(ms[2] == -1 || ms[2] == width) || !single_use(g, merge) {
        return Err(format!("merge reshape to {ms:?} is not [.., .., {width}]"));
    }
    let out = g.consumers(merge.out(0)).first().map(|c| c.0).ok_or("no consumer")?;
    let wo_ok = matches!(g.node(out).op, Op::MatMul(_))
        && input(g, out, 0) == Some(merge.out(0))
        && const_input(g, out, 1).is_some_and(|w| w.shape.len() == 2 && w.shape[0] == heads * hd);
    if !wo_ok {
        return Err("the merged heads do not feed an output projection with constant weights".into());
    }
    let width_ok = |p: &Proj| {
        const_input(g, p.matmul, 1).is_some_and(|w| w.shape[1] == heads * hd)
            && p.bias
                .is_none_or(|(a, port)| const_input(g, a, port).is_some_and(|b| b.shape.last() == Some(&(heads * hd))))
    };
    if ![&q.0, &k.0, &v].iter().all(|p| width_ok(p)) {
        return Err("a projection's weight or bias is not heads × head size wide".into());
    }
    Ok(Some(Block {
        q: q.0,
        k: k.0,
        v,
        merge_pre,
        merge,
        out,
        heads,
        head_dim: hd,
    }))
}

/// Norm per head of a weight's slices along `axis` (hd consecutive indices per head).
fn head_norms(g: &Graph, node: NodeId, port: usize, axis: usize, heads: usize, hd: usize, p: u8) -> Vec<f64> {
    let Some(n) = const_input(g, node, port).and_then(|w| axis_norms(w, axis, p)) else {
        return vec![0.0; heads];
    };
    let per: Vec<f64> = (0..heads).map(|h| n.iter().skip(h * hd).take(hd).sum()).collect();
    let max = per.iter().cloned().fold(0.0, f64::max);
    if max > 0.0 { per.iter().map(|x| x / max).collect() } else { per }
}

fn replace_const(g: &mut Graph, node: NodeId, port: usize, t: Tensor, tag: &str) -> Result<(), PruneError> {
    let name = format!("{}_{tag}", g.node(node).name);
    let c = g.add_constant(name, t);
    g.set_input(node, port, Some(c)).map_err(|e| PruneError::Graph(e.to_string()))
}

fn slice(g: &mut Graph, node: NodeId, port: usize, axis: usize, pos: &[usize]) -> Result<(), PruneError> {
    let t = const_input(g, node, port)
        .ok_or_else(|| PruneError::Graph(format!("node '{}': input {port} is not constant", g.node(node).name)))?;
    let s = take_axis(t, axis, pos).map_err(|e| PruneError::Graph(format!("node '{}': {e}", g.node(node).name)))?;
    replace_const(g, node, port, s, &format!("heads{port}"))
}

/// Rewrites position `at` of a Reshape's shape constant from `from` to `to` (when it is explicit).
fn fix_shape(g: &mut Graph, node: NodeId, at: usize, from: i64, to: i64) -> Result<(), PruneError> {
    let Some(mut s) = shape_ints(g, node) else { return Ok(()) };
    if s.get(at) != Some(&from) {
        return Ok(());
    }
    s[at] = to;
    let t = Tensor::from_i64(vec![s.len()], &s).map_err(|e| PruneError::Graph(e.to_string()))?;
    replace_const(g, node, 1, t, "heads_shape")
}

/// Prunes `ratio` of the heads of every recognised attention block.
pub(crate) fn prune_heads(g: &mut Graph, ratio: f64, crit: Criterion, keep: &[String]) -> Result<Vec<HeadReport>, PruneError> {
    let order = g.topo_order().map_err(|e| PruneError::Graph(e.to_string()))?;
    let pos: HashMap<NodeId, usize> = order.iter().enumerate().map(|(i, &n)| (n, i)).collect();
    let mut blocks = Vec::new();
    let mut reports = Vec::new();
    for n in order {
        if !matches!(g.node(n).op, Op::MatMul(_)) || const_input(g, n, 1).is_some() {
            continue;
        }
        match block_at(g, n, &pos) {
            Ok(Some(b)) => blocks.push(b),
            Ok(None) => {}
            Err(why) => reports.push(HeadReport {
                block: g.node(n).name.clone(),
                heads_before: 0,
                heads_after: 0,
                head_dim: 0,
                locked: Some(why),
            }),
        }
    }
    let p = if crit == Criterion::L2 { 2 } else { 1 };
    for b in blocks {
        let (h, hd) = (b.heads, b.head_dim);
        let name = g.node(b.out).name.clone();
        let named = |n: NodeId| keep.iter().any(|k| *k == g.node(n).name);
        let locked = [b.q.matmul, b.k.matmul, b.v.matmul, b.out]
            .into_iter()
            .any(named)
            .then(|| "kept by --keep".to_string());
        let drop = ((h as f64) * ratio).floor() as usize;
        let drop = drop.min(h - 1);
        if locked.is_some() || drop == 0 {
            reports.push(HeadReport {
                block: name,
                heads_before: h,
                heads_after: h,
                head_dim: hd,
                locked,
            });
            continue;
        }
        let mut score = vec![0.0; h];
        for proj in [&b.q, &b.k, &b.v] {
            for (s, x) in score.iter_mut().zip(head_norms(g, proj.matmul, 1, 1, h, hd, p)) {
                *s += x;
            }
        }
        for (s, x) in score.iter_mut().zip(head_norms(g, b.out, 1, 0, h, hd, p)) {
            *s += x;
        }
        let mut idx: Vec<usize> = (0..h).collect();
        idx.sort_by(|&x, &y| score[y].total_cmp(&score[x]).then(x.cmp(&y)));
        idx.truncate(h - drop);
        idx.sort_unstable();
        let pos: Vec<usize> = idx.iter().flat_map(|&k| k * hd..(k + 1) * hd).collect();
        let kept = idx.len();
        for proj in [&b.q, &b.k, &b.v] {
            slice(g, proj.matmul, 1, 1, &pos)?;
            if let Some((add, port)) = proj.bias {
                let axis = const_input(g, add, port).map_or(0, |t| t.shape.len().saturating_sub(1));
                slice(g, add, port, axis, &pos)?;
            }
            fix_shape(g, proj.reshape, 2, h as i64, kept as i64)?;
        }
        if let Some(r) = b.merge_pre {
            fix_shape(g, r, 1, h as i64, kept as i64)?;
        }
        fix_shape(g, b.merge, 2, (h * hd) as i64, (kept * hd) as i64)?;
        slice(g, b.out, 1, 0, &pos)?;
        reports.push(HeadReport {
            block: name,
            heads_before: h,
            heads_after: kept,
            head_dim: hd,
            locked: None,
        });
    }
    Ok(reports)
}
