//! ai.onnx.preview.training optimizers: `Adagrad`, `Adam` and `Momentum` (standard and
//! Nesterov). Inputs are `R` (learning rate), `T` (update count), then groups of tensors
//! (X..., G..., state...); outputs are the updated X... then the updated states.

use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use crate::tensor::Tensor;
use crate::value::Value;
use edgeport_ir::ops::defs::training::{Adagrad, Adam, Momentum};

fn scalar(cx: &NodeCtx<'_>, i: usize, what: &str) -> Result<f64, OpError> {
    let v = cx.tensor(i)?.to_f64_vec()?;
    match v.as_slice() {
        [x] => Ok(*x),
        _ => Err(OpError::invalid(format!("{what} must be a scalar"))),
    }
}

/// The X tensors, and per X the f64 data of each group (`[i][group]`: X, G, states…).
type Groups<'a> = (Vec<&'a Tensor>, Vec<Vec<Vec<f64>>>);

/// Splits the variadic inputs into `groups` lists of n tensors, read as f64, all shaped alike
/// per index.
fn groups<'a>(cx: &NodeCtx<'a>, groups: usize) -> Result<Groups<'a>, OpError> {
    let total = cx.n_inputs().saturating_sub(2);
    if total == 0 || !total.is_multiple_of(groups) {
        return Err(OpError::invalid(format!(
            "expected {groups} equal groups of tensors after R and T, got {total}"
        )));
    }
    let n = total / groups;
    let xs: Vec<&Tensor> = (0..n).map(|i| cx.tensor(2 + i)).collect::<Result<_, _>>()?;
    let mut data: Vec<Vec<Vec<f64>>> = vec![Vec::with_capacity(groups); n];
    for g in 0..groups {
        for (i, x) in xs.iter().enumerate() {
            let t = cx.tensor(2 + g * n + i)?;
            if t.shape() != x.shape() {
                return Err(OpError::invalid(format!(
                    "tensor {i} of group {g} has shape {:?}, X has {:?}",
                    t.shape(),
                    x.shape()
                )));
            }
            data[i].push(t.to_f64_vec()?);
        }
    }
    Ok((xs, data))
}

fn emit(xs: &[&Tensor], lists: Vec<Vec<Vec<f64>>>) -> OpResult {
    let mut out = Vec::new();
    for list in lists {
        for (x, v) in xs.iter().zip(list) {
            out.push(Value::Tensor(Tensor::from_f64(x.dtype(), x.shape(), v)?));
        }
    }
    Ok(out)
}

/// `Adagrad`: `r = R / (1 + T·decay)`, `G' = λX + G`, `H' = H + G'²`,
/// `X' = X - r·G' / (√H' + ε)`.
pub(super) fn adagrad(a: &Adagrad, cx: &mut NodeCtx<'_>) -> OpResult {
    let (r, t) = (scalar(cx, 0, "R")?, scalar(cx, 1, "T")?);
    let (xs, d) = groups(cx, 3)?;
    let (decay, eps, norm) = (a.decay_factor as f64, a.epsilon as f64, a.norm_coefficient as f64);
    let rate = r / (1.0 + t * decay);
    let (mut nx, mut nh) = (Vec::new(), Vec::new());
    for p in &d {
        let (x, g, h) = (&p[0], &p[1], &p[2]);
        let mut xo = Vec::with_capacity(x.len());
        let mut ho = Vec::with_capacity(x.len());
        for j in 0..x.len() {
            let gr = norm * x[j] + g[j];
            let hn = h[j] + gr * gr;
            xo.push(x[j] - rate * gr / (hn.sqrt() + eps));
            ho.push(hn);
        }
        nx.push(xo);
        nh.push(ho);
    }
    emit(&xs, vec![nx, nh])
}

/// `Adam`: `G' = λX + G`, `V' = αV + (1-α)G'`, `H' = βH + (1-β)G'²`,
/// `R' = R·√(1-β^T)/(1-α^T)` (when T > 0), `X' = (1 - λ_post)(X - R'·V' / (√H' + ε))`.
pub(super) fn adam(a: &Adam, cx: &mut NodeCtx<'_>) -> OpResult {
    let (r, t) = (scalar(cx, 0, "R")?, scalar(cx, 1, "T")?);
    let (xs, d) = groups(cx, 4)?;
    let (al, be, eps) = (a.alpha as f64, a.beta as f64, a.epsilon as f64);
    let (norm, post) = (a.norm_coefficient as f64, a.norm_coefficient_post as f64);
    let rate = if t > 0.0 {
        r * (1.0 - be.powf(t)).sqrt() / (1.0 - al.powf(t))
    } else {
        r
    };
    let (mut nx, mut nv, mut nh) = (Vec::new(), Vec::new(), Vec::new());
    for p in &d {
        let (x, g, v, h) = (&p[0], &p[1], &p[2], &p[3]);
        let (mut xo, mut vo, mut ho) = (Vec::new(), Vec::new(), Vec::new());
        for j in 0..x.len() {
            let gr = norm * x[j] + g[j];
            let vn = al * v[j] + (1.0 - al) * gr;
            let hn = be * h[j] + (1.0 - be) * gr * gr;
            let xr = x[j] - rate * vn / (hn.sqrt() + eps);
            xo.push((1.0 - post) * xr);
            vo.push(vn);
            ho.push(hn);
        }
        nx.push(xo);
        nv.push(vo);
        nh.push(ho);
    }
    emit(&xs, vec![nx, nv, nh])
}

/// `Momentum`: `G' = λX + G`, `V' = αV + β'G'` (β' = β when T > 0, else 1);
/// standard: `X' = X - R·V'`; nesterov: `X' = X - R·(G' + αV')`.
pub(super) fn momentum(a: &Momentum, cx: &mut NodeCtx<'_>) -> OpResult {
    let (r, t) = (scalar(cx, 0, "R")?, scalar(cx, 1, "T")?);
    let (xs, d) = groups(cx, 3)?;
    let (al, norm) = (a.alpha as f64, a.norm_coefficient as f64);
    let be = if t > 0.0 { a.beta as f64 } else { 1.0 };
    let nesterov = match a.mode.as_str() {
        "standard" => false,
        "nesterov" => true,
        m => return Err(OpError::invalid(format!("unknown Momentum mode '{m}'"))),
    };
    let (mut nx, mut nv) = (Vec::new(), Vec::new());
    for p in &d {
        let (x, g, v) = (&p[0], &p[1], &p[2]);
        let (mut xo, mut vo) = (Vec::new(), Vec::new());
        for j in 0..x.len() {
            let gr = norm * x[j] + g[j];
            let vn = al * v[j] + be * gr;
            xo.push(if nesterov { x[j] - r * (gr + al * vn) } else { x[j] - r * vn });
            vo.push(vn);
        }
        nx.push(xo);
        nv.push(vo);
    }
    emit(&xs, vec![nx, nv])
}
