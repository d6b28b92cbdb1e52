//! `LSTM` (gate order i, o, f, c; peepholes P in order i, o, f), with `input_forget`:
//!
//! ```text
//! i = f(X·Wiᵀ + H·Riᵀ + Pi ⊙ C + Wbi + Rbi)
//! f = f(X·Wfᵀ + H·Rfᵀ + Pf ⊙ C + Wbf + Rbf)        (f = 1 - i when input_forget ≠ 0)
//! c = g(X·Wcᵀ + H·Rcᵀ + Wbc + Rbc)
//! C' = f ⊙ C + i ⊙ c
//! o = f(X·Woᵀ + H·Roᵀ + Po ⊙ C' + Wbo + Rbo)
//! H' = o ⊙ h(C')
//! ```

use super::rnn::{Loaded, clip, matvec, parse_acts};
use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use edgeport_ir::ops::defs::rnn::LSTM;

pub(super) fn run(a: &LSTM, cx: &mut NodeCtx<'_>) -> OpResult {
    let l = Loaded::load(cx, 4, &a.direction, a.layout, a.hidden_size)?;
    let acts = parse_acts(
        &a.activations,
        &a.activation_alpha,
        &a.activation_beta,
        3,
        l.dirs,
        &["Sigmoid", "Tanh", "Tanh"],
    )?;
    let h0 = l.initial(cx, 5)?;
    let c0 = l.initial(cx, 6)?;
    let n = l.hidden;
    let p = match cx.opt_tensor(7)? {
        Some(pt) => {
            if pt.shape() != [l.dirs, 3 * n] {
                return Err(OpError::invalid(format!(
                    "P has shape {:?}, expected [{}, {}]",
                    pt.shape(),
                    l.dirs,
                    3 * n
                )));
            }
            pt.to_f64_vec()?
        }
        None => vec![0.0; l.dirs * 3 * n],
    };
    let (y, finals) = l.drive(vec![h0, c0], |d, xt, st| {
        let (f, g, hf) = (acts[3 * d], acts[3 * d + 1], acts[3 * d + 2]);
        let (w, r, wb, rb) = l.dir_weights(d, 4);
        let pd = &p[d * 3 * n..(d + 1) * 3 * n];
        let (h, c) = (&st[0], &st[1]);
        let xw = matvec(w, 0, 4 * n, xt);
        let hr = matvec(r, 0, 4 * n, h);
        let pre = |gate: usize, j: usize| xw[gate * n + j] + hr[gate * n + j] + wb[gate * n + j] + rb[gate * n + j];
        let mut new_c = vec![0.0; n];
        let mut new_h = vec![0.0; n];
        for j in 0..n {
            let i = f.apply(clip(pre(0, j) + pd[j] * c[j], a.clip));
            let fg = if a.input_forget != 0 {
                1.0 - i
            } else {
                f.apply(clip(pre(2, j) + pd[2 * n + j] * c[j], a.clip))
            };
            let cand = g.apply(clip(pre(3, j), a.clip));
            new_c[j] = fg * c[j] + i * cand;
            let o = f.apply(clip(pre(1, j) + pd[n + j] * new_c[j], a.clip));
            new_h[j] = o * hf.apply(new_c[j]);
        }
        st[0] = new_h;
        st[1] = new_c;
    });
    l.outputs(&y, &finals)
}
