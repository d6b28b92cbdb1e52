//! `Det`: determinants of square matrices (batched over leading dims) by LU decomposition
//! with partial pivoting in `f64`.

use super::num::{out, want_float};
use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use crate::tensor::Tensor;

/// The determinant of one row-major `n × n` matrix (consumed as scratch space).
pub(super) fn det(mut a: Vec<f64>, n: usize) -> f64 {
    let mut d = 1.0;
    for col in 0..n {
        let piv = (col..n)
            .max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))
            .unwrap_or(col);
        if a[piv * n + col] == 0.0 {
            return 0.0;
        }
        if piv != col {
            for j in 0..n {
                a.swap(col * n + j, piv * n + j);
            }
            d = -d;
        }
        let p = a[col * n + col];
        d *= p;
        for i in col + 1..n {
            let f = a[i * n + col] / p;
            if f != 0.0 {
                for j in col..n {
                    a[i * n + j] -= f * a[col * n + j];
                }
            }
        }
    }
    d
}

/// Runs `Det`.
pub fn run(cx: &NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    want_float(x, "Det")?;
    let s = x.shape();
    let r = s.len();
    if r < 2 || s[r - 1] != s[r - 2] {
        return Err(OpError::invalid(format!("Det expects [*, M, M], got {s:?}")));
    }
    let n = s[r - 1];
    let v = x.to_f64_vec()?;
    let out_shape = s[..r - 2].to_vec();
    let nb: usize = out_shape.iter().product();
    let res: Vec<f64> = (0..nb).map(|b| det(v[b * n * n..(b + 1) * n * n].to_vec(), n)).collect();
    out(Tensor::from_f64(x.dtype(), &out_shape, res)?)
}
