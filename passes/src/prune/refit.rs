//! Data-aware structured pruning of linear layers (transformer MLPs, classifier heads).
//!
//! Calibration forwards of the original graph gather, for every linear layer whose input
//! channels may be pruned (a *sink*: MatMul/Gemm with a constant 2-D weight reading channel
//! data on its last axis), the Gram matrix `XᵀX` of its input rows and the rows' sums —
//! optionally only over the rows a token mask selects (real tokens, not padding). Channels are
//! then ranked by the output error their removal costs when the layer is refitted (Optimal
//! Brain Surgeon saliency ‖w_j‖²/[H⁻¹]_jj), instead of by weight norm. After pruning, each sink's weight and bias are
//! refitted by ridge least squares so that its output on the calibration rows matches the
//! original layer's. With `Z = [X, 1]` and `G = ZᵀZ` the original output is `Z Θ`, so the refit
//! needs only `G`: `(G[S,S] + λI) Θ' = G[S,:] Θ`, solved by Cholesky in f64.

use super::PruneError;
use super::channels::{Action, Analysis, Info};
use super::tensor::{axis_norms, const_input};
use crate::quantize::{gptq::cholesky, par};
use edgeport_eval::{EvalOptions, Value, run_graph_with};
use edgeport_ir::{DType, Graph, NodeId, Op, Tensor, ValueId};
use ndarray::{Array2, ArrayView2, Axis};
use std::collections::HashMap;

/// Calibration data for data-aware structured pruning.
#[derive(Clone, Debug, Default)]
pub struct PruneData {
    /// One value per graph input, in graph-input order, per sample.
    pub samples: Vec<Vec<Value>>,
    /// Per sample, which rows (tokens) count, e.g. from an attention mask; `None`: every row.
    /// A sink's input rows are all axes but the last, flattened.
    pub row_masks: Option<Vec<Vec<bool>>>,
    /// Refit the weight and bias of every layer whose input channels were pruned.
    pub refit: bool,
    /// Ridge factor, relative to the mean diagonal of the kept channels' Gram matrix.
    pub ridge: f64,
}

/// What data-aware pruning did to one layer that reads pruned channels.
#[derive(Clone, Debug, PartialEq)]
pub struct RefitReport {
    pub node: String,
    pub kept: usize,
    pub of: usize,
    /// Calibration rows the statistics cover.
    pub rows: u64,
    /// Relative squared output error on the calibration rows, ‖ΔY‖²/‖Y‖², with the kept rows
    /// of the original weight.
    pub error_pruned: f64,
    /// The same after the refit (`None`: not refitted, see `skipped`).
    pub error_refit: Option<f64>,
    pub skipped: Option<String>,
}

/// A linear layer reading channel data.
#[derive(Clone, Debug)]
pub(crate) struct Sink {
    pub node: NodeId,
    pub info: Info,
    /// The weight is stored `[N, K]` (Gemm with transB) rather than `[K, N]`.
    trans: bool,
}

/// Input statistics of one sink.
#[derive(Clone, Debug)]
pub(crate) struct Stats {
    k: usize,
    xtx: Vec<f64>,
    sum: Vec<f64>,
    rows: u64,
}

/// The sinks among the analysis' rewrites.
pub(crate) fn find_sinks(g: &Graph, a: &Analysis) -> Vec<Sink> {
    a.actions
        .iter()
        .filter_map(|act| {
            let Action::Slice { node, port: 1, axis, info } = act else {
                return None;
            };
            if info.neg_axis != -1 || info.inner != 1 {
                return None;
            }
            let w = const_input(g, *node, 1)?;
            if w.shape.len() != 2 || w.dtype != DType::F32 {
                return None;
            }
            let trans = match &g.node(*node).op {
                Op::MatMul(_) if *axis == 0 => false,
                Op::Gemm(gm) if gm.transA == 0 && gm.alpha == 1.0 && gm.beta == 1.0 && *axis == usize::from(gm.transB != 0) => {
                    gm.transB != 0
                }
                _ => return None,
            };
            Some(Sink {
                node: *node,
                info: info.clone(),
                trans,
            })
        })
        .collect()
}

fn input_value(g: &Graph, s: &Sink) -> Option<ValueId> {
    g.inputs_of(s.node).first().copied().flatten()
}

/// Runs every calibration sample through `g` and gathers the sinks' input statistics.
pub(crate) fn collect(g: &Graph, sinks: &[Sink], data: &PruneData) -> Result<HashMap<NodeId, Stats>, PruneError> {
    if data.samples.is_empty() {
        return Err(PruneError::Data("the calibration data has no samples".into()));
    }
    if let Some(m) = &data.row_masks
        && m.len() != data.samples.len()
    {
        return Err(PruneError::Data(format!(
            "{} row masks for {} calibration samples",
            m.len(),
            data.samples.len()
        )));
    }
    let watch: Vec<(NodeId, ValueId)> = sinks.iter().filter_map(|s| Some((s.node, input_value(g, s)?))).collect();
    let mut stats: HashMap<NodeId, Stats> = HashMap::new();
    let opts = EvalOptions {
        keep_all: true,
        ..Default::default()
    };
    let nt = par::threads(data.samples.len());
    for (ci, chunk) in data.samples.chunks(nt).enumerate() {
        let runs = par::map(chunk, |_, s| run_graph_with(g, s.clone(), &opts).map(|(_, k)| k));
        for (j, run) in runs.into_iter().enumerate() {
            let si = ci * nt + j;
            let kept = run.map_err(|e| PruneError::Data(format!("calibration sample {si}: {e}")))?;
            let mask = data.row_masks.as_ref().and_then(|m| m.get(si));
            for &(node, v) in &watch {
                let from_input = g
                    .inputs()
                    .iter()
                    .position(|&i| i.out(0) == v)
                    .and_then(|p| data.samples.get(si)?.get(p));
                let Some(t) = kept.get(&v).or(from_input).and_then(Value::as_tensor) else {
                    continue;
                };
                add_sample(g, node, t, mask, si, &mut stats)?;
            }
        }
    }
    Ok(stats)
}

/// Adds one sample's input rows of sink `node` to its statistics.
fn add_sample(
    g: &Graph,
    node: NodeId,
    t: &edgeport_eval::Tensor,
    mask: Option<&Vec<bool>>,
    si: usize,
    stats: &mut HashMap<NodeId, Stats>,
) -> Result<(), PruneError> {
    let name = &g.node(node).name;
    let bad = |m: String| PruneError::Data(format!("calibration sample {si}, input of '{name}': {m}"));
    let a = t.to_f32_array().map_err(|e| bad(e.to_string()))?;
    let k = a.shape().last().copied().unwrap_or(0);
    if k == 0 {
        return Ok(());
    }
    let rows = a.len() / k;
    let x = a
        .as_standard_layout()
        .into_owned()
        .into_shape_with_order((rows, k))
        .map_err(|e| bad(e.to_string()))?;
    let sel: Vec<usize> = match mask {
        Some(m) if m.len() != rows => {
            return Err(bad(format!("the token mask has {} entries but the input has {rows} rows", m.len())));
        }
        Some(m) => (0..rows).filter(|&r| m[r]).collect(),
        None => (0..rows).collect(),
    };
    let xm = x.select(Axis(0), &sel);
    if xm.iter().any(|v| !v.is_finite()) {
        return Err(bad("NaN or infinite activations".into()));
    }
    let st = stats.entry(node).or_insert_with(|| Stats {
        k,
        xtx: vec![0.0; k * k],
        sum: vec![0.0; k],
        rows: 0,
    });
    if st.k != k {
        return Err(bad(format!("{k} channels, earlier samples had {}", st.k)));
    }
    // XᵀX of this sample in f32 (a blocked sgemm), summed over samples in f64.
    let part = xm.t().dot(&xm);
    for (d, &p) in st.xtx.iter_mut().zip(part.iter()) {
        *d += p as f64;
    }
    for row in xm.rows() {
        for (s, &v) in st.sum.iter_mut().zip(row) {
            *s += v as f64;
        }
    }
    st.rows += sel.len() as u64;
    Ok(())
}

/// Importance of a sink's input channels from its calibration statistics: the Optimal Brain
/// Surgeon saliency of removing channel j and compensating with the others by least squares,
/// ‖w_j‖² / [H⁻¹]_jj with `H = ZᵀZ + λI` (Z = [X, 1]) — the output error that removal costs
/// when the layer is refitted. Falls back to RMS(x_j) × ‖w_j‖₂ if `H` cannot be factored.
pub(crate) fn sink_scores(g: &Graph, s: &Sink, st: &Stats, ridge: f64) -> Option<Vec<f64>> {
    let w = const_input(g, s.node, 1)?;
    let norms = axis_norms(w, usize::from(s.trans), 2)?;
    let k = st.k;
    if norms.len() != k || st.rows == 0 {
        return None;
    }
    let n = st.rows as f64;
    let rms = || Some((0..k).map(|j| (st.xtx[j * k + j] / n).max(0.0).sqrt() * norms[j]).collect());
    let gz = augmented(st);
    let diag_mean = (0..k).map(|j| gz[(j, j)]).sum::<f64>() / k.max(1) as f64;
    let lambda = ridge.max(1e-9) * diag_mean.max(f64::MIN_POSITIVE);
    let mut h = gz;
    for j in 0..k {
        h[(j, j)] += lambda;
    }
    let flat: Vec<f64> = h.iter().copied().collect();
    let Some(l) = cholesky(&flat, k + 1) else { return rms() };
    let inv = cholesky_solve(&l, k + 1, &Array2::eye(k + 1));
    let sc: Vec<f64> = (0..k).map(|j| norms[j] * norms[j] / inv[(j, j)]).collect();
    if sc.iter().all(|v| v.is_finite()) { Some(sc) } else { rms() }
}

/// The Gram matrix of `Z = [X, 1]`.
fn augmented(st: &Stats) -> Array2<f64> {
    let k = st.k;
    let mut gz = Array2::<f64>::zeros((k + 1, k + 1));
    for i in 0..k {
        for j in 0..k {
            gz[(i, j)] = st.xtx[i * k + j];
        }
        gz[(i, k)] = st.sum[i];
        gz[(k, i)] = st.sum[i];
    }
    gz[(k, k)] = st.rows as f64;
    gz
}

/// Where a sink's bias lives: (node, port) of a constant of the output width — Gemm's C, or
/// the constant operand of the one Add that consumes a MatMul.
fn find_bias(g: &Graph, s: &Sink, n_out: usize) -> Option<(NodeId, usize)> {
    let fits = |t: &Tensor| t.shape.last() == Some(&n_out) && t.shape.iter().rev().skip(1).all(|&d| d == 1);
    match &g.node(s.node).op {
        Op::Gemm(_) => const_input(g, s.node, 2).filter(|t| fits(t)).map(|_| (s.node, 2)),
        _ => {
            let uses = g.consumers(s.node.out(0));
            let [(add, port)] = uses.as_slice() else { return None };
            if !matches!(g.node(*add).op, Op::Add(_)) {
                return None;
            }
            let other = 1 - (*port).min(1);
            const_input(g, *add, other).filter(|t| fits(t)).map(|_| (*add, other))
        }
    }
}

/// The original weight and bias of a sink, captured before the graph is rewritten.
#[derive(Clone, Debug)]
pub(crate) struct Original {
    w: Tensor,
    bias: Option<(NodeId, usize, Tensor)>,
}

pub(crate) fn original(g: &Graph, s: &Sink) -> Option<Original> {
    let w = const_input(g, s.node, 1)?.clone();
    let n_out = *w.shape.get(usize::from(!s.trans))?;
    let bias = find_bias(g, s, n_out).and_then(|(n, p)| Some((n, p, const_input(g, n, p)?.clone())));
    Some(Original { w, bias })
}

/// `[K, N]` f64 view of a weight stored `[K, N]` or `[N, K]`.
fn as_kn(w: &Tensor, trans: bool) -> Option<Array2<f64>> {
    let v = w.to_f64_vec()?;
    let (r, c) = (*w.shape.first()?, *w.shape.get(1)?);
    let m = Array2::from_shape_vec((r, c), v).ok()?;
    Some(if trans {
        m.reversed_axes().as_standard_layout().into_owned()
    } else {
        m
    })
}

/// tr(Δᵀ G Δ).
fn quad(gm: ArrayView2<f64>, d: ArrayView2<f64>) -> f64 {
    (gm.dot(&d) * d).sum()
}

/// Refits sink `s` (its input channels reduced to `kept`) from its original weight and bias.
pub(crate) fn refit(
    g: &mut Graph,
    s: &Sink,
    orig: &Original,
    kept: &[usize],
    st: &Stats,
    data: &PruneData,
) -> Result<RefitReport, PruneError> {
    let name = g.node(s.node).name.clone();
    let bad = |m: &str| PruneError::Graph(format!("refit of '{name}': {m}"));
    let w = as_kn(&orig.w, s.trans).ok_or_else(|| bad("the weight is not a float matrix"))?;
    let (k, n) = w.dim();
    if k != st.k || kept.iter().any(|&j| j >= k) {
        return Err(bad(&format!("{k} input channels but the statistics have {}", st.k)));
    }
    let now_n = const_input(g, s.node, 1).and_then(|t| t.shape.get(usize::from(!s.trans)).copied());
    let mut report = RefitReport {
        node: name.clone(),
        kept: kept.len(),
        of: k,
        rows: st.rows,
        error_pruned: 0.0,
        error_refit: None,
        skipped: None,
    };
    let has_b = orig.bias.is_some();
    let b: Vec<f64> = match &orig.bias {
        Some((_, _, t)) => t.to_f64_vec().ok_or_else(|| bad("the bias is not float"))?,
        None => Vec::new(),
    };
    let gz = augmented(st);
    let full: Vec<usize> = (0..k).chain(has_b.then_some(k)).collect();
    let sel: Vec<usize> = kept.iter().copied().chain(has_b.then_some(k)).collect();
    let mut theta = Array2::<f64>::zeros((full.len(), n));
    theta.slice_mut(ndarray::s![..k, ..]).assign(&w);
    if has_b {
        for (j, v) in b.iter().enumerate().take(n) {
            theta[(k, j)] = *v;
        }
    }
    let gf = gz.select(Axis(0), &full).select(Axis(1), &full);
    let total = quad(gf.view(), theta.view()).max(f64::MIN_POSITIVE);
    // `full` is 0..k (then the bias row k), so an index is its own position in `full`.
    let pos = &sel;
    let embed = |t: &Array2<f64>| {
        let mut e = Array2::<f64>::zeros((full.len(), n));
        for (r, &p) in pos.iter().enumerate() {
            e.row_mut(p).assign(&t.row(r));
        }
        e - &theta
    };
    let plain = theta.select(Axis(0), pos);
    report.error_pruned = quad(gf.view(), embed(&plain).view()) / total;
    if now_n != Some(n) {
        report.skipped = Some("its output channels were pruned too".into());
        return Ok(report);
    }
    if !data.refit {
        report.skipped = Some("refit off".into());
        return Ok(report);
    }
    if st.rows < 2 {
        report.skipped = Some("fewer than 2 calibration rows".into());
        return Ok(report);
    }
    let a = gz.select(Axis(0), &sel).select(Axis(1), &sel);
    let rhs = gz.select(Axis(0), &sel).select(Axis(1), &full).dot(&theta);
    let m = sel.len();
    let diag_mean = (0..kept.len()).map(|i| a[(i, i)]).sum::<f64>() / kept.len().max(1) as f64;
    let mut lambda = data.ridge.max(0.0) * diag_mean.max(f64::MIN_POSITIVE);
    let mut l = None;
    for _ in 0..8 {
        let mut reg = a.clone();
        for i in 0..kept.len() {
            reg[(i, i)] += lambda;
        }
        let flat: Vec<f64> = reg.iter().copied().collect();
        if let Some(f) = cholesky(&flat, m) {
            l = Some(f);
            break;
        }
        lambda = if lambda > 0.0 { lambda * 10.0 } else { 1e-8 * diag_mean.max(1e-12) };
    }
    let Some(l) = l else {
        report.skipped = Some("the Gram matrix is singular".into());
        return Ok(report);
    };
    let sol = cholesky_solve(&l, m, &rhs);
    let err = quad(gf.view(), embed(&sol).view()) / total;
    if !err.is_finite() || err >= report.error_pruned {
        report.skipped = Some(format!("the refit did not lower the error ({err:.3e})"));
        return Ok(report);
    }
    report.error_refit = Some(err);
    // Write the refitted weight (in the stored orientation) and bias.
    let wk = sol.slice(ndarray::s![..kept.len(), ..]).to_owned();
    let stored = if s.trans {
        wk.reversed_axes().as_standard_layout().into_owned()
    } else {
        wk
    };
    let shape = stored.shape().to_vec();
    let vals: Vec<f32> = stored.iter().map(|&v| v as f32).collect();
    let wt = Tensor::from_f32(shape, &vals).map_err(|e| bad(&e.to_string()))?;
    let wc = g.add_constant(format!("{name}_refit_w"), wt);
    g.set_input(s.node, 1, Some(wc)).map_err(|e| bad(&e.to_string()))?;
    if let Some((bn, bp, bt)) = &orig.bias {
        let vals: Vec<f32> = sol.row(kept.len()).iter().map(|&v| v as f32).collect();
        let t = Tensor::from_f32(bt.shape.clone(), &vals).map_err(|e| bad(&e.to_string()))?;
        let bc = g.add_constant(format!("{name}_refit_b"), t);
        g.set_input(*bn, *bp, Some(bc)).map_err(|e| bad(&e.to_string()))?;
    }
    Ok(report)
}

/// Solves `L Lᵀ X = B` (L lower, row-major `m×m`).
fn cholesky_solve(l: &[f64], m: usize, b: &Array2<f64>) -> Array2<f64> {
    let mut y = b.clone();
    for i in 0..m {
        for j in 0..i {
            let lij = l[i * m + j];
            if lij != 0.0 {
                let (done, mut rest) = y.view_mut().split_at(Axis(0), i);
                let mut yi = rest.row_mut(0);
                yi.scaled_add(-lij, &done.row(j));
            }
        }
        let d = l[i * m + i];
        y.row_mut(i).mapv_inplace(|v| v / d);
    }
    for i in (0..m).rev() {
        for j in i + 1..m {
            let lji = l[j * m + i];
            if lji != 0.0 {
                let (mut head, tail) = y.view_mut().split_at(Axis(0), i + 1);
                let mut yi = head.row_mut(i);
                yi.scaled_add(-lji, &tail.row(j - i - 1));
            }
        }
        let d = l[i * m + i];
        y.row_mut(i).mapv_inplace(|v| v / d);
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solve_inverts() {
        // A = [[4, 2], [2, 3]], B = A · [[1, 2], [3, 4]].
        let a = [4.0, 2.0, 2.0, 3.0];
        let l = cholesky(&a, 2).unwrap();
        let b = ndarray::arr2(&[[10.0, 16.0], [11.0, 16.0]]);
        let x = cholesky_solve(&l, 2, &b);
        let want = ndarray::arr2(&[[1.0, 2.0], [3.0, 4.0]]);
        assert!((x - want).iter().all(|v| v.abs() < 1e-12));
    }
}
