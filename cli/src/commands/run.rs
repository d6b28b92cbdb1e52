//! `edgeport run`: runs a model on the reference evaluator and writes its outputs as `.npz`.

use super::{CommandError, load};
use crate::inputs::{InputSpec, build};
use edgeport_eval::Value;
use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// Options of `run`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub model: PathBuf,
    pub from: Option<String>,
    pub inputs: InputSpec,
    pub output: Option<PathBuf>,
}

/// One output's summary.
#[derive(Debug, Clone, Serialize)]
pub struct OutputSummary {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<usize>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
}

/// The `run` report.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub model: String,
    pub outputs: Vec<OutputSummary>,
    pub written: Option<String>,
    pub seconds: f64,
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "ran {} in {:.3} s", self.model, self.seconds)?;
        for o in &self.outputs {
            write!(f, "  {}: {}{:?}", o.name, o.dtype, o.shape)?;
            if let (Some(a), Some(b), Some(m)) = (o.min, o.max, o.mean) {
                write!(f, "  min {a:.6} max {b:.6} mean {m:.6}")?;
            }
            writeln!(f)?;
        }
        if let Some(w) = &self.written {
            write!(f, "  wrote {w}")?;
        }
        Ok(())
    }
}

/// Runs a loaded graph on named inputs; returns the outputs by name.
pub fn evaluate(g: &edgeport_ir::Graph, spec: &InputSpec) -> Result<Vec<(String, Value)>, CommandError> {
    let ins = build(g, spec).map_err(|e| CommandError::Input(e.to_string()))?;
    let values = ins.into_iter().map(|(_, v)| v).collect();
    let outs = edgeport_eval::run_graph(g, values).map_err(|e| CommandError::Unsupported(format!("evaluator: {e}")))?;
    Ok(g.outputs().iter().map(|(n, _)| n.clone()).zip(outs).collect())
}

fn summarize(name: &str, v: &Value) -> OutputSummary {
    match v {
        Value::Tensor(t) => {
            let stats = t.to_f64_vec().ok().filter(|v| !v.is_empty()).map(|v| {
                let min = v.iter().copied().fold(f64::INFINITY, f64::min);
                let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let mean = v.iter().sum::<f64>() / v.len() as f64;
                (min, max, mean)
            });
            OutputSummary {
                name: name.into(),
                dtype: t.dtype().to_string(),
                shape: t.shape().to_vec(),
                min: stats.map(|s| s.0),
                max: stats.map(|s| s.1),
                mean: stats.map(|s| s.2),
            }
        }
        other => OutputSummary {
            name: name.into(),
            dtype: other.describe(),
            shape: vec![],
            min: None,
            max: None,
            mean: None,
        },
    }
}

/// Runs `run`.
pub fn run(o: &RunOptions) -> Result<RunReport, CommandError> {
    let t0 = std::time::Instant::now();
    let g = load(&o.model, o.from.as_deref())?;
    edgeport_ir::validate::validate(&g).map_err(|e| CommandError::Input(format!("{}: {e}", o.model.display())))?;
    let outs = evaluate(&g, &o.inputs)?;
    let seconds = t0.elapsed().as_secs_f64();
    let written = match &o.output {
        Some(p) => {
            write_outputs(p, &outs)?;
            Some(p.display().to_string())
        }
        None => None,
    };
    Ok(RunReport {
        model: o.model.display().to_string(),
        outputs: outs.iter().map(|(n, v)| summarize(n, v)).collect(),
        written,
        seconds,
    })
}

fn write_outputs(p: &Path, outs: &[(String, Value)]) -> Result<(), CommandError> {
    let mut arrays = Vec::new();
    for (n, v) in outs {
        match v {
            Value::Tensor(t) => arrays.push((n.clone(), t.clone())),
            other => {
                return Err(CommandError::Unsupported(format!(
                    "output '{n}' is a {}; only tensors can be written to .npz",
                    other.describe()
                )));
            }
        }
    }
    crate::io::npz::write(p, &arrays).map_err(|e| CommandError::Output(e.to_string()))
}
