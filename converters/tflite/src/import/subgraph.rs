//! Converting one TFLite subgraph into (a part of) an IR graph: binding its input tensors to
//! given values, running the op rule of each operator in order, and returning the values of
//! its output tensors. The same subgraph may be inlined more than once (a WHILE condition is
//! inlined before the loop and inside the body), so value names are made unique per graph.

use super::Env;
use super::cx::{Names, OpCx, SgState};
use super::ops;
use super::tensors::{dtype_of, is_quantized, quant_params, static_shape};
use crate::error::{OpIssue, TfliteError};
use crate::model::{Signature, TensorInfo};
use edgeport_ir::{Dim, Graph, Shape, ValueId, ValueType};

/// The IR type of a tensor: dtype plus shape (dynamic dims from `shape_signature` are symbols).
pub fn value_type(t: &TensorInfo) -> Option<ValueType> {
    let dtype = dtype_of(t.ty)?;
    let dims = if t.shape_signature.len() == t.shape.len() && !t.shape_signature.is_empty() {
        &t.shape_signature
    } else {
        &t.shape
    };
    let shape = Shape(
        dims.iter()
            .enumerate()
            .map(|(i, &d)| {
                if d < 0 {
                    Dim::Sym(if i == 0 { "N".into() } else { format!("d{i}") })
                } else {
                    Dim::Known(d as u64)
                }
            })
            .collect(),
    );
    Some(ValueType::tensor(dtype, Some(shape)))
}

fn model_err(env: &Env<'_, '_>, msg: String) -> TfliteError {
    TfliteError::Model {
        file: env.file.to_string(),
        msg,
    }
}

/// Imports the main subgraph (0, or the signature's) as a top-level graph.
pub fn import_main(env: &mut Env<'_, '_>, sig: Option<&Signature>) -> Result<Graph, TfliteError> {
    let idx = sig.map_or(0, |s| s.subgraph as usize);
    let model = env.model;
    let sg = model
        .subgraphs
        .get(idx)
        .ok_or_else(|| model_err(env, format!("signature refers to subgraph {idx}, which does not exist")))?;
    let name = if sg.name.is_empty() { "main".to_string() } else { sg.name.clone() };
    let mut g = Graph::new(name);
    if !model.description.is_empty() {
        g.metadata.push(("tflite.description".into(), model.description.clone()));
    }
    g.metadata.push(("tflite.version".into(), model.version.to_string()));
    // Every custom operator code of the file, including those lowered to standard ops at import
    // (MediaPipe's Convolution2DTransposeBias), so `inspect` names them all.
    let mut customs: Vec<&str> = model.opcodes.iter().filter_map(|c| c.custom.as_deref()).collect();
    customs.sort_unstable();
    customs.dedup();
    if !customs.is_empty() {
        g.metadata.push(("tflite.custom_ops".into(), customs.join(", ")));
    }
    let mut names = Names::default();
    // Input order and names: the signature's when one was chosen, else the subgraph's.
    let in_tensors: Vec<(String, i32)> = match sig {
        Some(s) => s.inputs.iter().map(|(n, t)| (n.clone(), *t as i32)).collect(),
        None => sg.inputs.iter().map(|&t| (String::new(), t)).collect(),
    };
    let mut bound = Vec::new();
    for (sig_name, ti) in &in_tensors {
        let t = usize::try_from(*ti)
            .ok()
            .and_then(|i| sg.tensors.get(i))
            .ok_or_else(|| model_err(env, format!("subgraph {idx}: input tensor index {ti} out of range")))?;
        let name = if sig_name.is_empty() { t.name.clone() } else { sig_name.clone() };
        let name = names.unique(&name);
        let v = g.add_input(name, value_type(t));
        if is_quantized(t)
            && let Some(q) = &t.quant
            && let Some(dt) = dtype_of(t.ty)
        {
            let dims = static_shape(t).unwrap_or_default();
            if let Ok(qp) = quant_params(q, dt, t.shape.len(), &dims)
                && let Some(val) = g.value_mut(v)
            {
                val.quant = Some(qp);
            }
        }
        bound.push((*ti, v));
    }
    let outs = convert(env, idx, &mut g, &mut names, Bound::Tensors(&bound))?;
    let mut out_list = Vec::new();
    match sig {
        Some(s) => {
            for (n, ti) in &s.outputs {
                let pos = sg.outputs.iter().position(|&o| o == *ti as i32);
                let v = pos.and_then(|p| outs.get(p).copied().flatten());
                if let Some(v) = v {
                    out_list.push((n.clone(), v));
                }
            }
        }
        None => {
            for (k, &ti) in sg.outputs.iter().enumerate() {
                if let Some(Some(v)) = outs.get(k) {
                    let name = usize::try_from(ti)
                        .ok()
                        .and_then(|i| sg.tensors.get(i))
                        .map(|t| t.name.clone())
                        .unwrap_or_default();
                    out_list.push((name, *v));
                }
            }
        }
    }
    g.set_outputs(out_list).map_err(|e| model_err(env, e.to_string()))?;
    Ok(g)
}

/// How a subgraph's inputs are bound.
pub enum Bound<'b> {
    /// Explicit (tensor index, value) pairs (the main graph).
    Tensors(&'b [(i32, ValueId)]),
    /// Values for the subgraph's inputs, in order (inlined subgraphs).
    Inputs(&'b [ValueId]),
}

/// Converts subgraph `idx` into `g`; returns the value of each of its outputs (`None` when the
/// operator producing it failed; that failure is recorded in `env.issues`).
pub fn convert(
    env: &mut Env<'_, '_>,
    idx: usize,
    g: &mut Graph,
    names: &mut Names,
    inputs: Bound<'_>,
) -> Result<Vec<Option<ValueId>>, TfliteError> {
    if env.stack.contains(&idx) {
        let chain: Vec<String> = env.stack.iter().chain(std::iter::once(&idx)).map(|i| i.to_string()).collect();
        return Err(model_err(env, format!("subgraph cycle: {}", chain.join(" -> "))));
    }
    if env.stack.len() >= 64 {
        return Err(model_err(env, "subgraphs nest more than 64 deep".into()));
    }
    let model = env.model;
    let sg = model
        .subgraphs
        .get(idx)
        .ok_or_else(|| model_err(env, format!("subgraph {idx} does not exist")))?;
    env.stack.push(idx);
    let mut st = SgState::new(idx, sg, names);
    match inputs {
        Bound::Tensors(pairs) => {
            for &(ti, v) in pairs {
                st.bind(ti, v).map_err(|m| model_err(env, format!("subgraph {idx}: {m}")))?;
            }
        }
        Bound::Inputs(vals) => {
            if vals.len() != sg.inputs.len() {
                env.stack.pop();
                return Err(model_err(
                    env,
                    format!("subgraph {idx} takes {} inputs, {} given", sg.inputs.len(), vals.len()),
                ));
            }
            for (&ti, &v) in sg.inputs.iter().zip(vals) {
                st.bind(ti, v).map_err(|m| model_err(env, format!("subgraph {idx}: {m}")))?;
            }
        }
    }
    for (oi, op) in sg.operators.iter().enumerate() {
        let code = model.opcodes.get(op.opcode_index as usize);
        let opname = match code {
            Some(c) => match (&c.custom, c.builtin.name()) {
                (Some(cn), _) if c.builtin == crate::codes::BuiltinOperator::CUSTOM => cn.clone(),
                (_, Some(n)) => n.to_string(),
                _ => format!("builtin {}", c.builtin.0),
            },
            None => format!("opcode {}", op.opcode_index),
        };
        let issue = |reason: String| OpIssue {
            subgraph: idx,
            operator: oi,
            op: opname.clone(),
            reason,
        };
        let Some(code) = code else {
            env.issues.push(issue(format!(
                "opcode index {} out of range ({} operator codes)",
                op.opcode_index,
                model.opcodes.len()
            )));
            st.fail_outputs(op);
            continue;
        };
        if let Some(reason) = st.check_indices(op) {
            env.issues.push(issue(reason));
            st.fail_outputs(op);
            continue;
        }
        if st.any_input_failed(op) {
            st.fail_outputs(op);
            continue;
        }
        let mut cx = OpCx {
            env: &mut *env,
            st: &mut st,
            op,
            code: code.clone(),
            index: oi,
        };
        match ops::convert(&mut cx, g) {
            Ok(()) => {}
            Err(ops::Fail::Issue(reason)) => {
                env.issues.push(issue(reason));
                st.fail_outputs(op);
            }
            Err(ops::Fail::Fatal(e)) => {
                env.stack.pop();
                return Err(e);
            }
        }
    }
    let mut outs = Vec::with_capacity(sg.outputs.len());
    for &ti in &sg.outputs {
        match st.output_value(g, env, ti) {
            Ok(v) => outs.push(v),
            Err(m) => {
                env.stack.pop();
                return Err(model_err(env, format!("subgraph {idx}: output {m}")));
            }
        }
    }
    env.stack.pop();
    Ok(outs)
}
