//! `edgeport compress`: prune → distil → quantize in one command, with one report giving
//! parameters, bytes, MACs and the error against the original model after each step.

use super::distill::{DistillArgs, Scores, score};
use super::prune::{PruneArgs, run as prune};
use super::quantize::{QuantizeOptions, run as quantize};
use super::{CommandError, load};
use edgeport_passes::prune::{Criterion, PruneMode, PruneOptions};
use edgeport_train::{Observer, TrainConfig};
use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// Options of `compress`.
#[derive(Debug, Clone)]
pub struct CompressArgs {
    pub model: PathBuf,
    pub output: PathBuf,
    /// Structured pruning ratio.
    pub prune: f64,
    pub criterion: Criterion,
    /// Per-layer ratios from the latency model (`prune --latency-aware`).
    pub latency_aware: bool,
    /// Unlabeled data for distillation (and quantization calibration).
    pub distill_data: PathBuf,
    /// Quantization mode (`int8`, …); none: no quantization.
    pub quantize: Option<String>,
    /// Held-out `.npz` for the error figures (the distillation data when absent).
    pub eval: Option<PathBuf>,
    pub cfg: TrainConfig,
}

/// One step of the chain.
#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    pub name: String,
    pub params: u64,
    pub bytes: u64,
    pub macs: u64,
    pub file_bytes: u64,
    /// Error against the original model on the held-out data.
    pub vs_original: Scores,
}

/// What `compress` did.
#[derive(Debug, Clone, Serialize)]
pub struct CompressReport {
    pub model: String,
    pub output: String,
    pub stages: Vec<Stage>,
    pub distill_steps: usize,
    pub distill_seconds: f64,
}

impl fmt::Display for CompressReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "compressed {} -> {}", self.model, self.output)?;
        writeln!(
            f,
            "  {:<10} {:>12} {:>12} {:>14} {:>12} {:>9} {:>8}  top-1",
            "step", "params", "bytes", "MACs", "file bytes", "cosine", "agree"
        )?;
        for s in &self.stages {
            let top1 = s
                .vs_original
                .student_top1_after
                .map(|t| format!("{:.2}%", 100.0 * t))
                .unwrap_or_else(|| "-".into());
            writeln!(
                f,
                "  {:<10} {:>12} {:>12} {:>14} {:>12} {:>9.4} {:>7.2}%  {top1}",
                s.name,
                s.params,
                s.bytes,
                s.macs,
                s.file_bytes,
                s.vs_original.cosine_after,
                100.0 * s.vs_original.agreement_after
            )?;
        }
        write!(f, "  distillation: {} steps in {:.1} s", self.distill_steps, self.distill_seconds)
    }
}

fn stage(name: &str, original: &edgeport_ir::Graph, path: &Path, eval: &Path) -> Result<Stage, CommandError> {
    let mut g = load(path, None)?;
    let _ = edgeport_ir::infer::infer_types(&mut g);
    let (params, bytes, macs) = super::inspect::graph_stats(&g);
    let vs_original = score(original, &g, &g, eval)?;
    Ok(Stage {
        name: name.into(),
        params,
        bytes,
        macs,
        file_bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        vs_original,
    })
}

/// Runs `compress`.
pub fn run(a: &CompressArgs, obs: &mut dyn Observer) -> Result<CompressReport, CommandError> {
    let work = std::env::temp_dir().join(format!("edgeport-compress-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| CommandError::Output(format!("{}: {e}", work.display())))?;
    let r = run_in(a, obs, &work);
    let _ = std::fs::remove_dir_all(&work);
    r
}

fn run_in(a: &CompressArgs, obs: &mut dyn Observer, work: &Path) -> Result<CompressReport, CommandError> {
    let original = load(&a.model, None)?;
    let eval = a.eval.clone().unwrap_or_else(|| a.distill_data.clone());
    let mut stages = vec![stage("original", &original, &a.model, &eval)?];
    let pruned = work.join("pruned.onnx");
    prune(&PruneArgs {
        input: a.model.clone(),
        output: Some(pruned.clone()),
        from: None,
        to: None,
        opts: PruneOptions {
            mode: PruneMode::Structured(a.prune),
            criterion: a.criterion,
            keep: vec![],
            global: false,
            round_to: 8,
            heads: None,
            expansion_only: false,
            latency: a.latency_aware.then(edgeport_passes::prune::LatencyModel::default),
        },
        dry_run: false,
    })?;
    stages.push(stage("pruned", &original, &pruned, &eval)?);
    let distilled = if a.quantize.is_some() {
        work.join("distilled.onnx")
    } else {
        a.output.clone()
    };
    let d = super::distill::run(
        &DistillArgs {
            teacher: a.model.clone(),
            student: pruned,
            data: a.distill_data.clone(),
            output: distilled.clone(),
            to: None,
            cfg: a.cfg.clone(),
            eval: None,
        },
        obs,
    )?;
    stages.push(stage("distilled", &original, &distilled, &eval)?);
    if let Some(mode) = &a.quantize {
        quantize(&QuantizeOptions {
            input: distilled,
            output: a.output.clone(),
            mode: mode.clone(),
            calibration: Some(a.distill_data.clone()),
            heldout: Some(eval.clone()),
            ..Default::default()
        })?;
        stages.push(stage("quantized", &original, &a.output, &eval)?);
    }
    Ok(CompressReport {
        model: a.model.display().to_string(),
        output: a.output.display().to_string(),
        stages,
        distill_steps: d.steps,
        distill_seconds: d.seconds,
    })
}
