//! Pruning: structured (whole channels and neurons removed, consumers rewritten, the graph gets
//! smaller), unstructured magnitude sparsity, and N:M semi-structured sparsity.
//!
//! Entry point: [`prune`]. Structured pruning is planned by a channel dependency analysis
//! (`channels.rs`) so residual additions, concatenations, depthwise convolutions, BatchNorm,
//! flatten-before-linear and transformer MLPs stay consistent; groups it cannot rewrite safely
//! are locked and reported with the reason.

mod channels;
mod heads;
mod latency;
mod refit;
mod sparse;
mod structured;
mod tensor;

pub use heads::HeadReport;
pub use latency::LatencyModel;
pub use refit::{PruneData, RefitReport};

use crate::{Context, Dce, Pass, RemoveIdentity};
use edgeport_ir::{Graph, Op, ValueType};

/// What to prune.
#[derive(Clone, Debug, PartialEq)]
pub enum PruneMode {
    /// Remove this fraction of the channels of every prunable group.
    Structured(f64),
    /// Zero this fraction of the weights (smallest magnitude first).
    Sparsity(f64),
    /// Keep `n` of every `m` weights along the reduction axis.
    NOfM(usize, usize),
}

/// How channels are ranked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Criterion {
    L1,
    L2,
    /// The |scale| of the BatchNorm that follows (L1 where there is none).
    Bn,
}

/// Pruning options.
#[derive(Clone, Debug)]
pub struct PruneOptions {
    pub mode: PruneMode,
    pub criterion: Criterion,
    /// Producer node names whose output channels (and everything tied to them) stay.
    pub keep: Vec<String>,
    /// One ranking across layers instead of the same ratio per layer.
    pub global: bool,
    /// Kept channel counts are rounded to a multiple of this (1 = exact ratio). Runtimes'
    /// vectorised kernels work in blocks of 4–16 channels: an odd count left by a ratio can make
    /// the pruned model slower than the original.
    pub round_to: usize,
    /// Fraction of attention heads to remove in every recognised multi-head attention block
    /// (structured mode; None: the structured ratio; Some(0.0): no head pruning).
    pub heads: Option<f64>,
    /// Structured mode: prune only the channels a depthwise convolution runs over (the
    /// expansion channels of inverted residuals, MobileNet-style), leaving block outputs and
    /// residual streams whole. Runtimes keep their fast kernels there: on mobilenet_v2 the
    /// latency in onnxruntime then falls in proportion to MACs.
    pub expansion_only: bool,
    /// Structured mode: per-layer ratios from a roofline latency model (`latency.rs`):
    /// memory-bound layers lose more channels and compute-bound ones fewer, the total removed
    /// staying the ratio; groups no larger than `round_to` stay whole (a runtime that computes
    /// channels in blocks of `round_to` gains nothing from a partial block).
    pub latency: Option<LatencyModel>,
}

/// One channel group in the report.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupReport {
    /// The producers whose outputs share these channels.
    pub producers: Vec<String>,
    pub before: usize,
    pub after: usize,
    /// Why the group was left alone.
    pub locked: Option<String>,
}

/// One weight in a sparsity report.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerSparsity {
    pub name: String,
    pub params: usize,
    pub zeros_before: usize,
    pub zeros_after: usize,
    pub skipped: Option<String>,
}

/// What pruning did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PruneReport {
    pub groups: Vec<GroupReport>,
    pub layers: Vec<LayerSparsity>,
    /// Attention blocks (structured mode).
    pub heads: Vec<HeadReport>,
    /// Layers whose inputs were pruned, with calibration data: output error before and after
    /// the least-squares refit.
    pub refits: Vec<RefitReport>,
}

/// A pruning error.
#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    #[error("ratio {0} is outside [0, 1)")]
    BadRatio(f64),
    #[error("bad N:M pattern {0}: need 0 < N < M")]
    BadNm(String),
    #[error("nothing to prune: {0}")]
    NothingPrunable(String),
    #[error("{0}")]
    Graph(String),
    #[error("calibration data: {0}")]
    Data(String),
}

/// Prunes `g` in place.
pub fn prune(g: &mut Graph, opts: &PruneOptions) -> Result<PruneReport, PruneError> {
    prune_with_data(g, opts, None)
}

/// Prunes `g` in place; in structured mode, `data` (calibration samples) ranks the input
/// channels of linear layers by activation importance and refits those layers by least
/// squares so their outputs on the samples stay close to the original's.
pub fn prune_with_data(g: &mut Graph, opts: &PruneOptions, data: Option<&PruneData>) -> Result<PruneReport, PruneError> {
    let mut report = PruneReport::default();
    // Exporters route shared initializers through Identity nodes; look through them.
    RemoveIdentity
        .run(g, &mut Context::default())
        .map_err(|e| PruneError::Graph(e.to_string()))?;
    match opts.mode {
        PruneMode::Structured(r) | PruneMode::Sparsity(r) if !(0.0..1.0).contains(&r) => return Err(PruneError::BadRatio(r)),
        PruneMode::NOfM(n, m) if n == 0 || n >= m => return Err(PruneError::BadNm(format!("{n}:{m}"))),
        PruneMode::Structured(r) => {
            let hr = opts.heads.unwrap_or(r);
            if !(0.0..1.0).contains(&hr) {
                return Err(PruneError::BadRatio(hr));
            }
            (report.groups, report.refits) = structured::prune_structured(g, opts, r, data)?;
            if hr > 0.0 {
                report.heads = heads::prune_heads(g, hr, opts.criterion, &opts.keep)?;
            }
            let heads_cut = report.heads.iter().any(|h| h.heads_after < h.heads_before);
            if opts.expansion_only && !heads_cut && report.groups.iter().all(|x| x.after == x.before) {
                return Err(PruneError::NothingPrunable(
                    "--expansion-only: no channels feed a depthwise convolution (or the ratio removes none)".into(),
                ));
            }
            if !heads_cut && report.groups.iter().all(|x| x.locked.is_some() || x.before <= 1) {
                let why: Vec<String> = report
                    .groups
                    .iter()
                    .take(3)
                    .map(|x| {
                        format!(
                            "{}: {}",
                            x.producers.join("+"),
                            x.locked.clone().unwrap_or_else(|| "one channel".into())
                        )
                    })
                    .collect();
                let why = if why.is_empty() {
                    "the graph has no Conv/Gemm/MatMul with constant weights".into()
                } else {
                    why.join("; ")
                };
                return Err(PruneError::NothingPrunable(why));
            }
            refresh_shapes(g)?;
        }
        PruneMode::Sparsity(r) => report.layers = sparse::magnitude(g, &opts.keep, r, opts.global)?,
        PruneMode::NOfM(n, m) => report.layers = sparse::n_of_m(g, &opts.keep, n, m)?,
    }
    if report.groups.is_empty() && report.layers.is_empty() && report.heads.is_empty() {
        return Err(PruneError::NothingPrunable(
            "the graph has no Conv/Gemm/MatMul with constant float weights".into(),
        ));
    }
    Dce.run(g, &mut Context::default()).map_err(|e| PruneError::Graph(e.to_string()))?;
    Ok(report)
}

/// Forgets the shapes of computed values and infers them again.
fn refresh_shapes(g: &mut Graph) -> Result<(), PruneError> {
    let ids: Vec<_> = g.node_ids().collect();
    for id in ids {
        let n = g.node_mut(id);
        if matches!(n.op, Op::Input(_) | Op::Constant(_)) {
            continue;
        }
        for v in &mut n.outputs {
            if let Some(ValueType::Tensor(t)) = &mut v.ty {
                t.shape = None;
            }
        }
    }
    edgeport_ir::infer::infer_types(g).map_err(|e| PruneError::Graph(e.to_string()))
}
