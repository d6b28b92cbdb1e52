//! `RNN`, and what the recurrent ops share: loading X/W/R/B/sequence_lens/initial states in
//! either layout, the activation functions with their alpha/beta, the time loop over
//! directions and batch rows (respecting `sequence_lens`), and assembling Y / Y_h / Y_c.
//!
//! Everything is computed in f64 and written back in the input dtype.

use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use crate::tensor::Tensor;
use crate::value::Value;
use edgeport_ir::DType;
use edgeport_ir::ops::defs::rnn::RNN;

/// An activation function of the recurrent ops, with its parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Act {
    Relu,
    Tanh,
    Sigmoid,
    Affine(f64, f64),
    LeakyRelu(f64),
    ThresholdedRelu(f64),
    ScaledTanh(f64, f64),
    HardSigmoid(f64, f64),
    Elu(f64),
    Softsign,
    Softplus,
}

impl Act {
    pub(super) fn apply(self, x: f64) -> f64 {
        match self {
            Act::Relu => x.max(0.0),
            Act::Tanh => x.tanh(),
            Act::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Act::Affine(a, b) => a * x + b,
            Act::LeakyRelu(a) => {
                if x >= 0.0 {
                    x
                } else {
                    a * x
                }
            }
            Act::ThresholdedRelu(a) => {
                if x > a {
                    x
                } else {
                    0.0
                }
            }
            Act::ScaledTanh(a, b) => a * (b * x).tanh(),
            Act::HardSigmoid(a, b) => (a * x + b).clamp(0.0, 1.0),
            Act::Elu(a) => {
                if x >= 0.0 {
                    x
                } else {
                    a * (x.exp() - 1.0)
                }
            }
            Act::Softsign => x / (1.0 + x.abs()),
            Act::Softplus => {
                if x > 30.0 {
                    x
                } else {
                    x.exp().ln_1p()
                }
            }
        }
    }
}

/// Parses the `activations` attribute: `per_dir` functions per direction (`defaults` when the
/// list is empty; a single direction's list is reused for both directions). `activation_alpha`
/// and `activation_beta` are consumed in order by the functions that take them; functions
/// without an explicit value get the ONNX op's default.
pub(super) fn parse_acts(
    names: &[String],
    alpha: &[f32],
    beta: &[f32],
    per_dir: usize,
    dirs: usize,
    defaults: &[&str],
) -> Result<Vec<Act>, OpError> {
    let need = per_dir * dirs;
    let names: Vec<String> = if names.is_empty() {
        (0..dirs).flat_map(|_| defaults.iter().map(|s| s.to_string())).collect()
    } else if names.len() >= need {
        names[..need].to_vec()
    } else if names.len() == per_dir {
        (0..dirs).flat_map(|_| names.iter().cloned()).collect()
    } else {
        return Err(OpError::invalid(format!("expected {need} activations, got {}", names.len())));
    };
    let mut al = alpha.iter().map(|&x| x as f64);
    let mut be = beta.iter().map(|&x| x as f64);
    names
        .iter()
        .map(|n| {
            Ok(match n.to_ascii_lowercase().as_str() {
                "relu" => Act::Relu,
                "tanh" => Act::Tanh,
                "sigmoid" => Act::Sigmoid,
                "affine" => Act::Affine(al.next().unwrap_or(1.0), be.next().unwrap_or(0.0)),
                "leakyrelu" => Act::LeakyRelu(al.next().unwrap_or(0.01)),
                "thresholdedrelu" => Act::ThresholdedRelu(al.next().unwrap_or(1.0)),
                "scaledtanh" => Act::ScaledTanh(al.next().unwrap_or(1.0), be.next().unwrap_or(1.0)),
                "hardsigmoid" => Act::HardSigmoid(al.next().unwrap_or(0.2), be.next().unwrap_or(0.5)),
                "elu" => Act::Elu(al.next().unwrap_or(1.0)),
                "softsign" => Act::Softsign,
                "softplus" => Act::Softplus,
                other => return Err(OpError::unsupported(format!("activation '{other}'"))),
            })
        })
        .collect()
}

/// Clips an activation input to [-c, c] when `clip` is set.
pub(super) fn clip(x: f64, c: Option<f32>) -> f64 {
    match c {
        Some(c) => x.clamp(-(c as f64), c as f64),
        None => x,
    }
}

/// `m[row0..row0+rows] · v`, for a row-major matrix with `v.len()` columns.
pub(super) fn matvec(m: &[f64], row0: usize, rows: usize, v: &[f64]) -> Vec<f64> {
    let c = v.len();
    (row0..row0 + rows)
        .map(|r| m[r * c..(r + 1) * c].iter().zip(v).map(|(a, b)| a * b).sum())
        .collect()
}

/// The loaded inputs of a recurrent op, normalized to layout 0 and f64.
pub(super) struct Loaded {
    pub seq: usize,
    pub batch: usize,
    pub input: usize,
    pub hidden: usize,
    pub dirs: usize,
    pub layout: i64,
    pub dtype: DType,
    /// `[seq][batch][input]`.
    pub x: Vec<f64>,
    /// `[dirs][gates*hidden][input]`.
    pub w: Vec<f64>,
    /// `[dirs][gates*hidden][hidden]`.
    pub r: Vec<f64>,
    /// `[dirs][2*gates*hidden]` (Wb then Rb), zeros when absent.
    pub b: Vec<f64>,
    /// Valid steps per batch row.
    pub lens: Vec<usize>,
    /// Does direction `d` run backwards?
    pub reverse: Vec<bool>,
}

impl Loaded {
    /// Reads X(0), W(1), R(2), B(3) and sequence_lens(4) for an op with `gates` gates.
    pub(super) fn load(cx: &NodeCtx<'_>, gates: usize, direction: &str, layout: i64, hidden_size: Option<i64>) -> Result<Loaded, OpError> {
        let (dirs, reverse) = match direction {
            "forward" => (1, vec![false]),
            "reverse" => (1, vec![true]),
            "bidirectional" => (2, vec![false, true]),
            d => return Err(OpError::invalid(format!("unknown direction '{d}'"))),
        };
        let xt = cx.tensor(0)?;
        let dtype = xt.dtype();
        if !matches!(dtype, DType::F32 | DType::F64 | DType::F16 | DType::BF16) {
            return Err(OpError::DType(dtype.to_string()));
        }
        let (wt, rt) = (cx.tensor(1)?, cx.tensor(2)?);
        let (xs, ws, rs) = (xt.shape(), wt.shape(), rt.shape());
        if xs.len() != 3 || ws.len() != 3 || rs.len() != 3 {
            return Err(OpError::invalid(format!("X, W and R must be 3-d, got {xs:?}, {ws:?}, {rs:?}")));
        }
        let (seq, batch, input) = match layout {
            0 => (xs[0], xs[1], xs[2]),
            1 => (xs[1], xs[0], xs[2]),
            l => return Err(OpError::invalid(format!("layout must be 0 or 1, got {l}"))),
        };
        let hidden = rs[2];
        if let Some(h) = hidden_size
            && h as usize != hidden
        {
            return Err(OpError::invalid(format!("hidden_size {h} does not match R's shape {rs:?}")));
        }
        let gh = gates * hidden;
        if ws != [dirs, gh, input] || rs != [dirs, gh, hidden] {
            return Err(OpError::invalid(format!(
                "W {ws:?} / R {rs:?} do not match {dirs} direction(s), {gates} gates, hidden {hidden}, input {input}"
            )));
        }
        let xv = xt.to_f64_vec()?;
        let x = if layout == 0 {
            xv
        } else {
            let mut x = vec![0.0; xv.len()];
            for b in 0..batch {
                for t in 0..seq {
                    let src = (b * seq + t) * input;
                    let dst = (t * batch + b) * input;
                    x[dst..dst + input].copy_from_slice(&xv[src..src + input]);
                }
            }
            x
        };
        let b = match cx.opt_tensor(3)? {
            Some(bt) => {
                if bt.shape() != [dirs, 2 * gh] {
                    return Err(OpError::invalid(format!(
                        "B has shape {:?}, expected [{dirs}, {}]",
                        bt.shape(),
                        2 * gh
                    )));
                }
                bt.to_f64_vec()?
            }
            None => vec![0.0; dirs * 2 * gh],
        };
        let lens = match cx.opt_tensor(4)? {
            Some(st) => {
                let v = st.to_i64_vec()?;
                if v.len() != batch {
                    return Err(OpError::invalid(format!("sequence_lens has {} entries, batch is {batch}", v.len())));
                }
                v.into_iter()
                    .map(|l| {
                        usize::try_from(l)
                            .ok()
                            .filter(|&l| l <= seq)
                            .ok_or_else(|| OpError::invalid(format!("sequence length {l} is out of range 0..={seq}")))
                    })
                    .collect::<Result<_, _>>()?
            }
            None => vec![seq; batch],
        };
        Ok(Loaded {
            seq,
            batch,
            input,
            hidden,
            dirs,
            layout,
            dtype,
            x,
            w: wt.to_f64_vec()?,
            r: rt.to_f64_vec()?,
            b,
            lens,
            reverse,
        })
    }

    /// An initial state input (`[dirs, batch, hidden]`, or `[batch, dirs, hidden]` in layout 1)
    /// as `[dirs][batch][hidden]`; zeros when absent.
    pub(super) fn initial(&self, cx: &NodeCtx<'_>, slot: usize) -> Result<Vec<f64>, OpError> {
        let (d, bt, h) = (self.dirs, self.batch, self.hidden);
        let Some(t) = cx.opt_tensor(slot)? else {
            return Ok(vec![0.0; d * bt * h]);
        };
        let want = if self.layout == 0 { [d, bt, h] } else { [bt, d, h] };
        if t.shape() != want {
            return Err(OpError::invalid(format!(
                "initial state has shape {:?}, expected {want:?}",
                t.shape()
            )));
        }
        let v = t.to_f64_vec()?;
        Ok(if self.layout == 0 { v } else { swap01(&v, bt, d, h) })
    }

    /// Runs the time loop. `states` are `[dirs][batch][hidden]` buffers (state 0 is the hidden
    /// state written to Y); `step(dir, x_t, states)` updates one batch row's states in place.
    /// Returns Y as `[seq][dirs][batch][hidden]` and the final states.
    pub(super) fn drive(
        &self,
        mut states: Vec<Vec<f64>>,
        mut step: impl FnMut(usize, &[f64], &mut [Vec<f64>]),
    ) -> (Vec<f64>, Vec<Vec<f64>>) {
        let (dirs, batch, h, inp) = (self.dirs, self.batch, self.hidden, self.input);
        let mut y = vec![0.0; self.seq * dirs * batch * h];
        for d in 0..dirs {
            for b in 0..batch {
                let off = (d * batch + b) * h;
                let mut st: Vec<Vec<f64>> = states.iter().map(|s| s[off..off + h].to_vec()).collect();
                let len = self.lens[b];
                for s in 0..len {
                    let t = if self.reverse[d] { len - 1 - s } else { s };
                    let xo = (t * batch + b) * inp;
                    step(d, &self.x[xo..xo + inp], &mut st);
                    let yo = ((t * dirs + d) * batch + b) * h;
                    y[yo..yo + h].copy_from_slice(&st[0]);
                }
                for (dst, src) in states.iter_mut().zip(&st) {
                    dst[off..off + h].copy_from_slice(src);
                }
            }
        }
        (y, states)
    }

    /// Builds the outputs: Y, then one `[dirs, batch, hidden]` tensor per final state (both in
    /// the op's layout).
    pub(super) fn outputs(&self, y: &[f64], finals: &[Vec<f64>]) -> OpResult {
        let (s, d, b, h) = (self.seq, self.dirs, self.batch, self.hidden);
        let mut out = Vec::with_capacity(1 + finals.len());
        let yt = if self.layout == 0 {
            Tensor::from_f64(self.dtype, &[s, d, b, h], y.to_vec())?
        } else {
            // [s][d][b][h] -> [b][s][d][h]
            let mut v = vec![0.0; y.len()];
            for t in 0..s {
                for di in 0..d {
                    for bi in 0..b {
                        let src = ((t * d + di) * b + bi) * h;
                        let dst = ((bi * s + t) * d + di) * h;
                        v[dst..dst + h].copy_from_slice(&y[src..src + h]);
                    }
                }
            }
            Tensor::from_f64(self.dtype, &[b, s, d, h], v)?
        };
        out.push(Value::Tensor(yt));
        for f in finals {
            let t = if self.layout == 0 {
                Tensor::from_f64(self.dtype, &[d, b, h], f.clone())?
            } else {
                Tensor::from_f64(self.dtype, &[b, d, h], swap01(f, d, b, h))?
            };
            out.push(Value::Tensor(t));
        }
        Ok(out)
    }

    /// Weight slices of direction `d`: (W, R, Wb, Rb).
    pub(super) fn dir_weights(&self, d: usize, gates: usize) -> (&[f64], &[f64], &[f64], &[f64]) {
        let gh = gates * self.hidden;
        let w = &self.w[d * gh * self.input..(d + 1) * gh * self.input];
        let r = &self.r[d * gh * self.hidden..(d + 1) * gh * self.hidden];
        let b = &self.b[d * 2 * gh..(d + 1) * 2 * gh];
        (w, r, &b[..gh], &b[gh..])
    }
}

/// Swaps the two leading axes of a `[p][q][h]` buffer.
fn swap01(v: &[f64], p: usize, q: usize, h: usize) -> Vec<f64> {
    let mut out = vec![0.0; v.len()];
    for i in 0..p {
        for j in 0..q {
            let src = (i * q + j) * h;
            let dst = (j * p + i) * h;
            out[dst..dst + h].copy_from_slice(&v[src..src + h]);
        }
    }
    out
}

/// `RNN`: `H_t = f(X_t·Wᵀ + H_{t-1}·Rᵀ + Wb + Rb)`.
pub(super) fn run(a: &RNN, cx: &mut NodeCtx<'_>) -> OpResult {
    let l = Loaded::load(cx, 1, &a.direction, a.layout, a.hidden_size)?;
    let acts = parse_acts(&a.activations, &a.activation_alpha, &a.activation_beta, 1, l.dirs, &["Tanh"])?;
    let h0 = l.initial(cx, 5)?;
    let hid = l.hidden;
    let (y, finals) = l.drive(vec![h0], |d, xt, st| {
        let (w, r, wb, rb) = l.dir_weights(d, 1);
        let xw = matvec(w, 0, hid, xt);
        let hr = matvec(r, 0, hid, &st[0]);
        for j in 0..hid {
            st[0][j] = acts[d].apply(clip(xw[j] + hr[j] + wb[j] + rb[j], a.clip));
        }
    });
    l.outputs(&y, &finals)
}
