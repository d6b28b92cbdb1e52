//! `GRU` (gate order z, r, h), with `linear_before_reset`:
//!
//! ```text
//! z = f(X·Wzᵀ + H·Rzᵀ + Wbz + Rbz)
//! r = f(X·Wrᵀ + H·Rrᵀ + Wbr + Rbr)
//! h = g(X·Whᵀ + (r ⊙ H)·Rhᵀ + Rbh + Wbh)          linear_before_reset = 0
//! h = g(X·Whᵀ + r ⊙ (H·Rhᵀ + Rbh) + Wbh)          linear_before_reset ≠ 0
//! H' = (1 - z) ⊙ h + z ⊙ H
//! ```

use super::rnn::{Loaded, clip, matvec, parse_acts};
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use edgeport_ir::ops::defs::rnn::GRU;

pub(super) fn run(a: &GRU, cx: &mut NodeCtx<'_>) -> OpResult {
    let l = Loaded::load(cx, 3, &a.direction, a.layout, a.hidden_size)?;
    let acts = parse_acts(
        &a.activations,
        &a.activation_alpha,
        &a.activation_beta,
        2,
        l.dirs,
        &["Sigmoid", "Tanh"],
    )?;
    let h0 = l.initial(cx, 5)?;
    let n = l.hidden;
    let (y, finals) = l.drive(vec![h0], |d, xt, st| {
        let (f, g) = (acts[2 * d], acts[2 * d + 1]);
        let (w, r, wb, rb) = l.dir_weights(d, 3);
        let h = &st[0];
        let xw = matvec(w, 0, 3 * n, xt);
        let hr_zr = matvec(r, 0, 2 * n, h);
        let z: Vec<f64> = (0..n).map(|j| f.apply(clip(xw[j] + hr_zr[j] + wb[j] + rb[j], a.clip))).collect();
        let rg: Vec<f64> = (0..n)
            .map(|j| f.apply(clip(xw[n + j] + hr_zr[n + j] + wb[n + j] + rb[n + j], a.clip)))
            .collect();
        let cand: Vec<f64> = if a.linear_before_reset != 0 {
            let hr = matvec(r, 2 * n, n, h);
            (0..n)
                .map(|j| g.apply(clip(xw[2 * n + j] + rg[j] * (hr[j] + rb[2 * n + j]) + wb[2 * n + j], a.clip)))
                .collect()
        } else {
            let rh: Vec<f64> = (0..n).map(|j| rg[j] * h[j]).collect();
            let hr = matvec(r, 2 * n, n, &rh);
            (0..n)
                .map(|j| g.apply(clip(xw[2 * n + j] + hr[j] + rb[2 * n + j] + wb[2 * n + j], a.clip)))
                .collect()
        };
        let new: Vec<f64> = (0..n).map(|j| (1.0 - z[j]) * cand[j] + z[j] * h[j]).collect();
        st[0] = new;
    });
    l.outputs(&y, &finals)
}
