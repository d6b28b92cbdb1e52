//! Calibration: runs the float model on the reference evaluator over calibration samples and
//! streams the statistics the quantizers need: a histogram per requested activation (memory
//! fixed by the bin count, not the sample count), per-channel means (for bias correction) and
//! Gram matrices `X^T X` of MatMul/Gemm inputs (for GPTQ).

pub mod estimators;
pub mod histogram;

use crate::quantize::error::QuantError;
use edgeport_eval::{Value, run_graph_with};
use edgeport_ir::{Graph, ValueId};
use histogram::Histogram;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// What to collect.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// Activations to histogram.
    pub ranges: Vec<ValueId>,
    /// Activations whose per-channel (axis 1, or last axis for rank ≤ 2 when `last`) means
    /// are needed: (value, use the last axis).
    pub channel_means: Vec<(ValueId, bool)>,
    /// Activations whose `X^T X` over the last axis is needed (rows = all leading elements).
    pub grams: Vec<ValueId>,
    /// Bins per histogram.
    pub bins: usize,
    /// Keep only each activation's extremes, count and sum (the min–max estimator's inputs),
    /// not its histogram.
    pub extremes_only: bool,
}

/// A Gram matrix accumulated over samples.
#[derive(Clone, Debug)]
pub struct Gram {
    pub k: usize,
    /// Row-major k×k.
    pub xtx: Vec<f64>,
    pub rows: u64,
}

/// The statistics gathered.
#[derive(Clone, Debug, Default)]
pub struct Calibration {
    pub hists: HashMap<ValueId, Histogram>,
    pub means: HashMap<ValueId, Vec<f64>>,
    pub grams: HashMap<ValueId, Gram>,
    pub samples: usize,
}

/// Largest Gram side collected (bigger inputs fall back to round-to-nearest).
pub const MAX_GRAM: usize = 8192;

fn value_name(g: &Graph, v: ValueId) -> String {
    g.value(v).map(|x| x.name.clone()).unwrap_or_else(|| v.to_string())
}

/// Runs every sample and gathers what `req` asks for.
pub fn calibrate(g: &Graph, samples: &[Vec<Value>], req: &Request) -> Result<Calibration, QuantError> {
    let mut cal = Calibration::default();
    let mut sums: Sums = HashMap::new();
    let opts = crate::quantize::eval_options(g, true)?;
    let forward = |si: usize, s: &Vec<Value>| -> Result<(HashMap<ValueId, Value>, SampleExtremes, SamplePart), QuantError> {
        let mut kept = run_graph_with(g, s.clone(), &opts).map(|(_, k)| k).map_err(|e| QuantError::Eval {
            sample: si,
            msg: e.to_string(),
        })?;
        // Graph inputs are not op results; add them so they can be calibrated too.
        for (&id, v) in g.inputs().iter().zip(s) {
            kept.entry(id.out(0)).or_insert_with(|| v.clone());
        }
        // Each activation's extremes, channel sums and Gram matrix are worked out here, on the
        // forward's own thread, and merged in sample order (so the statistics do not depend
        // on the thread count).
        let ext = if req.extremes_only {
            sample_extremes(&req.ranges, &kept)
        } else {
            HashMap::new()
        };
        let part = SamplePart {
            sums: sample_sums(req, &kept, si)?,
            grams: sample_grams(req, &kept, si)?,
        };
        Ok((kept, ext, part))
    };
    let mut merge = |cal: &mut Calibration, part: SamplePart| {
        for (v, (s, n)) in part.sums {
            let e = sums.entry(v).or_insert_with(|| (vec![0.0; s.len()], 0));
            if e.0.len() == s.len() {
                e.0.iter_mut().zip(&s).for_each(|(a, b)| *a += b);
                e.1 += n;
            }
        }
        for (v, (k, part, rows)) in part.grams {
            let gm = cal.grams.entry(v).or_insert_with(|| Gram {
                k,
                xtx: vec![0.0; k * k],
                rows: 0,
            });
            if gm.k == k {
                // Each sample's X^T X in f32 (a blocked sgemm), summed over samples in f64.
                for (d, &p) in gm.xtx.iter_mut().zip(part.iter()) {
                    *d += p as f64;
                }
                gm.rows += rows;
            }
        }
        cal.samples += 1;
    };
    if req.extremes_only && req.grams.is_empty() {
        // Min–max needs only small per-sample results: every core works through its share of
        // the samples without waiting for the others, and reads each value as the forward
        // makes it (an observer), so values are released after their last use as in a plain
        // run instead of all being kept to the end.
        let ranges: Arc<HashSet<ValueId>> = Arc::new(req.ranges.iter().copied().collect());
        let means: Arc<HashMap<ValueId, bool>> = Arc::new(req.channel_means.iter().copied().collect());
        let runs = crate::quantize::par::map(samples, |si, s| -> Result<(SampleExtremes, SamplePart), QuantError> {
            type Seen = (SampleExtremes, Sums);
            let seen: Arc<Mutex<Seen>> = Arc::default();
            let (st, r, m) = (seen.clone(), ranges.clone(), means.clone());
            let observe = edgeport_eval::Observer(Arc::new(move |v: ValueId, val: &Value| {
                let (want_range, want_mean) = (r.contains(&v), m.get(&v).copied());
                if !want_range && want_mean.is_none() {
                    return;
                }
                let Some(t) = val.as_tensor() else { return };
                let ext = if want_range { tensor_extremes(t) } else { None };
                let sums = want_mean.and_then(|last| channel_sums(t, last, si).ok().flatten());
                if let Ok(mut st) = st.lock() {
                    if let Some(e) = ext {
                        st.0.insert(v, e);
                    }
                    if let Some(s) = sums {
                        st.1.insert(v, s);
                    }
                }
            }));
            let o = edgeport_eval::EvalOptions {
                keep_all: false,
                observe: Some(observe),
                ..opts.clone()
            };
            run_graph_with(g, s.clone(), &o).map_err(|e| QuantError::Eval {
                sample: si,
                msg: e.to_string(),
            })?;
            drop(o);
            let (ext, sums) = Arc::try_unwrap(seen)
                .ok()
                .and_then(|m| m.into_inner().ok())
                .ok_or_else(|| QuantError::Calibration(format!("sample {si}: statistics still shared after the run")))?;
            Ok((
                ext,
                SamplePart {
                    sums,
                    grams: HashMap::new(),
                },
            ))
        });
        let none = HashMap::new();
        for (si, run) in runs.into_iter().enumerate() {
            let (ext, part) = run?;
            gather(g, req, &mut cal, si, &none, &ext)?;
            merge(&mut cal, part);
        }
    } else {
        // Histograms take every value in sample order: forwards run a chunk (one sample per
        // core) at a time.
        let nt = crate::quantize::par::threads(samples.len());
        for (ci, chunk) in samples.chunks(nt).enumerate() {
            let runs = crate::quantize::par::map(chunk, |j, s| forward(ci * nt + j, s));
            for (j, run) in runs.into_iter().enumerate() {
                let (kept, ext, part) = run?;
                gather(g, req, &mut cal, ci * nt + j, &kept, &ext)?;
                merge(&mut cal, part);
            }
        }
    }
    for (v, (s, n)) in sums {
        if n > 0 {
            cal.means.insert(v, s.into_iter().map(|x| x / n as f64).collect());
        }
    }
    Ok(cal)
}

/// A tensor's values as f32, borrowed when it is a contiguous f32 array (activations are read
/// in place, not copied).
fn f32_data(t: &edgeport_eval::Tensor, si: usize) -> Result<std::borrow::Cow<'_, [f32]>, QuantError> {
    if let edgeport_eval::Tensor::F32(a) = t
        && let Some(x) = a.as_slice()
    {
        return Ok(x.into());
    }
    let a = t.to_f32_array().map_err(|e| QuantError::Eval {
        sample: si,
        msg: e.to_string(),
    })?;
    Ok(a.iter().copied().collect::<Vec<f32>>().into())
}

/// Per-channel sums and element counts of the channel-mean requests.
type Sums = HashMap<ValueId, (Vec<f64>, u64)>;

/// One sample's (min, max, sum, count) of each float activation in `ranges` that the forward
/// kept, `None` where it has NaN or infinite values.
type SampleExtremes = HashMap<ValueId, Option<(f32, f32, f64, usize)>>;

fn sample_extremes(ranges: &[ValueId], kept: &HashMap<ValueId, Value>) -> SampleExtremes {
    let mut out = HashMap::new();
    for &v in ranges {
        if let Some(e) = kept.get(&v).and_then(|x| x.as_tensor()).and_then(tensor_extremes) {
            out.insert(v, e);
        }
    }
    out
}

/// One sample's channel sums (value → (per-channel sums, elements per channel)) and Gram
/// matrices (value → (k, `X^T X` row-major in f32, rows)).
struct SamplePart {
    sums: Sums,
    grams: SampleGrams,
}

/// One sample's Gram matrices: value → (k, `X^T X` row-major in f32, rows).
type SampleGrams = HashMap<ValueId, (usize, Vec<f32>, u64)>;

/// The per-channel sums of the channel-mean requests over one sample's kept values.
fn sample_sums(req: &Request, kept: &HashMap<ValueId, Value>, si: usize) -> Result<Sums, QuantError> {
    let mut out = HashMap::new();
    for &(v, last) in &req.channel_means {
        let Some(t) = kept.get(&v).and_then(|x| x.as_tensor()) else {
            continue;
        };
        if let Some(r) = channel_sums(t, last, si)? {
            out.insert(v, r);
        }
    }
    Ok(out)
}

/// Per-channel sums of `t` (channels on axis 1, or the last axis for rank ≤ 2 or `last`) and
/// the elements per channel.
fn channel_sums(t: &edgeport_eval::Tensor, last: bool, si: usize) -> Result<Option<(Vec<f64>, u64)>, QuantError> {
    let xs = f32_data(t, si)?;
    let shape = t.shape();
    let axis = if last || shape.len() <= 2 {
        shape.len().saturating_sub(1)
    } else {
        1
    };
    let Some(&c) = shape.get(axis) else { return Ok(None) };
    if c == 0 {
        return Ok(None);
    }
    let inner: usize = shape.iter().skip(axis + 1).product();
    let mut sums = vec![0.0; c];
    // Contiguous runs of `inner` values share a channel.
    for (i, run) in xs.chunks(inner.max(1)).enumerate() {
        sums[i % c] += histogram::lane_sum(run);
    }
    Ok(Some((sums, (xs.len() / c) as u64)))
}

/// One float activation's (min, max, sum, count), `None` where it has NaN or infinite values.
fn tensor_extremes(t: &edgeport_eval::Tensor) -> Option<Option<(f32, f32, f64, usize)>> {
    if !t.dtype().is_float() {
        return None;
    }
    // Other float types and strided arrays are converted (f32_data fails only for them).
    let xs = f32_data(t, 0).ok()?;
    Some(histogram::extremes(&xs).map(|(lo, hi, s)| (lo, hi, s, xs.len())))
}

/// `X^T X` over the last axis of each Gram request in one sample's kept values.
fn sample_grams(req: &Request, kept: &HashMap<ValueId, Value>, si: usize) -> Result<SampleGrams, QuantError> {
    let mut out = HashMap::new();
    for &v in &req.grams {
        let Some(t) = kept.get(&v).and_then(|x| x.as_tensor()) else {
            continue;
        };
        let a = t.to_f32_array().map_err(|e| QuantError::Eval {
            sample: si,
            msg: e.to_string(),
        })?;
        let Some(&k) = a.shape().last() else { continue };
        if k == 0 || k > MAX_GRAM {
            continue;
        }
        let rows = a.len() / k;
        let Ok(x) = a.into_shape_with_order((rows, k)) else { continue };
        let x = x.as_standard_layout();
        let part = x.t().dot(&x);
        out.insert(v, (k, part.iter().copied().collect(), rows as u64));
    }
    Ok(out)
}

/// Adds sample `si`'s kept values (graph inputs included; extremes already scanned `ext`) to
/// the range statistics.
fn gather(
    g: &Graph,
    req: &Request,
    cal: &mut Calibration,
    si: usize,
    kept: &HashMap<ValueId, Value>,
    ext: &SampleExtremes,
) -> Result<(), QuantError> {
    for &v in &req.ranges {
        if req.extremes_only
            && let Some(e) = ext.get(&v)
        {
            let h = cal.hists.entry(v).or_insert_with(|| Histogram::new(16));
            let Some(&(lo, hi, sum, n)) = e.as_ref() else {
                return Err(QuantError::Calibration(format!(
                    "sample {si}: activation '{}' has NaN or infinite values",
                    value_name(g, v)
                )));
            };
            h.merge_extremes(lo, hi, sum, n);
            continue;
        }
        let Some(t) = kept.get(&v).and_then(|x| x.as_tensor()) else {
            continue;
        };
        if !t.dtype().is_float() {
            continue;
        }
        let xs = f32_data(t, si)?;
        if req.extremes_only {
            if !cal.hists.entry(v).or_insert_with(|| Histogram::new(16)).add_extremes(&xs) {
                return Err(QuantError::Calibration(format!(
                    "sample {si}: activation '{}' has NaN or infinite values",
                    value_name(g, v)
                )));
            }
            continue;
        }
        if xs.iter().any(|x| !x.is_finite()) {
            return Err(QuantError::Calibration(format!(
                "sample {si}: activation '{}' has NaN or infinite values",
                value_name(g, v)
            )));
        }
        cal.hists.entry(v).or_insert_with(|| Histogram::new(req.bins)).add(&xs);
    }
    Ok(())
}
