//! `TopK`: the k largest (or smallest) elements along an axis and their indices; ties keep the
//! lower index first, NaN counts as larger than every number.

use super::num::{Vals, from_vals, lanes, scalar_int, vals};
use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use crate::ops::util::norm_axis;
use crate::tensor::Tensor;
use crate::value::Value;
use ndarray::{ArrayD, IxDyn};
use std::cmp::Ordering;

/// Runs `TopK`.
pub fn run(cx: &NodeCtx<'_>, axis: i64, largest: i64) -> OpResult {
    let x = cx.tensor(0)?;
    let k = scalar_int(cx.tensor(1)?, "K")?;
    let shape = x.shape().to_vec();
    let ax = norm_axis(axis, shape.len())?;
    let (outer, n, inner) = lanes(&shape, ax);
    if k < 0 || k as usize > n {
        return Err(OpError::invalid(format!("K = {k} is out of range for an axis of {n}")));
    }
    let k = k as usize;
    let lg = largest != 0;
    let mut idx = Vec::with_capacity(outer * k * inner);
    let order = |o: usize, i: usize, cmp: &dyn Fn(usize, usize) -> Ordering| -> Vec<usize> {
        let _ = (o, i);
        let mut ks: Vec<usize> = (0..n).collect();
        // Stable sort: equal elements keep their index order.
        ks.sort_by(|&a, &b| cmp(a, b));
        ks.truncate(k);
        ks
    };
    let v = vals(x)?;
    let mut picked: Vec<usize> = Vec::with_capacity(outer * k * inner);
    for o in 0..outer {
        let mut lane_orders = Vec::with_capacity(inner);
        for i in 0..inner {
            let at = |j: usize| (o * n + j) * inner + i;
            let ks = match &v {
                Vals::F(v) => order(o, i, &|a, b| {
                    let c = fcmp(v[at(a)], v[at(b)]);
                    if lg { c.reverse() } else { c }
                }),
                Vals::I(v) => order(o, i, &|a, b| {
                    let c = v[at(a)].cmp(&v[at(b)]);
                    if lg { c.reverse() } else { c }
                }),
            };
            lane_orders.push(ks);
        }
        for j in 0..k {
            for (i, ks) in lane_orders.iter().enumerate() {
                idx.push(ks[j] as i64);
                picked.push((o * n + ks[j]) * inner + i);
            }
        }
    }
    let mut out_shape = shape.clone();
    out_shape[ax] = k;
    let values = match v {
        Vals::F(v) => Vals::F(picked.iter().map(|&p| v[p]).collect()),
        Vals::I(v) => Vals::I(picked.iter().map(|&p| v[p]).collect()),
    };
    let values = from_vals(x.dtype(), &out_shape, values)?;
    let idx = ArrayD::from_shape_vec(IxDyn(&out_shape), idx).map_err(|e| OpError::invalid(e.to_string()))?;
    Ok(vec![Value::Tensor(values), Value::Tensor(Tensor::I64(idx))])
}

/// Total order for floats with NaN above +inf.
fn fcmp(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}
