//! `MatMul` (numpy semantics: batched broadcasting, 1-D operands), `MatMulInteger` and
//! `QLinearMatMul`. Float products run on candle's CPU matmul (f16/bf16 in f32, rounded back);
//! integer products are plain loops with wrapping accumulation.

use super::num::{Vals, from_ints, out, vals};
use super::quantize::quantize_values;
use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use crate::ops::util::{broadcast_shapes, broadcast_to};
use crate::tensor::Tensor;
use edgeport_ir::DType;
use ndarray::{ArrayD, IxDyn};

/// The shapes of one (batched) matrix product.
#[derive(Debug, Clone)]
pub struct Plan {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    /// Matrix offsets (in matrices) of each output batch into `a` and `b`.
    pub a_off: Vec<usize>,
    pub b_off: Vec<usize>,
    pub out_shape: Vec<usize>,
}

impl Plan {
    /// Plans `a @ b` with numpy's rules.
    pub fn new(a: &[usize], b: &[usize]) -> Result<Plan, OpError> {
        if a.is_empty() || b.is_empty() {
            return Err(OpError::invalid("MatMul operands must have rank ≥ 1"));
        }
        let a2: Vec<usize> = if a.len() == 1 { vec![1, a[0]] } else { a.to_vec() };
        let b2: Vec<usize> = if b.len() == 1 { vec![b[0], 1] } else { b.to_vec() };
        let (ab, am) = a2.split_at(a2.len() - 2);
        let (bb, bm) = b2.split_at(b2.len() - 2);
        let (m, k, k2, n) = (am[0], am[1], bm[0], bm[1]);
        if k != k2 {
            return Err(OpError::invalid(format!("MatMul: shapes {a:?} and {b:?} do not match")));
        }
        let batch = broadcast_shapes(&[ab, bb])?;
        let offs = |s: &[usize]| -> Vec<usize> {
            let off = batch.len() - s.len();
            let total: usize = batch.iter().product();
            let mut r = Vec::with_capacity(total);
            let mut idx = vec![0usize; batch.len()];
            for _ in 0..total {
                let mut o = 0;
                for (j, &d) in s.iter().enumerate() {
                    o = o * d + if d == 1 { 0 } else { idx[off + j] };
                }
                r.push(o);
                for j in (0..batch.len()).rev() {
                    idx[j] += 1;
                    if idx[j] < batch[j] {
                        break;
                    }
                    idx[j] = 0;
                }
            }
            r
        };
        let mut out_shape = batch.clone();
        if a.len() > 1 {
            out_shape.push(m);
        }
        if b.len() > 1 {
            out_shape.push(n);
        }
        Ok(Plan {
            m,
            k,
            n,
            a_off: offs(ab),
            b_off: offs(bb),
            out_shape,
        })
    }

    fn batches(&self) -> usize {
        self.a_off.len()
    }
}

fn cerr(e: candle_core::Error) -> OpError {
    OpError::invalid(format!("matmul: {e}"))
}

/// Float product on candle (`T` = f32 or f64).
pub fn matmul_float<T: candle_core::WithDType + Default + num_traits::One>(a: &[T], b: &[T], p: &Plan) -> Result<Vec<T>, OpError> {
    let (m, k, n, nb) = (p.m, p.k, p.n, p.batches());
    if m * n * nb == 0 {
        return Ok(Vec::new());
    }
    if k == 0 {
        return Ok(vec![T::default(); m * n * nb]);
    }
    let a_plain = p.a_off.iter().enumerate().all(|(i, &o)| i == o);
    let b_const = p.b_off.iter().all(|&o| o == 0);
    if super::sgemm::supported::<T>() {
        use super::sgemm::{Mat, gemm, gemm_into};
        if a_plain && b_const {
            // One 2-D product: (batch·m, k) @ (k, n).
            return gemm(Mat::rows(a.get(..nb * m * k).unwrap_or(a), k), Mat::rows(b, n), nb * m, k, n);
        }
        let mut out = vec![T::zero(); nb * m * n];
        for ((&ao, &bo), dst) in p.a_off.iter().zip(&p.b_off).zip(out.chunks_mut(m * n)) {
            let ab = a
                .get(ao * m * k..(ao + 1) * m * k)
                .ok_or_else(|| OpError::invalid("matmul: operand too small"))?;
            let bb = b
                .get(bo * k * n..(bo + 1) * k * n)
                .ok_or_else(|| OpError::invalid("matmul: operand too small"))?;
            gemm_into(dst, Mat::rows(ab, k), Mat::rows(bb, n), (m, k, n), false)?;
        }
        return Ok(out);
    }
    let dev = candle_core::Device::Cpu;
    let r = if a_plain && b_const {
        // One 2-D product: (batch·m, k) @ (k, n).
        let at = candle_core::Tensor::from_slice(a.get(..nb * m * k).unwrap_or(a), (nb * m, k), &dev).map_err(cerr)?;
        let bt = candle_core::Tensor::from_slice(b.get(..k * n).unwrap_or(b), (k, n), &dev).map_err(cerr)?;
        at.matmul(&bt).map_err(cerr)?
    } else {
        let gather = |src: &[T], offs: &[usize], size: usize| -> Result<Vec<T>, OpError> {
            let mut v = Vec::with_capacity(offs.len() * size);
            for &o in offs {
                v.extend_from_slice(
                    src.get(o * size..(o + 1) * size)
                        .ok_or_else(|| OpError::invalid("matmul: operand too small"))?,
                );
            }
            Ok(v)
        };
        let av = gather(a, &p.a_off, m * k)?;
        let bv = gather(b, &p.b_off, k * n)?;
        let at = candle_core::Tensor::from_slice(&av, (nb, m, k), &dev).map_err(cerr)?;
        let bt = candle_core::Tensor::from_slice(&bv, (nb, k, n), &dev).map_err(cerr)?;
        at.matmul(&bt).map_err(cerr)?
    };
    r.flatten_all().map_err(cerr)?.to_vec1::<T>().map_err(cerr)
}

/// Integer product with wrapping 64-bit accumulation (callers wrap into the output dtype).
pub fn matmul_int(a: &[i64], b: &[i64], p: &Plan) -> Vec<i128> {
    let (m, k, n) = (p.m, p.k, p.n);
    let mut r = vec![0i64; p.batches() * m * n];
    for (bi, (&ao, &bo)) in p.a_off.iter().zip(&p.b_off).enumerate() {
        let a = &a[ao * m * k..(ao + 1) * m * k];
        let b = &b[bo * k * n..(bo + 1) * k * n];
        let c = &mut r[bi * m * n..(bi + 1) * m * n];
        for i in 0..m {
            for l in 0..k {
                let x = a[i * k + l];
                if x == 0 {
                    continue;
                }
                let row = &b[l * n..(l + 1) * n];
                for (cj, &y) in c[i * n..(i + 1) * n].iter_mut().zip(row) {
                    *cj = cj.wrapping_add(x.wrapping_mul(y));
                }
            }
        }
    }
    r.into_iter().map(|x| x as i128).collect()
}

/// `a @ b` for any numeric dtype pair of equal type.
pub fn matmul_tensors(a: &Tensor, b: &Tensor) -> Result<Tensor, OpError> {
    if a.dtype() != b.dtype() {
        return Err(OpError::invalid(format!(
            "MatMul operands differ in type: {} and {}",
            a.dtype(),
            b.dtype()
        )));
    }
    let p = Plan::new(a.shape(), b.shape())?;
    let d = a.dtype();
    match (a, b) {
        (Tensor::F64(x), Tensor::F64(y)) => {
            let r = matmul_float(&x.iter().copied().collect::<Vec<_>>(), &y.iter().copied().collect::<Vec<_>>(), &p)?;
            Tensor::from_f64(d, &p.out_shape, r)
        }
        (Tensor::F32(_) | Tensor::F16(_) | Tensor::BF16(_), _) => {
            let x = f32s(a)?;
            let y = f32s(b)?;
            let r = matmul_float(&x, &y, &p)?;
            from_f32(d, &p.out_shape, r)
        }
        _ => {
            let (Vals::I(x), Vals::I(y)) = (vals(a)?, vals(b)?) else {
                return Err(OpError::DType(format!("{d} (for MatMul)")));
            };
            let x: Vec<i64> = x.into_iter().map(|v| v as i64).collect();
            let y: Vec<i64> = y.into_iter().map(|v| v as i64).collect();
            from_ints(d, &p.out_shape, matmul_int(&x, &y, &p))
        }
    }
}

/// The elements as f32.
pub fn f32s(t: &Tensor) -> Result<Vec<f32>, OpError> {
    Ok(match t {
        Tensor::F32(a) => a.iter().copied().collect(),
        Tensor::F16(a) => a.iter().map(|x| x.to_f32()).collect(),
        Tensor::BF16(a) => a.iter().map(|x| x.to_f32()).collect(),
        other => other.to_f64_vec()?.into_iter().map(|x| x as f32).collect(),
    })
}

/// A tensor of a float dtype from f32 values.
pub fn from_f32(d: DType, shape: &[usize], v: Vec<f32>) -> Result<Tensor, OpError> {
    let s = IxDyn(shape);
    let bad = |e: ndarray::ShapeError| OpError::invalid(e.to_string());
    Ok(match d {
        DType::F32 => Tensor::F32(ArrayD::from_shape_vec(s, v).map_err(bad)?),
        DType::F16 => Tensor::F16(ArrayD::from_shape_vec(s, v.into_iter().map(half::f16::from_f32).collect()).map_err(bad)?),
        DType::BF16 => Tensor::BF16(ArrayD::from_shape_vec(s, v.into_iter().map(half::bf16::from_f32).collect()).map_err(bad)?),
        d => Tensor::from_f64(d, shape, v.into_iter().map(|x| x as f64).collect())?,
    })
}

/// `MatMul`.
pub fn matmul(cx: &NodeCtx<'_>) -> OpResult {
    out(matmul_tensors(cx.tensor(0)?, cx.tensor(1)?)?)
}

/// `x - zp` as i64, with `zp` per tensor, per row of `x`'s matrices (`row` and a 1-D zero point
/// of the row count) or numpy-broadcast to `x`.
fn minus_zp(x: &Tensor, zp: Option<&Tensor>, row: bool) -> Result<Vec<i64>, OpError> {
    let xv: Vec<i64> = x.to_f64_vec()?.into_iter().map(|v| v as i64).collect();
    let Some(z) = zp else { return Ok(xv) };
    let zv = expand_side(z, x.shape(), row)?;
    Ok(xv.iter().zip(zv.iter().cycle()).map(|(a, b)| a - *b as i64).collect())
}

/// A per-tensor / per-row / broadcast parameter expanded to `shape` (row-major).
fn expand_side(z: &Tensor, shape: &[usize], row: bool) -> Result<Vec<f64>, OpError> {
    let zv = z.to_f64_vec()?;
    if zv.len() == 1 {
        return Ok(zv);
    }
    let mut zs = z.shape().to_vec();
    if row && zs.len() == 1 && shape.len() >= 2 {
        zs.push(1);
    }
    let za = ArrayD::from_shape_vec(IxDyn(&zs), zv).map_err(|e| OpError::invalid(e.to_string()))?;
    Ok(broadcast_to(&za, shape)?.iter().copied().collect())
}

/// `MatMulInteger`: `(a - a_zero_point) @ (b - b_zero_point)` in i32.
pub fn matmul_integer(cx: &NodeCtx<'_>) -> OpResult {
    let a = cx.tensor(0)?;
    let b = cx.tensor(1)?;
    let p = Plan::new(a.shape(), b.shape())?;
    let x = minus_zp(a, cx.opt_tensor(2)?, true)?;
    let y = minus_zp(b, cx.opt_tensor(3)?, false)?;
    out(from_ints(DType::I32, &p.out_shape, matmul_int(&x, &y, &p))?)
}

/// `QLinearMatMul`: integer product of the zero-point-shifted inputs, rescaled by
/// `a_scale · b_scale / y_scale` and requantized to `y_zero_point`'s type.
pub fn qlinear_matmul(cx: &NodeCtx<'_>) -> OpResult {
    let a = cx.tensor(0)?;
    let b = cx.tensor(3)?;
    let p = Plan::new(a.shape(), b.shape())?;
    let yz = cx.tensor(7)?;
    let fl = |t: &Tensor| t.dtype().is_float();
    let c: Vec<f64> = if fl(a) || fl(b) {
        // 8-bit float inputs: dequantize exactly and multiply in f64.
        let x: Vec<f64> = a.to_f64_vec()?;
        let y: Vec<f64> = b.to_f64_vec()?;
        let za = expand_side(cx.tensor(2)?, a.shape(), true)?;
        let zb = expand_side(cx.tensor(5)?, b.shape(), false)?;
        let x: Vec<f64> = x.iter().zip(za.iter().cycle()).map(|(u, v)| u - v).collect();
        let y: Vec<f64> = y.iter().zip(zb.iter().cycle()).map(|(u, v)| u - v).collect();
        matmul_float(&x, &y, &p)?
    } else {
        let x = minus_zp(a, Some(cx.tensor(2)?), true)?;
        let y = minus_zp(b, Some(cx.tensor(5)?), false)?;
        matmul_int(&x, &y, &p).into_iter().map(|v| v as f64).collect()
    };
    let out_rows: Vec<usize> = {
        let mut s = p.out_shape.clone();
        if a.rank() == 1 {
            s.insert(s.len().saturating_sub(usize::from(b.rank() > 1)), 1);
        }
        if b.rank() == 1 {
            s.push(1);
        }
        s
    };
    let sa = expand_side(cx.tensor(1)?, &out_rows, true)?;
    let sb = expand_side(cx.tensor(4)?, &out_rows, false)?;
    let sy = cx.tensor(6)?.to_f64_vec()?;
    let sy = sy.first().copied().ok_or_else(|| OpError::invalid("y_scale is empty"))?;
    let v: Vec<f64> = c
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let s = (sa[i % sa.len()] as f32) * (sb[i % sb.len()] as f32) / sy as f32;
            (x as f32 * s) as f64
        })
        .collect();
    let zy = yz.to_f64_vec()?;
    out(quantize_values(yz.dtype(), &p.out_shape, &v, &zy[..zy.len().min(1)], true)?)
}
