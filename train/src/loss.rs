//! Distillation losses: KL divergence with temperature on logits, and mean squared error on
//! embeddings or features (optionally only over the positions a token mask selects). All
//! return a scalar candle tensor; the teacher side is detached.

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

/// Mean of (s − t)² over the positions where `mask` (shape `[B, T]`, 1 = real token) is set:
/// `student` and `teacher` are `[B, T, …]`; padding positions carry no loss.
pub fn mse_masked(student: &Tensor, teacher: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let dims = student.dims();
    let (b, t) = (dims.first().copied().unwrap_or(1), dims.get(1).copied().unwrap_or(1));
    let inner: usize = dims.iter().skip(2).product();
    let mut mshape = vec![b, t];
    mshape.extend(std::iter::repeat_n(1, dims.len().saturating_sub(2)));
    let m = mask.reshape(mshape)?.to_dtype(student.dtype())?;
    let count = m.sum_all()?.to_scalar::<f32>()? as f64 * inner.max(1) as f64;
    let d = student.sub(&teacher.detach())?.sqr()?.broadcast_mul(&m)?.sum_all()?;
    d.affine(1.0 / count.max(1.0), 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn masked_mse_ignores_padding() {
        let d = Device::Cpu;
        // [B=2, T=3, H=2]; position (0, 2) and (1, 1..) are padding with wild values.
        let s = Tensor::new(&[[[1f32, 2.], [3., 4.], [100., -100.]], [[0., 0.], [50., 50.], [9., 9.]]], &d).unwrap();
        let t = Tensor::new(&[[[1f32, 1.], [3., 6.], [0., 0.]], [[1., 1.], [0., 0.], [0., 0.]]], &d).unwrap();
        let m = Tensor::new(&[[1f32, 1., 0.], [1., 0., 0.]], &d).unwrap();
        let l = mse_masked(&s, &t, &m).unwrap().to_scalar::<f32>().unwrap();
        // Real positions: (0,0): 0+1, (0,1): 0+4, (1,0): 1+1 → 7 over 3 positions × 2.
        assert!((l - 7.0 / 6.0).abs() < 1e-6, "{l}");
        let all = mse(&s, &t).unwrap().to_scalar::<f32>().unwrap();
        assert!(all > 100.0, "{all}");
    }
}
