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
use std::collections::HashMap;

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
    let mut sums: HashMap<ValueId, (Vec<f64>, u64)> = HashMap::new();
    let opts = crate::quantize::eval_options(g, true)?;
    // Forwards run a chunk at a time on every core; the statistics are gathered in sample
    // order, so they do not depend on the thread count.
    let nt = crate::quantize::par::threads(samples.len());
    for (ci, chunk) in samples.chunks(nt).enumerate() {
        let runs = crate::quantize::par::map(chunk, |j, s| {
            let kept = run_graph_with(g, s.clone(), &opts).map(|(_, k)| k).map_err(|e| QuantError::Eval {
                sample: ci * nt + j,
                msg: e.to_string(),
            })?;
            // Each activation's extremes are scanned here, on the forward's own thread, and
            // merged below in sample order (the same sums in the same order as a serial scan).
            let ext = if req.extremes_only {
                sample_extremes(&req.ranges, &kept)
            } else {
                HashMap::new()
            };
            Ok((kept, ext))
        });
        for (j, (s, run)) in chunk.iter().zip(runs).enumerate() {
            let si = ci * nt + j;
            let (mut kept, ext) = run?;
            gather(g, req, &mut cal, &mut sums, si, s, &mut kept, &ext)?;
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
        let Some(edgeport_eval::Tensor::F32(a)) = kept.get(&v).and_then(|x| x.as_tensor()) else {
            continue;
        };
        let Some(xs) = a.as_slice() else { continue };
        out.insert(v, histogram::extremes(xs).map(|(lo, hi, s)| (lo, hi, s, xs.len())));
    }
    out
}

/// Adds sample `si`'s kept values (`kept`, graph inputs `s`, extremes already scanned `ext`)
/// to the statistics.
#[allow(clippy::too_many_arguments)]
fn gather(
    g: &Graph,
    req: &Request,
    cal: &mut Calibration,
    sums: &mut Sums,
    si: usize,
    s: &[Value],
    kept: &mut HashMap<ValueId, Value>,
    ext: &SampleExtremes,
) -> Result<(), QuantError> {
    {
        // Graph inputs are not op results; add them so they can be calibrated too.
        for (&id, v) in g.inputs().iter().zip(s) {
            kept.entry(id.out(0)).or_insert_with(|| v.clone());
        }
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
        for &(v, last) in &req.channel_means {
            let Some(t) = kept.get(&v).and_then(|x| x.as_tensor()) else {
                continue;
            };
            let xs = f32_data(t, si)?;
            let shape = t.shape().to_vec();
            let axis = if last || shape.len() <= 2 {
                shape.len().saturating_sub(1)
            } else {
                1
            };
            let Some(&c) = shape.get(axis) else { continue };
            let inner: usize = shape.iter().skip(axis + 1).product();
            let e = sums.entry(v).or_insert_with(|| (vec![0.0; c], 0));
            if e.0.len() != c || c == 0 {
                continue;
            }
            // Contiguous runs of `inner` values share a channel.
            for (i, run) in xs.chunks(inner.max(1)).enumerate() {
                e.0[i % c] += histogram::lane_sum(run);
            }
            e.1 += (xs.len() / c) as u64;
        }
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
            let gm = cal.grams.entry(v).or_insert_with(|| Gram {
                k,
                xtx: vec![0.0; k * k],
                rows: 0,
            });
            if gm.k != k {
                continue;
            }
            // X^T X of this sample in f32 (a blocked sgemm), summed over samples in f64.
            let x = x.as_standard_layout();
            let part = x.t().dot(&x);
            for (d, &p) in gm.xtx.iter_mut().zip(part.iter()) {
                *d += p as f64;
            }
            gm.rows += rows as u64;
        }
        cal.samples += 1;
    }
    Ok(())
}
