//! `edgeport convert`: import, optionally run passes, validate, check and export.

use super::{CommandError, load_with};
use crate::formats::{self, ExportSettings};
use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Options of `convert`.
#[derive(Debug, Clone, Default)]
pub struct ConvertOptions {
    pub input: PathBuf,
    pub output: PathBuf,
    pub from: Option<String>,
    pub to: Option<String>,
    pub opset: Option<i64>,
    /// Comma-separated pass names (empty = none; TFLite output defaults to identity,shapes,dce).
    pub passes: String,
    /// TFLite output: channels-last inputs and outputs.
    pub nhwc_io: bool,
    /// TFLite output: float32 weights stored as float16.
    pub f16_weights: bool,
    /// TFLite output: every weight dense (`--no-sparse-weights`).
    pub dense_weights: bool,
    /// SavedModel signature to import (default `serving_default`).
    pub signature: Option<String>,
    /// `--weights`: the separate weights file of Caffe/MXNet/Paddle models, or a state dict /
    /// safetensors file rebound onto the graph's constants by name for other formats.
    pub weights: Option<PathBuf>,
    /// `--input-shape NAME=D0,D1,…` values.
    pub input_shapes: Vec<String>,
}

/// What `convert` did.
#[derive(Debug, Clone, Serialize)]
pub struct ConvertReport {
    pub input: String,
    pub output: String,
    pub from: String,
    pub to: String,
    pub nodes: usize,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub passes: Vec<String>,
    /// What `--weights` matched, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weights: Option<WeightsReport>,
    pub seconds: f64,
}

/// The rebinding done by `--weights`.
#[derive(Debug, Clone, Serialize)]
pub struct WeightsReport {
    pub file: String,
    pub matched: Vec<String>,
    pub missing: Vec<String>,
    pub unexpected: Vec<String>,
    pub mismatched: Vec<String>,
}

impl fmt::Display for ConvertReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "converted {} ({}) -> {} ({})", self.input, self.from, self.output, self.to)?;
        writeln!(
            f,
            "  {} nodes; inputs: {}; outputs: {}",
            self.nodes,
            self.inputs.join(", "),
            self.outputs.join(", ")
        )?;
        for p in &self.passes {
            writeln!(f, "  pass {p}")?;
        }
        if let Some(w) = &self.weights {
            writeln!(
                f,
                "  weights {}: {} matched, {} missing, {} unexpected, {} mismatched",
                w.file,
                w.matched.len(),
                w.missing.len(),
                w.unexpected.len(),
                w.mismatched.len()
            )?;
            for m in &w.missing {
                writeln!(f, "    missing: {m}")?;
            }
            for u in &w.unexpected {
                writeln!(f, "    unexpected: {u}")?;
            }
            for m in &w.mismatched {
                writeln!(f, "    mismatch: {m}")?;
            }
        }
        write!(f, "  {:.3} s", self.seconds)
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Runs `convert`.
pub fn run(o: &ConvertOptions) -> Result<ConvertReport, CommandError> {
    let t0 = Instant::now();
    if same_file(&o.input, &o.output) {
        return Err(CommandError::Input(format!(
            "{}: the output path is the input; choose another output",
            o.output.display()
        )));
    }
    let in_fmt = match &o.from {
        Some(f) => formats::by_name(f)?,
        None => formats::sniff(&o.input)?,
    };
    let out_fmt = formats::for_output(&o.output, o.to.as_deref())?;
    let own_weights = matches!(in_fmt.name.as_str(), "caffe" | "mxnet" | "paddle");
    let mut settings = formats::ImportSettings::parse(if own_weights { o.weights.clone() } else { None }, &o.input_shapes)?;
    settings.signature = o.signature.clone();
    crate::memtrace::mark("start");
    let mut g = load_with(&o.input, Some(&in_fmt.name), &settings)?;
    crate::memtrace::mark("imported");
    let weights = match &o.weights {
        Some(w) if !own_weights => {
            let tensors = edgeport_pytorch::load_weights(w).map_err(|e| CommandError::Input(e.to_string()))?;
            let r = edgeport_pytorch::rebind(&mut g, tensors);
            Some(WeightsReport {
                file: w.display().to_string(),
                matched: r.matched,
                missing: r.missing,
                unexpected: r.unexpected,
                mismatched: r.mismatched.into_iter().map(|(n, why)| format!("{n}: {why}")).collect(),
            })
        }
        _ => None,
    };
    let mut pass_lines = Vec::new();
    let passes = with_required_passes(&o.passes, &out_fmt.name);
    if !passes.trim().is_empty() {
        let m = edgeport_passes::Manager::from_names(&passes)
            .map_err(|e| CommandError::Input(e.to_string()))?
            .validate_between(true);
        let reports = m
            .run(&mut g, &mut Default::default())
            .map_err(|e| CommandError::Unsupported(e.to_string()))?;
        for r in reports {
            pass_lines.push(format!(
                "{}: {} -> {} nodes in {:.1} ms",
                r.name,
                r.nodes_before,
                r.nodes_after,
                r.time.as_secs_f64() * 1e3
            ));
        }
    }
    crate::memtrace::mark("passes");
    let v = edgeport_ir::validate::validate(&g).map_err(|e| CommandError::Input(format!("{}: {e}", o.input.display())))?;
    let settings = ExportSettings {
        opset: o.opset,
        nhwc_io: o.nhwc_io,
        f16_weights: o.f16_weights,
        dense_weights: o.dense_weights,
    };
    let problems = formats::check(&g, &out_fmt, &settings);
    if !problems.is_empty() {
        return Err(CommandError::Unsupported(format!(
            "{}: cannot write {} as {}: {} problem(s):\n  {}",
            o.input.display(),
            o.output.display(),
            out_fmt.name,
            problems.len(),
            problems.join("\n  ")
        )));
    }
    formats::export(&v, &o.output, &out_fmt, &settings)?;
    crate::memtrace::mark("written");
    Ok(ConvertReport {
        input: o.input.display().to_string(),
        output: o.output.display().to_string(),
        from: in_fmt.name,
        to: out_fmt.name,
        nodes: g.node_count(),
        inputs: crate::inputs::graph_inputs(&g).into_iter().map(|(n, _)| n).collect(),
        outputs: g.outputs().iter().map(|(n, _)| n.clone()).collect(),
        passes: pass_lines,
        weights,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// The user's passes, then those the output format needs that the user did not list: TFLite
/// needs static shape computations folded into constants; ONNX ops are channels-first, so
/// channels-last graphs (TF, TFLite) are rewritten to NCHW. (`--passes fold` on a TFLite input
/// used to replace the NCHW rewrite, and the ONNX export then refused every channels-last op.)
pub(crate) fn with_required_passes(user: &str, format: &str) -> String {
    let required: &[&str] = match format {
        "tflite" => &["identity", "shapes", "dce"],
        "onnx" => &["nchw"],
        _ => &[],
    };
    let mut names: Vec<&str> = user.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    for r in required {
        if !names.contains(r) {
            names.push(r);
        }
    }
    names.join(",")
}

#[cfg(test)]
mod tests {
    use super::with_required_passes;

    #[test]
    fn the_format_passes_follow_the_users() {
        assert_eq!(with_required_passes("", "onnx"), "nchw");
        assert_eq!(with_required_passes("fold, dce", "onnx"), "fold,dce,nchw");
        assert_eq!(with_required_passes("nchw,fold", "onnx"), "nchw,fold");
        assert_eq!(with_required_passes("", "tflite"), "identity,shapes,dce");
        assert_eq!(with_required_passes("fold,dce", "tflite"), "fold,dce,identity,shapes");
        assert_eq!(with_required_passes("cse", "text"), "cse");
    }
}
