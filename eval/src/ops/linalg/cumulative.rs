//! `CumSum` and `CumProd` along an axis given as input 1 (`exclusive`, `reverse`).

use super::num::{Vals, from_vals, lane_apply, lanes, out, scalar_int, vals};
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use crate::ops::util::norm_axis;

/// Runs `CumSum` (`prod == false`) or `CumProd`.
pub fn run(cx: &NodeCtx<'_>, prod: bool, exclusive: i64, reverse: i64) -> OpResult {
    let x = cx.tensor(0)?;
    let axis = scalar_int(cx.tensor(1)?, "axis")?;
    let shape = x.shape().to_vec();
    let ax = norm_axis(axis, shape.len())?;
    let l = lanes(&shape, ax);
    let (ex, rev) = (exclusive != 0, reverse != 0);
    let v = match vals(x)? {
        Vals::F(mut v) => {
            let id = if prod { 1.0 } else { 0.0 };
            lane_apply(&mut v, l, |s| scan(s, id, ex, rev, |a, b| if prod { a * b } else { a + b }));
            Vals::F(v)
        }
        Vals::I(mut v) => {
            let id = if prod { 1 } else { 0 };
            lane_apply(&mut v, l, |s| {
                scan(
                    s,
                    id,
                    ex,
                    rev,
                    |a: i128, b| {
                        if prod { a.wrapping_mul(b) } else { a.wrapping_add(b) }
                    },
                )
            });
            Vals::I(v)
        }
    };
    out(from_vals(x.dtype(), &shape, v)?)
}

fn scan<T: Copy>(s: &mut [T], id: T, ex: bool, rev: bool, f: impl Fn(T, T) -> T) {
    let n = s.len();
    let mut acc = id;
    for j in 0..n {
        let k = if rev { n - 1 - j } else { j };
        let x = s[k];
        if ex {
            s[k] = acc;
            acc = f(acc, x);
        } else {
            acc = f(acc, x);
            s[k] = acc;
        }
    }
}
