//! Sequential GPTQ for the int8 weights of Conv and Gemm layers (`--weight-method gptq`).
//!
//! The static int8 model is first built with round-to-nearest weights (activation QDQs in
//! place). Then, layer by layer in topological order, the calibration samples are run up to
//! the layer through the model whose earlier layers already carry their final weights, so each
//! layer sees the quantized activations it will see at run time. From those inputs the layer's
//! im2col Hessian `Σ x xᵀ` (one per group: a depthwise conv has one 9×9 Hessian per channel)
//! drives a GPTQ sweep with per-output-channel symmetric int8 scales (columns in descending
//! Hessian-diagonal order), and the bias absorbs the remaining mean output error against the
//! float model (`W·mean(x_float) − Ŵ·mean(x_quant)`). Only the stretch of the graph between
//! two layers is evaluated per step ([`segment`]), so the cost is about two forwards per sample.

use crate::quantize::calib::Calibration;
use crate::quantize::error::{QuantError, gerr};
use crate::quantize::gptq::{gptq_with, inverse_factor};
use crate::quantize::layers::{Kind, Layer, float_const};
use crate::quantize::par;
use crate::quantize::patches::{PatchGeom, PatchStats};
use crate::quantize::qdq::const_f32;
use crate::quantize::static_int8::{StaticOptions, apply};
use crate::{Context, Dce, Pass};
use edgeport_eval::{ConstCache, EvalOptions, Value, run_graph_with};
use edgeport_ir::{Graph, NodeId, ValueId};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// How the int8 weights of Conv/Gemm layers are rounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightMethod {
    /// Round to nearest (with the static quantizer's bias correction).
    Rtn,
    /// Sequential GPTQ with calibration inputs, plus bias correction.
    Gptq,
}

impl WeightMethod {
    pub fn parse(s: &str) -> Option<WeightMethod> {
        match s {
            "rtn" => Some(WeightMethod::Rtn),
            "gptq" => Some(WeightMethod::Gptq),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            WeightMethod::Rtn => "rtn",
            WeightMethod::Gptq => "gptq",
        }
    }
}

/// Options of the reconstruction.
#[derive(Clone, Debug)]
pub struct ReconOptions {
    /// Hessian dampening, × its mean diagonal.
    pub damp: f64,
    /// Columns in descending Hessian-diagonal order.
    pub act_order: bool,
    /// Longest weight row (patch length) reconstructed; longer layers keep round-to-nearest
    /// (the inverse Hessian costs `k³`).
    pub max_k: usize,
    /// Correct the bias by the remaining mean output error.
    pub bias_correction: bool,
}

impl Default for ReconOptions {
    fn default() -> Self {
        ReconOptions {
            damp: 0.01,
            act_order: true,
            max_k: 2304,
            bias_correction: true,
        }
    }
}

/// One layer's chosen int8 weight, in the weight's own layout.
#[derive(Clone, Debug)]
pub struct PreWeight {
    pub codes: Vec<i32>,
    /// Per output channel (one value for a per-tensor weight).
    pub scales: Vec<f32>,
    /// The corrected float bias, when the layer has one.
    pub bias: Option<Vec<f64>>,
    /// `gptq` or `rtn` (a singular Hessian falls back to rounding).
    pub how: &'static str,
}

/// Weights chosen ahead of the static quantizer, by layer node.
#[derive(Clone, Debug, Default)]
pub struct Precomputed {
    pub layers: HashMap<NodeId, PreWeight>,
}

/// A layer to reconstruct.
struct Target<'a> {
    l: &'a Layer,
    geom: PatchGeom,
    /// Output channels, weight row length.
    rows: usize,
    k: usize,
}

fn targets<'a>(g: &Graph, layers: &'a [Layer], o: &ReconOptions) -> Vec<Target<'a>> {
    layers
        .iter()
        .filter(|l| matches!(l.kind, Kind::Conv | Kind::Gemm))
        .filter_map(|l| {
            let geom = PatchGeom::of(g, l.node, &l.w_shape)?;
            let k = geom.k();
            let rows = *l.w_shape.get(l.out_axis)?;
            (k > 0 && k <= o.max_k && rows % geom.groups == 0).then_some(Target { l, geom, rows, k })
        })
        .collect()
}

fn perr(e: impl std::fmt::Display) -> QuantError {
    gerr("", e)
}

/// The part of `g` from the values `from` (fed as inputs) to the values `to` (its outputs).
pub fn segment(g: &Graph, from: &[ValueId], to: &[ValueId]) -> Result<Graph, QuantError> {
    let mut s = g.clone();
    let mut map = HashMap::new();
    let mut ins = Vec::with_capacity(from.len());
    for (i, &f) in from.iter().enumerate() {
        let ty = s.value(f).and_then(|v| v.ty.clone());
        let nv = s.add_input(format!("__segment_in_{i}"), ty);
        s.replace_all_uses(f, nv).map_err(perr)?;
        map.insert(f, nv);
        ins.push(nv.node);
    }
    s.set_inputs(ins).map_err(perr)?;
    let outs = to
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("__segment_out_{i}"), map.get(v).copied().unwrap_or(*v)))
        .collect();
    s.set_outputs(outs).map_err(perr)?;
    Dce.run(&mut s, &mut Context::default()).map_err(perr)?;
    Ok(s)
}

/// The nodes that depend on graph inputs, in topological order, with their positions.
fn dynamic_order(g: &Graph) -> Result<(Vec<NodeId>, HashMap<NodeId, usize>), QuantError> {
    let order = g.topo_order().map_err(perr)?;
    let mut dynamic: HashSet<NodeId> = g.inputs().iter().copied().collect();
    let mut out = Vec::new();
    for id in order {
        if dynamic.contains(&id) || g.inputs_of(id).iter().flatten().any(|v| dynamic.contains(&v.node)) {
            dynamic.insert(id);
            out.push(id);
        }
    }
    let pos = out.iter().enumerate().map(|(i, &n)| (n, i)).collect();
    Ok((out, pos))
}

/// Values made by nodes before position `p` (graph inputs included) and read at or after it.
fn frontier(g: &Graph, order: &[NodeId], pos: &HashMap<NodeId, usize>, p: usize) -> Vec<ValueId> {
    let mut out = Vec::new();
    for &n in order.iter().take(p) {
        for i in 0..g.node(n).outputs.len() {
            let v = n.out(i);
            if g.consumers(v).iter().any(|(c, _)| pos.get(c).is_some_and(|&q| q >= p)) {
                out.push(v);
            }
        }
    }
    out
}

/// Runs `s` on every sample's inputs (in parallel, results in order).
fn run_segment(s: &Graph, feeds: &[Vec<Value>]) -> Result<Vec<Vec<Value>>, QuantError> {
    let consts = ConstCache::new(s).map_err(|e| QuantError::Eval { sample: 0, msg: e.to_string() })?;
    let opts = EvalOptions {
        consts: Some(Arc::new(consts)),
        ..Default::default()
    };
    par::map(feeds, |i, f| {
        run_graph_with(s, f.clone(), &opts)
            .map(|(o, _)| o)
            .map_err(|e| QuantError::Eval { sample: i, msg: e.to_string() })
    })
    .into_iter()
    .collect()
}

/// Patch statistics of each target's input over `xs` (one tensor per sample), merged in
/// sample order; `None` for a sample whose shape does not fit.
fn stats_of(t: &Target<'_>, xs: &[&Value], sums_only: bool) -> Result<PatchStats, QuantError> {
    let mut st = PatchStats::new(&t.geom, !sums_only);
    let nt = par::threads(xs.len());
    for chunk in xs.chunks(nt.max(1)) {
        let parts = par::map(chunk, |_, v| {
            let mut p = PatchStats::new(&t.geom, !sums_only);
            let tensor = v.as_tensor()?;
            let a = tensor.to_f32_array().ok()?;
            let shape = a.shape().to_vec();
            let a = a.as_standard_layout();
            p.add(&t.geom, a.as_slice()?, &shape, sums_only)?;
            Some(p)
        });
        for p in parts {
            let p = p.ok_or_else(|| gerr(&t.l.name, "layer input does not fit its weight (patch statistics)"))?;
            st.merge(&p);
        }
    }
    Ok(st)
}

/// The float model's mean input patches of every target (one keep-all forward per sample).
fn float_means(g: &Graph, ts: &[Target<'_>], samples: &[Vec<Value>]) -> Result<Vec<PatchStats>, QuantError> {
    let consts = ConstCache::new(g).map_err(|e| QuantError::Eval { sample: 0, msg: e.to_string() })?;
    let opts = EvalOptions {
        keep_all: true,
        consts: Some(Arc::new(consts)),
        ..Default::default()
    };
    let mut acc: Vec<PatchStats> = ts.iter().map(|t| PatchStats::new(&t.geom, false)).collect();
    let nt = par::threads(samples.len());
    for (ci, chunk) in samples.chunks(nt.max(1)).enumerate() {
        let runs = par::map(chunk, |j, s| -> Result<Vec<Option<PatchStats>>, QuantError> {
            let (_, kept) = run_graph_with(g, s.clone(), &opts).map_err(|e| QuantError::Eval {
                sample: ci * nt + j,
                msg: e.to_string(),
            })?;
            Ok(ts
                .iter()
                .map(|t| {
                    let act = t.l.act?;
                    let v = kept.get(&act).or_else(|| {
                        let i = g.inputs().iter().position(|&n| n.out(0) == act)?;
                        s.get(i)
                    })?;
                    let a = v.as_tensor()?.to_f32_array().ok()?;
                    let shape = a.shape().to_vec();
                    let a = a.as_standard_layout();
                    let mut p = PatchStats::new(&t.geom, false);
                    p.add(&t.geom, a.as_slice()?, &shape, true)?;
                    Some(p)
                })
                .collect())
        });
        for run in runs {
            for (a, p) in acc.iter_mut().zip(run?) {
                if let Some(p) = p {
                    a.merge(&p);
                }
            }
        }
    }
    Ok(acc)
}

/// The weight as rows (output channels) × k, and back.
fn to_rows(t: &Target<'_>, w: &[f64]) -> Vec<f64> {
    if t.l.kind == Kind::Gemm && t.l.out_axis == 1 {
        let (kk, n) = (t.k, t.rows);
        let mut r = vec![0.0; w.len()];
        for i in 0..kk {
            for j in 0..n {
                r[j * kk + i] = w[i * n + j];
            }
        }
        r
    } else {
        w.to_vec()
    }
}

fn from_rows<T: Copy + Default>(t: &Target<'_>, r: &[T]) -> Vec<T> {
    if t.l.kind == Kind::Gemm && t.l.out_axis == 1 {
        let (kk, n) = (t.k, t.rows);
        let mut w = vec![T::default(); r.len()];
        for i in 0..kk {
            for j in 0..n {
                w[i * n + j] = r[j * kk + i];
            }
        }
        w
    } else {
        r.to_vec()
    }
}

/// GPTQ of one group's rows with fixed per-row scales; `None` when the Hessian is singular.
fn gptq_group(w: &[f64], rows: usize, k: usize, h: &[f64], scales: &[f32], o: &ReconOptions) -> Option<Vec<i32>> {
    let mut perm: Vec<usize> = (0..k).collect();
    if o.act_order {
        perm.sort_by(|&a, &b| h[b * k + b].partial_cmp(&h[a * k + a]).unwrap_or(std::cmp::Ordering::Equal));
    }
    let mut hp = vec![0.0; k * k];
    for (i, &pi) in perm.iter().enumerate() {
        for (j, &pj) in perm.iter().enumerate() {
            hp[i * k + j] = h[pi * k + pj];
        }
    }
    let mut wp = vec![0.0; rows * k];
    for r in 0..rows {
        for (i, &pi) in perm.iter().enumerate() {
            wp[r * k + i] = w[r * k + pi];
        }
    }
    let u = inverse_factor(&hp, k, o.damp)?;
    if u.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let (cp, _, _) = gptq_with(&wp, rows, k, &u, 128, (-127, 127), &|r, _, _| (scales.get(r).copied().unwrap_or(1.0), 0));
    let mut codes = vec![0i32; rows * k];
    for r in 0..rows {
        for (i, &pi) in perm.iter().enumerate() {
            codes[r * k + pi] = cp[r * k + i];
        }
    }
    Some(codes)
}

/// Round-to-nearest codes of rows with fixed per-row scales.
fn rtn_rows(w: &[f64], k: usize, scales: &[f32]) -> Vec<i32> {
    w.iter()
        .enumerate()
        .map(|(i, &x)| {
            let s = scales.get(i / k.max(1)).copied().unwrap_or(1.0) as f64;
            crate::quantize::params::round_even(x / s).clamp(-127.0, 127.0) as i32
        })
        .collect()
}

/// Chooses one target's codes, scales and corrected bias from its statistics.
fn solve(g: &Graph, t: &Target<'_>, q: &PatchStats, f: &PatchStats, per_tensor: bool, o: &ReconOptions) -> Result<PreWeight, QuantError> {
    let w = float_const(g, t.l.weight)
        .and_then(|c| c.to_f64_vec())
        .ok_or_else(|| gerr(&t.l.name, "weight is not a readable float constant"))?;
    let (rows, k) = (t.rows, t.k);
    if w.len() != rows * k {
        return Err(gerr(&t.l.name, format!("weight has {} values, expected {rows}×{k}", w.len())));
    }
    let wr = to_rows(t, &w);
    let amax: Vec<f64> = wr.chunks(k).map(|r| r.iter().fold(0.0f64, |m, x| m.max(x.abs()))).collect();
    let scale_of = |a: f64| if a > 0.0 { (a / 127.0) as f32 } else { 1.0 };
    let row_scales: Vec<f32> = if per_tensor {
        vec![scale_of(amax.iter().copied().fold(0.0, f64::max)); rows]
    } else {
        amax.iter().map(|&a| scale_of(a)).collect()
    };
    let rg = rows / t.geom.groups;
    let mut codes = Vec::with_capacity(rows * k);
    let mut how = "gptq";
    for gi in 0..t.geom.groups {
        let wg = &wr[gi * rg * k..(gi + 1) * rg * k];
        let sg = &row_scales[gi * rg..(gi + 1) * rg];
        let h = q.hess.get(gi).ok_or_else(|| gerr(&t.l.name, "missing Hessian"))?;
        match gptq_group(wg, rg, k, h, sg, o) {
            Some(c) => codes.extend(c),
            None => {
                how = "rtn";
                codes.extend(rtn_rows(wg, k, sg));
            }
        }
    }
    let bias = match (t.l.bias_slot.and_then(|s| g.inputs_of(t.l.node).get(s).copied().flatten()), o.bias_correction) {
        (Some(bv), true) if q.rows > 0 && f.rows > 0 => {
            let b = float_const(g, bv)
                .and_then(|c| c.to_f64_vec())
                .ok_or_else(|| gerr(&t.l.name, "bias is not a readable float constant"))?;
            let mut nb = b.clone();
            for (r, nbr) in nb.iter_mut().enumerate().take(rows) {
                let gi = r / rg.max(1);
                let (mq, mf) = (q.mean(gi), f.mean(gi));
                let s = row_scales[r] as f64;
                let wrow = &wr[r * k..(r + 1) * k];
                let crow = &codes[r * k..(r + 1) * k];
                let yf: f64 = wrow.iter().zip(&mf).map(|(a, b)| a * b).sum();
                let yq: f64 = crow.iter().zip(&mq).map(|(&c, b)| c as f64 * s * b).sum();
                *nbr += yf - yq;
            }
            Some(nb)
        }
        _ => None,
    };
    let scales = if per_tensor { vec![row_scales.first().copied().unwrap_or(1.0)] } else { row_scales };
    Ok(PreWeight {
        codes: from_rows(t, &codes),
        scales,
        bias,
        how,
    })
}

/// What the reconstruction did.
#[derive(Clone, Debug, Default)]
pub struct ReconInfo {
    /// Layers left to the static quantizer's rounding, with the reason.
    pub skipped: Vec<(String, String)>,
    pub segments: usize,
}

/// Chooses the int8 weights (and corrected biases) of the Conv/Gemm layers among `layers` by
/// sequential GPTQ over the calibration `samples`; `cal` and `so` are what the static
/// quantizer uses (the activation ranges the layers will see).
pub fn reconstruct(
    g: &Graph,
    layers: &[Layer],
    cal: &Calibration,
    so: &StaticOptions,
    samples: &[Vec<Value>],
    o: &ReconOptions,
) -> Result<(Precomputed, ReconInfo), QuantError> {
    let mut info = ReconInfo::default();
    let tl = targets(g, layers, o);
    for l in layers.iter().filter(|l| matches!(l.kind, Kind::Conv | Kind::Gemm)) {
        if !tl.iter().any(|t| t.l.node == l.node) {
            info.skipped
                .push((l.name.clone(), format!("not a 2-D Conv/plain Gemm with a weight row of at most {}", o.max_k)));
        }
    }
    let mut pre = Precomputed::default();
    if tl.is_empty() || samples.is_empty() {
        return Ok((pre, info));
    }
    let fmeans = float_means(g, &tl, samples)?;
    // The static int8 model with rounded weights: the activation QDQs in place.
    let mut gq = g.clone();
    let plain = StaticOptions {
        precomputed: None,
        ..so.clone()
    };
    apply(&mut gq, layers, cal, &plain, None)?;
    let (order, pos) = dynamic_order(&gq)?;
    let mut ts: Vec<(usize, usize)> = tl
        .iter()
        .enumerate()
        .filter_map(|(i, t)| pos.get(&t.l.node).map(|&p| (p, i)))
        .collect();
    ts.sort();
    let mut from: Vec<ValueId> = gq.inputs().iter().map(|n| n.out(0)).collect();
    let mut vals: Vec<Vec<Value>> = samples.to_vec();
    let mut at = 0;
    for (p, ti) in ts {
        let t = &tl[ti];
        if p > at {
            let to = frontier(&gq, &order, &pos, p);
            let s = segment(&gq, &from, &to)?;
            vals = run_segment(&s, &vals)?;
            from = to;
            at = p;
            info.segments += 1;
        }
        let act = gq
            .inputs_of(t.l.node)
            .first()
            .copied()
            .flatten()
            .ok_or_else(|| gerr(&t.l.name, "layer without an input"))?;
        let idx = from
            .iter()
            .position(|&v| v == act)
            .ok_or_else(|| gerr(&t.l.name, "layer input not reached by the segment run"))?;
        let xs: Vec<&Value> = vals.iter().filter_map(|v| v.get(idx)).collect();
        let qstats = stats_of(t, &xs, false)?;
        let pw = solve(g, t, &qstats, &fmeans[ti], so.per_tensor, o)?;
        // The layer's final weight (and bias) in the working model, as float constants.
        let row_s = |i: usize| -> f32 {
            if pw.scales.len() == 1 {
                pw.scales[0]
            } else {
                let ch = if t.l.kind == Kind::Gemm && t.l.out_axis == 1 { i % t.rows } else { i / t.k };
                pw.scales.get(ch).copied().unwrap_or(1.0)
            }
        };
        let wq: Vec<f32> = pw.codes.iter().enumerate().map(|(i, &c)| c as f32 * row_s(i)).collect();
        let wname = format!("{}_weight_reconstructed", t.l.name);
        let wv = const_f32(&mut gq, &wname, t.l.w_shape.clone(), &wq)?;
        gq.set_input(t.l.node, t.l.w_slot, Some(wv)).map_err(|e| gerr(&t.l.name, e))?;
        if let (Some(b), Some(bs)) = (&pw.bias, t.l.bias_slot) {
            let b32: Vec<f32> = b.iter().map(|&x| x as f32).collect();
            let bv = const_f32(&mut gq, &format!("{}_bias_reconstructed", t.l.name), vec![b32.len()], &b32)?;
            gq.set_input(t.l.node, bs, Some(bv)).map_err(|e| gerr(&t.l.name, e))?;
        }
        pre.layers.insert(t.l.node, pw);
    }
    Ok((pre, info))
}
