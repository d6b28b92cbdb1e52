//! ConvTranspose: GEMM (W^T · X) then col2im scatter, with output_padding, output_shape,
//! auto_pad, dilations and groups.

use super::common::{fdata, fout, gemm_tn, prod, to_usize};
use crate::error::OpError;
use crate::tensor::Tensor;
use edgeport_ir::ops::nn::ConvTranspose;

/// ONNX ConvTranspose.
pub fn conv_transpose(a: &ConvTranspose, x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor, OpError> {
    let (xv, xs) = fdata(x)?;
    let (wv, ws) = fdata(w)?;
    if xs.len() < 3 || ws.len() != xs.len() {
        return Err(OpError::invalid(format!(
            "ConvTranspose input {xs:?} and weight {ws:?} ranks do not fit"
        )));
    }
    let nd = xs.len() - 2;
    let group = usize::try_from(a.group)
        .ok()
        .filter(|&g| g > 0)
        .ok_or_else(|| OpError::invalid("group must be positive"))?;
    let (n, c) = (xs[0], xs[1]);
    if ws[0] != c || c % group != 0 {
        return Err(OpError::invalid(format!(
            "ConvTranspose channels: input {c}, weight {ws:?}, group {group}"
        )));
    }
    let (cg, mg) = (c / group, ws[1]);
    let m = mg * group;
    let kernel = &ws[2..];
    if kernel.contains(&0) {
        return Err(OpError::invalid(format!("ConvTranspose weight {ws:?} has an empty kernel")));
    }
    let list = |v: &[i64], def: usize, what: &str| -> Result<Vec<usize>, OpError> {
        if v.is_empty() {
            return Ok(vec![def; nd]);
        }
        if v.len() != nd {
            return Err(OpError::invalid(format!("{what} {v:?} does not match {nd} spatial dims")));
        }
        v.iter().map(|&x| to_usize(x, what)).collect()
    };
    let strides = list(&a.strides, 1, "strides")?;
    let dils = list(&a.dilations, 1, "dilations")?;
    let opad = list(&a.output_padding, 0, "output_padding")?;
    let sp = &xs[2..];
    let full: Vec<usize> = (0..nd)
        .map(|d| strides[d] * (sp[d].max(1) - 1) + opad[d] + (kernel[d] - 1) * dils[d] + 1)
        .collect();
    let mut pb = vec![0usize; nd];
    let mut out = vec![0usize; nd];
    let out_shape: Vec<i64> = if a.output_shape.len() > nd {
        a.output_shape[a.output_shape.len() - nd..].to_vec()
    } else {
        a.output_shape.clone()
    };
    let same = a.auto_pad == "SAME_UPPER" || a.auto_pad == "SAME_LOWER";
    if !out_shape.is_empty() || same {
        let target: Vec<usize> = if out_shape.is_empty() {
            (0..nd).map(|d| sp[d] * strides[d]).collect()
        } else {
            list(&out_shape, 0, "output_shape")?
        };
        for d in 0..nd {
            let total = full[d] as i64 - target[d] as i64;
            let total = total.max(0) as usize;
            pb[d] = if a.auto_pad == "SAME_UPPER" { total / 2 } else { total - total / 2 };
            out[d] = target[d];
        }
    } else {
        let pads = if a.auto_pad == "VALID" || a.pads.is_empty() {
            vec![0; 2 * nd]
        } else {
            a.pads.clone()
        };
        if pads.len() != 2 * nd {
            return Err(OpError::invalid(format!("pads {pads:?} should have {} values", 2 * nd)));
        }
        for d in 0..nd {
            pb[d] = to_usize(pads[d], "pads")?;
            let pe = to_usize(pads[d + nd], "pads")?;
            out[d] = full[d]
                .checked_sub(pb[d] + pe)
                .ok_or_else(|| OpError::invalid("pads exceed the output"))?;
        }
    }
    let kp = prod(kernel);
    let ip = prod(sp);
    let op = prod(&out);
    let mut oshape = vec![n, m];
    oshape.extend(&out);
    let mut y = vec![0f64; n * m * op];
    let ostr = super::common::strides_of(&out);
    let kstr = super::common::strides_of(kernel);
    let istr = super::common::strides_of(sp);
    for ni in 0..n {
        for gi in 0..group {
            // cols[(mm, k), i] = sum_c W[c, mm, k] * X[c, i]
            let wg = &wv[gi * cg * mg * kp..(gi + 1) * cg * mg * kp];
            let xg = &xv[(ni * c + gi * cg) * ip..(ni * c + (gi + 1) * cg) * ip];
            let cols = gemm_tn(wg, xg, mg * kp, cg, ip)?;
            for mm in 0..mg {
                let yb = (ni * m + gi * mg + mm) * op;
                for k in 0..kp {
                    let row = &cols[(mm * kp + k) * ip..(mm * kp + k + 1) * ip];
                    for (i, &v) in row.iter().enumerate() {
                        let mut off = 0usize;
                        let mut ok = true;
                        for d in 0..nd {
                            let id = (i / istr[d]) % sp[d];
                            let kd = (k / kstr[d]) % kernel[d];
                            let p = (id * strides[d] + kd * dils[d]) as isize - pb[d] as isize;
                            if p < 0 || p as usize >= out[d] {
                                ok = false;
                                break;
                            }
                            off += p as usize * ostr[d];
                        }
                        if ok {
                            y[yb + off] += v;
                        }
                    }
                }
            }
        }
    }
    if let Some(b) = b {
        let bv = fdata(b)?.0;
        if bv.len() != m {
            return Err(OpError::invalid(format!("bias has {} values, expected {m}", bv.len())));
        }
        for ni in 0..n {
            for (mi, &bb) in bv.iter().enumerate() {
                y[(ni * m + mi) * op..(ni * m + mi + 1) * op].iter_mut().for_each(|v| *v += bb);
            }
        }
    }
    fout(x.dtype(), &oshape, y)
}
