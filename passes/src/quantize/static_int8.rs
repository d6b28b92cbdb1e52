//! Static int8: per-channel symmetric int8 weights behind DequantizeLinear, QuantizeLinear →
//! DequantizeLinear pairs (uint8 asymmetric, calibrated) on the activation inputs and outputs of
//! Conv/Gemm/MatMul, int32 biases with scale `s_x * s_w` (as onnxruntime expects), and bias
//! correction of the mean output shift the weight rounding causes.
//!
//! An activation is quantized once and every consumer reads the same QDQ value, so the inputs
//! of a residual Add share the ranges of the layers that produce them. A layer output that is
//! followed only by a Relu/Clip is quantized after the activation (the form runtimes fuse); one
//! that reaches its Relu/Clip through layout-only ops is quantized over the Clip's range.
//! Pools, MaxPool/Resize/Pad and the Adds before them get points too (see [`super::tied`]).
//! Graph outputs stay float.

use crate::quantize::calib::Calibration;
use crate::quantize::calib::estimators::{Method, estimate};
use crate::quantize::error::{QuantError, gerr};
use crate::quantize::layers::{Kind, Layer, float_const};
use crate::quantize::params::{from_range, per_channel_i8, qparams, qrange, round_even};
use crate::quantize::qdq::{QWeight, const_codes, const_f32, dq_weight, qdq};
use edgeport_ir::ops::defs::quantization::DequantizeLinear;
use edgeport_ir::{DType, Graph, NodeId, Op, QuantGranularity, ValueId};
use std::collections::{HashMap, HashSet};

/// Options of the static int8 quantizer.
#[derive(Clone, Debug)]
pub struct StaticOptions {
    pub method: Method,
    /// One scale per weight tensor instead of per output channel.
    pub per_tensor: bool,
    /// Activation storage type (U8 or I8, asymmetric).
    pub act_dtype: DType,
    /// Quantize biases to int32 (otherwise they stay float).
    pub int32_bias: bool,
    pub bias_correction: bool,
    /// Also quantize the outputs of every op with an integer kernel and the graph outputs
    /// (full-integer targets such as TFLite).
    pub full_integer: bool,
    /// Full integer including the ops whose integer kernels are slow on CPU (PRelu).
    pub integer_only: bool,
    /// Weights (and corrected biases) chosen ahead, e.g. by [`crate::quantize::conv_gptq`].
    pub precomputed: Option<std::sync::Arc<crate::quantize::conv_gptq::Precomputed>>,
    /// Conv/Gemm layers left out of the quantized set stay float through and through: float
    /// weights (stored as float16 behind a Cast, which runtimes fold at load) and float bias.
    /// Otherwise (and always for MatMul) they keep int8 weights with float activations
    /// (full-integer targets, where every layer needs integer weights).
    pub float_weights: bool,
}

impl Default for StaticOptions {
    fn default() -> Self {
        StaticOptions {
            method: Method::MinMax,
            per_tensor: false,
            act_dtype: DType::U8,
            int32_bias: true,
            bias_correction: true,
            full_integer: false,
            integer_only: false,
            precomputed: None,
            float_weights: false,
        }
    }
}

/// The value after a layer that gets its output QDQ: the layer output, or the output of a
/// Relu/Clip that is its only consumer. `None` when that value is a graph output, and for
/// MatMul: in transformers a MatMul output feeds a bias Add and the residual stream, whose
/// outlier channels (±190 next to ±4 in MiniLM's FFN outputs) a per-tensor 8-bit step erases
/// (measured: these points alone take MiniLM from 0.975 to 0.862 cosine); runtimes run
/// DequantizeLinear→MatMul without an output QuantizeLinear as an integer MatMul with a float
/// output (onnxruntime's MatMulIntegerToFloat).
pub fn output_point(g: &Graph, l: &Layer) -> Option<ValueId> {
    if l.kind == Kind::MatMul {
        return None;
    }
    let mut v = l.node.out(0);
    let cons = g.consumers(v);
    if cons.len() == 1 && !g.is_output(v) {
        let (c, _) = cons[0];
        if matches!(g.node(c).op, Op::Relu(_) | Op::Clip(_)) {
            v = c.out(0);
        }
    }
    (!g.is_output(v)).then_some(v)
}

/// The interval a value is clamped to further on, when its only path goes through layout-only
/// ops (Transpose, Reshape, Identity, Squeeze, Unsqueeze, Flatten; one consumer each) into a
/// Relu (`[0, ∞)`) or a Clip with constant scalar bounds. Models converted from channels-last
/// formats put a Transpose between a Conv and its Relu6; quantizing the Conv output over the
/// Relu6's range instead of its raw range (−8.5…14.8 on a MediaPipe hand-landmark layer) is
/// exact (what the Clip removes, the QuantizeLinear saturates) and 4× finer.
pub fn downstream_clip(g: &Graph, v: ValueId) -> Option<(f64, f64)> {
    downstream_clip_node(g, v).map(|(_, lo, hi)| (lo, hi))
}

/// [`downstream_clip`] with the Relu/Clip node itself.
fn downstream_clip_node(g: &Graph, v: ValueId) -> Option<(NodeId, f64, f64)> {
    let mut v = v;
    for _ in 0..8 {
        if g.is_output(v) {
            return None;
        }
        let cons = g.consumers(v);
        let [(c, slot)] = cons[..] else { return None };
        if slot != 0 {
            return None;
        }
        match &g.node(c).op {
            Op::Relu(_) | Op::Clip(_) => return clip_bounds(g, c).map(|(lo, hi)| (c, lo, hi)),
            Op::Transpose(_) | Op::Reshape(_) | Op::Identity(_) | Op::Squeeze(_) | Op::Unsqueeze(_) | Op::Flatten(_) => {
                v = c.out(0);
            }
            _ => return None,
        }
    }
    None
}

/// The interval a Relu (`[0, ∞)`) or a Clip with constant scalar bounds clamps to.
fn clip_bounds(g: &Graph, c: NodeId) -> Option<(f64, f64)> {
    match &g.node(c).op {
        Op::Relu(_) => Some((0.0, f64::INFINITY)),
        Op::Clip(_) => {
            let ins = g.inputs_of(c);
            let bound = |i: usize, default: f64| -> Option<f64> {
                match ins.get(i).copied().flatten() {
                    None => Some(default),
                    Some(b) => match &g.node(b.node).op {
                        Op::Constant(k) if k.value.numel() == 1 => k.value.to_f64_vec()?.first().copied(),
                        _ => None,
                    },
                }
            };
            Some((bound(1, f64::NEG_INFINITY)?, bound(2, f64::INFINITY)?))
        }
        _ => None,
    }
}

/// Ops with integer kernels in full-integer targets (TFLite): their outputs get a QDQ too.
/// PRelu only for integer-only targets: LiteRT's int8 PRELU (a broadcasting reference kernel,
/// outside XNNPACK) ran MediaPipe's face landmark model at 7.1 ms against 2.0 ms with float
/// PRelus between int8 ops (float model 1.5 ms).
fn integer_capable(op: &Op, integer_only: bool) -> bool {
    (integer_only && matches!(op, Op::PRelu(_)))
        || matches!(
            op,
            Op::Add(_)
                | Op::Sub(_)
                | Op::Mul(_)
                | Op::Concat(_)
                | Op::MaxPool(_)
                | Op::AveragePool(_)
                | Op::GlobalAveragePool(_)
                | Op::GlobalMaxPool(_)
                | Op::ReduceMean(_)
                | Op::Sigmoid(_)
                | Op::HardSigmoid(_)
                | Op::HardSwish(_)
                | Op::Relu(_)
                | Op::Clip(_)
                | Op::Resize(_)
                | Op::Softmax(_)
                | Op::Pad(_)
        )
}

/// Full-integer activation points besides the layers' own: the output of every op with an
/// integer kernel whose inputs are all float activations or constants (moved past a Relu/Clip
/// that is its only consumer, which the kernel fuses), graph outputs included.
pub fn full_integer_points(g: &Graph, integer_only: bool) -> Vec<ValueId> {
    let Ok(order) = g.topo_order() else { return Vec::new() };
    let is_f32 = |v: ValueId| {
        g.value(v)
            .and_then(|x| x.ty.as_ref())
            .and_then(|t| t.as_tensor())
            .is_some_and(|t| t.dtype == DType::F32)
    };
    let mut out = Vec::new();
    for id in order {
        let node = g.node(id);
        if !integer_capable(&node.op, integer_only) && !matches!(node.op, Op::Conv(_) | Op::Gemm(_) | Op::MatMul(_)) {
            continue;
        }
        let y = id.out(0);
        if !is_f32(y) {
            continue;
        }
        // A Relu/Clip right after a fusing op is covered by that op's point.
        if matches!(node.op, Op::Relu(_) | Op::Clip(_))
            && let Some(Some(x)) = g.inputs_of(id).first().copied()
            && let Some(p) = g.get(x.node)
            && (matches!(p.op, Op::Add(_) | Op::Sub(_) | Op::Mul(_) | Op::Conv(_) | Op::Gemm(_)))
            && g.consumers(x).len() == 1
            && !g.is_output(x)
        {
            continue;
        }
        let mut v = y;
        let cons = g.consumers(v);
        if !matches!(node.op, Op::Relu(_) | Op::Clip(_))
            && cons.len() == 1
            && !g.is_output(v)
            && matches!(g.node(cons[0].0).op, Op::Relu(_) | Op::Clip(_))
        {
            v = cons[0].0.out(0);
        }
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// The activations to calibrate for the given layers.
pub fn activation_points(g: &Graph, layers: &[Layer]) -> Vec<ValueId> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for l in layers {
        if l.kind == Kind::Gather {
            continue;
        }
        for v in [l.act, output_point(g, l)].into_iter().flatten() {
            let is_float = g
                .value(v)
                .and_then(|x| x.ty.as_ref())
                .and_then(|t| t.as_tensor())
                .is_none_or(|t| t.dtype == DType::F32);
            if is_float && seen.insert(v) {
                out.push(v);
            }
        }
    }
    out
}

/// A layer's int8 weight, worked out without touching the graph (so layers are prepared in
/// parallel and attached in order after).
pub struct PreparedWeight {
    pub codes: Vec<i8>,
    pub scales: Vec<f32>,
    granularity: QuantGranularity,
    param_shape: Vec<usize>,
    /// Mean output shift per output channel the rounding causes (bias correction), when the
    /// input's per-channel means were given.
    pub shift: Option<Vec<f64>>,
}

/// Per-channel (or per-tensor) symmetric int8 of `l`'s weight (or the codes of `pre` when
/// they fit); with `mean` (per-input-channel activation means) also the bias shift.
pub fn prepare_int8_weight(
    g: &Graph,
    l: &Layer,
    per_tensor: bool,
    pre: Option<&crate::quantize::conv_gptq::PreWeight>,
    mean: Option<&[f64]>,
) -> Result<PreparedWeight, QuantError> {
    let t = float_const(g, l.weight).ok_or_else(|| gerr(&l.name, "weight is not a float constant"))?;
    let w = t.f32_values().ok_or_else(|| gerr(&l.name, "weight data unreadable"))?;
    let shape = &l.w_shape;
    let nch = if per_tensor {
        1
    } else {
        shape.get(l.out_axis).copied().unwrap_or(1)
    };
    let pre = pre.filter(|p| p.codes.len() == w.len() && p.scales.len() == nch);
    let (codes, scales) = match pre {
        Some(p) => (p.codes.iter().map(|&c| c.clamp(-127, 127) as i8).collect(), p.scales.clone()),
        None if per_tensor => per_channel_i8(&w, &[1, w.len()], 0),
        None => per_channel_i8(&w, shape, l.out_axis),
    };
    let (granularity, param_shape) = if per_tensor {
        (QuantGranularity::PerTensor, vec![])
    } else {
        (QuantGranularity::PerAxis { axis: l.out_axis }, vec![scales.len()])
    };
    let groups = match &g.node(l.node).op {
        Op::Conv(c) => c.group.max(1) as usize,
        _ => 1,
    };
    let shift = mean.and_then(|m| bias_shift(l, &w, &codes, &scales, per_tensor, m, groups));
    Ok(PreparedWeight {
        codes,
        scales,
        granularity,
        param_shape,
        shift,
    })
}

/// Puts a prepared weight in the graph (int8 constant → DequantizeLinear) as `l`'s weight
/// input; returns the dequantized value.
pub fn attach_int8_weight(g: &mut Graph, l: &Layer, p: &PreparedWeight) -> Result<ValueId, QuantError> {
    let codes32: Vec<i32> = p.codes.iter().map(|&c| c as i32).collect();
    let wname = g.value(l.weight).map(|v| v.name.clone()).unwrap_or_else(|| l.name.clone());
    let dq = dq_weight(
        g,
        &QWeight {
            name: &wname,
            storage: DType::I8,
            shape: l.w_shape.clone(),
            codes: &codes32,
            scales: &p.scales,
            zps: &[],
            granularity: p.granularity.clone(),
            param_shape: p.param_shape.clone(),
            explicit_zero_point: l.kind == Kind::Gemm,
        },
    )?;
    g.set_input(l.node, l.w_slot, Some(dq)).map_err(|e| gerr(&l.name, e))?;
    Ok(dq)
}

/// Per-channel (or per-tensor) symmetric int8 of a layer's weight; returns the dequantized
/// value and the scales.
pub fn int8_weight(g: &mut Graph, l: &Layer, per_tensor: bool) -> Result<(ValueId, Vec<f32>), QuantError> {
    let p = prepare_int8_weight(g, l, per_tensor, None, None)?;
    let dq = attach_int8_weight(g, l, &p)?;
    Ok((dq, p.scales))
}

/// Mean output shift per output channel caused by the weight rounding error
/// `codes · scale − w`, given per-input-channel activation means.
fn bias_shift(l: &Layer, w: &[f32], codes: &[i8], scales: &[f32], per_tensor: bool, mean: &[f64], groups: usize) -> Option<Vec<f64>> {
    let s = &l.w_shape;
    if codes.len() != w.len() {
        return None;
    }
    let sc = |ch: usize| scales.get(if per_tensor { 0 } else { ch }).map(|&v| v as f64);
    let err = |i: usize, scale: f64| codes[i] as f64 * scale - w[i] as f64;
    match l.kind {
        Kind::Conv => {
            let (o, ci) = (*s.first()?, *s.get(1)?);
            let k: usize = s.iter().skip(2).product();
            if o * ci * k != w.len() {
                return None;
            }
            let per_group_out = o / groups.max(1);
            let mut d = vec![0.0; o];
            for (oc, dv) in d.iter_mut().enumerate() {
                let scale = sc(oc)?;
                let grp = oc / per_group_out.max(1);
                for ic in 0..ci {
                    let m = *mean.get(grp * ci + ic)?;
                    let base = (oc * ci + ic) * k;
                    let e: f64 = (base..base + k).map(|i| err(i, scale)).sum();
                    *dv += e * m;
                }
            }
            Some(d)
        }
        Kind::Gemm => {
            let (r, c) = (*s.first()?, *s.get(1)?);
            if r * c != w.len() {
                return None;
            }
            let (n, kk) = if l.out_axis == 0 { (r, c) } else { (c, r) };
            let mut d = vec![0.0; n];
            for (j, dv) in d.iter_mut().enumerate() {
                let scale = sc(j)?;
                for k in 0..kk {
                    let idx = if l.out_axis == 0 { j * c + k } else { k * c + j };
                    *dv += err(idx, scale) * mean.get(k)?;
                }
            }
            Some(d)
        }
        _ => None,
    }
}

/// What static quantization did.
#[derive(Clone, Debug, Default)]
pub struct StaticInfo {
    /// Layers with int8 weights.
    pub quantized_layers: Vec<String>,
    /// Layers whose activations are int8 too.
    pub act_layers: Vec<String>,
    pub activations: usize,
    pub int32_biases: usize,
    pub corrected_biases: usize,
    /// Layers left float whose weights are stored as float16.
    pub f16_layers: Vec<String>,
    /// Relu/Clip nodes dropped because a QuantizeLinear before them already saturates to their
    /// bounds.
    pub dropped_clips: usize,
    /// PRelu slopes stored as int8 (full-integer targets).
    pub prelu_slopes: usize,
}

/// Quantizes the weights and activations of the layers of `layers` in `act_include` (all when
/// `None`) with calibrated ranges. The other Conv/Gemm layers stay float with float16-stored
/// weights when `o.float_weights`; the rest keep int8 weights behind a DequantizeLinear and
/// float activations.
pub fn apply(
    g: &mut Graph,
    layers: &[Layer],
    cal: &Calibration,
    o: &StaticOptions,
    act_include: Option<&HashSet<NodeId>>,
) -> Result<StaticInfo, QuantError> {
    let all: Vec<&Layer> = layers.iter().filter(|l| l.kind != Kind::Gather).collect();
    let chosen: Vec<&Layer> = all
        .iter()
        .copied()
        .filter(|l| act_include.is_none_or(|s| s.contains(&l.node)))
        .collect();
    // Conv/Gemm layers left out go float with float16-stored weights; MatMuls left out keep
    // int8 weights (they become dynamic int8 islands, see `nbits8`).
    let float_w: HashSet<NodeId> = all
        .iter()
        .filter(|l| o.float_weights && matches!(l.kind, Kind::Conv | Kind::Gemm))
        .filter(|l| act_include.is_some_and(|s| !s.contains(&l.node)))
        .map(|l| l.node)
        .collect();
    let mut info = StaticInfo::default();
    for l in all.iter().filter(|l| float_w.contains(&l.node)) {
        if crate::quantize::float_layers::f16_weight(g, l)? {
            info.f16_layers.push(l.name.clone());
        }
    }
    let all: Vec<&Layer> = all.into_iter().filter(|l| !float_w.contains(&l.node)).collect();
    // Activation parameters.
    let levels = (qrange(o.act_dtype).1 - qrange(o.act_dtype).0) as f64;
    // Activations are asymmetric in both storage types (TFLite int8 kernels take any zero point).
    let symmetric = false;
    let mut params: HashMap<ValueId, (f32, i32)> = HashMap::new();
    let mut points = activation_points(g, &chosen.iter().map(|l| (*l).clone()).collect::<Vec<_>>());
    if o.full_integer {
        for v in full_integer_points(g, o.integer_only) {
            if !points.contains(&v) {
                points.push(v);
            }
        }
    }
    crate::quantize::tied::add_points(g, &mut points);
    let tied: Vec<(ValueId, ValueId)> = points
        .iter()
        .filter_map(|&v| Some((v, crate::quantize::tied::tie_source(g, v).filter(|x| points.contains(x))?)))
        .collect();
    for &v in &points {
        if tied.iter().any(|&(t, _)| t == v) {
            continue;
        }
        let Some(h) = cal.hists.get(&v) else { continue };
        let (lo, hi) = match downstream_clip(g, v) {
            Some((a, b)) => {
                let (lo, hi) = estimate(&h.clamped(a, b), o.method, levels);
                (lo.max(a), hi.min(b))
            }
            None => estimate(h, o.method, levels),
        };
        if hi - lo <= 0.0 {
            continue;
        }
        params.insert(v, from_range(lo, hi, o.act_dtype, symmetric));
    }
    // Tied points take their source's parameters, in graph order (a tie can read a tie).
    let rank: HashMap<NodeId, usize> = g
        .topo_order()
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, n)| (n, i))
        .collect();
    let mut tied = tied;
    tied.sort_by_key(|(v, _)| rank.get(&v.node).copied().unwrap_or(usize::MAX));
    for (v, x) in tied {
        if let Some(&p) = params.get(&x) {
            params.insert(v, p);
        }
    }
    // Weights and biases first (they read the original activation ids). The codes, scales and
    // bias shifts are worked out for every layer in parallel, then attached in layer order.
    let prepared: Vec<PreparedWeight> = {
        let gr: &Graph = g;
        crate::quantize::par::map(&all, |_, l| {
            let pre = o.precomputed.as_ref().and_then(|p| p.layers.get(&l.node));
            let mean = if o.bias_correction {
                l.act.and_then(|a| cal.means.get(&a)).map(|m| m.as_slice())
            } else {
                None
            };
            prepare_int8_weight(gr, l, o.per_tensor, pre, mean)
        })
        .into_iter()
        .collect::<Result<_, _>>()?
    };
    for (l, pw) in all.iter().zip(prepared) {
        let pre = o.precomputed.as_ref().and_then(|p| p.layers.get(&l.node));
        attach_int8_weight(g, l, &pw)?;
        let wscales = pw.scales;
        info.quantized_layers.push(l.name.clone());
        if act_include.is_none_or(|s| s.contains(&l.node)) {
            info.act_layers.push(l.name.clone());
        }
        let Some(bslot) = l.bias_slot else { continue };
        let Some(bv) = g.inputs_of(l.node).get(bslot).copied().flatten() else {
            continue;
        };
        let Some(mut bias) = float_const(g, bv).and_then(|t| t.to_f64_vec()) else {
            continue;
        };
        let mut corrected = false;
        if let Some(b) = pre.and_then(|p| p.bias.as_ref()).filter(|b| b.len() == bias.len()) {
            bias.clone_from(b);
            info.corrected_biases += 1;
            corrected = true;
        } else if o.bias_correction
            && let Some(d) = pw.shift
            && d.len() == bias.len()
        {
            for (b, s) in bias.iter_mut().zip(d) {
                *b -= s;
            }
            info.corrected_biases += 1;
            corrected = true;
        }
        let sx = l.act.filter(|a| points.contains(a)).and_then(|a| params.get(&a)).map(|p| p.0);
        let bname = g.value(bv).map(|v| v.name.clone()).unwrap_or_else(|| format!("{}_bias", l.name));
        let new_b = match sx {
            Some(sx) if o.int32_bias => {
                let n = bias.len();
                let scales: Vec<f32> = (0..n)
                    .map(|c| sx * wscales.get(if o.per_tensor { 0 } else { c }).copied().unwrap_or(1.0))
                    .collect();
                let codes: Vec<i32> = bias
                    .iter()
                    .zip(&scales)
                    .map(|(&b, &s)| round_even(b / s as f64).clamp(i32::MIN as f64, i32::MAX as f64) as i32)
                    .collect();
                let qp = qparams(DType::I32, QuantGranularity::PerAxis { axis: 0 }, scales.clone(), vec![]);
                let q = const_codes(g, &format!("{bname}_quantized"), DType::I32, vec![n], &codes, Some(qp))?;
                let s = const_f32(g, &format!("{bname}_scale"), vec![n], &scales)?;
                let out = crate::quantize::qdq::unique(g, &format!("{bname}_dequantized"));
                let op = Op::DequantizeLinear(DequantizeLinear {
                    axis: 0,
                    ..Default::default()
                });
                let nn = crate::quantize::qdq::unique(g, &format!("{bname}_DequantizeLinear"));
                let id = g.add_op(nn, op, &[Some(q), Some(s), None], &[&out]).map_err(|e| gerr(&l.name, e))?;
                if let Some(val) = g.value_mut(id.out(0)) {
                    val.ty = g_ty_f32(n);
                }
                info.int32_biases += 1;
                id.out(0)
            }
            _ if corrected => {
                let v32: Vec<f32> = bias.iter().map(|&b| b as f32).collect();
                const_f32(g, &format!("{bname}_corrected"), vec![v32.len()], &v32)?
            }
            _ => continue,
        };
        g.set_input(l.node, bslot, Some(new_b)).map_err(|e| gerr(&l.name, e))?;
    }
    if o.full_integer && o.integer_only {
        let quantized: Vec<ValueId> = points.iter().copied().filter(|v| params.contains_key(v)).collect();
        info.prelu_slopes = crate::quantize::slopes::quantize(g, &quantized)?;
    }
    // Activations: one QDQ per value, every consumer rewired; a graph output is rewired to the
    // DequantizeLinear output, which takes over its name.
    for v in points {
        let Some(&(s, z)) = params.get(&v) else { continue };
        // A Relu/Clip further on that the QuantizeLinear's saturation already applies (every
        // value it can see lies within its bounds) is dropped: exact, and it lets runtimes move
        // the layout ops in between onto the integer data (MediaPipe's pose landmark model:
        // 61 Clips, 0.55 ms of float work per run in onnxruntime).
        let (qmin, qmax) = qrange(o.act_dtype);
        let (rep_lo, rep_hi) = ((qmin - z) as f64 * s as f64, (qmax - z) as f64 * s as f64);
        let slack = 1e-6 * rep_lo.abs().max(rep_hi.abs());
        let saturates = |lo: f64, hi: f64| lo <= rep_lo + slack && rep_hi <= hi + slack;
        let redundant = downstream_clip_node(g, v)
            .filter(|&(c, lo, hi)| saturates(lo, hi) && !g.is_output(c.out(0)) && !params.contains_key(&c.out(0)));
        // The same for the Relu/Clip that produces `v`: the QuantizeLinear reads the Clip's input
        // instead, so `Add → Relu6 → QuantizeLinear` becomes `Add → QuantizeLinear`, which
        // onnxruntime runs as one QLinearAdd (MediaPipe's pose landmark model: 28 float Adds).
        let producer = (!g.is_output(v))
            .then_some(v.node)
            .filter(|&c| v.port == 0 && clip_bounds(g, c).is_some_and(|(lo, hi)| saturates(lo, hi)))
            .and_then(|c| Some((c, g.inputs_of(c).first().copied().flatten()?)))
            .filter(|&(_, x)| !params.contains_key(&x));
        let consumers = g.consumers(v);
        let dq = qdq(g, v, s, z, o.act_dtype)?;
        for (c, slot) in consumers {
            g.set_input(c, slot, Some(dq)).map_err(|e| gerr(&g.node(c).name.clone(), e))?;
        }
        if g.is_output(v) {
            let name = g.value(v).map(|x| x.name.clone()).unwrap_or_default();
            let outs: Vec<(String, ValueId)> = g
                .outputs()
                .iter()
                .map(|(n, x)| (n.clone(), if *x == v { dq } else { *x }))
                .collect();
            g.set_outputs(outs).map_err(|e| gerr(&name, e))?;
            let inner = crate::quantize::qdq::unique(g, &format!("{name}_float"));
            if let Some(x) = g.value_mut(v) {
                x.name = inner;
            }
            if let Some(x) = g.value_mut(dq) {
                x.name = name;
            }
        }
        if let Some((c, _, _)) = redundant
            && let Some(x) = g.inputs_of(c).first().copied().flatten()
        {
            g.replace_all_uses(c.out(0), x).map_err(|e| gerr(&g.node(c).name.clone(), e))?;
            g.remove_node(c);
            info.dropped_clips += 1;
        }
        if let Some((c, x)) = producer {
            // Only the QuantizeLinear reads `v` now.
            g.replace_all_uses(v, x).map_err(|e| gerr(&g.node(c).name.clone(), e))?;
            g.remove_node(c);
            info.dropped_clips += 1;
        }
        info.activations += 1;
    }
    Ok(info)
}

fn g_ty_f32(n: usize) -> Option<edgeport_ir::ValueType> {
    Some(edgeport_ir::ValueType::tensor(
        DType::F32,
        Some(edgeport_ir::Shape::known(&[n as u64])),
    ))
}
