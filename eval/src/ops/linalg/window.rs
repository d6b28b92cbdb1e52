//! Window generators (`BlackmanWindow`, `HammingWindow`, `HannWindow`) and
//! `MelWeightMatrix`, following the ONNX reference formulas.

use super::num::{dtype_code, out, scalar_f64, scalar_int};
use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use crate::tensor::Tensor;
use std::f64::consts::PI;

/// Which window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Blackman,
    Hamming,
    Hann,
}

/// Runs a window op.
pub fn window(cx: &NodeCtx<'_>, kind: Kind, output_datatype: i64, periodic: i64) -> OpResult {
    let size = scalar_int(cx.tensor(0)?, "size")?;
    let size = usize::try_from(size).map_err(|_| OpError::invalid(format!("window size {size} is negative")))?;
    let d = dtype_code(output_datatype, "output_datatype")?;
    let n1 = if periodic != 0 { size as f64 } else { size as f64 - 1.0 };
    let v: Vec<f64> = (0..size)
        .map(|i| {
            let x = i as f64;
            match kind {
                Kind::Blackman => 0.42 - 0.5 * (x * 2.0 * PI / n1).cos() + 0.08 * (x * 4.0 * PI / n1).cos(),
                Kind::Hamming => {
                    let a = 25.0 / 46.0;
                    a - (x * PI * 2.0 / n1).cos() * (1.0 - a)
                }
                Kind::Hann => (x * PI / n1).sin().powi(2),
            }
        })
        .collect();
    out(Tensor::from_f64(d, &[size], v)?)
}

/// Runs `MelWeightMatrix` (`[dft_length / 2 + 1, num_mel_bins]` triangular filters).
pub fn mel(cx: &NodeCtx<'_>, output_datatype: i64) -> OpResult {
    let bins = scalar_int(cx.tensor(0)?, "num_mel_bins")?;
    let dft = scalar_int(cx.tensor(1)?, "dft_length")?;
    let rate = scalar_int(cx.tensor(2)?, "sample_rate")?;
    let lo = scalar_f64(cx.tensor(3)?, "lower_edge_hertz")? as f32;
    let hi = scalar_f64(cx.tensor(4)?, "upper_edge_hertz")? as f32;
    if bins < 0 || dft <= 0 || rate <= 0 {
        return Err(OpError::invalid("MelWeightMatrix: sizes and rate must be positive"));
    }
    let (bins, spec) = (bins as usize, (dft / 2 + 1) as usize);
    let lo_mel = 2595f32 * (1f32 + lo / 700f32).log10();
    let hi_mel = 2595f32 * (1f32 + hi / 700f32).log10();
    let step = (hi_mel - lo_mel) / (bins + 2) as f32;
    let fb: Vec<i64> = (0..bins + 2)
        .map(|i| {
            let m = i as f64 * step as f64 + lo_mel as f64;
            let hz = 700.0 * (10f64.powf(m / 2595.0) - 1.0);
            ((dft as f64 + 1.0) * hz / rate as f64).floor() as i64
        })
        .collect();
    let mut w = vec![0.0f64; spec * bins];
    let mut set = |j: i64, i: usize, v: f64| -> Result<(), OpError> {
        let j = usize::try_from(j)
            .ok()
            .filter(|&j| j < spec)
            .ok_or_else(|| OpError::invalid("MelWeightMatrix: frequency bin out of range"))?;
        w[j * bins + i] = v;
        Ok(())
    };
    for i in 0..bins {
        let (l, c, h) = (fb[i], fb[i + 1], fb[i + 2]);
        if c == l {
            set(c, i, 1.0)?;
        } else {
            for j in l..=c {
                set(j, i, (j - l) as f64 / (c - l) as f64)?;
            }
        }
        if h > c {
            for j in c..h {
                set(j, i, (h - j) as f64 / (h - c) as f64)?;
            }
        }
    }
    let d = dtype_code(output_datatype, "output_datatype")?;
    out(Tensor::from_f64(d, &[spec, bins], w)?)
}
