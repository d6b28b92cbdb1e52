//! Mixed precision: the search chooses which layers stay float so that the whole model meets
//! the budget (`min_cosine` and/or `max_error`).
//!
//! Layers are chosen in groups of layers that read the same activation (Q/K/V projections share
//! theirs). A group's *sensitivity* is the output cosine to the float model when only that group
//! is quantized; its *gain* is what that costs over the model with nothing quantized. What
//! staying float means depends on the target: for ONNX a float layer is float through and
//! through (float16-stored weights, float activations), so keeping it float removes its weight
//! error too; for full-integer targets every weight stays int8 and only the activations stay
//! float (the size does not change).
//!
//! Groups are kept float best gain per latency cost first ([`crate::quantize::cost`]: a depthwise
//! conv or an RGB stem is about as fast in float, a pointwise conv about 2.7× slower, and every
//! activation between a float and an int8 layer costs a conversion), in steps whose predicted
//! gains cover the remaining cosine deficit; each step is measured.

use crate::quantize::calib::Calibration;
use crate::quantize::cost::Model;
use crate::quantize::error::QuantError;
use crate::quantize::layers::Layer;
use crate::quantize::metrics::{Metrics, compare};
use crate::quantize::run_all;
use crate::quantize::static_int8::{StaticOptions, activation_points, apply, output_point};
use edgeport_eval::Value;
use edgeport_ir::{Graph, NodeId, Op, ValueId};
use std::collections::{HashMap, HashSet};

fn quantized_metrics(
    g: &Graph,
    layers: &[Layer],
    cal: &Calibration,
    so: &StaticOptions,
    include: &HashSet<NodeId>,
    check: &[Vec<Value>],
    reference: &[Vec<Value>],
) -> Result<Metrics, QuantError> {
    let mut gq = g.clone();
    apply(&mut gq, layers, cal, so, Some(include))?;
    let outs = run_all(&gq, check)?;
    Ok(compare(reference, &outs))
}

fn meets(m: &Metrics, min_cos: Option<f64>, max_err: Option<f64>) -> bool {
    min_cos.is_none_or(|c| m.cosine >= c) && max_err.is_none_or(|e| m.max_abs <= e)
}

/// The layers whose activations are quantized, each layer's sensitivity and the final figures.
type ActChoice = (HashSet<NodeId>, HashMap<NodeId, f64>, Metrics);

/// Groups of layers reading the same activation (a layer without one is its own group).
fn groups(layers: &[Layer]) -> Vec<Vec<NodeId>> {
    let mut by_act: Vec<(Option<ValueId>, Vec<NodeId>)> = Vec::new();
    for l in layers {
        match by_act.iter_mut().find(|(a, _)| a.is_some() && *a == l.act) {
            Some((_, v)) => v.push(l.node),
            None => by_act.push((l.act, vec![l.node])),
        }
    }
    by_act.into_iter().map(|(_, v)| v).collect()
}

/// The float set being built: which layers are float and the latency model that prices it.
struct Search<'a> {
    model: Model,
    index: HashMap<NodeId, usize>,
    groups: &'a [Vec<NodeId>],
    /// Groups that share an activation with each group.
    neighbors: Vec<HashSet<usize>>,
    float: Vec<bool>,
}

/// Whether an op passes one activation on unchanged in kind: pooling, activation and layout
/// ops (not the Adds and Concats that merge several).
fn moves_data(op: &Op) -> bool {
    matches!(
        op,
        Op::MaxPool(_)
            | Op::AveragePool(_)
            | Op::GlobalAveragePool(_)
            | Op::Flatten(_)
            | Op::Reshape(_)
            | Op::Transpose(_)
            | Op::Squeeze(_)
            | Op::Unsqueeze(_)
            | Op::Relu(_)
            | Op::Clip(_)
            | Op::Pad(_)
            | Op::Resize(_)
            | Op::Identity(_)
    )
}

/// The layers (indices by node) that make `v` or read it through chains of [`moves_data`] ops,
/// up to a few ops away each way.
fn through_moves(g: &Graph, v: ValueId, index: &HashMap<NodeId, usize>) -> Vec<usize> {
    const HOPS: usize = 4;
    let mut out = Vec::new();
    let mut frontier = vec![v];
    for _ in 0..HOPS {
        let mut next = Vec::new();
        for x in frontier {
            for (c, _) in g.consumers(x) {
                if let Some(&i) = index.get(&c) {
                    out.push(i);
                } else if moves_data(&g.node(c).op) {
                    next.push(c.out(0));
                }
            }
        }
        frontier = next;
    }
    let mut n = v.node;
    for _ in 0..HOPS {
        if let Some(&i) = index.get(&n) {
            out.push(i);
            break;
        }
        if !moves_data(&g.node(n).op) {
            break;
        }
        let Some(Some(x)) = g.inputs_of(n).first().copied() else { break };
        n = x.node;
    }
    out
}

impl<'a> Search<'a> {
    /// `through`: activations also meet the layers beyond data-movement ops ([`through_moves`]).
    /// Only [`fastest`] uses it: the budget search keeps the adjacency it was measured with
    /// (with it, pose landmark's 0.99 budget, met on 8 samples, held 0.53 on 16 others instead
    /// of 0.99).
    fn new(g: &Graph, layers: &[Layer], groups: &'a [Vec<NodeId>], through: bool) -> Search<'a> {
        let index: HashMap<NodeId, usize> = layers.iter().enumerate().map(|(i, l)| (l.node, i)).collect();
        let mut adjacent: HashMap<ValueId, Vec<usize>> = HashMap::new();
        for (i, l) in layers.iter().enumerate() {
            for v in [l.act, output_point(g, l)].into_iter().flatten() {
                adjacent.entry(v).or_default().push(i);
            }
        }
        // Layers that reach an activation through data-movement ops (a MaxPool, a Flatten) meet
        // it too: a float conv before `MaxPool → Flatten → int8 Gemm` still pays a conversion.
        if through {
            for (v, adj) in adjacent.iter_mut() {
                for i in through_moves(g, *v, &index) {
                    if !adj.contains(&i) {
                        adj.push(i);
                    }
                }
            }
        }
        let points: Vec<(ValueId, Vec<usize>)> = activation_points(g, layers)
            .into_iter()
            .filter_map(|v| adjacent.remove(&v).map(|a| (v, a)))
            .collect();
        let group_of: HashMap<usize, usize> = groups
            .iter()
            .enumerate()
            .flat_map(|(gi, grp)| grp.iter().filter_map(|n| index.get(n)).map(move |&i| (i, gi)).collect::<Vec<_>>())
            .collect();
        let mut neighbors = vec![HashSet::new(); groups.len()];
        for (_, adj) in &points {
            let gs: Vec<usize> = adj.iter().filter_map(|i| group_of.get(i).copied()).collect();
            for &a in &gs {
                for &b in &gs {
                    if a != b {
                        neighbors[a].insert(b);
                    }
                }
            }
        }
        Search {
            model: Model::new(g, layers, &points),
            index,
            groups,
            neighbors,
            float: vec![false; layers.len()],
        }
    }

    fn mark(&self, float: &mut [bool], gi: usize, v: bool) {
        for n in self.groups.get(gi).into_iter().flatten() {
            if let Some(&i) = self.index.get(n) {
                float[i] = v;
            }
        }
    }

    fn cost(&self) -> f64 {
        self.model.cost(&self.float)
    }

    /// Whether every layer of group `gi` is float.
    fn is_float(&self, gi: usize) -> bool {
        self.groups[gi].iter().all(|n| self.index.get(n).is_some_and(|&i| self.float[i]))
    }

    /// The cost with group `gi` float (`v`) or int8.
    fn cost_with(&self, gi: usize, v: bool) -> f64 {
        let mut f = self.float.clone();
        self.mark(&mut f, gi, v);
        self.model.cost(&f)
    }

    /// Makes group `gi` float (`v`) or int8, in the float set and in `include`.
    fn set(&mut self, gi: usize, v: bool, include: &mut HashSet<NodeId>) {
        let mut f = std::mem::take(&mut self.float);
        self.mark(&mut f, gi, v);
        self.float = f;
        for n in self.groups.get(gi).into_iter().flatten() {
            if v {
                include.remove(n);
            } else {
                include.insert(*n);
            }
        }
    }
}

/// The layers to quantize with `float_where_faster` and no error budget: every layer but those
/// whose float kernels the latency model ([`crate::quantize::cost`]) prices below their int8
/// ones, with the conversions they save or add (mobilenet_v2: the RGB stem reads the graph
/// input, and the first block after it is float up to its 16-channel output: measured 2.85–2.97
/// ms against 3.08–3.30 ms all-int8, and closer to the float model). Float regions grow from
/// each seed group by the neighbour that keeps the estimate lowest; the best region that saves
/// time is kept, then the next; never every group.
pub fn fastest(g: &Graph, layers: &[Layer]) -> HashSet<NodeId> {
    const GROW: usize = 8;
    let gs = groups(layers);
    let mut s = Search::new(g, layers, &gs, true);
    let mut include: HashSet<NodeId> = layers.iter().map(|l| l.node).collect();
    if gs.len() < 2 {
        return include;
    }
    let eps = s.model.cost(&vec![true; layers.len()]).abs().max(1.0) * 1e-6;
    // Float regions, one at a time: from every seed group grow the region by the neighbour that
    // keeps the estimate lowest (a step may cost before the next one pays: a stem's output is
    // bigger than the block's after it), and keep the best region seen if it saves time.
    loop {
        let base = s.cost();
        let mut best: Option<(f64, Vec<usize>)> = None;
        for seed in 0..gs.len() {
            if s.is_float(seed) {
                continue;
            }
            let mut region = vec![seed];
            let mut f = s.float.clone();
            s.mark(&mut f, seed, true);
            for step in 0..=GROW {
                let c = s.model.cost(&f) - base;
                if c < -eps && best.as_ref().is_none_or(|(b, _)| c < *b) {
                    best = Some((c, region.clone()));
                }
                if step == GROW {
                    break;
                }
                let next = region
                    .iter()
                    .flat_map(|&r| s.neighbors[r].iter().copied())
                    .filter(|n| !region.contains(n) && !s.is_float(*n))
                    .map(|n| {
                        let mut t = f.clone();
                        s.mark(&mut t, n, true);
                        (n, s.model.cost(&t))
                    })
                    .min_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal));
                let Some((n, _)) = next else { break };
                s.mark(&mut f, n, true);
                region.push(n);
            }
        }
        let Some((_, region)) = best else { break };
        // Never every group.
        let left = (0..gs.len()).filter(|&gi| !s.is_float(gi) && !region.contains(&gi)).count();
        if left == 0 {
            break;
        }
        for gi in region {
            s.set(gi, true, &mut include);
        }
    }
    include
}

/// Chooses which layers stay float so that the budget holds.
pub fn mixed_precision(
    g: &Graph,
    layers: &[Layer],
    cal: &Calibration,
    so: &StaticOptions,
    check: &[Vec<Value>],
    min_cos: Option<f64>,
    max_err: Option<f64>,
) -> Result<ActChoice, QuantError> {
    if check.is_empty() {
        return Err(QuantError::Calibration(
            "mixed precision needs samples to measure the output error".into(),
        ));
    }
    let reference = run_all(g, check)?;
    let mut include: HashSet<NodeId> = layers.iter().map(|l| l.node).collect();
    let mut m = quantized_metrics(g, layers, cal, so, &include, check, &reference)?;
    let mut sens = HashMap::new();
    let gs = groups(layers);
    let mut gsens: Vec<(f64, usize)> = Vec::with_capacity(gs.len());
    for (i, grp) in gs.iter().enumerate() {
        let one: HashSet<NodeId> = grp.iter().copied().collect();
        let mg = quantized_metrics(g, layers, cal, so, &one, check, &reference)?;
        for n in grp {
            sens.insert(*n, mg.cosine);
        }
        gsens.push((mg.cosine, i));
    }
    if meets(&m, min_cos, max_err) {
        return Ok((include, sens, m));
    }
    // With no layer quantized (with int8 weights everywhere on full-integer targets): the floor
    // of what mixed precision reaches.
    let floor = quantized_metrics(g, layers, cal, so, &HashSet::new(), check, &reference)?;
    if !meets(&floor, min_cos, max_err) {
        return Err(QuantError::NothingToQuantize(format!(
            "the budget (min cosine {min_cos:?}, max error {max_err:?}) is not met even with {} (cosine {:.6}, max abs {:.4e}); exclude layers with --exclude or use a weight-only mode",
            if so.float_weights {
                "every layer float"
            } else {
                "every activation float (full-integer targets keep int8 weights)"
            },
            floor.cosine,
            floor.max_abs
        )));
    }
    // Groups are kept float best gain per unit of latency cost first; the cost of a group is
    // what it adds to the float set chosen so far (a layer next to a float region costs less
    // than an isolated one), so the order is worked out as the set grows.
    let mut s = Search::new(g, layers, &gs, false);
    let eps = s.model.cost(&vec![true; layers.len()]).max(1.0) * 1e-6;
    let mut pending: Vec<(f64, usize)> = gsens.iter().map(|&(c, gi)| ((floor.cosine - c).max(0.0), gi)).collect();
    while !meets(&m, min_cos, max_err) && !pending.is_empty() {
        // Keep groups float until their predicted gain covers the cosine deficit (at least one).
        let deficit = min_cos.map_or(0.0, |c| (c - m.cosine).max(0.0));
        let mut gain = 0.0;
        while !pending.is_empty() {
            let now = s.cost();
            let best = pending
                .iter()
                .enumerate()
                .map(|(k, &(gn, gi))| (k, gn / (s.cost_with(gi, true) - now).max(eps)))
                .max_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal));
            let Some((k, _)) = best else { break };
            let (gn, gi) = pending.swap_remove(k);
            s.set(gi, true, &mut include);
            gain += gn;
            if gain >= deficit {
                break;
            }
        }
        m = quantized_metrics(g, layers, cal, so, &include, check, &reference)?;
    }
    // Groups whose float kernels cost nothing more once their neighbours are float (an int8
    // layer left between two float ones pays two conversions) go float too: faster and closer.
    // Never the last quantized group: an all-float model is not what was asked for.
    let mut freed = false;
    while let Some(k) = pending.iter().position(|&(_, gi)| {
        let left = gs[gi].iter().filter(|n| include.contains(n)).count();
        left < include.len() && s.cost_with(gi, true) <= s.cost()
    }) {
        let (_, gi) = pending.swap_remove(k);
        s.set(gi, true, &mut include);
        freed = true;
    }
    if freed {
        m = quantized_metrics(g, layers, cal, so, &include, check, &reference)?;
    }
    // The steps overshoot: quantize float groups again, most latency saved per gain first,
    // while the budget still holds (one measurement each).
    if meets(&m, min_cos, max_err) {
        let mut back: Vec<(f64, usize)> = gsens
            .iter()
            .filter(|&&(_, gi)| gs[gi].iter().all(|n| !include.contains(n)))
            .filter_map(|&(c, gi)| {
                let saved = s.cost() - s.cost_with(gi, false);
                (saved > 0.0).then(|| (saved / ((floor.cosine - c).max(0.0) + 1e-9), gi))
            })
            .collect();
        back.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
        for (_, gi) in back {
            // Only while it still saves time (the set changed since the list was made).
            if s.cost_with(gi, false) >= s.cost() {
                continue;
            }
            let mut inc = include.clone();
            inc.extend(gs[gi].iter().copied());
            let mt = quantized_metrics(g, layers, cal, so, &inc, check, &reference)?;
            if meets(&mt, min_cos, max_err) {
                s.set(gi, false, &mut include);
                m = mt;
            }
        }
    }
    if !meets(&m, min_cos, max_err) {
        m = floor;
        include.clear();
    }
    Ok((include, sens, m))
}
