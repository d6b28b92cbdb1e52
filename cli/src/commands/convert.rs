//! `edgeport convert`: import, optionally run passes, validate, check and export.

use super::{CommandError, load};
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
    /// Comma-separated pass names (empty = none).
    pub passes: String,
    /// Companion weights file (Paddle `.pdiparams`), overriding the one found beside the input.
    pub weights: Option<PathBuf>,
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
    pub seconds: f64,
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
    let mut g = super::load_with(&o.input, Some(&in_fmt.name), o.weights.as_deref())?;
    let mut pass_lines = Vec::new();
    if !o.passes.trim().is_empty() {
        let m = edgeport_passes::Manager::from_names(&o.passes)
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
    let v = edgeport_ir::validate::validate(&g).map_err(|e| CommandError::Input(format!("{}: {e}", o.input.display())))?;
    let settings = ExportSettings { opset: o.opset };
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
    Ok(ConvertReport {
        input: o.input.display().to_string(),
        output: o.output.display().to_string(),
        from: in_fmt.name,
        to: out_fmt.name,
        nodes: g.node_count(),
        inputs: crate::inputs::graph_inputs(&g).into_iter().map(|(n, _)| n).collect(),
        outputs: g.outputs().iter().map(|(n, _)| n.clone()).collect(),
        passes: pass_lines,
        seconds: t0.elapsed().as_secs_f64(),
    })
}
