//! Mixed precision: every weight stays int8; activations are chosen per group of layers that
//! read the same activation (Q/K/V projections share theirs). The sensitivity of a group is the
//! output cosine to the float model with all weights int8 and only that group's activations
//! quantized; the most sensitive groups keep float activations until the whole model meets the
//! budget (`min_cosine` and/or `max_error`). Keeping an activation float keeps the int8 weight
//! (DequantizeLinear → float op), so the size does not change.
//!
//! To save evaluator runs, groups are dropped in sensitivity order in steps sized by their
//! predicted gain (the cosine each costs over the weights-only model), and each step is
//! measured.

use crate::quantize::calib::Calibration;
use crate::quantize::error::QuantError;
use crate::quantize::layers::Layer;
use crate::quantize::metrics::{Metrics, compare};
use crate::quantize::run_all;
use crate::quantize::static_int8::{StaticOptions, apply};
use edgeport_eval::Value;
use edgeport_ir::{Graph, NodeId, ValueId};
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

/// Chooses which layers keep float activations so that the budget holds.
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
    // With no activation quantized at all (weights only): the floor of what mixed precision reaches.
    let floor = quantized_metrics(g, layers, cal, so, &HashSet::new(), check, &reference)?;
    if !meets(&floor, min_cos, max_err) {
        return Err(QuantError::NothingToQuantize(format!(
            "the budget (min cosine {min_cos:?}, max error {max_err:?}) is not met even with every activation float and int8 weights (cosine {:.6}, max abs {:.4e}); exclude layers with --exclude or use a weight-only mode",
            floor.cosine, floor.max_abs
        )));
    }
    gsens.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    let mut next = 0;
    while !meets(&m, min_cos, max_err) && next < gsens.len() {
        // Drop groups until their predicted gain covers the cosine deficit (at least one).
        let deficit = min_cos.map_or(0.0, |c| (c - m.cosine).max(0.0));
        let mut gain = 0.0;
        while let Some(&(c, gi)) = gsens.get(next) {
            for n in gs.get(gi).into_iter().flatten() {
                include.remove(n);
            }
            gain += (floor.cosine - c).max(0.0);
            next += 1;
            if gain >= deficit {
                break;
            }
        }
        m = quantized_metrics(g, layers, cal, so, &include, check, &reference)?;
    }
    if !meets(&m, min_cos, max_err) {
        m = floor;
        include.clear();
    }
    Ok((include, sens, m))
}
