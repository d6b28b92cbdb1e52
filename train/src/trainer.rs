//! The distillation loop: teacher targets computed once (no gradient), seeded shuffling into
//! batches, student forward/backward on candle, optimizer step, progress callbacks,
//! checkpoints (`last.safetensors` every N steps, `best.safetensors` on the best interval loss)
//! and a clean stop when the loss is not finite.

use crate::error::{Result, TrainError, ce};
use crate::loss;
use crate::model::Model;
use crate::optim::{Optimizer, OptimizerKind, Schedule};
use crate::value::RtVal;
use candle_core::Tensor as CTensor;
use edgeport_eval::Tensor as ETensor;
use edgeport_ir::{Dim, Graph, ValueId};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Loss on the graph outputs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LossKind {
    /// KL divergence with temperature (logits).
    Kl,
    /// Mean squared error (embeddings, features).
    Mse,
}

/// Everything the loop needs to know.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    pub optimizer: OptimizerKind,
    pub schedule: Schedule,
    pub loss: LossKind,
    pub temperature: f64,
    pub weight_decay: f64,
    pub seed: u64,
    /// Where checkpoints go (none: no checkpoints).
    pub checkpoint_dir: Option<PathBuf>,
    pub checkpoint_every: usize,
    /// Intermediate matching: (teacher value or node name, student value or node name), MSE.
    pub matches: Vec<(String, String)>,
    pub match_weight: f64,
    /// Student input (e.g. `attention_mask`) whose non-zero entries mark the real tokens: MSE
    /// is then taken over those positions only (outputs shaped `[B, T, …]`), not over padding.
    pub token_mask: Option<String>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            steps: 200,
            batch: 32,
            lr: 1e-3,
            optimizer: OptimizerKind::Adam {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
            },
            schedule: Schedule::Constant,
            loss: LossKind::Kl,
            temperature: 4.0,
            weight_decay: 0.0,
            seed: 0,
            checkpoint_dir: None,
            checkpoint_every: 100,
            matches: Vec::new(),
            match_weight: 1.0,
            token_mask: None,
        }
    }
}

/// Progress callbacks (the CLI draws a progress bar from these).
pub trait Observer {
    fn start(&mut self, _total: usize) {}
    fn step(&mut self, _step: usize, _loss: f64, _lr: f64) {}
    fn checkpoint(&mut self, _path: &Path, _step: usize) {}
    fn finish(&mut self) {}
}

/// An observer that does nothing.
pub struct Quiet;
impl Observer for Quiet {}

/// What a run did.
#[derive(Clone, Debug, Default)]
pub struct TrainReport {
    pub steps: usize,
    pub samples: usize,
    pub batch: usize,
    /// Whether samples were stacked into one forward pass (else gradients were accumulated).
    pub stacked: bool,
    pub trainable_tensors: usize,
    pub trainable_scalars: usize,
    pub first_loss: f64,
    /// Mean loss over the last tenth of the steps.
    pub final_loss: f64,
    pub best_loss: f64,
    pub best_step: usize,
    pub seconds: f64,
    pub steps_per_sec: f64,
    pub checkpoints: Vec<String>,
}

/// SplitMix64, for reproducible shuffles.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn shuffle(&mut self, v: &mut [usize]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

fn resolve(m: &Model, names: &[&str], who: &str) -> Result<Vec<ValueId>> {
    names
        .iter()
        .map(|n| {
            m.value_by_name(n)
                .ok_or_else(|| TrainError::Data(format!("--match: the {who} has no node or value named '{n}'")))
        })
        .collect()
}

/// Can samples be stacked along axis 0 for this graph (symbolic leading dim, equal shapes)?
fn stackable(g: &Graph, samples: &[Vec<ETensor>]) -> bool {
    let leading_sym = g.inputs().iter().all(|&n| {
        g.value(n.out(0))
            .and_then(|v| v.ty.as_ref())
            .and_then(|t| t.as_tensor())
            .and_then(|t| t.shape.as_ref())
            .is_some_and(|s| matches!(s.0.first(), Some(Dim::Sym(_))))
    });
    let same = samples
        .windows(2)
        .all(|w| w[0].len() == w[1].len() && w[0].iter().zip(&w[1]).all(|(a, b)| a.shape() == b.shape()));
    leading_sym && same && samples.first().is_some_and(|s| s.iter().all(|t| t.shape().first() == Some(&1)))
}

/// Concatenates samples `idx` input by input.
fn stack(samples: &[Vec<ETensor>], idx: &[usize]) -> Result<Vec<RtVal>> {
    let n_in = samples.first().map(|s| s.len()).unwrap_or(0);
    (0..n_in)
        .map(|k| {
            let parts = idx
                .iter()
                .map(|&i| RtVal::from_host(samples[i][k].clone()).map_err(TrainError::Data))
                .collect::<Result<Vec<_>>>()?;
            if parts.len() == 1 || parts.iter().any(|p| !p.is_float()) {
                if parts.len() == 1 {
                    return Ok(parts.into_iter().next().unwrap_or(RtVal::H(ETensor::scalar_f32(0.0))));
                }
                // Integer inputs (token ids): stack on the host.
                let hs = parts
                    .iter()
                    .map(|p| p.host())
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(TrainError::Data)?;
                return host_cat(&hs).map(RtVal::H);
            }
            let ts = parts
                .iter()
                .map(|p| p.float())
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(TrainError::Data)?;
            Ok(RtVal::F(CTensor::cat(&ts, 0).map_err(|e| TrainError::Data(ce(e)))?))
        })
        .collect()
}

fn host_cat(ts: &[ETensor]) -> Result<ETensor> {
    let first = ts.first().ok_or_else(|| TrainError::Data("no samples".into()))?;
    let mut shape = first.shape().to_vec();
    let lead: usize = ts.iter().map(|t| t.shape().first().copied().unwrap_or(1)).sum();
    if let Some(s) = shape.first_mut() {
        *s = lead;
    }
    let mut v = Vec::new();
    for t in ts {
        v.extend(t.to_f64_vec().map_err(|e| TrainError::Data(e.to_string()))?);
    }
    ETensor::from_f64(first.dtype(), &shape, v).map_err(|e| TrainError::Data(e.to_string()))
}

/// One sample's teacher targets: outputs, then matched intermediates.
type Targets = Vec<CTensor>;

fn teacher_targets(teacher: &Model, samples: &[Vec<ETensor>], taps: &[ValueId], stacked: bool) -> Result<Vec<Targets>> {
    let mut out: Vec<Targets> = Vec::with_capacity(samples.len());
    let chunk = if stacked { 64 } else { 1 };
    let idx: Vec<usize> = (0..samples.len()).collect();
    for c in idx.chunks(chunk) {
        let inputs = stack(samples, c)?;
        let (outs, tv) = teacher.forward(inputs, taps)?;
        let all: Vec<CTensor> = outs
            .iter()
            .chain(tv.iter())
            .map(|v| v.float().map_err(|e| TrainError::Data(format!("teacher output is not float: {e}"))))
            .collect::<Result<_>>()?;
        for (j, _) in c.iter().enumerate() {
            let mut t = Vec::with_capacity(all.len());
            for a in &all {
                if c.len() == 1 {
                    t.push(a.detach());
                } else {
                    if a.dims().first() != Some(&c.len()) {
                        return Err(TrainError::Data(format!(
                            "teacher value of shape {:?} does not keep the batch axis",
                            a.dims()
                        )));
                    }
                    t.push(a.narrow(0, j, 1).map_err(|e| TrainError::Data(ce(e)))?.detach());
                }
            }
            out.push(t);
        }
    }
    Ok(out)
}

fn names_of(g: &Graph) -> Vec<String> {
    g.outputs().iter().map(|(n, _)| n.clone()).collect()
}

/// The token mask of samples `idx` as a `[B, T]` float tensor (`p`: the mask input's index).
fn token_mask(samples: &[Vec<ETensor>], idx: &[usize], p: usize) -> Result<CTensor> {
    let mut v: Vec<f32> = Vec::new();
    let mut t = 0;
    for &i in idx {
        let m = samples
            .get(i)
            .and_then(|s| s.get(p))
            .ok_or_else(|| TrainError::Data(format!("sample {i} has no token mask")))?;
        let x = m
            .to_f64_vec()
            .map_err(|e| TrainError::Data(format!("token mask of sample {i}: {e}")))?;
        if t != 0 && x.len() != t {
            return Err(TrainError::Data(format!(
                "token mask of sample {i} has {} entries, not {t}",
                x.len()
            )));
        }
        t = x.len();
        v.extend(x.iter().map(|&y| if y != 0.0 { 1.0f32 } else { 0.0 }));
    }
    CTensor::from_vec(v, (idx.len(), t), &crate::model::device()).map_err(|e| TrainError::Data(ce(e)))
}

/// MSE, over the masked positions when a mask fits the value's leading `[B, T]` axes.
fn mse_maybe_masked(s: &CTensor, t: &CTensor, mask: Option<&CTensor>) -> candle_core::Result<CTensor> {
    match mask {
        Some(m) if s.rank() >= 2 && s.dims().get(..2) == Some(m.dims()) => loss::mse_masked(s, t, m),
        _ => loss::mse(s, t),
    }
}

/// The loss of one forward pass against targets.
fn loss_of(cfg: &TrainConfig, outs: &[RtVal], taps: &[RtVal], targets: &[CTensor], mask: Option<&CTensor>) -> Result<CTensor> {
    let mut total: Option<CTensor> = None;
    let n_out = outs.len();
    for (i, o) in outs.iter().chain(taps.iter()).enumerate() {
        let s = o.float().map_err(TrainError::Data)?;
        let t = targets.get(i).ok_or_else(|| TrainError::Data("missing target".into()))?;
        let l = if i < n_out {
            match cfg.loss {
                LossKind::Kl => loss::kl(&s, t, cfg.temperature),
                LossKind::Mse => mse_maybe_masked(&s, t, mask),
            }
        } else {
            mse_maybe_masked(&s, t, mask).and_then(|l| l.affine(cfg.match_weight, 0.0))
        }
        .map_err(|e| TrainError::Data(ce(e)))?;
        total = Some(match total {
            None => l,
            Some(a) => a.add(&l).map_err(|e| TrainError::Data(ce(e)))?,
        });
    }
    total.ok_or_else(|| TrainError::Data("the student has no outputs".into()))
}

fn save(model: &Model, dir: &Path, name: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| TrainError::Io(format!("{}: {e}", dir.display())))?;
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    candle_core::safetensors::save(&model.weights(), &tmp).map_err(|e| TrainError::Io(format!("{}: {}", tmp.display(), ce(e))))?;
    std::fs::rename(&tmp, &path).map_err(|e| TrainError::Io(format!("{}: {e}", path.display())))?;
    Ok(path)
}

/// Distils `student` from `teacher` on unlabeled samples (`samples_t[i]` and `samples_s[i]` are
/// the same sample fitted to each model's inputs). Returns the student with trained weights.
pub fn distill(
    teacher: &Graph,
    student: &Graph,
    samples_t: &[Vec<ETensor>],
    samples_s: &[Vec<ETensor>],
    cfg: &TrainConfig,
    obs: &mut dyn Observer,
) -> Result<(Graph, TrainReport)> {
    if samples_s.is_empty() || samples_t.len() != samples_s.len() {
        return Err(TrainError::Data(format!(
            "teacher and student need the same non-zero number of samples ({} and {})",
            samples_t.len(),
            samples_s.len()
        )));
    }
    if cfg.batch == 0 || cfg.steps == 0 {
        return Err(TrainError::Data("--steps and --batch must be at least 1".into()));
    }
    if cfg.temperature.is_nan() || cfg.temperature <= 0.0 || !cfg.lr.is_finite() || cfg.lr <= 0.0 {
        return Err(TrainError::Data("the temperature and the learning rate must be positive".into()));
    }
    for (who, g, ss) in [("teacher", teacher, samples_t), ("student", student, samples_s)] {
        if let Some(i) = ss.iter().position(|s| s.len() != g.inputs().len()) {
            return Err(TrainError::Data(format!(
                "sample {i} has {} arrays but the {who} takes {} inputs",
                ss[i].len(),
                g.inputs().len()
            )));
        }
    }
    let tm = Model::new(teacher, false)?;
    let sm = Model::new(student, true)?;
    sm.check_gradients()?;
    if sm.params().is_empty() {
        return Err(TrainError::Data(
            "the student has no trainable weights (Conv/Gemm/MatMul weights, BatchNorm/LayerNorm scale and bias)".into(),
        ));
    }
    let tn: Vec<&str> = cfg.matches.iter().map(|m| m.0.as_str()).collect();
    let sn: Vec<&str> = cfg.matches.iter().map(|m| m.1.as_str()).collect();
    let t_taps = resolve(&tm, &tn, "teacher")?;
    let s_taps = resolve(&sm, &sn, "student")?;
    let (t_names, s_names) = (names_of(teacher), names_of(student));
    if t_names.len() != s_names.len() {
        return Err(TrainError::Data(format!(
            "the teacher has {} outputs ({}) and the student {} ({})",
            t_names.len(),
            t_names.join(", "),
            s_names.len(),
            s_names.join(", ")
        )));
    }
    let mask_at = match &cfg.token_mask {
        Some(m) => Some(
            student
                .inputs()
                .iter()
                .position(|&n| student.node(n).outputs.first().is_some_and(|o| &o.name == m))
                .ok_or_else(|| TrainError::Data(format!("--token-mask '{m}': the student has no input of that name")))?,
        ),
        None => None,
    };
    let mask_of = |idx: &[usize]| -> Result<Option<CTensor>> { mask_at.map(|p| token_mask(samples_s, idx, p)).transpose() };
    let stacked = stackable(teacher, samples_t) && stackable(student, samples_s);
    let targets = teacher_targets(&tm, samples_t, &t_taps, stacked)?;
    // Shape check on the first sample.
    let (o0, tp0) = sm.forward(stack(samples_s, &[0])?, &s_taps)?;
    for (i, v) in o0.iter().chain(tp0.iter()).enumerate() {
        let t = targets[0]
            .get(i)
            .ok_or_else(|| TrainError::Data("teacher and student values differ in number".into()))?;
        if v.dims() != t.dims() {
            let what = if i < t_names.len() {
                format!(
                    "teacher output '{}' has shape {:?} but student output '{}' has shape {:?}",
                    t_names[i],
                    t.dims(),
                    s_names[i],
                    v.dims()
                )
            } else {
                let k = i - t_names.len();
                format!(
                    "--match {}={}: teacher value has shape {:?}, student value {:?}",
                    cfg.matches[k].0,
                    cfg.matches[k].1,
                    t.dims(),
                    v.dims()
                )
            };
            return Err(TrainError::Data(what));
        }
    }
    drop((o0, tp0));

    let params = sm.params().to_vec();
    let mut opt = Optimizer::new(cfg.optimizer.clone(), params.len(), cfg.weight_decay);
    let mut rng = Rng(cfg.seed);
    let n = samples_s.len();
    let mut perm: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut perm);
    let mut pos = 0;
    let mut rep = TrainReport {
        samples: n,
        batch: cfg.batch,
        stacked,
        trainable_tensors: params.len(),
        trainable_scalars: sm.n_trainable(),
        best_loss: f64::INFINITY,
        ..Default::default()
    };
    let mut losses = Vec::with_capacity(cfg.steps);
    let mut interval = (0.0f64, 0usize);
    let mut last_ckpt: Option<(PathBuf, usize)> = None;
    let start = Instant::now();
    obs.start(cfg.steps);
    for step in 0..cfg.steps {
        let mut idx = Vec::with_capacity(cfg.batch);
        while idx.len() < cfg.batch.min(n) {
            if pos == n {
                rng.shuffle(&mut perm);
                pos = 0;
            }
            idx.push(perm[pos]);
            pos += 1;
        }
        let lr = cfg.schedule.lr(cfg.lr, step, cfg.steps);
        let (loss_v, grads) = if stacked {
            let (outs, taps) = sm.forward(stack(samples_s, &idx)?, &s_taps)?;
            let k = targets[0].len();
            let tg: Vec<CTensor> = (0..k)
                .map(|j| CTensor::cat(&idx.iter().map(|&i| &targets[i][j]).collect::<Vec<_>>(), 0))
                .collect::<candle_core::Result<_>>()
                .map_err(|e| TrainError::Data(ce(e)))?;
            let l = loss_of(cfg, &outs, &taps, &tg, mask_of(&idx)?.as_ref())?;
            let lv = l.to_scalar::<f32>().map_err(|e| TrainError::Data(ce(e)))? as f64;
            if !lv.is_finite() {
                (lv, Vec::new())
            } else {
                let gs = l.backward().map_err(|e| TrainError::Graph(format!("backward: {}", ce(e))))?;
                (lv, params.iter().map(|p| gs.get(p.var.as_tensor()).map(CTensor::detach)).collect())
            }
        } else {
            let mut acc: Vec<Option<CTensor>> = vec![None; params.len()];
            let mut lsum = 0.0;
            for &i in &idx {
                let (outs, taps) = sm.forward(stack(samples_s, &[i])?, &s_taps)?;
                let l = loss_of(cfg, &outs, &taps, &targets[i], mask_of(&[i])?.as_ref())?
                    .affine(1.0 / idx.len() as f64, 0.0)
                    .map_err(|e| TrainError::Data(ce(e)))?;
                let lv = l.to_scalar::<f32>().map_err(|e| TrainError::Data(ce(e)))? as f64;
                lsum += lv;
                if !lv.is_finite() {
                    break;
                }
                let gs = l.backward().map_err(|e| TrainError::Graph(format!("backward: {}", ce(e))))?;
                for (a, p) in acc.iter_mut().zip(&params) {
                    if let Some(g) = gs.get(p.var.as_tensor()).map(CTensor::detach) {
                        *a = Some(match a.take() {
                            None => g,
                            Some(x) => x.add(&g).map_err(|e| TrainError::Data(ce(e)))?,
                        });
                    }
                }
            }
            (lsum, acc)
        };
        if !loss_v.is_finite() {
            let kept = match &last_ckpt {
                Some((p, s)) => format!("the last good checkpoint is {} (step {s})", p.display()),
                None if cfg.checkpoint_dir.is_some() => "no checkpoint had been written yet".to_string(),
                None => "no checkpoint directory was given".to_string(),
            };
            obs.finish();
            return Err(TrainError::NonFinite(format!(
                "the loss became {loss_v} at step {} (learning rate {lr:.3e}); training stopped and nothing was written; {kept}. Try a lower --lr",
                step + 1
            )));
        }
        opt.step(&params, &grads, lr)?;
        losses.push(loss_v);
        if step == 0 {
            rep.first_loss = loss_v;
        }
        obs.step(step + 1, loss_v, lr);
        interval.0 += loss_v;
        interval.1 += 1;
        if let Some(dir) = &cfg.checkpoint_dir
            && ((step + 1) % cfg.checkpoint_every.max(1) == 0 || step + 1 == cfg.steps)
        {
            let p = save(&sm, dir, "last.safetensors")?;
            obs.checkpoint(&p, step + 1);
            let mean = interval.0 / interval.1.max(1) as f64;
            if mean < rep.best_loss {
                rep.best_loss = mean;
                rep.best_step = step + 1;
                let b = save(&sm, dir, "best.safetensors")?;
                if !rep.checkpoints.contains(&b.display().to_string()) {
                    rep.checkpoints.push(b.display().to_string());
                }
            }
            if !rep.checkpoints.contains(&p.display().to_string()) {
                rep.checkpoints.push(p.display().to_string());
            }
            last_ckpt = Some((p, step + 1));
            interval = (0.0, 0);
        }
    }
    obs.finish();
    rep.steps = cfg.steps;
    rep.seconds = start.elapsed().as_secs_f64();
    rep.steps_per_sec = cfg.steps as f64 / rep.seconds.max(1e-9);
    let tail = (losses.len() / 10).max(1);
    rep.final_loss = losses.iter().rev().take(tail).sum::<f64>() / tail as f64;
    if cfg.checkpoint_dir.is_none() {
        for (i, l) in losses.iter().enumerate() {
            if *l < rep.best_loss {
                rep.best_loss = *l;
                rep.best_step = i + 1;
            }
        }
    }
    Ok((sm.trained_graph()?, rep))
}
