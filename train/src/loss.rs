//! Distillation losses: KL divergence with temperature on logits, and mean squared error on
//! embeddings or features. Both return a scalar candle tensor; the teacher side is detached.

use crate::ops::{log_softmax, softmax};
use candle_core::{Result, Tensor};

/// T² · KL(softmax(t/T) ‖ softmax(s/T)), summed over the last axis and averaged over the
/// other positions (Hinton et al.'s scaling, so gradients keep their size across T).
pub fn kl(student: &Tensor, teacher: &Tensor, temperature: f64) -> Result<Tensor> {
    let last = student.rank().saturating_sub(1);
    let rows = (student.elem_count() / student.dims().get(last).copied().unwrap_or(1).max(1)).max(1);
    let inv_t = 1.0 / temperature;
    let t = teacher.detach().affine(inv_t, 0.0)?;
    let s = student.affine(inv_t, 0.0)?;
    let pt = softmax(&t, last)?;
    let lpt = log_softmax(&t, last)?;
    let lps = log_softmax(&s, last)?;
    let kl = pt.mul(&lpt.sub(&lps)?)?.sum_all()?;
    kl.affine(temperature * temperature / rows as f64, 0.0)
}

/// Mean of (s − t)².
pub fn mse(student: &Tensor, teacher: &Tensor) -> Result<Tensor> {
    student.sub(&teacher.detach())?.sqr()?.mean_all()
}
