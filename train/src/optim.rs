//! Optimizers (SGD with momentum, Adam) and learning-rate schedules (constant, cosine, step).

use crate::error::{Result, TrainError, ce};
use crate::model::Param;
use candle_core::Tensor;

/// Which optimizer.
#[derive(Clone, Debug, PartialEq)]
pub enum OptimizerKind {
    /// SGD with (heavy-ball) momentum.
    Sgd { momentum: f64 },
    /// Adam (Kingma & Ba) with bias correction.
    Adam { beta1: f64, beta2: f64, eps: f64 },
}

/// Learning-rate schedule over the run.
#[derive(Clone, Debug, PartialEq)]
pub enum Schedule {
    Constant,
    /// Half-cosine from the base rate down to 0 at the last step.
    Cosine,
    /// Multiplies the rate by `gamma` every `every` steps.
    Step {
        every: usize,
        gamma: f64,
    },
}

impl Schedule {
    /// The rate at `step` (0-based) of `total`.
    pub fn lr(&self, base: f64, step: usize, total: usize) -> f64 {
        match self {
            Schedule::Constant => base,
            Schedule::Cosine => {
                let t = step as f64 / total.max(1) as f64;
                base * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
            }
            Schedule::Step { every, gamma } => base * gamma.powi((step / (*every).max(1)) as i32),
        }
    }
}

/// Optimizer state for one model's parameters.
pub struct Optimizer {
    kind: OptimizerKind,
    weight_decay: f64,
    m: Vec<Option<Tensor>>,
    v: Vec<Option<Tensor>>,
    t: i32,
}

fn err(p: &Param, e: candle_core::Error) -> TrainError {
    TrainError::Graph(format!("updating weight '{}': {}", p.name, ce(e)))
}

impl Optimizer {
    pub fn new(kind: OptimizerKind, n_params: usize, weight_decay: f64) -> Optimizer {
        Optimizer {
            kind,
            weight_decay,
            m: vec![None; n_params],
            v: vec![None; n_params],
            t: 0,
        }
    }

    /// Applies one update; `grads[i]` is the gradient of `params[i]` (None: unused this step).
    pub fn step(&mut self, params: &[Param], grads: &[Option<Tensor>], lr: f64) -> Result<()> {
        self.t += 1;
        for (i, p) in params.iter().enumerate() {
            let Some(g) = grads.get(i).and_then(|g| g.as_ref()) else { continue };
            // candle's gradient of a Var is not detached: it references the forward graph of
            // its step (activations, earlier layers). Kept in the moments, every step's graph
            // would stay alive (hundreds of MB per step on a transformer).
            let g = g.detach();
            let w = p.var.as_tensor().detach();
            let g = if self.weight_decay != 0.0 {
                g.add(&w.affine(self.weight_decay, 0.0).map_err(|e| err(p, e))?)
                    .map_err(|e| err(p, e))?
            } else {
                g
            };
            let upd = match self.kind {
                OptimizerKind::Sgd { momentum } => {
                    let buf = match &self.m[i] {
                        Some(b) if momentum != 0.0 => b.affine(momentum, 0.0).and_then(|b| b.add(&g)).map_err(|e| err(p, e))?,
                        _ => g,
                    };
                    self.m[i] = Some(buf.clone());
                    buf.affine(lr, 0.0).map_err(|e| err(p, e))?
                }
                OptimizerKind::Adam { beta1, beta2, eps } => {
                    let m = match &self.m[i] {
                        Some(m) => m.affine(beta1, 0.0).and_then(|m| m.add(&g.affine(1.0 - beta1, 0.0)?)),
                        None => g.affine(1.0 - beta1, 0.0),
                    }
                    .map_err(|e| err(p, e))?;
                    let g2 = g.sqr().map_err(|e| err(p, e))?;
                    let v = match &self.v[i] {
                        Some(v) => v.affine(beta2, 0.0).and_then(|v| v.add(&g2.affine(1.0 - beta2, 0.0)?)),
                        None => g2.affine(1.0 - beta2, 0.0),
                    }
                    .map_err(|e| err(p, e))?;
                    let bc1 = 1.0 - beta1.powi(self.t);
                    let bc2 = 1.0 - beta2.powi(self.t);
                    let denom = v
                        .affine(1.0 / bc2, 0.0)
                        .and_then(|v| v.sqrt())
                        .and_then(|v| v.affine(1.0, eps))
                        .map_err(|e| err(p, e))?;
                    let u = m.affine(lr / bc1, 0.0).and_then(|m| m.div(&denom)).map_err(|e| err(p, e))?;
                    self.m[i] = Some(m);
                    self.v[i] = Some(v);
                    u
                }
            };
            let nw = w.sub(&upd).map_err(|e| err(p, e))?;
            p.var.set(&nw).map_err(|e| err(p, e))?;
        }
        Ok(())
    }
}
