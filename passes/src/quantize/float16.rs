//! fp16/bf16 conversion with guards. Ops from an allow-list run in the reduced type: their float
//! constants are converted, other float inputs get a Cast in, and values leaving the reduced
//! region (to fp32 ops or graph outputs) get a Cast back. Kept in fp32: precision-critical ops
//! (softmax, normalizations, reductions, exp/log/pow — not on the list) and, for fp16, any op
//! whose calibrated outputs or inputs exceed half the fp16 range (65504).

use crate::quantize::error::{QuantError, gerr};
use crate::quantize::qdq::unique;
use edgeport_eval::{EvalOptions, Value, run_graph_with};
use edgeport_ir::ops::defs::tensor::Cast;
use edgeport_ir::{DType, Graph, NodeId, Op, OpKind, ValueId, ValueType};
use std::collections::{HashMap, HashSet};

/// What the conversion did.
#[derive(Clone, Debug, Default)]
pub struct FloatInfo {
    pub converted: usize,
    /// Nodes of allow-listed ops kept fp32, with the reason.
    pub kept: Vec<(String, String)>,
}

const ALLOWED: &[OpKind] = &[
    OpKind::Conv,
    OpKind::ConvTranspose,
    OpKind::MatMul,
    OpKind::Gemm,
    OpKind::Add,
    OpKind::Sub,
    OpKind::Mul,
    OpKind::Div,
    OpKind::Relu,
    OpKind::LeakyRelu,
    OpKind::Sigmoid,
    OpKind::Tanh,
    OpKind::Gelu,
    OpKind::Erf,
    OpKind::HardSigmoid,
    OpKind::HardSwish,
    OpKind::MaxPool,
    OpKind::AveragePool,
    OpKind::GlobalAveragePool,
    OpKind::Concat,
    OpKind::Reshape,
    OpKind::Transpose,
    OpKind::Flatten,
    OpKind::Squeeze,
    OpKind::Unsqueeze,
    OpKind::Gather,
    OpKind::Slice,
    OpKind::Split,
];

fn dtype_of(g: &Graph, v: ValueId) -> Option<DType> {
    g.value(v)?.ty.as_ref()?.as_tensor().map(|t| t.dtype)
}

fn with_dtype(ty: &Option<ValueType>, d: DType) -> Option<ValueType> {
    ty.as_ref()
        .and_then(|t| t.as_tensor())
        .map(|t| ValueType::tensor(d, t.shape.clone()))
}

/// Largest |x| of every value over the samples (at most 8 are run).
fn maxima(g: &Graph, samples: &[Vec<Value>]) -> Result<HashMap<ValueId, f64>, QuantError> {
    let mut out: HashMap<ValueId, f64> = HashMap::new();
    let opts = EvalOptions {
        keep_all: true,
        ..Default::default()
    };
    for (i, s) in samples.iter().take(8).enumerate() {
        let (_, kept) = run_graph_with(g, s.clone(), &opts).map_err(|e| QuantError::Eval {
            sample: i,
            msg: e.to_string(),
        })?;
        for (v, val) in kept {
            let Some(t) = val.as_tensor() else { continue };
            if !t.dtype().is_float() {
                continue;
            }
            let a = t.to_f32_array().map_err(|e| QuantError::Eval {
                sample: i,
                msg: e.to_string(),
            })?;
            let m = a.iter().fold(0f64, |m, &x| m.max((x as f64).abs()));
            let e = out.entry(v).or_default();
            *e = e.max(m);
        }
    }
    Ok(out)
}

/// Converts allow-listed ops to fp16 (or bf16 when `bf16`).
pub fn apply(g: &mut Graph, samples: &[Vec<Value>], bf16: bool) -> Result<FloatInfo, QuantError> {
    let low = if bf16 { DType::BF16 } else { DType::F16 };
    let limit = 65504.0 / 2.0;
    let maxes = if bf16 || samples.is_empty() {
        HashMap::new()
    } else {
        maxima(g, samples)?
    };
    let order = g.topo_order().map_err(|e| gerr(&g.name, e))?;
    let mut info = FloatInfo::default();
    let mut set: HashSet<NodeId> = HashSet::new();
    for &id in &order {
        let node = g.node(id);
        if !ALLOWED.contains(&node.op.kind()) || node.n_captures > 0 {
            continue;
        }
        let ins = g.inputs_of(id);
        let outs: Vec<ValueId> = (0..node.outputs.len()).map(|p| id.out(p)).collect();
        if outs.iter().any(|&v| dtype_of(g, v) != Some(DType::F32)) {
            continue;
        }
        let over = ins
            .iter()
            .flatten()
            .chain(outs.iter())
            .filter_map(|v| maxes.get(v))
            .any(|&m| m > limit);
        if over {
            info.kept
                .push((node.name.clone(), format!("activations exceed {limit} (fp16 range guard)")));
            continue;
        }
        set.insert(id);
    }
    // Inputs into the region.
    let mut to_low: HashMap<ValueId, ValueId> = HashMap::new();
    for &id in &order {
        if !set.contains(&id) {
            continue;
        }
        let ins = g.inputs_of(id);
        for (slot, v) in ins.iter().enumerate() {
            let Some(v) = *v else { continue };
            if set.contains(&v.node) || dtype_of(g, v) != Some(DType::F32) {
                continue;
            }
            let nv = match to_low.get(&v) {
                Some(&x) => x,
                None => {
                    let x = convert(g, v, low)?;
                    to_low.insert(v, x);
                    x
                }
            };
            g.set_input(id, slot, Some(nv)).map_err(|e| gerr(&g.node(id).name.clone(), e))?;
        }
    }
    // Region outputs: retype, cast back for fp32 consumers and graph outputs.
    for &id in &order {
        if !set.contains(&id) {
            continue;
        }
        info.converted += 1;
        for p in 0..g.node(id).outputs.len() {
            let v = id.out(p);
            let ty = g.value(v).and_then(|x| x.ty.clone());
            if let Some(val) = g.value_mut(v) {
                val.ty = with_dtype(&ty, low);
            }
            let outside: Vec<(NodeId, usize)> = g.consumers(v).into_iter().filter(|(c, _)| !set.contains(c)).collect();
            let is_out = g.is_output(v);
            if outside.is_empty() && !is_out {
                continue;
            }
            let back = cast(g, v, DType::F32, ty)?;
            for (c, slot) in outside {
                g.set_input(c, slot, Some(back)).map_err(|e| gerr(&g.node(c).name.clone(), e))?;
            }
            if is_out {
                let outs = g
                    .outputs()
                    .iter()
                    .map(|(n, x)| (n.clone(), if *x == v { back } else { *x }))
                    .collect();
                g.set_outputs(outs).map_err(|e| gerr(&g.name, e))?;
            }
        }
    }
    Ok(info)
}

fn cast(g: &mut Graph, v: ValueId, to: DType, ty: Option<ValueType>) -> Result<ValueId, QuantError> {
    let base = g.value(v).map(|x| x.name.clone()).unwrap_or_default();
    let out = unique(g, &format!("{base}_{}", to.name()));
    let op = Op::Cast(Cast {
        to: to.onnx_code() as i64,
        ..Default::default()
    });
    let id = g
        .add_op(unique(g, &format!("{base}_Cast_{}", to.name())), op, &[Some(v)], &[&out])
        .map_err(|e| gerr(&base, e))?;
    if let Some(val) = g.value_mut(id.out(0)) {
        val.ty = with_dtype(&ty, to);
    }
    Ok(id.out(0))
}

/// A constant is converted in place (as a new constant); anything else gets a Cast.
fn convert(g: &mut Graph, v: ValueId, low: DType) -> Result<ValueId, QuantError> {
    let ty = g.value(v).and_then(|x| x.ty.clone());
    if let Op::Constant(c) = &g.node(v.node).op {
        let name = g.value(v).map(|x| x.name.clone()).unwrap_or_default();
        let t = edgeport_eval::Tensor::from_ir(&c.value)
            .and_then(|t| t.cast(low))
            .map_err(|e| gerr(&name, e))?
            .to_ir();
        let n = unique(g, &format!("{name}_{}", low.name()));
        return Ok(g.add_constant(n, t));
    }
    cast(g, v, low, ty)
}
