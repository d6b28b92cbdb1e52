//! `Gemm`: `alpha · op(A) · op(B) + beta · C` with optional transposes and a unidirectionally
//! broadcast `C`. Floats use candle's matmul; integers accumulate with wrapping.

use super::matmul::{Plan, f32s, from_f32, matmul_float, matmul_int};
use super::num::{Vals, from_ints, out, vals};
use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use crate::ops::util::broadcast_to;
use crate::tensor::Tensor;
use edgeport_ir::DType;
use ndarray::{ArrayD, IxDyn};

/// Row-major transpose of an `r × c` matrix.
fn transpose<T: Copy>(v: &[T], r: usize, c: usize) -> Vec<T> {
    let mut o = Vec::with_capacity(v.len());
    for j in 0..c {
        for i in 0..r {
            o.push(v[i * c + j]);
        }
    }
    o
}

/// Runs `Gemm`.
pub fn gemm(cx: &NodeCtx<'_>, alpha: f32, beta: f32, trans_a: i64, trans_b: i64) -> OpResult {
    let a = cx.tensor(0)?;
    let b = cx.tensor(1)?;
    let c = cx.opt_tensor(2)?;
    let (as_, bs) = (a.shape(), b.shape());
    if as_.len() != 2 || bs.len() != 2 {
        return Err(OpError::invalid(format!("Gemm expects 2-D A and B, got {as_:?} and {bs:?}")));
    }
    let (m, k) = if trans_a != 0 { (as_[1], as_[0]) } else { (as_[0], as_[1]) };
    let (k2, n) = if trans_b != 0 { (bs[1], bs[0]) } else { (bs[0], bs[1]) };
    if k != k2 {
        return Err(OpError::invalid(format!("Gemm: inner dimensions differ ({as_:?}, {bs:?})")));
    }
    let p = Plan::new(&[m, k], &[k, n])?;
    let d = a.dtype();
    let c_vals = |c: &Tensor| -> Result<Vec<f64>, OpError> {
        let cv = ArrayD::from_shape_vec(IxDyn(c.shape()), c.to_f64_vec()?).map_err(|e| OpError::invalid(e.to_string()))?;
        Ok(broadcast_to(&cv, &[m, n])?.iter().copied().collect())
    };
    // f32 with alpha 1 (a Linear layer): the transposes are read through strides and the
    // product lands on top of beta·C, with no copy of the weight.
    if alpha == 1.0
        && let (Tensor::F32(aa), Tensor::F32(ba)) = (a, b)
        && let (Some(av), Some(bv)) = (aa.as_slice(), ba.as_slice())
    {
        use super::sgemm::{Mat, gemm_into};
        let am = if trans_a != 0 {
            Mat::transposed(av, as_[1])
        } else {
            Mat::rows(av, as_[1])
        };
        let bm = if trans_b != 0 {
            Mat::transposed(bv, bs[1])
        } else {
            Mat::rows(bv, bs[1])
        };
        let mut y: Vec<f32> = match c {
            Some(c) => c_vals(c)?.into_iter().map(|v| (beta as f64 * v) as f32).collect(),
            None => vec![0.0; m * n],
        };
        gemm_into(&mut y, am, bm, (m, k, n), c.is_some())?;
        return out(Tensor::F32(
            ArrayD::from_shape_vec(IxDyn(&[m, n]), y).map_err(|e| OpError::invalid(e.to_string()))?,
        ));
    }
    match d {
        DType::F32 | DType::F16 | DType::BF16 | DType::F64 => {
            let prep = |v: Vec<f64>, t: bool, r: usize, cc: usize| {
                if t { transpose(&v, r, cc) } else { v }
            };
            let mut y: Vec<f64> = if d == DType::F64 {
                let x = prep(a.to_f64_vec()?, trans_a != 0, as_[0], as_[1]);
                let z = prep(b.to_f64_vec()?, trans_b != 0, bs[0], bs[1]);
                matmul_float(&x, &z, &p)?
            } else {
                let pf = |v: Vec<f32>, t: bool, r: usize, cc: usize| {
                    if t { transpose(&v, r, cc) } else { v }
                };
                let x = pf(f32s(a)?, trans_a != 0, as_[0], as_[1]);
                let z = pf(f32s(b)?, trans_b != 0, bs[0], bs[1]);
                matmul_float(&x, &z, &p)?.into_iter().map(|v| v as f64).collect()
            };
            let cv = match c {
                Some(c) => Some(c_vals(c)?),
                None => None,
            };
            for (i, v) in y.iter_mut().enumerate() {
                *v *= alpha as f64;
                if let Some(cv) = &cv {
                    *v += beta as f64 * cv[i];
                }
            }
            if d == DType::F64 {
                out(Tensor::from_f64(d, &[m, n], y)?)
            } else {
                out(from_f32(d, &[m, n], y.into_iter().map(|v| v as f32).collect())?)
            }
        }
        _ => {
            let (Vals::I(x), Vals::I(z)) = (vals(a)?, vals(b)?) else {
                return Err(OpError::DType(format!("{d} (for Gemm)")));
            };
            let x: Vec<i64> = x.into_iter().map(|v| v as i64).collect();
            let z: Vec<i64> = z.into_iter().map(|v| v as i64).collect();
            let x = if trans_a != 0 { transpose(&x, as_[0], as_[1]) } else { x };
            let z = if trans_b != 0 { transpose(&z, bs[0], bs[1]) } else { z };
            let mut y = matmul_int(&x, &z, &p);
            let cv = match c {
                Some(c) => {
                    let Vals::I(ci) = vals(c)? else {
                        return Err(OpError::DType(format!("{} (for Gemm C)", c.dtype())));
                    };
                    let ca = ArrayD::from_shape_vec(IxDyn(c.shape()), ci).map_err(|e| OpError::invalid(e.to_string()))?;
                    Some(broadcast_to(&ca, &[m, n])?.iter().copied().collect::<Vec<i128>>())
                }
                None => None,
            };
            if alpha == 1.0 && (beta == 1.0 || cv.is_none()) {
                if let Some(cv) = cv {
                    y.iter_mut().zip(cv).for_each(|(v, c)| *v = v.wrapping_add(c));
                }
                out(from_ints(d, &[m, n], y)?)
            } else {
                let f: Vec<f64> = y
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| alpha as f64 * v as f64 + cv.as_ref().map_or(0.0, |cv| beta as f64 * cv[i] as f64))
                    .collect();
                out(Tensor::from_f64(d, &[m, n], f)?)
            }
        }
    }
}
