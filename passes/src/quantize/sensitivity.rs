//! Mixed precision: the sensitivity of each layer (output cosine to the float model with only
//! that layer quantized), then the most sensitive layers are kept float one by one until the
//! whole model meets the budget (`min_cosine` and/or `max_error`).

use crate::quantize::calib::Calibration;
use crate::quantize::error::QuantError;
use crate::quantize::layers::Layer;
use crate::quantize::metrics::{Metrics, compare};
use crate::quantize::run_all;
use crate::quantize::static_int8::{StaticOptions, apply};
use edgeport_eval::Value;
use edgeport_ir::{Graph, NodeId};
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

/// Layers kept float, each layer's sensitivity, and the metrics of the final mix.
type FloatChoice = (HashSet<NodeId>, HashMap<NodeId, f64>, Metrics);

/// Returns the layers to quantize, each layer's sensitivity and the final figures.
pub fn mixed_precision(
    g: &Graph,
    layers: &[Layer],
    cal: &Calibration,
    so: &StaticOptions,
    check: &[Vec<Value>],
    min_cos: Option<f64>,
    max_err: Option<f64>,
) -> Result<FloatChoice, QuantError> {
    if check.is_empty() {
        return Err(QuantError::Calibration(
            "mixed precision needs samples to measure the output error".into(),
        ));
    }
    let reference = run_all(g, check)?;
    let mut sens = HashMap::new();
    for l in layers {
        let one: HashSet<NodeId> = [l.node].into_iter().collect();
        let m = quantized_metrics(g, layers, cal, so, &one, check, &reference)?;
        sens.insert(l.node, m.cosine);
    }
    let mut order: Vec<NodeId> = layers.iter().map(|l| l.node).collect();
    order.sort_by(|a, b| sens[a].partial_cmp(&sens[b]).unwrap_or(std::cmp::Ordering::Equal));
    let mut include: HashSet<NodeId> = layers.iter().map(|l| l.node).collect();
    let mut m = quantized_metrics(g, layers, cal, so, &include, check, &reference)?;
    for n in order {
        if meets(&m, min_cos, max_err) {
            break;
        }
        include.remove(&n);
        if include.is_empty() {
            return Err(QuantError::NothingToQuantize(format!(
                "the budget (min cosine {min_cos:?}, max error {max_err:?}) is not met even with a single quantized layer"
            )));
        }
        m = quantized_metrics(g, layers, cal, so, &include, check, &reference)?;
    }
    if !meets(&m, min_cos, max_err) {
        return Err(QuantError::NothingToQuantize("the error budget cannot be met".into()));
    }
    Ok((include, sens, m))
}
