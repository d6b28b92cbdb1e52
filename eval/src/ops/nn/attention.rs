//! Attention (opset 23/24: GQA, boolean/additive masks, past KV, causal, softcap, the four
//! qk_matmul_output modes, nonpad_kv_seqlen) and RotaryEmbedding. Computed in f64.

use super::common::{fdata, fout, prod};
use crate::error::OpError;
use crate::ops::util::broadcast_to;
use crate::tensor::Tensor;
use edgeport_ir::ops::nn::{Attention, RotaryEmbedding};
use ndarray::{ArrayD, IxDyn};

/// [B, S, H*D] → [B, H, S, D].
fn split_heads(v: &[f64], s: &[usize], h: usize) -> Result<(Vec<f64>, [usize; 4]), OpError> {
    let (b, sq, hid) = (s[0], s[1], s[2]);
    if h == 0 || hid % h != 0 {
        return Err(OpError::invalid(format!("hidden size {hid} is not divisible by {h} heads")));
    }
    let d = hid / h;
    let mut o = vec![0f64; v.len()];
    for bi in 0..b {
        for si in 0..sq {
            for hi in 0..h {
                for di in 0..d {
                    o[((bi * h + hi) * sq + si) * d + di] = v[(bi * sq + si) * hid + hi * d + di];
                }
            }
        }
    }
    Ok((o, [b, h, sq, d]))
}

fn as4(t: &Tensor, heads: Option<i64>, what: &str) -> Result<(Vec<f64>, [usize; 4]), OpError> {
    let (v, s) = fdata(t)?;
    match s.len() {
        4 => Ok((v, [s[0], s[1], s[2], s[3]])),
        3 => {
            let h = heads.ok_or_else(|| OpError::invalid(format!("3-D {what} needs the num_heads attribute")))?;
            split_heads(&v, &s, usize::try_from(h).map_err(|_| OpError::invalid("bad num_heads"))?)
        }
        _ => Err(OpError::invalid(format!("{what} must be 3-D or 4-D, got {s:?}"))),
    }
}

/// Concatenates past and new along the sequence axis (2).
fn concat_seq(past: Option<(Vec<f64>, [usize; 4])>, cur: (Vec<f64>, [usize; 4])) -> Result<(Vec<f64>, [usize; 4]), OpError> {
    let Some((pv, ps)) = past else { return Ok(cur) };
    let (cv, cs) = cur;
    if ps[0] != cs[0] || ps[1] != cs[1] || ps[3] != cs[3] {
        return Err(OpError::invalid(format!("past {ps:?} does not fit {cs:?}")));
    }
    let t = ps[2] + cs[2];
    let d = cs[3];
    let mut o = Vec::with_capacity(pv.len() + cv.len());
    for bh in 0..cs[0] * cs[1] {
        o.extend_from_slice(&pv[bh * ps[2] * d..(bh + 1) * ps[2] * d]);
        o.extend_from_slice(&cv[bh * cs[2] * d..(bh + 1) * cs[2] * d]);
    }
    Ok((o, [cs[0], cs[1], t, d]))
}

/// ONNX Attention: Y, present_key, present_value, qk_matmul_output.
pub fn attention(a: &Attention, ins: [Option<&Tensor>; 7]) -> Result<Vec<Tensor>, OpError> {
    let [q, k, v, mask, pk, pv, nonpad] = ins;
    let (q, k, v) = (
        q.ok_or_else(|| OpError::invalid("Q is missing"))?,
        k.ok_or_else(|| OpError::invalid("K is missing"))?,
        v.ok_or_else(|| OpError::invalid("V is missing"))?,
    );
    let three = q.rank() == 3;
    let (qv, qs) = as4(q, a.q_num_heads, "Q")?;
    let (kv0, ks0) = as4(k, a.kv_num_heads, "K")?;
    let (vv0, vs0) = as4(v, a.kv_num_heads, "V")?;
    let past_k = pk.map(|t| as4(t, a.kv_num_heads, "past_key")).transpose()?;
    let past_len = past_k.as_ref().map_or(0, |p| p.1[2]);
    let (kv, ks) = concat_seq(past_k, (kv0, ks0))?;
    let (vv, vs) = concat_seq(pv.map(|t| as4(t, a.kv_num_heads, "past_value")).transpose()?, (vv0, vs0))?;
    let (b, hq, sq, d) = (qs[0], qs[1], qs[2], qs[3]);
    let (hk, t, dv) = (ks[1], ks[2], vs[3]);
    if ks[3] != d || vs[2] != t || vs[1] != hk || ks[0] != b || vs[0] != b || hk == 0 || hq % hk != 0 {
        return Err(OpError::invalid(format!(
            "Attention shapes Q {qs:?}, K {ks:?}, V {vs:?} do not fit"
        )));
    }
    let rep = hq / hk;
    let scale = a.scale.map_or(1.0 / (d as f64).sqrt(), |s| s as f64);
    // Bias [B, Hq, Sq, T].
    let n_bias = b * hq * sq * t;
    let mut bias = vec![0f64; n_bias];
    if let Some(m) = mask {
        let ms = m.shape().to_vec();
        let last = *ms.last().ok_or_else(|| OpError::invalid("attn_mask must have rank >= 1"))?;
        if last > t {
            return Err(OpError::invalid(format!("attn_mask's last dim {last} exceeds {t}")));
        }
        let mv: Vec<f64> = match m {
            Tensor::Bool(x) => x.iter().map(|&x| if x { 0.0 } else { f64::NEG_INFINITY }).collect(),
            m => m.to_f64_vec()?,
        };
        // Pad the last dim to T with -inf.
        let rows = mv.len() / last.max(1);
        let mut padded = Vec::with_capacity(rows * t);
        for r in 0..rows {
            padded.extend_from_slice(&mv[r * last..(r + 1) * last]);
            padded.extend(std::iter::repeat_n(f64::NEG_INFINITY, t - last));
        }
        let mut ps = ms.clone();
        *ps.last_mut().unwrap_or(&mut 0) = t;
        let arr = ArrayD::from_shape_vec(IxDyn(&ps), padded).map_err(|e| OpError::invalid(e.to_string()))?;
        let full = broadcast_to(&arr, &[b, hq, sq, t])?;
        bias.iter_mut().zip(full.iter()).for_each(|(o, &x)| *o += x);
    }
    if a.is_causal != 0 {
        for (i, o) in bias.iter_mut().enumerate() {
            let j = i % t;
            let qi = (i / t) % sq;
            if j >= past_len && j - past_len > qi {
                *o += f64::NEG_INFINITY;
            }
        }
    }
    if let Some(np) = nonpad {
        let lens = np.to_i64_vec()?;
        if lens.len() != b {
            return Err(OpError::invalid("nonpad_kv_seqlen must have one value per batch"));
        }
        for (i, o) in bias.iter_mut().enumerate() {
            let j = (i % t) as i64;
            let bi = i / (hq * sq * t);
            if j >= lens[bi] {
                *o += f64::NEG_INFINITY;
            }
        }
    }
    let softcap = a.softcap as f64;
    let mut qk_out = vec![0f64; n_bias];
    let mut y = vec![0f64; b * hq * sq * dv];
    let mut row = vec![0f64; t];
    for bi in 0..b {
        for h in 0..hq {
            let kh = h / rep;
            for i in 0..sq {
                let qo = ((bi * hq + h) * sq + i) * d;
                let qr = &qv[qo..qo + d];
                for (j, r) in row.iter_mut().enumerate() {
                    let ko = ((bi * hk + kh) * t + j) * d;
                    let mut s: f64 = qr.iter().zip(&kv[ko..ko + d]).map(|(x, y)| x * y).sum::<f64>() * scale;
                    if softcap > 0.0 {
                        s = (s / softcap).tanh() * softcap;
                    }
                    *r = s;
                }
                let bo = ((bi * hq + h) * sq + i) * t;
                let mode = a.qk_matmul_output_mode;
                for j in 0..t {
                    let raw = row[j];
                    row[j] += bias[bo + j];
                    qk_out[bo + j] = if mode == 2 { row[j] } else { raw };
                }
                let mx = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                row.iter_mut().for_each(|x| *x = (*x - mx).exp());
                let sum: f64 = row.iter().sum();
                row.iter_mut().for_each(|x| *x /= sum);
                if mode == 3 {
                    qk_out[bo..bo + t].copy_from_slice(&row);
                }
                let yo = ((bi * hq + h) * sq + i) * dv;
                for (j, &p) in row.iter().enumerate() {
                    let vo = ((bi * hk + kh) * t + j) * dv;
                    for e in 0..dv {
                        y[yo + e] += p * vv[vo + e];
                    }
                }
            }
        }
    }
    let dt = q.dtype();
    let yt = if three {
        let mut o = vec![0f64; y.len()];
        for bi in 0..b {
            for h in 0..hq {
                for i in 0..sq {
                    for e in 0..dv {
                        o[((bi * sq + i) * hq + h) * dv + e] = y[((bi * hq + h) * sq + i) * dv + e];
                    }
                }
            }
        }
        fout(dt, &[b, sq, hq * dv], o)?
    } else {
        fout(dt, &[b, hq, sq, dv], y)?
    };
    Ok(vec![
        yt,
        fout(k.dtype(), &ks, kv)?,
        fout(v.dtype(), &vs, vv)?,
        fout(dt, &[b, hq, sq, t], qk_out)?,
    ])
}

/// ONNX RotaryEmbedding.
pub fn rotary(a: &RotaryEmbedding, x: &Tensor, cos: &Tensor, sin: &Tensor, pos: Option<&Tensor>) -> Result<Tensor, OpError> {
    let (xv, xs) = fdata(x)?;
    let (cv, cs) = fdata(cos)?;
    let (sv, ss) = fdata(sin)?;
    if cs != ss {
        return Err(OpError::invalid("cos_cache and sin_cache shapes differ"));
    }
    // Logical layout [B, S, H, D] with a strided accessor into x.
    let (b, s, h, d, st): (usize, usize, usize, usize, [usize; 4]) = match xs.len() {
        4 => {
            let (b, h, s, d) = (xs[0], xs[1], xs[2], xs[3]);
            (b, s, h, d, [h * s * d, d, s * d, 1])
        }
        3 => {
            let nh = a
                .num_heads
                .and_then(|n| usize::try_from(n).ok())
                .filter(|&n| n > 0 && xs[2] % n == 0)
                .ok_or_else(|| OpError::invalid("3-D RotaryEmbedding needs a num_heads dividing the hidden size"))?;
            let d = xs[2] / nh;
            (xs[0], xs[1], nh, d, [xs[1] * xs[2], xs[2], d, 1])
        }
        _ => {
            return Err(OpError::invalid(format!("RotaryEmbedding input must be 3-D or 4-D, got {xs:?}")));
        }
    };
    let rd = if a.rotary_embedding_dim > 0 {
        a.rotary_embedding_dim as usize
    } else {
        d
    };
    let half = rd / 2;
    if rd > d || cs.last().copied() != Some(half) {
        return Err(OpError::invalid(format!("cos_cache {cs:?} does not fit rotary dim {rd}")));
    }
    let pv = pos.map(|p| p.to_i64_vec()).transpose()?;
    let crow = |bi: usize, si: usize| -> Result<usize, OpError> {
        let r = match (&pv, cs.len()) {
            (Some(p), _) => {
                let i = *p.get(bi * s + si).ok_or_else(|| OpError::invalid("position_ids too short"))?;
                usize::try_from(i).map_err(|_| OpError::invalid("negative position id"))?
            }
            (None, 3) => bi * s + si,
            (None, _) => si,
        };
        if (r + 1) * half > cv.len() {
            return Err(OpError::invalid("position out of the cos/sin cache"));
        }
        Ok(r * half)
    };
    let mut y = xv.clone();
    let inter = a.interleaved != 0;
    for bi in 0..b {
        for si in 0..s {
            let co = crow(bi, si)?;
            for hi in 0..h {
                let base = bi * st[0] + si * st[1] + hi * st[2];
                for j in 0..half {
                    let (i1, i2) = if inter {
                        (base + 2 * j, base + 2 * j + 1)
                    } else {
                        (base + j, base + j + half)
                    };
                    let (x1, x2) = (xv[i1], xv[i2]);
                    let (c, sn) = (cv[co + j], sv[co + j]);
                    y[i1] = c * x1 - sn * x2;
                    y[i2] = sn * x1 + c * x2;
                }
            }
        }
    }
    let _ = prod(&xs);
    fout(x.dtype(), &xs, y)
}
