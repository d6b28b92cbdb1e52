//! Quantization passes: calibration, static int8 (QDQ), dynamic int8, weight-only int4/int8
//! per-block (round-to-nearest or GPTQ, emitted as blocked DequantizeLinear or MatMulNBits),
//! fp16/bf16 with guards, and mixed precision from per-layer sensitivity.
//!
//! The result is the IR's quantized form (ONNX QDQ): integer constants carrying `QuantParams`
//! feeding DequantizeLinear, and QuantizeLinear→DequantizeLinear pairs on activations.
//! [`quantize`] is the entry point; it never reports a float model as quantized: when nothing
//! could be quantized it returns [`QuantError::NothingToQuantize`].
//!
//! Files: `calib/` (histograms, estimators, the calibration run), `params.rs` (scales and
//! codes), `qdq.rs` (graph edits), `layers.rs` (what is quantizable), `static_int8.rs`,
//! `embeddings.rs` (per-row int8 Gather tables), `emb_int4.rs` (int4 tables, float16 scales), `int_matmul.rs` (MatMulInteger form),
//! `nbits8.rs` (dynamic int8 islands), `smooth.rs` (SmoothQuant), `ln_sum.rs` (residual Add → Sum),
//! `conv_gptq.rs` + `patches.rs` (sequential GPTQ of int8 Conv/Gemm weights),
//! `weights.rs`, `gptq.rs`, `gptq_order.rs` (act-order), `dynamic.rs`, `float16.rs`, `sensitivity.rs`, `metrics.rs`.

pub mod calib;
pub mod conv_gptq;
pub mod cost;
pub mod dynamic;
pub mod emb_int4;
pub mod embeddings;
pub mod error;
pub mod float16;
pub mod float_layers;
pub mod gptq;
pub mod gptq_order;
pub mod int_matmul;
pub mod layers;
pub mod ln_sum;
pub mod metrics;
pub mod nbits8;
pub mod par;
pub mod params;
pub mod patches;
pub mod qdq;
pub mod sensitivity;
pub mod slopes;
pub mod smooth;
pub mod static_int8;
pub mod tied;
pub mod weights;

pub use calib::estimators::Method;
pub use conv_gptq::WeightMethod;
pub use error::QuantError;
pub use metrics::{Metrics, compare};
pub use qdq::strip_annotations;

use crate::{Context, Dce, Pass, RemoveIdentity};
use edgeport_eval::Value;
use edgeport_ir::{DType, Graph};
use std::collections::{HashMap, HashSet};

/// The quantization mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Static int8: calibrated activations and per-channel weights (QDQ).
    Int8,
    /// int8 weights, activations quantized at run time (DynamicQuantizeLinear + MatMulInteger).
    Int8Dynamic,
    Fp16,
    Bf16,
    /// Weight-only per-block int4 for MatMul/Gemm/embeddings.
    Int4Weights,
    /// Weight-only per-channel int8 (DequantizeLinear of weights).
    Int8Weights,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        Some(match s {
            "int8" => Mode::Int8,
            "int8-dynamic" => Mode::Int8Dynamic,
            "fp16" => Mode::Fp16,
            "bf16" => Mode::Bf16,
            "int4-weights" => Mode::Int4Weights,
            "int8-weights" => Mode::Int8Weights,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Mode::Int8 => "int8",
            Mode::Int8Dynamic => "int8-dynamic",
            Mode::Fp16 => "fp16",
            Mode::Bf16 => "bf16",
            Mode::Int4Weights => "int4-weights",
            Mode::Int8Weights => "int8-weights",
        }
    }
    /// Whether the mode uses calibration data.
    pub fn calibrates(self) -> bool {
        matches!(self, Mode::Int8 | Mode::Int4Weights | Mode::Fp16 | Mode::Bf16)
    }
}

/// Quantization options.
#[derive(Clone, Debug)]
pub struct Options {
    pub mode: Mode,
    pub method: Method,
    pub per_tensor: bool,
    /// Block size of weight-only modes (0 = per channel for int8-weights).
    pub block_size: usize,
    /// Block size of embedding tables in weight-only modes (default: `block_size`).
    pub emb_block_size: Option<usize>,
    /// Weight-only modes: per-layer block sizes, (layer-name substring, block), first match wins.
    pub layer_blocks: Vec<(String, usize)>,
    /// Weight-only int4: GPTQ with act-order (static groups).
    pub act_order: bool,
    /// 4-bit embedding tables with float16 block scales (DequantizeLinear to float16).
    pub emb_f16_scales: bool,
    /// Static int8: SmoothQuant migration strength α (per-channel activation ranges moved into
    /// the MatMul weights before calibration); `None` = off.
    pub smooth_alpha: Option<f64>,
    /// Keep the most sensitive layers float until the output cosine is at least this.
    pub min_cosine: Option<f64>,
    /// … or the max abs output error at most this.
    pub max_error: Option<f64>,
    /// Mixed precision: a layer kept float gets float weights (stored as float16) rather than
    /// int8 weights with float activations. Full-integer targets always keep int8 weights.
    pub float_layer_weights: bool,
    pub gptq: bool,
    /// Emit MatMulNBits for int4 MatMul weights (else blocked DequantizeLinear).
    pub nbits: bool,
    pub bias_correction: bool,
    pub int32_bias: bool,
    /// Node names to keep float.
    pub exclude: Vec<String>,
    /// Histogram bins.
    pub bins: usize,
    /// Static int8 activation storage: U8 asymmetric (onnxruntime's default) or I8
    /// asymmetric (TFLite's integer kernels need int8 activations with int8 weights).
    pub act_dtype: DType,
    /// Static int8: quantize every op with an integer kernel and the graph outputs too
    /// (full-integer targets), not only Conv/Gemm/MatMul inputs and outputs.
    pub full_integer: bool,
    /// Full integer: also the ops whose integer kernels are slow on CPU runtimes (PRelu: LiteRT's
    /// int8 PRELU ran face_landmark 3.6× slower than its float island), for integer-only
    /// targets (NPUs, Edge TPU, microcontrollers; `--int8-io`).
    pub integer_only: bool,
    /// Static int8 without an error budget: keep float the layers the latency model prices
    /// faster in float (an RGB stem and its block; see [`sensitivity::fastest`]). Not the
    /// default: onnxruntime's layout transformer may undo the gain (face landmark: a float stem
    /// left 38 Transposes and NCHW MaxPools in the int8 region, 6.07 against 5.15 ms).
    pub float_where_faster: bool,
    /// Static int8: how Conv/Gemm weights are rounded (round-to-nearest, the default, or
    /// sequential GPTQ: see [`conv_gptq`] for the measured effect).
    pub weight_method: WeightMethod,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            mode: Mode::Int8,
            method: Method::MinMax,
            per_tensor: false,
            block_size: 32,
            emb_block_size: None,
            emb_f16_scales: false,
            act_order: false,
            layer_blocks: Vec::new(),
            smooth_alpha: None,
            min_cosine: None,
            max_error: None,
            float_layer_weights: true,
            gptq: true,
            nbits: true,
            bias_correction: true,
            int32_bias: true,
            exclude: Vec::new(),
            bins: 2048,
            act_dtype: DType::U8,
            full_integer: false,
            integer_only: false,
            float_where_faster: false,
            weight_method: WeightMethod::Rtn,
        }
    }
}

/// One layer's outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerReport {
    pub name: String,
    pub op: String,
    /// `float`, `int8`, `uint4 block 32 gptq`, `fp16`, …
    pub precision: String,
    /// Output cosine with only this layer quantized (mixed precision runs only).
    pub sensitivity: Option<f64>,
}

/// What quantization did.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub layers: Vec<LayerReport>,
    pub warnings: Vec<String>,
    /// Lowest ONNX opset that can express the result.
    pub min_opset: i64,
    pub calibration_samples: usize,
    /// Output error on the budget-check samples after mixed precision (when it ran).
    pub budget_check: Option<Metrics>,
}

/// Evaluator options for running `g` on many samples: its weights converted once, up front
/// (`keep_all`: every intermediate value is returned too).
pub(crate) fn eval_options(g: &Graph, keep_all: bool) -> Result<edgeport_eval::EvalOptions, QuantError> {
    let consts = edgeport_eval::ConstCache::new(g).map_err(|e| QuantError::Eval {
        sample: 0,
        msg: e.to_string(),
    })?;
    Ok(edgeport_eval::EvalOptions {
        keep_all,
        consts: Some(std::sync::Arc::new(consts)),
        ..Default::default()
    })
}

/// Runs `g` on each sample (samples in parallel, results in order).
pub fn run_all(g: &Graph, samples: &[Vec<Value>]) -> Result<Vec<Vec<Value>>, QuantError> {
    let opts = eval_options(g, false)?;
    par::map(samples, |i, s| {
        edgeport_eval::run_graph_with(g, s.clone(), &opts)
            .map(|(o, _)| o)
            .map_err(|e| QuantError::Eval {
                sample: i,
                msg: e.to_string(),
            })
    })
    .into_iter()
    .collect()
}

/// Points uses of Identity outputs at their inputs (exporters dedupe equal initializers through
/// Identity nodes, which would hide a Conv's bias constant from the quantizer and the backends).
/// Identities removed, and float constants read through a Cast to float32 or a Transpose folded:
/// TFLite float16 weights arrive as `Cast(f16 constant)` in a converted ONNX, and as
/// `Transpose(Cast(f16 constant))` (OHWI → OIHW) straight from a .tflite; without this the layer
/// finder saw no constant weight ("no quantizable op"). Nothing else is folded: a general
/// constant fold grew MiniLM's int4 file by 85 KB.
fn simplify(g: &mut Graph) -> Result<(), QuantError> {
    RemoveIdentity.run(g, &mut Context::default()).map_err(|e| QuantError::Graph {
        node: String::new(),
        msg: e.to_string(),
    })?;
    let gerr = |node: &str, e: &dyn std::fmt::Display| QuantError::Graph {
        node: node.to_string(),
        msg: e.to_string(),
    };
    let order = g.topo_order().map_err(|e| gerr("", &e))?;
    for id in order {
        let Some(Some(x)) = g.inputs_of(id).first().copied() else {
            continue;
        };
        let Some(t) = g.constant_of(x).filter(|t| t.dtype.is_float()) else {
            continue;
        };
        let name = g.node(id).outputs[0].name.clone();
        let folded = match &g.node(id).op {
            edgeport_ir::Op::Cast(c) if c.to == DType::F32.onnx_code() as i64 => {
                let Some(v) = t.to_f64_vec() else { continue };
                let v: Vec<f32> = v.into_iter().map(|x| x as f32).collect();
                edgeport_ir::Tensor::from_f32(t.shape.clone(), &v).map_err(|e| gerr(&name, &e))?
            }
            edgeport_ir::Op::Transpose(tr) if t.dtype == DType::F32 => {
                let perm: Vec<usize> = if tr.perm.is_empty() {
                    (0..t.shape.len()).rev().collect()
                } else {
                    tr.perm.iter().map(|&p| p as usize).collect()
                };
                t.permuted(&perm).map_err(|e| gerr(&name, &e))?
            }
            _ => continue,
        };
        let c = g.add_constant(name.clone(), folded);
        g.replace_all_uses(id.out(0), c).map_err(|e| gerr(&name, &e))?;
        g.remove_node(id);
    }
    Ok(())
}

/// Why no layer was found: an already-quantized model (its weights integer behind
/// DequantizeLinear, as an imported int8 .tflite or QDQ .onnx has them) says so.
fn no_float_weight(g: &Graph) -> String {
    use edgeport_ir::Op;
    let quantized = g
        .node_ids()
        .filter(|&id| matches!(g.node(id).op, Op::Conv(_) | Op::Gemm(_) | Op::MatMul(_) | Op::ConvTranspose(_)))
        .filter(|&id| {
            g.inputs_of(id).get(1).copied().flatten().is_some_and(|w| {
                matches!(g.node(w.node).op, Op::DequantizeLinear(_))
                    && g.inputs_of(w.node)
                        .first()
                        .copied()
                        .flatten()
                        .is_some_and(|c| g.constant_of(c).is_some())
            })
        })
        .count();
    if quantized > 0 {
        format!(
            "the model is already quantized: {quantized} Conv/Gemm/MatMul weight(s) are integers behind DequantizeLinear \
             (`edgeport convert` re-emits it in another format with its quantization)"
        )
    } else {
        "the model has no Conv/Gemm/MatMul with a constant float weight".into()
    }
}

fn dce(g: &mut Graph) -> Result<(), QuantError> {
    Dce.run(g, &mut Context::default()).map_err(|e| QuantError::Graph {
        node: String::new(),
        msg: e.to_string(),
    })?;
    Ok(())
}

/// Quantizes `g` in place. `calib` are calibration samples (graph inputs in order); `check`
/// are samples for the mixed-precision budget (calibration samples are used when empty).
pub fn quantize(g: &mut Graph, calib: &[Vec<Value>], check: &[Vec<Value>], o: &Options) -> Result<Report, QuantError> {
    let mut report = Report {
        min_opset: 13,
        calibration_samples: calib.len(),
        ..Default::default()
    };
    simplify(g)?;
    let smoothed = match o.smooth_alpha {
        Some(a) if o.mode == Mode::Int8 && !o.full_integer && !calib.is_empty() => smooth::apply(g, calib, a, &o.exclude)?,
        _ => Vec::new(),
    };
    let all_layers = layers::find(g);
    let excluded: HashSet<&str> = o.exclude.iter().map(|s| s.as_str()).collect();
    let layers: Vec<layers::Layer> = all_layers.iter().filter(|l| !excluded.contains(l.name.as_str())).cloned().collect();
    let float_row = |l: &layers::Layer| LayerReport {
        name: l.name.clone(),
        op: l.kind.name().into(),
        precision: "float".into(),
        sensitivity: None,
    };
    match o.mode {
        Mode::Int8 => {
            let compute = layers
                .iter()
                .filter(|l| l.kind != layers::Kind::Gather)
                .cloned()
                .collect::<Vec<_>>();
            if compute.is_empty() {
                return Err(QuantError::NothingToQuantize(no_float_weight(g)));
            }
            if calib.is_empty() {
                return Err(QuantError::Calibration("static int8 needs at least one calibration sample".into()));
            }
            let mut ranges = static_int8::activation_points(g, &compute);
            if o.full_integer {
                for v in static_int8::full_integer_points(g, o.integer_only) {
                    if !ranges.contains(&v) {
                        ranges.push(v);
                    }
                }
            }
            tied::add_points(g, &mut ranges);
            let req = calib::Request {
                ranges,
                channel_means: if o.bias_correction {
                    compute
                        .iter()
                        .filter_map(|l| l.act.map(|a| (a, l.kind != layers::Kind::Conv)))
                        .collect()
                } else {
                    Vec::new()
                },
                grams: Vec::new(),
                bins: o.bins,
                extremes_only: o.method == Method::MinMax,
            };
            let cal = calib::calibrate(g, calib, &req)?;
            let so = static_int8::StaticOptions {
                method: o.method,
                per_tensor: o.per_tensor,
                int32_bias: o.int32_bias,
                bias_correction: o.bias_correction,
                act_dtype: o.act_dtype,
                full_integer: o.full_integer,
                integer_only: o.integer_only,
                precomputed: None,
                // onnxruntime and other ONNX runtimes run a float layer fastest with constant
                // float weights; full-integer targets need integer weights everywhere.
                float_weights: o.float_layer_weights && !o.full_integer,
            };
            // Mixed precision chooses the float-activation layers with rounded weights; GPTQ
            // then fits the weights to the activations the chosen model really has.
            let (include, sens) = if o.min_cosine.is_some() || o.max_error.is_some() {
                let check = if check.is_empty() { &calib[..calib.len().min(8)] } else { check };
                let (inc, sens, m) = sensitivity::mixed_precision(g, &compute, &cal, &so, check, o.min_cosine, o.max_error)?;
                report.budget_check = Some(m);
                (Some(inc), sens)
            } else if !o.full_integer && o.float_where_faster && o.float_layer_weights {
                let inc = sensitivity::fastest(g, &compute);
                let kept = compute.len() - inc.len();
                if kept > 0 {
                    report.warnings.push(format!(
                        "{kept} layer(s) stay float where float kernels are estimated faster than int8 ones \
                         (a stem over few input values, and its neighbours up to a smaller activation)"
                    ));
                    (Some(inc), Default::default())
                } else {
                    (None, Default::default())
                }
            } else {
                (None, Default::default())
            };
            let mut so = so;
            let mut recon_how: HashMap<edgeport_ir::NodeId, &'static str> = HashMap::new();
            if o.weight_method == WeightMethod::Gptq {
                let ro = conv_gptq::ReconOptions {
                    bias_correction: o.bias_correction,
                    ..Default::default()
                };
                let (pre, rinfo) = conv_gptq::reconstruct(g, &compute, &cal, &so, include.as_ref(), calib, &ro)?;
                recon_how = pre.layers.iter().map(|(n, p)| (*n, p.how)).collect();
                for (n, why) in &rinfo.skipped {
                    report.warnings.push(format!("layer '{n}': round-to-nearest int8 weights ({why})"));
                }
                so.precomputed = Some(std::sync::Arc::new(pre));
            }
            let info = static_int8::apply(g, &compute, &cal, &so, include.as_ref())?;
            if info.quantized_layers.is_empty() {
                return Err(QuantError::NothingToQuantize("every layer was kept float".into()));
            }
            let mut islands: HashMap<String, usize> = HashMap::new();
            if !o.full_integer {
                let mms: Vec<_> = compute
                    .iter()
                    .filter(|l| l.kind == layers::Kind::MatMul && l.w_shape.len() == 2)
                    .map(|l| l.node)
                    .collect();
                let quantized: HashSet<&str> = info.act_layers.iter().map(|s| s.as_str()).collect();
                float_layers::rewrite(g, &compute, &quantized)?;
                int_matmul::rewrite(g, &mms)?;
                tied::integer_moves(g)?;
                if o.nbits {
                    islands = nbits8::rewrite(g, &mms)?.into_iter().collect();
                }
                ln_sum::rewrite(g);
            }
            let prelus = g
                .node_ids()
                .filter(|&id| matches!(g.node(id).op, edgeport_ir::Op::PRelu(_)))
                .count();
            if o.full_integer && !o.integer_only && prelus > 0 {
                report.warnings.push(format!(
                    "{prelus} PRelu op(s) stay float between int8 ops (LiteRT's int8 PRELU runs several times slower on CPU); \
                     ask for an integer-only model (--int8-io) for NPU, Edge TPU or microcontroller targets"
                ));
            }
            if !smoothed.is_empty() {
                report.warnings.push(format!(
                    "smoothing: {} MatMul groups read their activation through a per-channel Mul (alpha {:.2})",
                    smoothed.len(),
                    o.smooth_alpha.unwrap_or_default()
                ));
            }
            let mut tables = HashMap::new();
            for l in layers.iter().filter(|l| l.kind == layers::Kind::Gather) {
                tables.insert(l.name.clone(), embeddings::int8_rows(g, l)?);
            }
            let q: HashSet<&str> = info.quantized_layers.iter().map(|s| s.as_str()).collect();
            let qa: HashSet<&str> = info.act_layers.iter().map(|s| s.as_str()).collect();
            let wname = if o.per_tensor { "int8 (per-tensor weights)" } else { "int8" };
            let f16: HashSet<&str> = info.f16_layers.iter().map(|s| s.as_str()).collect();
            let in_compute: HashSet<edgeport_ir::NodeId> = compute.iter().map(|c| c.node).collect();
            let mut float_kept = 0;
            for l in &all_layers {
                let mut r = float_row(l);
                if let Some(t) = tables.get(&l.name) {
                    r.precision = t.clone();
                } else if qa.contains(l.name.as_str()) {
                    r.precision = wname.into();
                } else if let Some(b) = islands.get(&l.name) {
                    r.precision = format!("{wname} weights, dynamic int8 activations (MatMulNBits block {b})");
                } else if q.contains(l.name.as_str()) {
                    r.precision = format!("{wname} weights, float activations");
                } else if in_compute.contains(&l.node) && include.as_ref().is_some_and(|i| !i.contains(&l.node)) {
                    // Kept float by mixed precision.
                    r.precision = if f16.contains(l.name.as_str()) {
                        "float (float16 weights)".into()
                    } else {
                        "float".into()
                    };
                    float_kept += 1;
                }
                if let Some(how) = recon_how.get(&l.node)
                    && r.precision.starts_with("int8")
                {
                    r.precision = r.precision.replacen("int8", &format!("int8 {how}"), 1);
                }
                r.sensitivity = sens.get(&l.node).copied();
                report.layers.push(r);
            }
            let kept = q.len().saturating_sub(qa.len()).saturating_sub(islands.len());
            if !islands.is_empty() {
                report.warnings.push(format!(
                    "mixed precision: {} of {} layers quantize their activations at run time (dynamic int8) to meet the error budget",
                    islands.len(),
                    q.len()
                ));
            }
            if kept > 0 {
                report.warnings.push(format!(
                    "mixed precision: {kept} of {} layers keep float activations (int8 weights) to meet the error budget",
                    q.len()
                ));
            }
            if float_kept > 0 && (o.min_cosine.is_some() || o.max_error.is_some()) {
                report.warnings.push(format!(
                    "mixed precision: {float_kept} of {} layers stay float ({} with float16 weights) to meet the error budget",
                    compute.len(),
                    f16.len()
                ));
            }
            if info.activations == 0 {
                report
                    .warnings
                    .push("no activation could be calibrated; only weights were quantized".into());
            }
        }
        Mode::Int8Weights | Mode::Int4Weights => {
            let bits = if o.mode == Mode::Int4Weights { 4 } else { 8 };
            let block = if o.mode == Mode::Int8Weights && o.block_size == 32 {
                0
            } else {
                o.block_size
            };
            let wo = weights::WeightOptions {
                bits,
                block,
                emb_block: o.emb_block_size,
                emb_f16: o.emb_f16_scales,
                act_order: o.act_order,
                layer_blocks: o.layer_blocks.clone(),
                gptq: o.gptq,
                nbits: o.nbits,
                embeddings: true,
                conv: o.mode == Mode::Int8Weights,
            };
            let cal = if bits == 4 && o.gptq && !calib.is_empty() {
                let grams = layers
                    .iter()
                    .filter(|l| matches!(l.kind, layers::Kind::MatMul | layers::Kind::Gemm))
                    .filter_map(|l| l.act)
                    .collect();
                Some(calib::calibrate(
                    g,
                    calib,
                    &calib::Request {
                        grams,
                        bins: o.bins,
                        ..Default::default()
                    },
                )?)
            } else {
                None
            };
            let info = weights::apply(g, &layers, cal.as_ref(), &wo)?;
            if info.layers.is_empty() {
                return Err(QuantError::NothingToQuantize(format!(
                    "no MatMul/Gemm/Gather{} weight could be quantized",
                    if bits == 8 { "/Conv" } else { "" }
                )));
            }
            for (n, why) in &info.skipped {
                report.warnings.push(format!("layer '{n}' kept float: {why}"));
            }
            for l in &all_layers {
                let mut r = float_row(l);
                if let Some((_, how)) = info.layers.iter().find(|(n, _)| *n == l.name) {
                    r.precision = how.clone();
                }
                report.layers.push(r);
            }
            if block > 0 {
                report.min_opset = 21;
            }
        }
        Mode::Int8Dynamic => {
            let info = dynamic::apply(g, &layers)?;
            if info.is_empty() {
                return Err(QuantError::NothingToQuantize(no_float_weight(g)));
            }
            for l in &all_layers {
                let mut r = float_row(l);
                if let Some((_, how)) = info.iter().find(|(n, _)| *n == l.name) {
                    r.precision = how.clone();
                }
                report.layers.push(r);
            }
        }
        Mode::Fp16 | Mode::Bf16 => {
            let info = float16::apply(g, calib, o.mode == Mode::Bf16)?;
            if info.converted == 0 {
                return Err(QuantError::NothingToQuantize("no op could run in reduced precision".into()));
            }
            report
                .warnings
                .extend(info.kept.iter().map(|(n, why)| format!("node '{n}' kept fp32: {why}")));
            let name = if o.mode == Mode::Bf16 { "bf16" } else { "fp16" };
            for l in &all_layers {
                let mut r = float_row(l);
                if !info.kept.iter().any(|(n, _)| *n == l.name) {
                    r.precision = name.into();
                }
                report.layers.push(r);
            }
            report.min_opset = 13;
        }
    }
    dce(g)?;
    let _ = edgeport_ir::infer::infer_types(g);
    Ok(report)
}
