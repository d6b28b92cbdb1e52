//! `edgeport quantize`: import, load calibration and held-out samples, quantize (static int8,
//! dynamic int8, fp16/bf16, weight-only int4/int8, mixed precision), export, and report size
//! before/after, every layer's precision (and sensitivity), and the output error on held-out
//! inputs (max abs, cosine, top-1 agreement).

use super::CommandError;
use crate::calib;
use crate::formats::{self, ExportSettings};
use edgeport_passes::quantize::{self, Method, Mode};
use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Calibration samples the error check reads when no --heldout is given.
const IN_SAMPLE_CHECK: usize = 8;

/// Options of `quantize`.
#[derive(Debug, Clone)]
pub struct QuantizeOptions {
    pub input: PathBuf,
    pub output: PathBuf,
    pub from: Option<String>,
    pub to: Option<String>,
    pub mode: String,
    pub calibration: Option<PathBuf>,
    /// Held-out inputs for the report (synthetic when absent).
    pub heldout: Option<PathBuf>,
    /// Skip the held-out error check (the report's error is then absent).
    pub no_check: bool,
    pub method: String,
    pub per_tensor: bool,
    pub block_size: usize,
    pub embedding_block_size: Option<usize>,
    /// int4: embedding tables with float16 block scales.
    pub embedding_f16_scales: bool,
    /// int4 GPTQ act-order.
    pub act_order: bool,
    /// Weight-only per-layer block sizes, `SUBSTRING=N`.
    pub layer_block: Vec<String>,
    /// Static int8: SmoothQuant strength.
    pub smooth: Option<f64>,
    pub min_cosine: Option<f64>,
    pub max_error: Option<f64>,
    /// Mixed precision: layers kept float keep int8 weights (float activations) instead of
    /// float16 weights.
    pub float_layer_weights_int8: bool,
    pub opset: Option<i64>,
    /// Round-to-nearest instead of GPTQ for int4.
    pub no_gptq: bool,
    /// int8: Conv/Gemm weight rounding, `gptq` or `rtn`.
    pub weight_method: String,
    /// Blocked DequantizeLinear + MatMul instead of MatMulNBits for int4.
    pub no_nbits: bool,
    pub exclude: Vec<String>,
    pub seed: u64,
    /// TFLite int8: integer graph inputs and outputs.
    pub int8_io: bool,
    /// Static int8 without a budget: keep float the layers estimated faster in float.
    pub float_where_faster: bool,
    /// TFLite: every weight dense (`--no-sparse-weights`; by default mostly-zero, e.g. pruned,
    /// weights are stored sparse behind DENSIFY).
    pub dense_weights: bool,
    /// Image preprocessing spec for image calibration/held-out folders.
    pub preprocess: Option<String>,
    /// SavedModel signature (as in `convert`).
    pub signature: Option<String>,
    /// The weights file of formats that keep them apart (Caffe, MXNet, Paddle).
    pub weights: Option<PathBuf>,
    /// `--input-shape NAME=D0,D1,…` values (MXNet symbols, Caffe Data layers).
    pub input_shapes: Vec<String>,
}

impl Default for QuantizeOptions {
    fn default() -> Self {
        QuantizeOptions {
            input: PathBuf::new(),
            output: PathBuf::new(),
            from: None,
            to: None,
            mode: "int8".into(),
            calibration: None,
            heldout: None,
            no_check: false,
            method: "minmax".into(),
            per_tensor: false,
            block_size: 32,
            embedding_block_size: None,
            embedding_f16_scales: false,
            act_order: false,
            layer_block: Vec::new(),
            smooth: None,
            min_cosine: None,
            max_error: None,
            float_layer_weights_int8: false,
            opset: None,
            no_gptq: false,
            weight_method: "rtn".into(),
            no_nbits: false,
            exclude: Vec::new(),
            seed: 0,
            int8_io: false,
            float_where_faster: false,
            dense_weights: false,
            preprocess: None,
            signature: None,
            weights: None,
            input_shapes: Vec::new(),
        }
    }
}

/// One layer in the report.
#[derive(Debug, Clone, Serialize)]
pub struct LayerLine {
    pub name: String,
    pub op: String,
    pub precision: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sensitivity_cosine: Option<f64>,
}

/// Output error on held-out inputs (or, without them, on calibration samples: see `source`).
#[derive(Debug, Clone, Serialize)]
pub struct ErrorFigures {
    pub samples: usize,
    pub source: String,
    pub max_abs: f64,
    pub cosine: f64,
    pub min_cosine: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top1_agreement: Option<f64>,
}

/// What `quantize` did.
#[derive(Debug, Clone, Serialize)]
pub struct QuantizeReport {
    pub input: String,
    pub output: String,
    pub mode: String,
    pub method: String,
    pub calibration: String,
    pub calibration_samples: usize,
    pub size_before: u64,
    pub size_after: u64,
    pub size_ratio: f64,
    pub opset: Option<i64>,
    /// `None` with `--no-check`.
    pub error: Option<ErrorFigures>,
    pub layers: Vec<LayerLine>,
    pub warnings: Vec<String>,
    pub quantize_seconds: f64,
    /// Time spent measuring the held-out error (both models run on the evaluator); the rest of
    /// `seconds` is what a quantizer without that check (onnxruntime's quantize_static) does.
    pub check_seconds: f64,
    pub seconds: f64,
}

impl fmt::Display for QuantizeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        writeln!(f, "quantized {} -> {} ({}, {})", self.input, self.output, self.mode, self.method)?;
        writeln!(f, "  calibration: {} ({} samples)", self.calibration, self.calibration_samples)?;
        writeln!(
            f,
            "  size: {} -> {} bytes (ratio {:.3})",
            self.size_before, self.size_after, self.size_ratio
        )?;
        match &self.error {
            Some(e) => {
                write!(
                    f,
                    "  output error on {} samples ({}): max abs {:.4e}, cosine {:.6} (worst {:.6})",
                    e.samples, e.source, e.max_abs, e.cosine, e.min_cosine
                )?;
                if let Some(t) = e.top1_agreement {
                    write!(f, ", top-1 agreement {:.2}%", t * 100.0)?;
                }
                writeln!(f)?;
            }
            None => writeln!(f, "  output error: not checked (--no-check)")?,
        }
        writeln!(f, "  layers:")?;
        for l in &self.layers {
            write!(f, "    {:<40} {:<7} {}", l.name, l.op, l.precision)?;
            if let Some(s) = l.sensitivity_cosine {
                write!(f, "  (alone: cosine {s:.6})")?;
            }
            writeln!(f)?;
        }
        write!(
            f,
            "  quantize {:.2} s, error check {:.2} s, total {:.2} s",
            self.quantize_seconds, self.check_seconds, self.seconds
        )
    }
}

/// Size of a model on disk: a file, or every file of a folder (external data included when it
/// sits next to an ONNX file is not counted separately here).
fn size_of(p: &Path) -> u64 {
    if p.is_dir() {
        std::fs::read_dir(p)
            .map(|rd| rd.filter_map(|e| e.ok()).map(|e| size_of(&e.path())).sum())
            .unwrap_or(0)
    } else {
        std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

/// Runs `quantize`.
pub fn run(o: &QuantizeOptions) -> Result<QuantizeReport, CommandError> {
    let t0 = Instant::now();
    let mode = Mode::parse(&o.mode).ok_or_else(|| {
        CommandError::Input(format!(
            "unknown --mode '{}' (int8, int8-dynamic, fp16, bf16, int4-weights, int8-weights)",
            o.mode
        ))
    })?;
    let method = Method::parse(&o.method)
        .ok_or_else(|| CommandError::Input(format!("unknown --method '{}' (minmax, percentile[:P], entropy, mse)", o.method)))?;
    let weight_method = quantize::WeightMethod::parse(&o.weight_method)
        .ok_or_else(|| CommandError::Input(format!("unknown --weight-method '{}' (gptq, rtn)", o.weight_method)))?;
    if let Some(c) = o.min_cosine
        && !(-1.0..=1.0).contains(&c)
    {
        return Err(CommandError::Input(format!("--min-cosine {c} is outside [-1, 1]")));
    }
    if same_file(&o.input, &o.output) {
        return Err(CommandError::Input(format!(
            "{}: the output path is the input; choose another output",
            o.output.display()
        )));
    }
    let out_fmt = formats::for_output(&o.output, o.to.as_deref())?;
    let tflite = out_fmt.name == "tflite";
    if o.int8_io && !(tflite && mode == Mode::Int8) {
        return Err(CommandError::Input("--int8-io applies to --mode int8 with a .tflite output".into()));
    }
    let mut warnings = Vec::new();
    // TFLite forms: dynamic range = int8 weights read by hybrid kernels; float16 = fp16 weight
    // constants (each behind a DEQUANTIZE) with a float graph.
    let (mode, tflite_f16) = match (tflite, mode) {
        (true, Mode::Int8Dynamic) => {
            warnings.push(
                "TFLite dynamic range: int8 per-channel weights read by hybrid kernels (activations quantized at run time)".to_string(),
            );
            (Mode::Int8Weights, false)
        }
        (true, Mode::Fp16) => (Mode::Fp16, true),
        (true, Mode::Bf16) => {
            return Err(CommandError::Unsupported(
                "TFLite has no bfloat16 weight form; use --mode fp16".into(),
            ));
        }
        (_, m) => (m, false),
    };
    let pre = o
        .preprocess
        .as_deref()
        .map(calib::images::Preprocess::parse)
        .transpose()
        .map_err(|e| CommandError::Input(e.to_string()))?;
    let in_fmt = match &o.from {
        Some(f) => formats::by_name(f)?,
        None => formats::sniff(&o.input)?,
    };
    let own_weights = matches!(in_fmt.name.as_str(), "caffe" | "mxnet" | "paddle");
    let mut settings = formats::ImportSettings::parse(if own_weights { o.weights.clone() } else { None }, &o.input_shapes)?;
    settings.signature = o.signature.clone();
    let mut float = super::load_with(&o.input, Some(&in_fmt.name), &settings)?;
    // The passes `convert` runs for this output format (channels-last TF/TFLite graphs to NCHW
    // for ONNX; static shapes folded for TFLite), so the writer takes the quantized graph.
    let passes = super::convert::with_required_passes("", &out_fmt.name);
    if !passes.is_empty() {
        edgeport_passes::Manager::from_names(&passes)
            .map_err(|e| CommandError::Input(e.to_string()))?
            .run(&mut float, &mut Default::default())
            .map_err(|e| CommandError::Unsupported(format!("{}: {e}", o.input.display())))?;
    }
    let n_synth = if mode == Mode::Int8 { 16 } else { 8 };
    let cal = if mode.calibrates() || o.calibration.is_some() {
        let c = calib::load_with(&float, o.calibration.as_deref(), n_synth, o.seed, pre.as_ref())
            .map_err(|e| CommandError::Input(e.to_string()))?;
        if o.calibration.is_none() {
            warnings.push(format!(
                "no --calibration data: using {} synthetic inputs (uniform in [-1, 1)); ranges may not match real data",
                c.samples.len()
            ));
        }
        warnings.extend(c.warnings.iter().cloned());
        c
    } else {
        calib::Samples {
            source: "none (not needed)".into(),
            ..Default::default()
        }
    };
    let held = if o.no_check {
        calib::Samples::default()
    } else if let (None, Some(path)) = (&o.heldout, &o.calibration) {
        // The user's own data says more about the error than synthetic inputs do (uniform noise
        // is not an image or a sentence): without --heldout, the check runs on calibration
        // samples, and the report says they are in-sample.
        calib::Samples {
            samples: cal.samples.iter().take(IN_SAMPLE_CHECK).cloned().collect(),
            source: format!("{} (calibration samples, in-sample: --heldout takes others)", path.display()),
            warnings: Vec::new(),
        }
    } else {
        calib::load_with(&float, o.heldout.as_deref(), 4, o.seed.wrapping_add(10_000), pre.as_ref())
            .map_err(|e| CommandError::Input(e.to_string()))?
    };
    let mut layer_blocks = Vec::with_capacity(o.layer_block.len());
    for spec in &o.layer_block {
        let parsed = spec
            .rsplit_once('=')
            .and_then(|(p, n)| n.trim().parse::<usize>().ok().map(|n| (p.to_string(), n)))
            .filter(|(p, _)| !p.is_empty());
        match parsed {
            Some(pb) => layer_blocks.push(pb),
            None => {
                return Err(CommandError::Input(format!(
                    "--layer-block '{spec}': expected SUBSTRING=N (for example attention/self/query=128)"
                )));
            }
        }
    }
    let qo = quantize::Options {
        mode,
        method,
        per_tensor: o.per_tensor,
        block_size: o.block_size,
        emb_block_size: o.embedding_block_size,
        emb_f16_scales: o.embedding_f16_scales,
        act_order: o.act_order,
        layer_blocks,
        smooth_alpha: o.smooth,
        min_cosine: o.min_cosine,
        max_error: o.max_error,
        float_layer_weights: !o.float_layer_weights_int8,
        gptq: !o.no_gptq,
        weight_method,
        nbits: !o.no_nbits,
        exclude: o.exclude.clone(),
        // TFLite integer kernels take int8 activations with int8 weights, and every op
        // between them quantized.
        act_dtype: if tflite { edgeport_ir::DType::I8 } else { edgeport_ir::DType::U8 },
        full_integer: tflite,
        integer_only: tflite && o.int8_io,
        float_where_faster: o.float_where_faster,
        ..Default::default()
    };
    let mut g = float.clone();
    let tq = Instant::now();
    let rep = if tflite_f16 {
        round_weights_f16(&mut g);
        f16_report(&float)
    } else {
        quantize::quantize(&mut g, &cal.samples, &[], &qo).map_err(|e| match e {
            quantize::QuantError::NothingToQuantize(_) | quantize::QuantError::Graph { .. } => {
                CommandError::Unsupported(format!("{}: {e}", o.input.display()))
            }
            _ => CommandError::Input(format!("{}: {e}", o.input.display())),
        })?
    };
    let quantize_seconds = tq.elapsed().as_secs_f64();
    warnings.extend(rep.warnings.iter().cloned());
    // Output error on held-out inputs, on the quantized graph itself.
    let tc = Instant::now();
    let m = if o.no_check {
        None
    } else {
        let reference = quantize::run_all(&float, &held.samples)
            .map_err(|e| CommandError::Input(format!("{}: float model: {e}", o.input.display())))?;
        let got = quantize::run_all(&g, &held.samples).map_err(|e| CommandError::Unsupported(format!("quantized model: {e}")))?;
        Some(quantize::compare(&reference, &got))
    };
    let check_seconds = tc.elapsed().as_secs_f64();
    let opset = if out_fmt.name == "onnx" {
        let want = o.opset.unwrap_or(17).max(rep.min_opset);
        if let Some(u) = o.opset
            && u < rep.min_opset
        {
            return Err(CommandError::Unsupported(format!(
                "the {} result needs ONNX opset {} or later; --opset {u} was asked",
                mode.name(),
                rep.min_opset
            )));
        }
        Some(want)
    } else {
        o.opset
    };
    let v = edgeport_ir::validate::validate(&g).map_err(|e| CommandError::Unsupported(format!("quantized graph is invalid: {e}")))?;
    let settings = ExportSettings {
        opset,
        ..Default::default()
    };
    let topts = edgeport_tflite::export::TfliteExportOptions {
        f16_weights: tflite_f16,
        int8_io: o.int8_io,
        dense_weights: o.dense_weights,
        ..Default::default()
    };
    let problems = if tflite {
        edgeport_tflite::export::check(&g, &topts)
    } else {
        formats::check(&g, &out_fmt, &settings)
    };
    if !problems.is_empty() {
        return Err(CommandError::Unsupported(format!(
            "cannot write {} as {}: {} problem(s):\n  {}",
            o.output.display(),
            out_fmt.name,
            problems.len(),
            problems.join("\n  ")
        )));
    }
    if tflite {
        edgeport_tflite::export::export_path(&v, &o.output, &topts)
            .map_err(|e| CommandError::Unsupported(format!("{}: {e}", o.output.display())))?;
    } else {
        formats::export(&v, &o.output, &out_fmt, &settings)?;
    }
    let (before, after) = (size_of(&o.input), size_of(&o.output));
    Ok(QuantizeReport {
        input: o.input.display().to_string(),
        output: o.output.display().to_string(),
        mode: mode.name().into(),
        method: o.method.clone(),
        calibration: cal.source,
        calibration_samples: cal.samples.len(),
        size_before: before,
        size_after: after,
        size_ratio: if before > 0 { after as f64 / before as f64 } else { 0.0 },
        opset,
        error: m.map(|m| ErrorFigures {
            samples: m.samples,
            source: held.source,
            max_abs: m.max_abs,
            cosine: m.cosine,
            min_cosine: m.min_cosine,
            top1_agreement: m.top1_agreement,
        }),
        layers: rep
            .layers
            .into_iter()
            .map(|l| LayerLine {
                name: l.name,
                op: l.op,
                precision: l.precision,
                sensitivity_cosine: l.sensitivity,
            })
            .collect(),
        warnings,
        quantize_seconds,
        check_seconds,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// The report of TFLite float16 weights (done by the writer): every layer's weights fp16.
fn f16_report(g: &edgeport_ir::Graph) -> quantize::Report {
    let layers = quantize::layers::find(g)
        .into_iter()
        .map(|l| quantize::LayerReport {
            name: l.name,
            op: l.kind.name().into(),
            precision: "fp16 weights (TFLite DEQUANTIZE)".into(),
            sensitivity: None,
        })
        .collect();
    quantize::Report {
        layers,
        min_opset: 13,
        ..Default::default()
    }
}

/// Rounds every float32 weight constant (more than one element) through float16, as the
/// TFLite writer stores them, so the reported error is the written model's.
fn round_weights_f16(g: &mut edgeport_ir::Graph) {
    let ids: Vec<_> = g.node_ids().collect();
    for id in ids {
        let node = g.node_mut(id);
        let edgeport_ir::Op::Constant(c) = &mut node.op else { continue };
        if c.value.dtype != edgeport_ir::DType::F32 || c.value.numel() <= 1 {
            continue;
        }
        let Some(v) = c.value.to_f64_vec() else { continue };
        let r: Vec<f32> = v.iter().map(|&x| half::f16::from_f64(x).to_f32()).collect();
        if let Ok(t) = edgeport_ir::Tensor::from_f32(c.value.shape.clone(), &r) {
            c.value = t;
        }
    }
}
