//! `edgeport prune`: structured channel pruning, magnitude sparsity or N:M sparsity, with a
//! report of parameters, bytes and MACs before and after, and per group/layer detail. For
//! sparsity modes it says what the zeros buy where: a `.tflite` output stores mostly-zero
//! weights sparse (a smaller file), densified once at load — no format here makes them faster.

use super::{CommandError, load};
use crate::formats::{self, ExportSettings};
use edgeport_eval::Value;
use edgeport_passes::prune::{Criterion, PruneData, PruneMode, PruneOptions, prune_with_data};
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

/// Options of `prune`.
#[derive(Debug, Clone)]
pub struct PruneArgs {
    pub input: PathBuf,
    pub output: Option<PathBuf>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub opts: PruneOptions,
    pub dry_run: bool,
}

/// Calibration data for data-aware structured pruning (`--calibration`).
#[derive(Debug, Clone)]
pub struct CalibrationArgs {
    /// `.npz` or folder of samples, as for `quantize --calibration`.
    pub path: PathBuf,
    /// Use at most this many samples (0: all).
    pub samples: usize,
    /// Input whose non-zero entries mark the rows (tokens) that count; default: an input named
    /// `attention_mask` when the model has one.
    pub token_mask: Option<String>,
    /// Refit the layers that read pruned channels by least squares.
    pub refit: bool,
    /// Ridge factor of the refit.
    pub ridge: f64,
}

/// Loads calibration samples and token masks for `g`.
fn prune_data(g: &edgeport_ir::Graph, c: &CalibrationArgs) -> Result<(PruneData, Option<String>), CommandError> {
    let file = c.path.display().to_string();
    let mut s = crate::calib::load(g, Some(&c.path), 0, 0).map_err(|e| CommandError::Input(format!("--calibration: {e}")))?;
    if c.samples > 0 {
        s.samples.truncate(c.samples);
    }
    let names: Vec<String> = crate::inputs::graph_inputs(g).into_iter().map(|(n, _)| n).collect();
    let mask_name = match &c.token_mask {
        Some(m) => {
            if !names.contains(m) {
                return Err(CommandError::Input(format!(
                    "--token-mask '{m}': the model has no such input (inputs: {})",
                    names.join(", ")
                )));
            }
            Some(m.clone())
        }
        None => names.iter().find(|n| n.as_str() == "attention_mask").cloned(),
    };
    let row_masks = match &mask_name {
        Some(m) => {
            let p = names.iter().position(|n| n == m).unwrap_or(0);
            let masks = s
                .samples
                .iter()
                .enumerate()
                .map(|(i, smp)| match smp.get(p) {
                    Some(Value::Tensor(t)) => t
                        .to_f64_vec()
                        .map(|v| v.into_iter().map(|x| x != 0.0).collect::<Vec<bool>>())
                        .map_err(|e| CommandError::Input(format!("{file}: sample {i}, '{m}': {e}"))),
                    _ => Err(CommandError::Input(format!("{file}: sample {i} has no tensor '{m}'"))),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Some(masks)
        }
        None => None,
    };
    if !(c.ridge.is_finite() && c.ridge >= 0.0) {
        return Err(CommandError::Input(format!("--ridge {}: expected a number >= 0", c.ridge)));
    }
    Ok((
        PruneData {
            samples: s.samples,
            row_masks,
            refit: c.refit,
            ridge: c.ridge,
        },
        mask_name,
    ))
}

/// One group or layer line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    pub name: String,
    pub before: usize,
    pub after: usize,
    pub note: Option<String>,
}

/// What `prune` did.
#[derive(Debug, Clone, Serialize)]
pub struct PruneReport {
    pub input: String,
    pub output: Option<String>,
    /// Size of the written file.
    pub output_bytes: Option<u64>,
    pub mode: String,
    pub params_before: u64,
    pub params_after: u64,
    pub bytes_before: u64,
    pub bytes_after: u64,
    pub macs_before: u64,
    pub macs_after: u64,
    /// Weights that are zero after pruning (sparsity modes), of all prunable weights.
    pub zero_weights: u64,
    pub prunable_weights: u64,
    /// Channel groups (structured) or weights (sparsity).
    pub lines: Vec<Line>,
    pub dry_run: bool,
}

fn pct(before: u64, after: u64) -> f64 {
    if before == 0 {
        0.0
    } else {
        100.0 * (before as f64 - after as f64) / before as f64
    }
}

impl fmt::Display for PruneReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "pruned {} ({}){}",
            self.input,
            self.mode,
            if self.dry_run { " — dry run, nothing written" } else { "" }
        )?;
        for l in &self.lines {
            let note = l.note.as_deref().map(|n| format!("  ({n})")).unwrap_or_default();
            writeln!(f, "  {:<40} {:>7} -> {:<7}{note}", l.name, l.before, l.after)?;
        }
        writeln!(
            f,
            "  parameters {} -> {} (-{:.1}%)",
            self.params_before,
            self.params_after,
            pct(self.params_before, self.params_after)
        )?;
        writeln!(
            f,
            "  bytes      {} -> {} (-{:.1}%)",
            self.bytes_before,
            self.bytes_after,
            pct(self.bytes_before, self.bytes_after)
        )?;
        write!(
            f,
            "  MACs       {} -> {} (-{:.1}%)",
            self.macs_before,
            self.macs_after,
            pct(self.macs_before, self.macs_after)
        )?;
        if self.prunable_weights > 0 {
            write!(
                f,
                "\n  zero weights {} of {} ({:.1}%): parameters, bytes and MACs above are dense counts — the kernels still multiply every zero, so inference is not faster\
                 \n  a .tflite output stores mostly-zero weights as sparse tensors (smaller file, densified once at load; `convert --no-sparse-weights` keeps them dense); other formats keep their dense size",
                self.zero_weights,
                self.prunable_weights,
                100.0 * self.zero_weights as f64 / self.prunable_weights as f64
            )?;
        }
        if let Some(o) = &self.output {
            match self.output_bytes {
                Some(n) => write!(f, "\n  wrote {o} ({n} bytes)")?,
                None => write!(f, "\n  wrote {o}")?,
            }
        }
        Ok(())
    }
}

/// Parses `N:M`.
pub fn parse_nm(s: &str) -> Result<(usize, usize), CommandError> {
    let bad = || CommandError::Input(format!("--nm '{s}' should be N:M, e.g. 2:4"));
    let (n, m) = s.split_once(':').ok_or_else(bad)?;
    Ok((n.trim().parse().map_err(|_| bad())?, m.trim().parse().map_err(|_| bad())?))
}

/// Parses a criterion name.
pub fn parse_criterion(s: &str) -> Result<Criterion, CommandError> {
    match s {
        "l1" => Ok(Criterion::L1),
        "l2" => Ok(Criterion::L2),
        "bn" => Ok(Criterion::Bn),
        _ => Err(CommandError::Input(format!("--criterion '{s}': expected l1, l2 or bn"))),
    }
}

/// Runs `prune`.
pub fn run(a: &PruneArgs) -> Result<PruneReport, CommandError> {
    run_with(a, None)
}

/// Runs `prune`, with calibration data for data-aware structured pruning.
pub fn run_with(a: &PruneArgs, cal: Option<&CalibrationArgs>) -> Result<PruneReport, CommandError> {
    let out_fmt = match (&a.output, a.dry_run) {
        (Some(o), _) => Some(formats::for_output(o, a.to.as_deref())?),
        (None, true) => None,
        (None, false) => return Err(CommandError::Input("give -o OUTPUT, or --dry-run".into())),
    };
    let mut g = load(&a.input, a.from.as_deref())?;
    let _ = edgeport_ir::infer::infer_types(&mut g);
    let (pb, bb, mb) = super::inspect::graph_stats(&g);
    let data = match cal {
        Some(c) if matches!(a.opts.mode, PruneMode::Structured(_)) => Some(prune_data(&g, c)?),
        Some(_) => return Err(CommandError::Input("--calibration works with --structured only".into())),
        None => None,
    };
    let r = prune_with_data(&mut g, &a.opts, data.as_ref().map(|d| &d.0)).map_err(|e| match e {
        edgeport_passes::prune::PruneError::Data(_) => CommandError::Input(format!("{}: {e}", a.input.display())),
        _ => CommandError::Unsupported(format!("{}: {e}", a.input.display())),
    })?;
    let (pa, ba, ma) = super::inspect::graph_stats(&g);
    let mut lines = Vec::new();
    for gr in &r.groups {
        lines.push(Line {
            name: gr.producers.join(" + "),
            before: gr.before,
            after: gr.after,
            note: gr.locked.clone().map(|l| format!("kept: {l}")),
        });
    }
    for h in &r.heads {
        lines.push(Line {
            name: format!("heads of {}", h.block),
            before: h.heads_before,
            after: h.heads_after,
            note: match &h.locked {
                Some(l) => Some(format!("kept: {l}")),
                None => Some(format!("attention heads of {}", h.head_dim)),
            },
        });
    }
    for f in &r.refits {
        let rows = format!(
            "{} calibration rows{}",
            f.rows,
            data.as_ref()
                .and_then(|d| d.1.as_ref())
                .map(|m| format!(" where '{m}' is set"))
                .unwrap_or_default()
        );
        lines.push(Line {
            name: format!("inputs of {}", f.node),
            before: f.of,
            after: f.kept,
            note: Some(match (f.error_refit, &f.skipped) {
                (Some(e), _) => format!(
                    "relative output error {:.4} -> {:.4} after least-squares refit, {rows}",
                    f.error_pruned, e
                ),
                (None, Some(why)) => format!("relative output error {:.4}, not refitted: {why}, {rows}", f.error_pruned),
                (None, None) => format!("relative output error {:.4}, {rows}", f.error_pruned),
            }),
        });
    }
    let (mut zeros, mut total) = (0u64, 0u64);
    for l in &r.layers {
        zeros += l.zeros_after as u64;
        total += l.params as u64;
        lines.push(Line {
            name: l.name.clone(),
            before: l.params - l.zeros_before,
            after: l.params - l.zeros_after,
            note: l.skipped.clone(),
        });
    }
    let v =
        edgeport_ir::validate::validate(&g).map_err(|e| CommandError::Unsupported(format!("{}: after pruning: {e}", a.input.display())))?;
    let mut written = None;
    let mut output_bytes = None;
    if let (Some(o), Some(fmt), false) = (&a.output, &out_fmt, a.dry_run) {
        let settings = ExportSettings::default();
        let problems = formats::check(&g, fmt, &settings);
        if !problems.is_empty() {
            return Err(CommandError::Unsupported(format!(
                "cannot write {}: {}",
                o.display(),
                problems.join("; ")
            )));
        }
        formats::export(&v, o, fmt, &settings)?;
        written = Some(o.display().to_string());
        output_bytes = std::fs::metadata(o).ok().map(|m| m.len());
    }
    let mut mode = match a.opts.mode {
        PruneMode::Structured(x) if cal.is_some() => format!(
            "structured {x}, data-ranked on {} calibration samples{}",
            data.as_ref().map_or(0, |d| d.0.samples.len()),
            if cal.is_some_and(|c| c.refit) { ", refitted" } else { "" }
        ),
        PruneMode::Structured(x) => format!("structured {x}"),
        PruneMode::Sparsity(x) => format!("sparsity {x}"),
        PruneMode::NOfM(n, m) => format!("{n}:{m}"),
    };
    if a.opts.latency.is_some() && matches!(a.opts.mode, PruneMode::Structured(_)) {
        mode.push_str(", latency-aware ratios per layer");
    }
    Ok(PruneReport {
        input: a.input.display().to_string(),
        output: written,
        output_bytes,
        mode,
        params_before: pb,
        params_after: pa,
        bytes_before: bb,
        bytes_after: ba,
        macs_before: mb,
        macs_after: ma,
        zero_weights: zeros,
        prunable_weights: total,
        lines,
        dry_run: a.dry_run,
    })
}
