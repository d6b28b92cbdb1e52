//! Structured pruning: rank the channels of every free channel space, choose which to drop
//! (per layer or globally), and rewrite weights, biases, BatchNorm vectors and depthwise groups
//! consistently from the analysis' actions. The graph stays dense: it simply has fewer
//! channels.

use super::channels::{Action, Analysis, Info, analyze};
use super::latency;
use super::refit::{self, PruneData, RefitReport};
use super::tensor::{axis_norms, const_input, take_axis};
use super::{Criterion, GroupReport, PruneError, PruneOptions};
use edgeport_ir::{Graph, Op};
use std::collections::HashMap;

/// Per-channel importance of a root space (higher = more important), normalised per producer.
fn importance(g: &Graph, a: &mut Analysis, root: usize, crit: Criterion) -> Vec<f64> {
    let size = a.spaces[root].size;
    let mut score = vec![0f64; size];
    if crit == Criterion::Bn {
        let bns = a.bns.clone();
        let mut found = false;
        for (bn, info) in bns {
            let Some(gamma) = const_input(g, bn, 1).and_then(|t| t.to_f64_vec()) else {
                continue;
            };
            let mut off = 0;
            for seg in &info.segs {
                if a.root(seg.space) == root {
                    for (c, sc) in score.iter_mut().enumerate().take(seg.size.min(size)) {
                        *sc += gamma.get(off + c).map_or(0.0, |v| v.abs());
                    }
                    found = true;
                }
                off += seg.size;
            }
        }
        if found {
            return score;
        }
    }
    let p = if crit == Criterion::L2 { 2 } else { 1 };
    for &(node, port, axis) in &a.spaces[root].producers {
        let Some(n) = const_input(g, node, port).and_then(|w| axis_norms(w, axis, p)) else {
            continue;
        };
        let max = n.iter().cloned().fold(0f64, f64::max);
        if n.len() == size && max > 0.0 {
            score.iter_mut().zip(&n).for_each(|(s, v)| *s += v / max);
        }
    }
    score
}

/// Indices to keep: the `size - drop` most important, in ascending order.
fn keep_top(score: &[f64], drop: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..score.len()).collect();
    idx.sort_by(|&x, &y| score[y].total_cmp(&score[x]).then(x.cmp(&y)));
    idx.truncate(score.len().saturating_sub(drop).max(1));
    idx.sort_unstable();
    idx
}

/// Kept positions along an info's axis (segments concatenated, each channel `inner` wide).
fn kept_positions(a: &mut Analysis, info: &Info, kept: &HashMap<usize, Vec<usize>>) -> Vec<usize> {
    let mut out = Vec::new();
    let mut off = 0;
    for seg in &info.segs {
        let r = a.root(seg.space);
        let chans: Vec<usize> = kept.get(&r).cloned().unwrap_or_else(|| (0..seg.size).collect());
        for c in chans {
            for j in 0..info.inner {
                out.push((off + c) * info.inner + j);
            }
        }
        off += seg.size;
    }
    out
}

/// Activation importance per root space, from the calibration statistics of the linear layers
/// that read it (each layer's scores normalised by their maximum, then summed).
fn data_scores(
    g: &Graph,
    a: &mut Analysis,
    sinks: &[refit::Sink],
    stats: &HashMap<edgeport_ir::NodeId, refit::Stats>,
    ridge: f64,
) -> HashMap<usize, Vec<f64>> {
    let mut out: HashMap<usize, Vec<f64>> = HashMap::new();
    for s in sinks {
        let [seg] = s.info.segs.as_slice() else { continue };
        let r = a.root(seg.space);
        if seg.size != a.spaces[r].size {
            continue;
        }
        let Some(sc) = stats.get(&s.node).and_then(|st| refit::sink_scores(g, s, st, ridge)) else {
            continue;
        };
        let max = sc.iter().cloned().fold(0f64, f64::max);
        if sc.len() != seg.size || max <= 0.0 {
            continue;
        }
        let acc = out.entry(r).or_insert_with(|| vec![0.0; seg.size]);
        acc.iter_mut().zip(&sc).for_each(|(x, v)| *x += v / max);
    }
    out
}

/// Prunes output channels; returns one report line per pruned or locked group, and one per
/// layer refitted (or scored) from calibration data.
pub(crate) fn prune_structured(
    g: &mut Graph,
    opts: &PruneOptions,
    ratio: f64,
    data: Option<&PruneData>,
) -> Result<(Vec<GroupReport>, Vec<RefitReport>), PruneError> {
    let mut a = analyze(g, &opts.keep).map_err(PruneError::Graph)?;
    let mut roots: Vec<usize> = (0..a.spaces.len()).filter(|&s| a.root(s) == s).collect();
    roots.sort_unstable();
    let mut kept: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut reports = Vec::new();
    // Inverted-residual expansions: the spaces a depthwise convolution runs over.
    let dw_segs: Vec<usize> = a
        .actions
        .iter()
        .filter_map(|act| match act {
            Action::Group { info, .. } => Some(info.segs.iter().map(|s| s.space).collect::<Vec<_>>()),
            _ => None,
        })
        .flatten()
        .collect();
    let expansion: std::collections::HashSet<usize> = dw_segs.into_iter().map(|s| a.root(s)).collect();
    let free: Vec<usize> = roots
        .iter()
        .copied()
        .filter(|&r| a.spaces[r].locked.is_none() && a.spaces[r].size > 1)
        .filter(|r| !opts.expansion_only || expansion.contains(r))
        .collect();
    let sinks = if data.is_some() { refit::find_sinks(g, &a) } else { Vec::new() };
    let stats = match data {
        Some(d) => refit::collect(g, &sinks, d)?,
        None => HashMap::new(),
    };
    let by_data = data_scores(g, &mut a, &sinks, &stats, data.map_or(1e-3, |d| d.ridge));
    let scores: Vec<(usize, Vec<f64>)> = free
        .iter()
        .map(|&r| match by_data.get(&r) {
            Some(s) => (r, s.clone()),
            None => (r, importance(g, &mut a, r, opts.criterion)),
        })
        .collect();
    // Original weights and biases of the layers to refit, before any rewrite.
    let originals: Vec<(refit::Sink, refit::Original)> = sinks
        .iter()
        .filter(|s| stats.contains_key(&s.node))
        .filter_map(|s| Some((s.clone(), refit::original(g, s)?)))
        .collect();
    let drops: HashMap<usize, usize> = if let Some(model) = &opts.latency {
        let costs = latency::per_channel(g, &mut a, model);
        let all: usize = scores.iter().map(|(_, s)| s.len()).sum();
        let narrow = latency::NARROW_BLOCKS * opts.round_to.max(1);
        let sizes: Vec<(usize, usize)> = scores.iter().map(|(r, s)| (*r, s.len())).filter(|(_, n)| *n > narrow).collect();
        let ratios = latency::allocate(&sizes, &costs, ratio, all);
        sizes
            .iter()
            .map(|(r, n)| (*r, ((*n as f64) * ratios.get(r).copied().unwrap_or(ratio)).floor() as usize))
            .collect()
    } else if opts.global {
        global_drops(&scores, ratio)
    } else {
        scores
            .iter()
            .map(|(r, s)| (*r, ((s.len() as f64) * ratio).floor() as usize))
            .collect()
    };
    for (r, score) in &scores {
        let drop = round_drop(score.len(), drops.get(r).copied().unwrap_or(0), opts.round_to).min(score.len() - 1);
        if drop > 0 {
            kept.insert(*r, keep_top(score, drop));
        }
    }
    for &r in &roots {
        let names: Vec<String> = a.spaces[r].producers.iter().map(|(n, _, _)| g.node(*n).name.clone()).collect();
        if names.is_empty() {
            continue;
        }
        let before = a.spaces[r].size;
        reports.push(GroupReport {
            producers: names,
            before,
            after: kept.get(&r).map_or(before, Vec::len),
            locked: a.spaces[r].locked.clone(),
        });
    }
    if kept.is_empty() {
        return Ok((reports, Vec::new()));
    }
    let actions = a.actions.clone();
    for act in actions {
        match act {
            Action::Slice { node, port, axis, info } => {
                let pos = kept_positions(&mut a, &info, &kept);
                let Some(t) = const_input(g, node, port) else { continue };
                if t.shape.get(axis) == Some(&pos.len()) {
                    continue;
                }
                if t.shape.get(axis) != Some(&(info.width() * info.inner)) {
                    return Err(PruneError::Graph(format!(
                        "node '{}': input {port} has shape {:?}, expected {} along axis {axis}",
                        g.node(node).name,
                        t.shape,
                        info.width() * info.inner
                    )));
                }
                let sliced = take_axis(t, axis, &pos).map_err(|e| PruneError::Graph(format!("node '{}': {e}", g.node(node).name)))?;
                let name = format!("{}_pruned{port}", g.node(node).name);
                let c = g.add_constant(name, sliced);
                g.set_input(node, port, Some(c)).map_err(|e| PruneError::Graph(e.to_string()))?;
            }
            Action::Group { node, info } => {
                let n = kept_positions(&mut a, &info, &kept).len();
                if let Op::Conv(c) = &mut g.node_mut(node).op {
                    c.group = n as i64;
                }
            }
        }
    }
    let mut refits = Vec::new();
    if let Some(d) = data {
        for (s, orig) in &originals {
            let pos = kept_positions(&mut a, &s.info, &kept);
            if pos.len() == s.info.width() {
                continue;
            }
            let Some(st) = stats.get(&s.node) else { continue };
            refits.push(refit::refit(g, s, orig, &pos, st, d)?);
        }
    }
    Ok((reports, refits))
}

/// Adjusts `drop` so that the kept count `size - drop` is the nearest multiple of `m` (at least
/// `m`, never more than `size`). Groups not larger than `m` keep their exact count.
pub(crate) fn round_drop(size: usize, drop: usize, m: usize) -> usize {
    if m <= 1 || size <= m || drop == 0 {
        return drop;
    }
    let kept = size.saturating_sub(drop);
    let mut r = (kept + m / 2) / m * m;
    if r > size {
        r = size / m * m;
    }
    size - r.max(m)
}

/// Global ranking: scores normalised by each group's mean, one threshold across groups.
fn global_drops(scores: &[(usize, Vec<f64>)], ratio: f64) -> HashMap<usize, usize> {
    let mut all: Vec<(f64, usize)> = Vec::new();
    for (r, s) in scores {
        let mean = s.iter().sum::<f64>() / s.len().max(1) as f64;
        all.extend(s.iter().map(|v| (if mean > 0.0 { v / mean } else { 0.0 }, *r)));
    }
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let target = ((all.len() as f64) * ratio).floor() as usize;
    let mut drops: HashMap<usize, usize> = HashMap::new();
    let sizes: HashMap<usize, usize> = scores.iter().map(|(r, s)| (*r, s.len())).collect();
    let mut n = 0;
    for (_, r) in all {
        if n == target {
            break;
        }
        let d = drops.entry(r).or_insert(0);
        if *d + 1 < sizes[&r] {
            *d += 1;
            n += 1;
        }
    }
    drops
}

#[cfg(test)]
mod tests {
    use super::round_drop;

    #[test]
    fn kept_counts_round_to_the_nearest_multiple() {
        // 64 channels, 30% → drop 19, keep 45 → 48 (drop 16).
        assert_eq!(round_drop(64, 19, 8), 16);
        // 96 × 0.5 → keep 48 exactly.
        assert_eq!(round_drop(96, 48, 8), 48);
        // keep at least one block.
        assert_eq!(round_drop(32, 30, 8), 24);
        // a size that is not a multiple never keeps more than it has.
        assert_eq!(round_drop(20, 1, 8), 4);
        // small groups and m = 1 keep the exact ratio.
        assert_eq!(round_drop(6, 2, 8), 2);
        assert_eq!(round_drop(64, 19, 1), 19);
        assert_eq!(round_drop(64, 0, 8), 0);
    }
}
