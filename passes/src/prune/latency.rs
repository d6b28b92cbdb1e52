//! Latency-aware channel allocation for structured pruning.
//!
//! Removing a channel saves MACs, but how much *time* it saves depends on where it is. A CPU
//! runtime runs a large, compute-bound convolution near its peak, while memory-bound work runs
//! far slower per MAC: depthwise convolutions, layers on high-resolution feature maps, a
//! classifier that reads each weight once, layers whose output has few positions. Pruning every
//! layer by the same ratio removes MACs mostly from the fast kernels, so the latency falls less
//! than the MAC count; users then see a model that is "46% smaller" and only 40% faster.
//!
//! The model here ([`LatencyModel`]) is a roofline: a layer takes the larger of its compute
//! time, `MACs / (P · e)` with `e = n/(n+n½) · k/(k+k½) · c/(c+c½)` the efficiency of a product
//! with `n` output positions, a reduction of length `k` and `c` output channels (depthwise
//! convolutions have their own, much lower rate) and the time to stream its activations, plus
//! the time to read its weights from memory (which kernels do not overlap with compute: on
//! resnet18 the 7×7 stage's 9 MB weights make it 30% slower per MAC than the others). For each channel space, the model gives the *marginal*
//! time that removing a few of its channels saves, summed over the layers it runs through,
//! and the MACs they save; [`allocate`] gives spaces whose marginal time per MAC is above
//! the average a larger share of the requested ratio and the others a smaller one, with the
//! total number of removed channels unchanged. Narrow layers, whose kernels lose efficiency as
//! they shrink, are pruned less; memory-bound ones more.

use super::channels::{Action, Analysis};
use edgeport_ir::ops::Layout;
use edgeport_ir::{Graph, NodeId, Op, ValueId};
use std::collections::{HashMap, HashSet};

/// A roofline model of one CPU core running a runtime's float kernels. The defaults are fitted
/// (least squares on log time) to 690 single convolutions and 20 fully connected layers timed in
/// onnxruntime 1.32's CPU provider, one thread, on an AVX-512 Xeon (`bench/latency_model_fit.py`
/// remeasures and refits them; the weight bandwidth is the batch-1 Gemm rate once weights
/// exceed the cache). A deployment target can bring its own.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatencyModel {
    /// Dense multiply-accumulates per second at full efficiency.
    pub peak_macs: f64,
    /// Multiply-accumulates per second of a depthwise convolution (no reuse across channels).
    pub depthwise_macs: f64,
    /// Activation bytes per second (data mostly in cache between layers).
    pub activation_bandwidth: f64,
    /// Weight bytes per second (weights come from memory on every run).
    pub weight_bandwidth: f64,
    /// Output positions at which a product reaches half its peak.
    pub half_positions: f64,
    /// Reduction length (input channels × taps) at which a product reaches half its peak.
    pub half_reduction: f64,
    /// Output channels at which a product reaches half its peak.
    pub half_outputs: f64,
}

impl Default for LatencyModel {
    fn default() -> Self {
        LatencyModel {
            peak_macs: 96e9,
            depthwise_macs: 10e9,
            activation_bandwidth: 9.5e9,
            weight_bandwidth: 20e9,
            half_positions: 5.0,
            half_reduction: 37.0,
            half_outputs: 12.0,
        }
    }
}

/// No space loses more than this multiple of the requested ratio (nor more than `MAX_RATIO`).
const MAX_SCALE: f64 = 2.0;
const MAX_RATIO: f64 = 0.85;
/// How strongly the ratio follows the time per MAC (`(tpm / mean)^SHARPNESS`).
const SHARPNESS: f64 = 2.0;
/// Spaces no wider than this many blocks of the runtime's channel vector (`--round`) stay
/// whole: a kernel computing 4 blocks of output channels at a time loses about as much
/// efficiency as it saves work when such a layer shrinks (onnxruntime, AVX-512: a 3×3
/// convolution with 48 channels runs at 82 GMAC/s against 95 with 64, so resnet18 pruned to
/// 48 in its first stage got slower per MAC).
pub(crate) const NARROW_BLOCKS: usize = 4;
/// The fraction of a space's channels over which the marginal saving is measured.
const STEP: f64 = 0.1;

/// How a channel space runs through a node.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    /// The node's output channels (a producer).
    Out,
    /// The node's input channels (a sink: the reduction shrinks).
    In,
    /// A depthwise convolution: input and output channels together, the reduction unchanged.
    Tied,
    /// Channel-wise work (BatchNorm, a constant bias or scale): memory traffic only.
    Chan,
}

/// The dimensions of one node that the model needs (batch of one; unknown dims count as 1).
#[derive(Clone, Copy, Debug)]
struct Work {
    macs: f64,
    positions: f64,
    reduction: f64,
    outputs: f64,
    act_in: f64,
    act_out: f64,
    weights: f64,
    depthwise: bool,
}

fn shape(g: &Graph, v: Option<ValueId>) -> Option<Vec<f64>> {
    let t = g.value(v?)?.ty.as_ref()?.as_tensor()?;
    Some(t.shape.as_ref()?.0.iter().map(|d| d.known().unwrap_or(1) as f64).collect())
}

fn elems(s: &[f64]) -> f64 {
    s.iter().product()
}

fn work(g: &Graph, id: NodeId) -> Option<Work> {
    let n = g.node(id);
    let ins = g.inputs_of(id);
    let x = shape(g, ins.first().copied().flatten())?;
    let y = shape(g, Some(id.out(0)))?;
    let mut w = Work {
        macs: 0.0,
        positions: 0.0,
        reduction: 0.0,
        outputs: 0.0,
        act_in: elems(&x),
        act_out: elems(&y),
        weights: 0.0,
        depthwise: false,
    };
    match &n.op {
        Op::Conv(_) | Op::ConvTranspose(_) => {
            let ws = shape(g, ins.get(1).copied().flatten())?;
            let (layout, group) = match &n.op {
                Op::Conv(c) => (c.layout, c.group),
                Op::ConvTranspose(c) => (c.layout, c.group),
                _ => (Layout::ChannelsFirst, 1),
            };
            let (outputs, spatial): (f64, f64) = match layout {
                Layout::ChannelsFirst => (y.get(1).copied().unwrap_or(1.0), y.iter().skip(2).product()),
                Layout::ChannelsLast => (
                    y.last().copied().unwrap_or(1.0),
                    y.iter().skip(1).take(y.len().saturating_sub(2)).product(),
                ),
            };
            w.reduction = elems(ws.get(1..)?);
            w.macs = elems(&y) * w.reduction;
            w.positions = spatial * y.first().copied().unwrap_or(1.0);
            w.outputs = outputs;
            w.weights = elems(&ws);
            w.depthwise = group > 1 && ws.get(1) == Some(&1.0);
        }
        Op::MatMul(_) | Op::Gemm(_) => {
            let ws = shape(g, ins.get(1).copied().flatten())?;
            w.reduction = match &n.op {
                Op::Gemm(gm) if gm.transA != 0 => x.first().copied().unwrap_or(1.0),
                _ => x.last().copied().unwrap_or(1.0),
            };
            w.outputs = y.last().copied().unwrap_or(1.0).max(1.0);
            w.macs = elems(&y) * w.reduction;
            w.positions = elems(&y) / w.outputs;
            w.weights = elems(&ws);
        }
        _ => {}
    }
    Some(w)
}

impl LatencyModel {
    /// Seconds for `w` with the channels of one role scaled by `f` (1 = as it is).
    fn seconds(&self, w: &Work, role: Role, f: f64) -> f64 {
        let (fo, fi) = match role {
            Role::Out => (f, 1.0),
            Role::In => (1.0, f),
            Role::Tied | Role::Chan => (f, f),
        };
        let reduction = if role == Role::In { w.reduction * f } else { w.reduction };
        let outputs = if role == Role::Tied { w.outputs } else { w.outputs * fo };
        let macs = w.macs * fo * if role == Role::Tied { 1.0 } else { fi };
        let compute = if macs <= 0.0 {
            0.0
        } else if w.depthwise {
            macs * (w.positions + self.half_positions) / (w.positions.max(1.0) * self.depthwise_macs)
        } else {
            let e = w.positions / (w.positions + self.half_positions) * reduction / (reduction + self.half_reduction) * outputs
                / (outputs + self.half_outputs);
            macs / (e.max(1e-6) * self.peak_macs)
        };
        // Activations stream while the kernel computes; weights that miss the cache arrive from
        // memory on every run, and the kernels do not hide that wait.
        let activations = 4.0 * (w.act_in * fi + w.act_out * fo) / self.activation_bandwidth;
        let weights = 4.0 * w.weights * fo * if role == Role::Tied { 1.0 } else { fi } / self.weight_bandwidth;
        compute.max(activations) + weights
    }
}

fn role(g: &Graph, a: &Analysis, act: &Action, root: usize) -> Role {
    match act {
        Action::Group { .. } => Role::Tied,
        Action::Slice { node, port, axis, .. } => {
            let op = &g.node(*node).op;
            if let Op::Conv(c) = op
                && c.group > 1
            {
                return Role::Tied;
            }
            if !matches!(op, Op::Conv(_) | Op::ConvTranspose(_) | Op::Gemm(_) | Op::MatMul(_)) {
                return Role::Chan;
            }
            if a.spaces[root].producers.contains(&(*node, *port, *axis)) || *port >= 2 {
                Role::Out
            } else {
                Role::In
            }
        }
    }
}

/// Marginal seconds and MACs that one channel of each root space accounts for: removing a
/// `STEP` share of the space's channels at every node it runs through (a node counts once per
/// space), divided by the channels removed.
pub(crate) fn per_channel(g: &Graph, a: &mut Analysis, model: &LatencyModel) -> HashMap<usize, (f64, f64)> {
    let mut seen: HashSet<(NodeId, usize)> = HashSet::new();
    let mut works: HashMap<NodeId, Option<Work>> = HashMap::new();
    let mut out: HashMap<usize, (f64, f64)> = HashMap::new();
    let actions = a.actions.clone();
    for act in &actions {
        let (node, info) = match act {
            Action::Slice { node, info, .. } | Action::Group { node, info } => (*node, info),
        };
        let width = info.width().max(1) as f64;
        let Some(w) = *works.entry(node).or_insert_with(|| work(g, node)) else {
            continue;
        };
        for seg in &info.segs {
            let r = a.root(seg.space);
            if !seen.insert((node, r)) {
                continue;
            }
            let rl = role(g, a, act, r);
            // This space's share of the node's channels along its axis, reduced by STEP.
            let f = 1.0 - STEP * seg.size as f64 / width;
            let dt = model.seconds(&w, rl, 1.0) - model.seconds(&w, rl, f);
            let removed = STEP * seg.size as f64;
            let e = out.entry(r).or_insert((0.0, 0.0));
            e.0 += dt.max(0.0) / removed;
            e.1 += match rl {
                Role::Chan => 0.0,
                _ => w.macs / width,
            };
        }
    }
    out
}

/// Per-space ratios: `ratio` scaled by each space's time per MAC relative to the channel-weighted
/// mean, clamped to `[0, min(MAX_SCALE · ratio, MAX_RATIO)]`, then rescaled (a few rounds) so
/// that `ratio · of` channels go in all (as far as the caps allow). `spaces` holds (root,
/// channels); `of` counts the channels of every prunable space, including those left out of
/// `spaces` as too narrow, whose share the others take.
pub(crate) fn allocate(spaces: &[(usize, usize)], costs: &HashMap<usize, (f64, f64)>, ratio: f64, of: usize) -> HashMap<usize, f64> {
    // Time per MAC; spaces with no MACs (memory-only) count as the costliest seen.
    let tpm: Vec<Option<f64>> = spaces
        .iter()
        .map(|(r, _)| {
            costs
                .get(r)
                .filter(|(t, _)| *t > 0.0)
                .map(|(t, m)| if *m > 0.0 { t / m } else { f64::INFINITY })
        })
        .collect();
    let finite_max = tpm.iter().flatten().filter(|v| v.is_finite()).cloned().fold(0.0, f64::max);
    let weights: Vec<f64> = tpm
        .iter()
        .map(|v| v.map_or(0.0, |v| if v.is_finite() { v } else { finite_max }))
        .collect();
    let total: f64 = spaces.iter().map(|(_, n)| *n as f64).sum();
    let mean = spaces.iter().zip(&weights).map(|((_, n), w)| *n as f64 * w).sum::<f64>() / total.max(1.0);
    let cap = (ratio * MAX_SCALE).min(MAX_RATIO).max(ratio);
    // Spaces the model knows nothing about keep the plain ratio.
    let rel: Vec<f64> = weights
        .iter()
        .map(|w| if mean > 0.0 && *w > 0.0 { (w / mean).powf(SHARPNESS) } else { 0.0 })
        .collect();
    let ratios = |scale: f64| -> Vec<f64> {
        rel.iter()
            .map(|r| if *r > 0.0 { (ratio * r * scale).clamp(0.0, cap) } else { ratio })
            .collect()
    };
    let removed = |xs: &[f64]| -> f64 { spaces.iter().zip(xs).map(|((_, n), x)| x * *n as f64).sum() };
    // The removed count grows with the scale: bisect for the one that removes `want`.
    let want = (ratio * of as f64).min(cap * total);
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while removed(&ratios(hi)) < want && hi < 1e12 {
        hi *= 2.0;
    }
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if removed(&ratios(mid)) < want {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    spaces.iter().map(|(r, _)| *r).zip(ratios(hi)).collect()
}

#[cfg(test)]
mod tests {
    use super::allocate;
    use std::collections::HashMap;

    #[test]
    fn slow_spaces_lose_more_and_the_total_holds() {
        // Space 0 takes 3× the time per MAC of space 1.
        let costs: HashMap<usize, (f64, f64)> = [(0, (3.0, 1.0)), (1, (1.0, 1.0))].into();
        let spaces = [(0, 100), (1, 100)];
        let r = allocate(&spaces, &costs, 0.3, 200);
        assert!(r[&0] > 0.3 && r[&1] < 0.3, "{r:?}");
        let removed = r[&0] * 100.0 + r[&1] * 100.0;
        assert!((removed - 60.0).abs() < 1e-3, "{removed}");
    }

    #[test]
    fn caps_hold_and_unknown_spaces_keep_the_ratio() {
        let costs: HashMap<usize, (f64, f64)> = [(0, (100.0, 1.0)), (1, (1.0, 1.0))].into();
        let spaces = [(0, 10), (1, 100), (2, 50)];
        let r = allocate(&spaces, &costs, 0.3, 160);
        assert!(r[&0] <= 0.6 + 1e-12, "{r:?}");
        assert!(r.values().all(|&x| (0.0..=0.6 + 1e-12).contains(&x)), "{r:?}");
        let removed: f64 = spaces.iter().map(|(s, n)| r[s] * *n as f64).sum();
        assert!((removed - 0.3 * 160.0).abs() < 1e-3, "{removed}");
    }

    #[test]
    fn narrow_spaces_left_out_pass_their_share_on() {
        let costs: HashMap<usize, (f64, f64)> = [(0, (1.0, 1.0)), (1, (1.0, 1.0))].into();
        // 100 more channels were too narrow to prune: the 200 here lose 0.3 · 300 = 90.
        let r = allocate(&[(0, 100), (1, 100)], &costs, 0.3, 300);
        assert!((r[&0] - 0.45).abs() < 1e-9 && (r[&1] - 0.45).abs() < 1e-9, "{r:?}");
        // Never more than the cap (2 × the ratio).
        let r = allocate(&[(0, 10)], &costs, 0.3, 1000);
        assert!((r[&0] - 0.6).abs() < 1e-9, "{r:?}");
    }
}
