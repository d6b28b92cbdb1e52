//! `edgeport distill`: trains a student model to mimic a teacher on unlabeled data (KL with
//! temperature or MSE, optional intermediate matching), writes the student with its trained
//! weights in any export format, and optionally scores teacher and student on held-out data.

use super::{CommandError, load};
use crate::formats::{self, ExportSettings};
use edgeport_eval::{Tensor, Value};
use edgeport_ir::Graph;
use edgeport_train::{Observer, TrainConfig, TrainError};
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

/// Options of `distill`.
#[derive(Debug, Clone)]
pub struct DistillArgs {
    pub teacher: PathBuf,
    pub student: PathBuf,
    pub data: PathBuf,
    pub output: PathBuf,
    pub to: Option<String>,
    pub cfg: TrainConfig,
    /// Held-out `.npz` (model inputs, optional `label`) to score before and after.
    pub eval: Option<PathBuf>,
}

/// Scores on held-out data.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Scores {
    pub samples: usize,
    /// Top-1 against `label` (when the file has labels).
    pub teacher_top1: Option<f64>,
    pub student_top1_before: Option<f64>,
    pub student_top1_after: Option<f64>,
    /// Top-1 agreement with the teacher.
    pub agreement_before: f64,
    pub agreement_after: f64,
    /// Mean cosine similarity of the first output to the teacher's, per sample.
    pub cosine_before: f64,
    pub cosine_after: f64,
}

/// What `distill` did.
#[derive(Debug, Clone, Serialize)]
pub struct DistillReport {
    pub teacher: String,
    pub student: String,
    pub data: String,
    pub output: String,
    pub samples: usize,
    pub steps: usize,
    pub batch: usize,
    pub stacked: bool,
    pub trainable_tensors: usize,
    pub trainable_scalars: usize,
    pub first_loss: f64,
    pub final_loss: f64,
    pub best_loss: f64,
    pub best_step: usize,
    pub seconds: f64,
    pub steps_per_sec: f64,
    pub checkpoints: Vec<String>,
    pub warnings: Vec<String>,
    pub eval: Option<Scores>,
}

impl fmt::Display for DistillReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "distilled {} from {} on {} ({} samples)",
            self.student, self.teacher, self.data, self.samples
        )?;
        writeln!(
            f,
            "  {} steps, batch {}{}, {} trainable tensors ({} scalars)",
            self.steps,
            self.batch,
            if self.stacked { "" } else { " (accumulated per sample)" },
            self.trainable_tensors,
            self.trainable_scalars
        )?;
        writeln!(
            f,
            "  loss {:.5} -> {:.5} (best {:.5} at step {})",
            self.first_loss, self.final_loss, self.best_loss, self.best_step
        )?;
        writeln!(f, "  {:.1} s, {:.2} steps/s", self.seconds, self.steps_per_sec)?;
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        for c in &self.checkpoints {
            writeln!(f, "  checkpoint {c}")?;
        }
        if let Some(e) = &self.eval {
            writeln!(f, "  held-out ({} samples):", e.samples)?;
            if let (Some(t), Some(b), Some(a)) = (e.teacher_top1, e.student_top1_before, e.student_top1_after) {
                writeln!(
                    f,
                    "    top-1: teacher {:.2}%, student {:.2}% -> {:.2}%",
                    100.0 * t,
                    100.0 * b,
                    100.0 * a
                )?;
            }
            writeln!(
                f,
                "    agreement with teacher {:.2}% -> {:.2}%, cosine {:.4} -> {:.4}",
                100.0 * e.agreement_before,
                100.0 * e.agreement_after,
                e.cosine_before,
                e.cosine_after
            )?;
        }
        write!(f, "  wrote {}", self.output)
    }
}

fn tensors(samples: Vec<Vec<Value>>, what: &str) -> Result<Vec<Vec<Tensor>>, CommandError> {
    samples
        .into_iter()
        .map(|s| {
            s.into_iter()
                .map(|v| match v {
                    Value::Tensor(t) => Ok(t),
                    other => Err(CommandError::Input(format!(
                        "{what}: a sample is {}, not a tensor",
                        other.describe()
                    ))),
                })
                .collect()
        })
        .collect()
}

fn train_err(e: TrainError) -> CommandError {
    match e {
        TrainError::NoGradient(_) | TrainError::Graph(_) | TrainError::Node { .. } => CommandError::Unsupported(e.to_string()),
        TrainError::Io(m) => CommandError::Output(m),
        other => CommandError::Input(other.to_string()),
    }
}

/// First output of `g` on each sample, as f64 rows.
fn outputs(g: &Graph, samples: &[Vec<Tensor>], what: &str) -> Result<Vec<Vec<f64>>, CommandError> {
    samples
        .iter()
        .map(|s| {
            let outs = edgeport_eval::run_graph(g, s.iter().cloned().map(Value::Tensor).collect())
                .map_err(|e| CommandError::Unsupported(format!("{what}: {e}")))?;
            match outs.into_iter().next() {
                Some(Value::Tensor(t)) => t.to_f64_vec().map_err(|e| CommandError::Unsupported(format!("{what}: {e}"))),
                _ => Err(CommandError::Unsupported(format!("{what}: no tensor output"))),
            }
        })
        .collect()
}

fn argmax(v: &[f64]) -> usize {
    v.iter()
        .enumerate()
        .fold((0, f64::NEG_INFINITY), |(bi, bv), (i, &x)| if x > bv { (i, x) } else { (bi, bv) })
        .0
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let (mut d, mut na, mut nb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        d += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 { 0.0 } else { d / (na.sqrt() * nb.sqrt()) }
}

fn labels(path: &std::path::Path) -> Result<Option<Vec<usize>>, CommandError> {
    let arrays = crate::io::npz::read(path).map_err(|e| CommandError::Input(format!("{}: {e}", path.display())))?;
    match arrays.into_iter().find(|(n, _)| n == "label") {
        Some((_, t)) => Ok(Some(
            t.to_i64_vec()
                .map_err(|e| CommandError::Input(format!("{}: label: {e}", path.display())))?
                .into_iter()
                .map(|x| x.max(0) as usize)
                .collect(),
        )),
        None => Ok(None),
    }
}

/// Scores a student (before and after) against the teacher on held-out data.
pub fn score(teacher: &Graph, before: &Graph, after: &Graph, path: &std::path::Path) -> Result<Scores, CommandError> {
    let ld = |g: &Graph| -> Result<Vec<Vec<Tensor>>, CommandError> {
        let s = crate::calib::load(g, Some(path), 0, 0).map_err(|e| CommandError::Input(e.to_string()))?;
        tensors(s.samples, &path.display().to_string())
    };
    let (ts, ss) = (ld(teacher)?, ld(before)?);
    let t = outputs(teacher, &ts, "teacher")?;
    let b = outputs(before, &ss, "student before")?;
    let a = outputs(after, &ss, "student after")?;
    let n = t.len().max(1) as f64;
    let lab = labels(path)?;
    let top1 = |o: &[Vec<f64>]| {
        lab.as_ref()
            .map(|l| o.iter().zip(l).filter(|(r, y)| argmax(r) == **y).count() as f64 / n)
    };
    let agree = |o: &[Vec<f64>]| o.iter().zip(&t).filter(|(r, q)| argmax(r) == argmax(q)).count() as f64 / n;
    let cos = |o: &[Vec<f64>]| o.iter().zip(&t).map(|(r, q)| cosine(r, q)).sum::<f64>() / n;
    Ok(Scores {
        samples: t.len(),
        teacher_top1: top1(&t),
        student_top1_before: top1(&b),
        student_top1_after: top1(&a),
        agreement_before: agree(&b),
        agreement_after: agree(&a),
        cosine_before: cos(&b),
        cosine_after: cos(&a),
    })
}

/// Runs `distill`.
pub fn run(a: &DistillArgs, obs: &mut dyn Observer) -> Result<DistillReport, CommandError> {
    let out_fmt = formats::for_output(&a.output, a.to.as_deref())?;
    let teacher = load(&a.teacher, None)?;
    let student = load(&a.student, None)?;
    let ds = crate::calib::load(&student, Some(&a.data), 0, a.cfg.seed)
        .map_err(|e| CommandError::Input(format!("data for the student: {e}")))?;
    let dt = crate::calib::load(&teacher, Some(&a.data), 0, a.cfg.seed)
        .map_err(|e| CommandError::Input(format!("data for the teacher: {e}")))?;
    let mut warnings = ds.warnings.clone();
    warnings.dedup();
    let (st, tt) = (tensors(ds.samples, "data")?, tensors(dt.samples, "data")?);
    let mut cfg = a.cfg.clone();
    cfg.token_mask = match cfg.token_mask.as_deref() {
        Some("none") => None,
        Some("auto") => crate::inputs::graph_inputs(&student)
            .into_iter()
            .map(|(n, _)| n)
            .find(|n| n == "attention_mask"),
        _ => cfg.token_mask,
    };
    if let Some(m) = &cfg.token_mask {
        warnings.push(format!("MSE over the positions where '{m}' is set (padding carries no loss)"));
    }
    let (trained, rep) = edgeport_train::distill(&teacher, &student, &tt, &st, &cfg, obs).map_err(train_err)?;
    let v = edgeport_ir::validate::validate(&trained)
        .map_err(|e| CommandError::Unsupported(format!("{}: after training: {e}", a.student.display())))?;
    let settings = ExportSettings::default();
    let problems = formats::check(&trained, &out_fmt, &settings);
    if !problems.is_empty() {
        return Err(CommandError::Unsupported(format!(
            "cannot write {}: {}",
            a.output.display(),
            problems.join("; ")
        )));
    }
    formats::export(&v, &a.output, &out_fmt, &settings)?;
    let eval = match &a.eval {
        Some(p) => Some(score(&teacher, &student, &trained, p)?),
        None => None,
    };
    Ok(DistillReport {
        teacher: a.teacher.display().to_string(),
        student: a.student.display().to_string(),
        data: a.data.display().to_string(),
        output: a.output.display().to_string(),
        samples: rep.samples,
        steps: rep.steps,
        batch: rep.batch,
        stacked: rep.stacked,
        trainable_tensors: rep.trainable_tensors,
        trainable_scalars: rep.trainable_scalars,
        first_loss: rep.first_loss,
        final_loss: rep.final_loss,
        best_loss: rep.best_loss,
        best_step: rep.best_step,
        seconds: rep.seconds,
        steps_per_sec: rep.steps_per_sec,
        checkpoints: rep.checkpoints,
        warnings,
        eval,
    })
}
