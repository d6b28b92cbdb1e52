//! Channel dependency analysis for structured pruning.
//!
//! Every prunable producer (a Conv/ConvTranspose/Gemm/MatMul with a constant weight) opens a
//! *channel space*: the set of its output channels. The analysis walks the graph once in
//! topological order and tracks, per value, which spaces its channel axis is made of
//! ([`Info`]: segments of spaces along one axis counted from the end, and an `inner` stride for
//! flattened data). Ops that keep channels (activations, BatchNorm, pools, depthwise convs)
//! pass the info on; residual additions and multiplications unite the spaces of their operands
//! (so they are pruned together); Concat along the channel axis concatenates segments; sinks
//! (the next Conv/Gemm/MatMul) record which weight rows to drop. Any other use of a value that
//! carries channels *locks* its spaces, with the reason, so only rewrites that are known to be
//! consistent happen. Linear in graph size (union-find with path halving).

use super::tensor::const_input;
use edgeport_ir::ops::Layout;
use edgeport_ir::{Graph, NodeId, Op, ValueId};
use std::collections::HashMap;

/// A run of `size` channels of one space.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Seg {
    pub space: usize,
    pub size: usize,
}

/// The channel structure of a value: segments along axis `neg_axis` (negative, from the end),
/// each channel spanning `inner` consecutive elements (1 unless flattened).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Info {
    pub segs: Vec<Seg>,
    pub neg_axis: isize,
    pub inner: usize,
}

impl Info {
    pub fn width(&self) -> usize {
        self.segs.iter().map(|s| s.size).sum()
    }
}

/// A rewrite to apply once the kept channels are known.
#[derive(Clone, Debug)]
pub(crate) enum Action {
    /// Keep only the info's kept channels of the constant at `node`'s input `port`, along `axis`.
    Slice {
        node: NodeId,
        port: usize,
        axis: usize,
        info: Info,
    },
    /// Set a depthwise Conv's `group` to the kept channel count.
    Group { node: NodeId, info: Info },
}

/// One channel space.
#[derive(Clone, Debug)]
pub(crate) struct Space {
    pub size: usize,
    parent: usize,
    /// Why the space may not be pruned (first reason found).
    pub locked: Option<String>,
    /// Producers: (node, weight port, output axis of the weight).
    pub producers: Vec<(NodeId, usize, usize)>,
}

/// The result of the analysis.
#[derive(Debug, Default)]
pub(crate) struct Analysis {
    pub spaces: Vec<Space>,
    pub actions: Vec<Action>,
    /// BatchNorm nodes directly on channel data, with the info of their input (for `bn`).
    pub bns: Vec<(NodeId, Info)>,
}

impl Analysis {
    pub fn root(&mut self, mut s: usize) -> usize {
        while self.spaces[s].parent != s {
            let p = self.spaces[s].parent;
            self.spaces[s].parent = self.spaces[p].parent;
            s = self.spaces[s].parent;
        }
        s
    }
    fn new_space(&mut self, size: usize) -> usize {
        let id = self.spaces.len();
        self.spaces.push(Space {
            size,
            parent: id,
            locked: None,
            producers: Vec::new(),
        });
        id
    }
    fn lock_space(&mut self, s: usize, why: &str) {
        let r = self.root(s);
        if self.spaces[r].locked.is_none() {
            self.spaces[r].locked = Some(why.to_string());
        }
    }
    fn lock(&mut self, info: &Info, why: &str) {
        for s in &info.segs {
            self.lock_space(s.space, why);
        }
    }
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.root(a), self.root(b));
        if ra == rb {
            return;
        }
        if self.spaces[ra].size != self.spaces[rb].size {
            self.lock_space(ra, "joined with a space of another size");
            self.lock_space(rb, "joined with a space of another size");
        }
        let moved = std::mem::take(&mut self.spaces[rb].producers);
        self.spaces[ra].producers.extend(moved);
        if self.spaces[ra].locked.is_none() {
            self.spaces[ra].locked = self.spaces[rb].locked.take();
        }
        self.spaces[rb].parent = ra;
    }
    /// Unites two infos segment by segment; false (and both locked) when their structures differ.
    fn unite(&mut self, a: &Info, b: &Info, why: &str) -> bool {
        let same = a.neg_axis == b.neg_axis
            && a.inner == b.inner
            && a.segs.len() == b.segs.len()
            && a.segs.iter().zip(&b.segs).all(|(x, y)| x.size == y.size);
        if !same {
            self.lock(a, why);
            self.lock(b, why);
            return false;
        }
        for (x, y) in a.segs.iter().zip(&b.segs) {
            self.union(x.space, y.space);
        }
        true
    }
}

fn shape_of(g: &Graph, v: ValueId) -> Option<Vec<Option<u64>>> {
    let t = g.value(v)?.ty.as_ref()?.as_tensor()?;
    Some(t.shape.as_ref()?.0.iter().map(|d| d.known()).collect())
}

fn rank_of(g: &Graph, v: ValueId) -> Option<usize> {
    shape_of(g, v).map(|s| s.len())
}

fn chan_neg(layout: Layout, rank: usize) -> isize {
    match layout {
        Layout::ChannelsFirst => 1 - rank as isize,
        Layout::ChannelsLast => -1,
    }
}

/// Ops that keep every channel where it is (extra inputs, if any, are scalars or attributes).
fn is_channelwise(op: &Op) -> bool {
    matches!(
        op,
        Op::Relu(_)
            | Op::LeakyRelu(_)
            | Op::Sigmoid(_)
            | Op::HardSigmoid(_)
            | Op::HardSwish(_)
            | Op::Tanh(_)
            | Op::Elu(_)
            | Op::Selu(_)
            | Op::Celu(_)
            | Op::Gelu(_)
            | Op::Erf(_)
            | Op::Mish(_)
            | Op::Softplus(_)
            | Op::Softsign(_)
            | Op::ThresholdedRelu(_)
            | Op::Clip(_)
            | Op::Identity(_)
            | Op::Dropout(_)
            | Op::Cast(_)
            | Op::Neg(_)
            | Op::Abs(_)
            | Op::Exp(_)
            | Op::Sqrt(_)
            | Op::Reciprocal(_)
    )
}

fn is_binary(op: &Op) -> bool {
    matches!(
        op,
        Op::Add(_) | Op::Sub(_) | Op::Mul(_) | Op::Div(_) | Op::Max(_) | Op::Min(_) | Op::Sum(_) | Op::Mean(_) | Op::PRelu(_) | Op::Pow(_)
    )
}

/// The pooling/resampling ops that keep channels on their layout's channel axis.
fn pool_layout(op: &Op) -> Option<Layout> {
    Some(match op {
        Op::MaxPool(p) => p.layout,
        Op::AveragePool(p) => p.layout,
        Op::GlobalAveragePool(p) => p.layout,
        Op::GlobalMaxPool(p) => p.layout,
        Op::LpPool(p) => p.layout,
        Op::Resize(p) => p.layout,
        _ => return None,
    })
}

/// Runs the analysis over the top-level graph. `keep` names producers whose channels stay.
pub(crate) fn analyze(g: &Graph, keep: &[String]) -> Result<Analysis, String> {
    let order = g.topo_order().map_err(|e| e.to_string())?;
    let mut a = Analysis::default();
    let mut infos: HashMap<ValueId, Info> = HashMap::new();
    for id in order {
        let node = g.node(id);
        let ins = g.inputs_of(id);
        let decl = node.n_declared_inputs().min(ins.len());
        let info_at = |p: usize| ins.get(p).copied().flatten().and_then(|v| infos.get(&v).cloned());
        let in_infos: Vec<Info> = (0..ins.len()).filter_map(info_at).collect();
        let why = format!("used by {} '{}'", node.op.name(), node.name);
        let mut out: Option<Info> = None;
        let is_const = |p: usize| const_input(g, id, p).is_some();
        match &node.op {
            Op::Conv(c) => {
                if let Some(w) = const_input(g, id, 1) {
                    let rank = w.shape.len();
                    let cn = chan_neg(c.layout, rank);
                    let x = info_at(0);
                    let o = w.shape.first().copied().unwrap_or(0);
                    let cin = w.shape.get(1).copied().unwrap_or(0) * usize::try_from(c.group).unwrap_or(0);
                    let depthwise = c.group > 1 && w.shape.get(1) == Some(&1) && o == cin;
                    let bias_ok = ins.get(2).copied().flatten().is_none() || is_const(2);
                    if depthwise {
                        match x {
                            Some(x) if x.neg_axis == cn && x.inner == 1 && bias_ok => {
                                a.actions.push(Action::Slice {
                                    node: id,
                                    port: 1,
                                    axis: 0,
                                    info: x.clone(),
                                });
                                if ins.get(2).copied().flatten().is_some() {
                                    a.actions.push(Action::Slice {
                                        node: id,
                                        port: 2,
                                        axis: 0,
                                        info: x.clone(),
                                    });
                                }
                                a.actions.push(Action::Group { node: id, info: x.clone() });
                                out = Some(x);
                            }
                            Some(x) => a.lock(&x, &why),
                            None => {}
                        }
                    } else if c.group == 1 {
                        if let Some(x) = x {
                            if x.neg_axis == cn && x.inner == 1 {
                                a.actions.push(Action::Slice {
                                    node: id,
                                    port: 1,
                                    axis: 1,
                                    info: x,
                                });
                            } else {
                                a.lock(&x, &why);
                            }
                        }
                        out = Some(producer(
                            &mut a,
                            id,
                            o,
                            cn,
                            bias_ok,
                            ins.get(2).copied().flatten().is_some(),
                            keep,
                            &node.name,
                        ));
                    } else {
                        in_infos.iter().for_each(|i| a.lock(i, &why));
                    }
                } else {
                    in_infos.iter().for_each(|i| a.lock(i, &why));
                }
            }
            Op::ConvTranspose(c) if c.group == 1 && is_const(1) => {
                let w = const_input(g, id, 1).map(|w| (w.shape.len(), w.shape.get(1).copied().unwrap_or(0)));
                let (rank, o) = w.unwrap_or((0, 0));
                let cn = chan_neg(c.layout, rank);
                if let Some(x) = info_at(0) {
                    if x.neg_axis == cn && x.inner == 1 {
                        a.actions.push(Action::Slice {
                            node: id,
                            port: 1,
                            axis: 0,
                            info: x,
                        });
                    } else {
                        a.lock(&x, &why);
                    }
                }
                let has_b = ins.get(2).copied().flatten().is_some();
                let bias_ok = !has_b || is_const(2);
                let info = producer_space(&mut a, id, 1, 1, o, cn, keep, &node.name);
                if has_b && bias_ok {
                    a.actions.push(Action::Slice {
                        node: id,
                        port: 2,
                        axis: 0,
                        info: info.clone(),
                    });
                } else if has_b {
                    a.lock(&info, "bias is not constant");
                }
                out = Some(info);
            }
            Op::Gemm(gm) if is_const(1) => {
                let b = const_input(g, id, 1).map(|t| t.shape.clone()).unwrap_or_default();
                if b.len() == 2 {
                    let (k_axis, n_axis) = if gm.transB != 0 { (1, 0) } else { (0, 1) };
                    if let Some(x) = info_at(0) {
                        if gm.transA == 0 && x.neg_axis == -1 {
                            a.actions.push(Action::Slice {
                                node: id,
                                port: 1,
                                axis: k_axis,
                                info: x,
                            });
                        } else {
                            a.lock(&x, &why);
                        }
                    }
                    let info = producer_space(&mut a, id, 1, n_axis, b[n_axis], -1, keep, &node.name);
                    bias_slice(g, &mut a, id, 2, &info);
                    out = Some(info);
                } else {
                    in_infos.iter().for_each(|i| a.lock(i, &why));
                }
            }
            Op::MatMul(_) if const_input(g, id, 1).is_some_and(|t| t.shape.len() == 2) => {
                let n = const_input(g, id, 1).map(|t| t.shape[1]).unwrap_or(0);
                if let Some(x) = info_at(0) {
                    if x.neg_axis == -1 {
                        a.actions.push(Action::Slice {
                            node: id,
                            port: 1,
                            axis: 0,
                            info: x,
                        });
                    } else {
                        a.lock(&x, &why);
                    }
                }
                out = Some(producer_space(&mut a, id, 1, 1, n, -1, keep, &node.name));
            }
            Op::BatchNormalization(bn) if (1..5).all(is_const) && node.outputs.len() == 1 => {
                if let Some(x) = info_at(0) {
                    let cn = rank_of(g, ins[0].unwrap_or(id.out(0))).map(|r| chan_neg(bn.layout, r));
                    if Some(x.neg_axis) == cn && x.inner == 1 {
                        for p in 1..5 {
                            a.actions.push(Action::Slice {
                                node: id,
                                port: p,
                                axis: 0,
                                info: x.clone(),
                            });
                        }
                        a.bns.push((id, x.clone()));
                        out = Some(x);
                    } else {
                        a.lock(&x, &why);
                    }
                }
            }
            Op::InstanceNormalization(n) if is_const(1) && is_const(2) => {
                if let Some(x) = info_at(0) {
                    let cn = rank_of(g, ins[0].unwrap_or(id.out(0))).map(|r| chan_neg(n.layout, r));
                    if Some(x.neg_axis) == cn && x.inner == 1 {
                        for p in 1..3 {
                            a.actions.push(Action::Slice {
                                node: id,
                                port: p,
                                axis: 0,
                                info: x.clone(),
                            });
                        }
                        out = Some(x);
                    } else {
                        a.lock(&x, &why);
                    }
                }
            }
            op if is_channelwise(op) => {
                out = info_at(0);
                for i in in_infos.iter().skip(usize::from(out.is_some())) {
                    a.lock(i, &why);
                }
                if node.outputs.len() > 1 && g.consumers(id.out(1)).iter().any(|_| true) {
                    if let Some(o) = &out {
                        a.lock(o, "second output used");
                    }
                    out = None;
                }
            }
            op if pool_layout(op).is_some() => {
                let x = info_at(0);
                let layout = pool_layout(op).unwrap_or_default();
                let cn = ins[0].and_then(|v| rank_of(g, v)).map(|r| chan_neg(layout, r));
                let extra_used = node.outputs.len() > 1 && !g.consumers(id.out(1)).is_empty();
                match x {
                    Some(x) if Some(x.neg_axis) == cn && x.inner == 1 && !extra_used => out = Some(x),
                    Some(x) => a.lock(&x, &why),
                    None => {}
                }
                in_infos.iter().skip(1).for_each(|i| a.lock(i, &why));
            }
            op if is_binary(op) && !in_infos.is_empty() => {
                out = binary(g, &mut a, id, &ins[..decl], &infos, &why);
            }
            Op::Concat(c) => out = concat(g, &mut a, id, &ins[..decl], &infos, c.axis, &why),
            Op::Flatten(f) => {
                if let Some(x) = info_at(0) {
                    out = flatten(g, ins[0], &x, f.axis);
                    if out.is_none() {
                        a.lock(&x, &why);
                    }
                }
            }
            Op::Reshape(_) => {
                if let Some(x) = info_at(0) {
                    out = reshape_flatten(g, id, ins[0], &x);
                    if out.is_none() {
                        a.lock(&x, &why);
                    }
                }
            }
            Op::ReduceMean(_) | Op::ReduceSum(_) | Op::ReduceMax(_) | Op::ReduceMin(_) => {
                if let Some(x) = info_at(0) {
                    out = reduce(g, id, ins[0], &x);
                    if out.is_none() {
                        a.lock(&x, &why);
                    }
                }
            }
            _ => in_infos.iter().for_each(|i| a.lock(i, &why)),
        }
        if let Some(o) = out {
            infos.insert(id.out(0), o);
        }
    }
    for (name, v) in g.outputs() {
        if let Some(i) = infos.get(v).cloned() {
            a.lock(&i, &format!("is the graph output '{name}'"));
        }
    }
    Ok(a)
}

/// Opens the output space of a Conv (weight port 1, output axis 0) and slices its bias.
#[allow(clippy::too_many_arguments)]
fn producer(a: &mut Analysis, id: NodeId, o: usize, cn: isize, bias_ok: bool, has_bias: bool, keep: &[String], name: &str) -> Info {
    let info = producer_space(a, id, 1, 0, o, cn, keep, name);
    if has_bias && bias_ok {
        a.actions.push(Action::Slice {
            node: id,
            port: 2,
            axis: 0,
            info: info.clone(),
        });
    } else if has_bias {
        a.lock(&info, "bias is not constant");
    }
    info
}

/// A new space for a producer's output channels; its weight is sliced along `w_axis`.
#[allow(clippy::too_many_arguments)]
fn producer_space(
    a: &mut Analysis,
    id: NodeId,
    port: usize,
    w_axis: usize,
    size: usize,
    neg_axis: isize,
    keep: &[String],
    name: &str,
) -> Info {
    let s = a.new_space(size);
    a.spaces[s].producers.push((id, port, w_axis));
    let info = Info {
        segs: vec![Seg { space: s, size }],
        neg_axis,
        inner: 1,
    };
    if keep.iter().any(|k| k == name) {
        a.lock(&info, "kept by --keep");
    }
    a.actions.push(Action::Slice {
        node: id,
        port,
        axis: w_axis,
        info: info.clone(),
    });
    info
}

/// Slices a constant bias/addend at `port` whose last dim is the output width (or locks).
fn bias_slice(g: &Graph, a: &mut Analysis, id: NodeId, port: usize, info: &Info) {
    let Some(v) = g.inputs_of(id).get(port).copied().flatten() else {
        return;
    };
    match const_input(g, id, port) {
        Some(t) if t.shape.last() == Some(&info.width()) => {
            let axis = t.shape.len() - 1;
            a.actions.push(Action::Slice {
                node: id,
                port,
                axis,
                info: info.clone(),
            });
        }
        Some(t) if t.shape.iter().all(|&d| d == 1) => {}
        _ => {
            let _ = v;
            a.lock(info, "bias is not a constant of the output width");
        }
    }
}

/// Elementwise ops with broadcasting: unite operands with channels, slice constants.
fn binary(g: &Graph, a: &mut Analysis, id: NodeId, ins: &[Option<ValueId>], infos: &HashMap<ValueId, Info>, why: &str) -> Option<Info> {
    let with: Vec<Info> = ins.iter().flatten().filter_map(|v| infos.get(v).cloned()).collect();
    let first = with.first()?.clone();
    let mut ok = true;
    for other in &with[1..] {
        ok &= a.unite(&first, other, why);
    }
    if !ok {
        return None;
    }
    let width = first.width() * first.inner;
    for (p, v) in ins.iter().enumerate() {
        let Some(v) = v else { continue };
        if infos.contains_key(v) {
            continue;
        }
        let dim_at = |shape: &[Option<u64>]| -> Option<Option<u64>> {
            let r = shape.len() as isize + first.neg_axis;
            if r < 0 { None } else { Some(shape[r as usize]) }
        };
        if let Some(t) = const_input(g, id, p) {
            let shape: Vec<Option<u64>> = t.shape.iter().map(|&d| Some(d as u64)).collect();
            match dim_at(&shape) {
                None | Some(Some(1)) => {}
                Some(Some(d)) if d as usize == width && first.inner == 1 => {
                    let axis = (shape.len() as isize + first.neg_axis) as usize;
                    a.actions.push(Action::Slice {
                        node: id,
                        port: p,
                        axis,
                        info: first.clone(),
                    });
                }
                _ => {
                    a.lock(&first, why);
                    return None;
                }
            }
        } else {
            match shape_of(g, *v).as_deref().map(dim_at) {
                Some(None) | Some(Some(Some(1))) => {}
                _ => {
                    a.lock(&first, why);
                    return None;
                }
            }
        }
    }
    Some(first)
}

/// Concat along the channel axis concatenates segments; along another axis it unites.
fn concat(
    g: &Graph,
    a: &mut Analysis,
    id: NodeId,
    ins: &[Option<ValueId>],
    infos: &HashMap<ValueId, Info>,
    axis: i64,
    why: &str,
) -> Option<Info> {
    let all: Vec<Option<Info>> = ins.iter().map(|v| v.and_then(|v| infos.get(&v).cloned())).collect();
    let some: Vec<Info> = all.iter().flatten().cloned().collect();
    let first = some.first()?.clone();
    let rank = ins
        .first()
        .copied()
        .flatten()
        .and_then(|v| rank_of(g, v))
        .or_else(|| rank_of(g, id.out(0)));
    let neg = match rank {
        Some(_) if axis < 0 => axis as isize,
        Some(r) => axis as isize - r as isize,
        None => 0,
    };
    if all.iter().any(Option::is_none) || rank.is_none() {
        some.iter().for_each(|i| a.lock(i, why));
        return None;
    }
    if first.neg_axis == neg && some.iter().all(|i| i.neg_axis == neg && i.inner == 1) {
        return Some(Info {
            segs: some.iter().flat_map(|i| i.segs.clone()).collect(),
            neg_axis: neg,
            inner: 1,
        });
    }
    let mut ok = true;
    for other in &some[1..] {
        ok &= a.unite(&first, other, why);
    }
    ok.then_some(first)
}

/// Flatten of channel data where every dim after the channel axis is known.
fn flatten(g: &Graph, x: Option<ValueId>, info: &Info, axis: i64) -> Option<Info> {
    let shape = shape_of(g, x?)?;
    let r = shape.len() as isize;
    let c = usize::try_from(r + info.neg_axis).ok()?;
    let axis = if axis < 0 { axis + r as i64 } else { axis };
    if info.inner != 1 || usize::try_from(axis).ok()? != c {
        return None;
    }
    let inner = shape[c + 1..]
        .iter()
        .try_fold(1usize, |acc, d| acc.checked_mul(usize::try_from((*d)?).ok()?))?;
    Some(Info {
        segs: info.segs.clone(),
        neg_axis: -1,
        inner,
    })
}

/// A Reshape that acts as Flatten at the channel axis (`[N, C, H, W] → [N, C·H·W]`).
fn reshape_flatten(g: &Graph, id: NodeId, x: Option<ValueId>, info: &Info) -> Option<Info> {
    let in_shape = shape_of(g, x?)?;
    let out_shape = shape_of(g, id.out(0))?;
    let c = usize::try_from(in_shape.len() as isize + info.neg_axis).ok()?;
    if out_shape.len() != c + 1 || in_shape[..c] != out_shape[..c] {
        return None;
    }
    flatten(g, x, info, c as i64)
}

/// Reductions over axes other than the channel axis keep channels.
fn reduce(g: &Graph, id: NodeId, x: Option<ValueId>, info: &Info) -> Option<Info> {
    let r = shape_of(g, x?)?.len() as isize;
    let keepdims = match &g.node(id).op {
        Op::ReduceMean(o) => o.keepdims,
        Op::ReduceSum(o) => o.keepdims,
        Op::ReduceMax(o) => o.keepdims,
        Op::ReduceMin(o) => o.keepdims,
        _ => return None,
    } != 0;
    let axes = const_input(g, id, 1)?.to_i64_vec()?;
    let c = r + info.neg_axis;
    let axes: Vec<isize> = axes.iter().map(|&v| if v < 0 { v as isize + r } else { v as isize }).collect();
    if info.inner != 1 || axes.is_empty() || axes.contains(&c) {
        return None;
    }
    let after = axes.iter().filter(|&&v| v > c).count() as isize;
    Some(Info {
        segs: info.segs.clone(),
        neg_axis: if keepdims { info.neg_axis } else { info.neg_axis + after },
        inner: 1,
    })
}
