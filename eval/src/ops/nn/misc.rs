//! The rest of the nn family: Dropout (numpy-compatible MT19937 for training with a seed),
//! Col2Im, TfIdfVectorizer, MaxRoiPool, CausalConvWithState and LinearAttention.

use super::common::{fdata, fout, prod, strides_of, to_usize};
use crate::error::OpError;
use crate::tensor::Tensor;
use edgeport_ir::DType;
use edgeport_ir::ops::nn::{Col2Im, LinearAttention, TfIdfVectorizer};
use ndarray::{ArrayD, IxDyn};
use std::collections::{HashMap, HashSet};

/// numpy's legacy `RandomState(seed)` (MT19937) uniform doubles.
struct Mt {
    s: [u32; 624],
    i: usize,
}

impl Mt {
    fn new(seed: u32) -> Mt {
        let mut s = [0u32; 624];
        s[0] = seed;
        for i in 1..624 {
            s[i] = 1812433253u32.wrapping_mul(s[i - 1] ^ (s[i - 1] >> 30)).wrapping_add(i as u32);
        }
        Mt { s, i: 624 }
    }
    fn next(&mut self) -> u32 {
        if self.i >= 624 {
            for k in 0..624 {
                let y = (self.s[k] & 0x8000_0000) | (self.s[(k + 1) % 624] & 0x7fff_ffff);
                let mut v = self.s[(k + 397) % 624] ^ (y >> 1);
                if y & 1 != 0 {
                    v ^= 0x9908_b0df;
                }
                self.s[k] = v;
            }
            self.i = 0;
        }
        let mut y = self.s[self.i];
        self.i += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }
    fn uniform(&mut self) -> f64 {
        let a = (self.next() >> 5) as f64;
        let b = (self.next() >> 6) as f64;
        (a * 67108864.0 + b) / 9007199254740992.0
    }
}

/// ONNX Dropout: output and mask.
pub fn dropout(seed: Option<i64>, x: &Tensor, ratio: Option<&Tensor>, training: Option<&Tensor>) -> Result<Vec<Tensor>, OpError> {
    let ratio = super::common::opt_scalar(ratio)?.unwrap_or(0.5);
    let training = super::common::opt_scalar(training)?.is_some_and(|v| v != 0.0);
    let shape = x.shape().to_vec();
    if !training || ratio == 0.0 {
        return Ok(vec![x.clone(), Tensor::Bool(ArrayD::from_elem(IxDyn(&shape), true))]);
    }
    if !(0.0..1.0).contains(&ratio) {
        return Err(OpError::invalid(format!("Dropout ratio {ratio} must be in [0, 1)")));
    }
    let mut rng = Mt::new(seed.unwrap_or(0) as u32);
    let xv = x.to_f64_vec()?;
    let mask: Vec<bool> = (0..xv.len()).map(|_| rng.uniform() >= ratio).collect();
    let scale = 1.0 / (1.0 - ratio);
    let y = xv.iter().zip(&mask).map(|(&v, &m)| if m { v * scale } else { 0.0 }).collect();
    Ok(vec![
        fout(x.dtype(), &shape, y)?,
        Tensor::Bool(ArrayD::from_shape_vec(IxDyn(&shape), mask).map_err(|e| OpError::invalid(e.to_string()))?),
    ])
}

/// ONNX Col2Im.
pub fn col2im(a: &Col2Im, x: &Tensor, image_shape: &Tensor, block_shape: &Tensor) -> Result<Tensor, OpError> {
    let (xv, xs) = fdata(x)?;
    let img: Vec<usize> = image_shape
        .to_i64_vec()?
        .into_iter()
        .map(|v| to_usize(v, "image_shape"))
        .collect::<Result<_, _>>()?;
    let blk: Vec<usize> = block_shape
        .to_i64_vec()?
        .into_iter()
        .map(|v| to_usize(v, "block_shape"))
        .collect::<Result<_, _>>()?;
    let nd = img.len();
    let kp = prod(&blk);
    if xs.len() != 3 || blk.len() != nd || kp == 0 || xs[1] % kp != 0 {
        return Err(OpError::invalid(format!("Col2Im input {xs:?} does not fit block {blk:?}")));
    }
    let get = |v: &[i64], i: usize, def: usize| v.get(i).map_or(Ok(def), |&x| to_usize(x, "Col2Im attribute"));
    let (n, c) = (xs[0], xs[1] / kp);
    let mut nb = vec![0usize; nd];
    let mut st = vec![0usize; nd];
    let mut dl = vec![0usize; nd];
    let mut pb = vec![0usize; nd];
    for d in 0..nd {
        st[d] = get(&a.strides, d, 1)?;
        dl[d] = get(&a.dilations, d, 1)?;
        pb[d] = get(&a.pads, d, 0)?;
        let pe = get(&a.pads, d + nd, 0)?;
        let ext = dl[d] * (blk[d].max(1) - 1) + 1;
        nb[d] = (img[d] + pb[d] + pe)
            .checked_sub(ext)
            .ok_or_else(|| OpError::invalid("Col2Im block larger than image"))?
            / st[d].max(1)
            + 1;
    }
    let l = prod(&nb);
    if xs[2] != l {
        return Err(OpError::invalid(format!("Col2Im expects {l} blocks, input has {}", xs[2])));
    }
    let ip = prod(&img);
    let (istr, kstr, bstr) = (strides_of(&img), strides_of(&blk), strides_of(&nb));
    let mut y = vec![0f64; n * c * ip];
    for ni in 0..n {
        for ci in 0..c {
            for k in 0..kp {
                let row = &xv[((ni * c + ci) * kp + k) * l..((ni * c + ci) * kp + k + 1) * l];
                for (b, &v) in row.iter().enumerate() {
                    let mut off = 0usize;
                    let mut ok = true;
                    for d in 0..nd {
                        let p = ((b / bstr[d]) % nb[d] * st[d] + (k / kstr[d]) % blk[d] * dl[d]) as isize - pb[d] as isize;
                        if p < 0 || p as usize >= img[d] {
                            ok = false;
                            break;
                        }
                        off += p as usize * istr[d];
                    }
                    if ok {
                        y[(ni * c + ci) * ip + off] += v;
                    }
                }
            }
        }
    }
    let mut ys = vec![n, c];
    ys.extend(&img);
    fout(x.dtype(), &ys, y)
}

/// ONNX TfIdfVectorizer.
pub fn tfidf(a: &TfIdfVectorizer, x: &Tensor) -> Result<Tensor, OpError> {
    let keys: Vec<String> = match x {
        Tensor::Str(s) => s.iter().cloned().collect(),
        t => t.to_i64_vec()?.into_iter().map(|v| v.to_string()).collect(),
    };
    let pool: Vec<String> = if matches!(x, Tensor::Str(_)) {
        a.pool_strings.clone()
    } else {
        a.pool_int64s.iter().map(|v| v.to_string()).collect()
    };
    // n-gram → output index, and every prefix of a pool n-gram.
    let mut grams: HashMap<Vec<String>, usize> = HashMap::new();
    let mut prefixes: HashSet<Vec<String>> = HashSet::new();
    let mut id = 0usize;
    for (i, &start) in a.ngram_counts.iter().enumerate() {
        let n = i + 1;
        let start = to_usize(start, "ngram_counts")?;
        let end = a
            .ngram_counts
            .get(i + 1)
            .map_or(Ok(pool.len()), |&e| to_usize(e, "ngram_counts"))?
            .min(pool.len());
        let mut p = start;
        while p + n <= end {
            let g: Vec<String> = pool[p..p + n].to_vec();
            for k in 1..=n {
                prefixes.insert(g[..k].to_vec());
            }
            let oi = *a.ngram_indexes.get(id).ok_or_else(|| OpError::invalid("ngram_indexes too short"))?;
            grams.insert(g, to_usize(oi, "ngram_indexes")?);
            id += 1;
            p += n;
        }
    }
    let out_size = a.ngram_indexes.iter().copied().max().map_or(0, |m| m.max(-1) + 1) as usize;
    let shape = x.shape().to_vec();
    let (rows, c) = match shape.len() {
        0 => (1, 1),
        1 => (1, shape[0]),
        2 => (shape[0], shape[1]),
        _ => {
            return Err(OpError::invalid("TfIdfVectorizer input must be [C] or [B, C]"));
        }
    };
    let (minn, maxn) = (
        to_usize(a.min_gram_length, "min_gram_length")?,
        to_usize(a.max_gram_length, "max_gram_length")?,
    );
    let maxskip = to_usize(a.max_skip_count, "max_skip_count")?;
    let mut freq = vec![0f64; rows * out_size];
    for r in 0..rows {
        let row = &keys[r * c..(r + 1) * c];
        let mut start_n = minn.max(1);
        for skip in 1..=maxskip + 1 {
            for s in 0..c {
                if s + skip * (start_n - 1) >= c {
                    break;
                }
                let mut g: Vec<String> = Vec::new();
                let mut item = s;
                let mut size = 1;
                while size <= maxn && item < c {
                    g.push(row[item].clone());
                    if !prefixes.contains(&g) {
                        break;
                    }
                    if size >= start_n
                        && let Some(&oi) = grams.get(&g)
                    {
                        freq[r * out_size + oi] += 1.0;
                    }
                    size += 1;
                    item += skip;
                }
            }
            if start_n == 1 {
                start_n += 1;
                if start_n > maxn {
                    break;
                }
            }
        }
    }
    let w = &a.weights;
    let y: Vec<f64> = freq
        .iter()
        .enumerate()
        .map(|(p, &f)| {
            let wi = w.get(p % out_size.max(1)).map(|&v| v as f64);
            match a.mode.as_str() {
                "IDF" => {
                    if f > 0.0 {
                        wi.unwrap_or(1.0)
                    } else {
                        0.0
                    }
                }
                "TFIDF" => f * wi.unwrap_or(1.0),
                _ => f,
            }
        })
        .collect();
    let ys = if shape.len() == 2 { vec![rows, out_size] } else { vec![out_size] };
    fout(DType::F32, &ys, y)
}

/// ONNX MaxRoiPool.
pub fn max_roi_pool(pooled: &[i64], scale: f64, x: &Tensor, rois: &Tensor) -> Result<Tensor, OpError> {
    let (xv, xs) = fdata(x)?;
    let (rv, rs) = fdata(rois)?;
    if xs.len() != 4 || rs.len() != 2 || rs[1] != 5 || pooled.len() != 2 {
        return Err(OpError::invalid(format!("MaxRoiPool X {xs:?}, rois {rs:?} do not fit")));
    }
    let (n, c, h, w) = (xs[0], xs[1], xs[2] as i64, xs[3] as i64);
    let (ph, pw) = (to_usize(pooled[0], "pooled_shape")?, to_usize(pooled[1], "pooled_shape")?);
    let r = rs[0];
    let mut y = vec![0f64; r * c * ph * pw];
    for ri in 0..r {
        let roi = &rv[ri * 5..ri * 5 + 5];
        let b = roi[0] as usize;
        if b >= n {
            return Err(OpError::invalid("MaxRoiPool batch index out of range"));
        }
        let (sw, sh) = ((roi[1] * scale).round() as i64, (roi[2] * scale).round() as i64);
        let (ew, eh) = ((roi[3] * scale).round() as i64, (roi[4] * scale).round() as i64);
        let rh = (eh - sh + 1).max(1) as f64;
        let rw = (ew - sw + 1).max(1) as f64;
        let (bh, bw) = (rh / ph as f64, rw / pw as f64);
        for ci in 0..c {
            let base = (b * c + ci) * (h * w) as usize;
            for i in 0..ph {
                let hs = ((i as f64 * bh).floor() as i64 + sh).clamp(0, h);
                let he = (((i + 1) as f64 * bh).ceil() as i64 + sh).clamp(0, h);
                for j in 0..pw {
                    let ws = ((j as f64 * bw).floor() as i64 + sw).clamp(0, w);
                    let we = (((j + 1) as f64 * bw).ceil() as i64 + sw).clamp(0, w);
                    let mut m = if he <= hs || we <= ws { 0.0 } else { f64::NEG_INFINITY };
                    for yy in hs..he {
                        for xx in ws..we {
                            m = m.max(xv[base + (yy * w + xx) as usize]);
                        }
                    }
                    y[((ri * c + ci) * ph + i) * pw + j] = m;
                }
            }
        }
    }
    fout(x.dtype(), &[r, c, ph, pw], y)
}

/// ONNX CausalConvWithState: output and present_state.
pub fn causal_conv(act: &str, x: &Tensor, w: &Tensor, b: Option<&Tensor>, past: Option<&Tensor>) -> Result<Vec<Tensor>, OpError> {
    let (xv, xs) = fdata(x)?;
    let (wv, ws) = fdata(w)?;
    if xs.len() != 3 || ws.len() != 3 || ws[0] != xs[1] || ws[1] != 1 || ws[2] == 0 {
        return Err(OpError::invalid(format!(
            "CausalConvWithState input {xs:?} and weight {ws:?} do not fit"
        )));
    }
    let (n, c, l, k) = (xs[0], xs[1], xs[2], ws[2]);
    let bv = b.map(|b| fdata(b).map(|d| d.0)).transpose()?.unwrap_or_else(|| vec![0.0; c]);
    let pv = match past {
        Some(p) => {
            let (pv, ps) = fdata(p)?;
            if ps != [n, c, k - 1] {
                return Err(OpError::invalid(format!("past_state {ps:?} should be {:?}", [n, c, k - 1])));
            }
            pv
        }
        None => vec![0.0; n * c * (k - 1)],
    };
    let pl = l + k - 1;
    let mut y = vec![0f64; n * c * l];
    let mut st = vec![0f64; n * c * (k - 1)];
    for bc in 0..n * c {
        let ch = bc % c;
        let mut padded = pv[bc * (k - 1)..(bc + 1) * (k - 1)].to_vec();
        padded.extend_from_slice(&xv[bc * l..(bc + 1) * l]);
        for t in 0..l {
            let mut s = bv.get(ch).copied().unwrap_or(0.0);
            for j in 0..k {
                s += wv[ch * k + j] * padded[t + j];
            }
            if act == "silu" || act == "swish" {
                s *= 1.0 / (1.0 + (-s).exp());
            }
            y[bc * l + t] = s;
        }
        st[bc * (k - 1)..(bc + 1) * (k - 1)].copy_from_slice(&padded[pl - (k - 1)..]);
    }
    let pdt = past.map_or(x.dtype(), |p| p.dtype());
    Ok(vec![fout(x.dtype(), &xs, y)?, fout(pdt, &[n, c, k - 1], st)?])
}

fn need<'a>(t: Option<&'a Tensor>, w: &str) -> Result<&'a Tensor, OpError> {
    t.ok_or_else(|| OpError::invalid(format!("{w} is missing")))
}

/// ONNX LinearAttention: output and present_state.
pub fn linear_attention(a: &LinearAttention, ins: [Option<&Tensor>; 6]) -> Result<Vec<Tensor>, OpError> {
    let [q, k, v, past, decay, beta] = ins;
    let (q, k, v) = (need(q, "query")?, need(k, "key")?, need(v, "value")?);
    let (qv, qs) = fdata(q)?;
    let (kv, ks) = fdata(k)?;
    let (vv, vs) = fdata(v)?;
    let hq = to_usize(a.q_num_heads, "q_num_heads")?;
    let hk = to_usize(a.kv_num_heads, "kv_num_heads")?;
    if qs.len() != 3 || ks.len() != 3 || vs.len() != 3 || hq == 0 || hk == 0 || hq % hk != 0 || qs[2] % hq != 0 || vs[2] % hk != 0 {
        return Err(OpError::invalid(format!("LinearAttention shapes {qs:?} {ks:?} {vs:?} do not fit")));
    }
    let (b, t) = (qs[0], qs[1]);
    let dk = qs[2] / hq;
    let dv = vs[2] / hk;
    if ks[2] != hk * dk {
        return Err(OpError::invalid("key hidden size does not match kv_num_heads * d_k"));
    }
    let grp = hq / hk;
    let gating = a.update_rule == "gated" || a.update_rule == "gated_delta";
    let delta = a.update_rule == "delta" || a.update_rule == "gated_delta";
    let dec = if gating { Some(fdata(need(decay, "decay")?)?) } else { None };
    let bet = if delta { Some(fdata(need(beta, "beta")?)?) } else { None };
    if let Some((_, ds)) = &dec
        && !(ds.len() == 3 && ds[0] == b && ds[1] == t && (ds[2] == hk || ds[2] == hk * dk))
    {
        return Err(OpError::invalid(format!("decay shape {ds:?} does not fit")));
    }
    if let Some((_, bs)) = &bet
        && !(bs.len() == 3 && bs[0] == b && bs[1] == t && (bs[2] == hk || bs[2] == 1))
    {
        return Err(OpError::invalid(format!("beta shape {bs:?} does not fit")));
    }
    if ks[0] != b || ks[1] != t || vs[0] != b || vs[1] != t {
        return Err(OpError::invalid("query, key and value batch and sequence sizes differ"));
    }
    let mut state = match past {
        Some(p) => {
            let (pv, ps) = fdata(p)?;
            if ps != [b, hk, dk, dv] {
                return Err(OpError::invalid(format!("past_state {ps:?} should be {:?}", [b, hk, dk, dv])));
            }
            pv
        }
        None => vec![0f64; b * hk * dk * dv],
    };
    let scale = if a.scale == 0.0 { 1.0 / (dk as f64).sqrt() } else { a.scale as f64 };
    let mut out = vec![0f64; b * t * hq * dv];
    let mut vt = vec![0f64; dv];
    for bi in 0..b {
        for ti in 0..t {
            for h in 0..hk {
                let s = &mut state[(bi * hk + h) * dk * dv..(bi * hk + h + 1) * dk * dv];
                let kt = &kv[(bi * t + ti) * hk * dk + h * dk..(bi * t + ti) * hk * dk + (h + 1) * dk];
                vt.copy_from_slice(&vv[(bi * t + ti) * hk * dv + h * dv..(bi * t + ti) * hk * dv + (h + 1) * dv]);
                if let Some((dv_, ds)) = &dec {
                    let last = ds[2];
                    for d in 0..dk {
                        let g = if last == hk {
                            dv_[(bi * t + ti) * last + h]
                        } else {
                            dv_[(bi * t + ti) * last + h * dk + d]
                        };
                        let e = g.exp();
                        s[d * dv..(d + 1) * dv].iter_mut().for_each(|x| *x *= e);
                    }
                }
                if let Some((bv, bs)) = &bet {
                    let last = bs[2];
                    let be = bv[(bi * t + ti) * last + if last == 1 { 0 } else { h }];
                    for m in 0..dv {
                        let r: f64 = (0..dk).map(|d| s[d * dv + m] * kt[d]).sum();
                        vt[m] = be * (vt[m] - r);
                    }
                }
                for d in 0..dk {
                    for m in 0..dv {
                        s[d * dv + m] += kt[d] * vt[m];
                    }
                }
                for g in 0..grp {
                    let hh = h * grp + g;
                    let qt = &qv[(bi * t + ti) * hq * dk + hh * dk..(bi * t + ti) * hq * dk + (hh + 1) * dk];
                    for m in 0..dv {
                        out[(bi * t + ti) * hq * dv + hh * dv + m] = scale * (0..dk).map(|d| qt[d] * s[d * dv + m]).sum::<f64>();
                    }
                }
            }
        }
    }
    let sdt = past.map_or(q.dtype(), |p| p.dtype());
    Ok(vec![fout(q.dtype(), &[b, t, hq * dv], out)?, fout(sdt, &[b, hk, dk, dv], state)?])
}
