//! The sequence family: `SequenceEmpty`, `SequenceConstruct`, `SequenceAt`, `SequenceErase`,
//! `SequenceInsert`, `SequenceLength`, `SplitToSequence`, `ConcatFromSequence`, `SequenceMap`.

use super::common::int_scalar;
use super::split_concat::{concat_tensors, sizes_from, split_sizes};
use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use crate::ops::util::norm_axis;
use crate::tensor::Tensor;
use crate::value::Value;
use edgeport_ir::ops::sequence::{ConcatFromSequence, SequenceEmpty, SequenceMap, SplitToSequence};
use edgeport_ir::{DType, ValueType};

fn seq<'a>(cx: &NodeCtx<'a>, i: usize) -> Result<(&'a [Tensor], DType), OpError> {
    match cx.input(i) {
        Some(Value::Sequence(s, d)) => Ok((s.as_slice(), *d)),
        Some(v) => Err(OpError::invalid(format!("input {i} should be a sequence, got {}", v.describe()))),
        None => Err(OpError::invalid(format!("required sequence input {i} is missing"))),
    }
}

fn seq_out(s: Vec<Tensor>, d: DType) -> OpResult {
    Ok(vec![Value::Sequence(s, d)])
}

/// A position input normalized against `n` (accepting `-n..n`, or `-n..=n` with `end_ok`).
fn position(cx: &NodeCtx<'_>, i: usize, n: usize, end_ok: bool) -> Result<Option<usize>, OpError> {
    let Some(t) = cx.opt_tensor(i)? else {
        return Ok(None);
    };
    let p = int_scalar(t, "position")?;
    let len = n as i64;
    let q = if p < 0 { p + len } else { p };
    let hi = if end_ok { len } else { len - 1 };
    if q < 0 || q > hi {
        return Err(OpError::invalid(format!("position {p} is out of range for a sequence of {n}")));
    }
    Ok(Some(q as usize))
}

pub fn sequence_empty(op: &SequenceEmpty, _cx: &NodeCtx<'_>) -> OpResult {
    let d = match op.dtype {
        Some(c) => i32::try_from(c)
            .ok()
            .and_then(DType::from_onnx_code)
            .ok_or_else(|| OpError::invalid(format!("unknown dtype code {c}")))?,
        None => DType::F32,
    };
    seq_out(Vec::new(), d)
}

pub fn sequence_construct(cx: &NodeCtx<'_>) -> OpResult {
    let ts: Vec<Tensor> = (0..cx.n_inputs()).map(|i| cx.tensor(i).cloned()).collect::<Result<_, _>>()?;
    let d = ts
        .first()
        .map(|t| t.dtype())
        .ok_or_else(|| OpError::invalid("sequence_construct: no inputs"))?;
    if ts.iter().any(|t| t.dtype() != d) {
        return Err(OpError::invalid("sequence_construct: inputs differ in dtype"));
    }
    seq_out(ts, d)
}

pub fn sequence_at(cx: &NodeCtx<'_>) -> OpResult {
    let (s, _) = seq(cx, 0)?;
    let p = position(cx, 1, s.len(), false)?.ok_or_else(|| OpError::invalid("sequence_at: position is missing"))?;
    Ok(vec![Value::Tensor(s[p].clone())])
}

pub fn sequence_erase(cx: &NodeCtx<'_>) -> OpResult {
    let (s, d) = seq(cx, 0)?;
    if s.is_empty() {
        return Err(OpError::invalid("sequence_erase: the sequence is empty"));
    }
    let p = position(cx, 1, s.len(), false)?.unwrap_or(s.len() - 1);
    let mut v = s.to_vec();
    v.remove(p);
    seq_out(v, d)
}

pub fn sequence_insert(cx: &NodeCtx<'_>) -> OpResult {
    let (s, d) = seq(cx, 0)?;
    let t = cx.tensor(1)?;
    if t.dtype() != d {
        return Err(OpError::invalid(format!(
            "sequence_insert: {} tensor into a sequence of {d}",
            t.dtype()
        )));
    }
    let p = position(cx, 2, s.len(), true)?.unwrap_or(s.len());
    let mut v = s.to_vec();
    v.insert(p, t.clone());
    seq_out(v, d)
}

pub fn sequence_length(cx: &NodeCtx<'_>) -> OpResult {
    let (s, _) = seq(cx, 0)?;
    Ok(vec![Value::Tensor(Tensor::scalar_i64(s.len() as i64))])
}

pub fn split_to_sequence(op: &SplitToSequence, cx: &NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    let axis = norm_axis(op.axis, x.shape().len())?;
    let dim = x.shape()[axis];
    let parts = match cx.opt_tensor(1)? {
        Some(s) if s.shape().is_empty() => {
            let c = sizes_from(s)?.first().copied().unwrap_or(0);
            if c == 0 {
                return Err(OpError::invalid("split_to_sequence: split size must be positive"));
            }
            let mut sizes = vec![c; dim / c];
            if dim % c != 0 {
                sizes.push(dim % c);
            }
            split_sizes(x, axis, &sizes)?
        }
        Some(s) => split_sizes(x, axis, &sizes_from(s)?)?,
        None => {
            let parts = split_sizes(x, axis, &vec![1; dim])?;
            if op.keepdims == 0 {
                let mut shape = x.shape().to_vec();
                shape.remove(axis);
                parts.iter().map(|p| p.reshape(&shape)).collect::<Result<_, _>>()?
            } else {
                parts
            }
        }
    };
    seq_out(parts, x.dtype())
}

pub fn concat_from_sequence(op: &ConcatFromSequence, cx: &NodeCtx<'_>) -> OpResult {
    let (s, _) = seq(cx, 0)?;
    let first = s
        .first()
        .ok_or_else(|| OpError::invalid("concat_from_sequence: the sequence is empty"))?;
    let rank = first.shape().len();
    let out = if op.new_axis != 0 {
        let axis = norm_axis(op.axis, rank + 1)?;
        let stacked: Vec<Tensor> = s
            .iter()
            .map(|t| {
                let mut sh = t.shape().to_vec();
                sh.insert(axis.min(sh.len()), 1);
                t.reshape(&sh)
            })
            .collect::<Result<_, _>>()?;
        concat_tensors(&stacked.iter().collect::<Vec<_>>(), axis)?
    } else {
        let axis = norm_axis(op.axis, rank)?;
        concat_tensors(&s.iter().collect::<Vec<_>>(), axis)?
    };
    Ok(vec![Value::Tensor(out)])
}

/// The element dtype of a sequence type, if known.
fn seq_elem(ty: Option<&ValueType>) -> Option<DType> {
    match ty? {
        ValueType::Sequence(e) => e.as_tensor().map(|t| t.dtype),
        ValueType::Tensor(t) => Some(t.dtype),
        _ => None,
    }
}

pub fn sequence_map(op: &SequenceMap, cx: &NodeCtx<'_>) -> OpResult {
    let (s0, _) = seq(cx, 0)?;
    let n = s0.len();
    for i in 1..cx.n_inputs() {
        if let Some(Value::Sequence(s, _)) = cx.input(i)
            && s.len() != n
        {
            return Err(OpError::invalid(format!(
                "sequence_map: input {i} has {} elements, expected {n}",
                s.len()
            )));
        }
    }
    let body = &op.body;
    let n_out = body.outputs().len();
    let mut outs: Vec<Vec<Tensor>> = vec![Vec::new(); n_out];
    for k in 0..n {
        let mut ins = Vec::with_capacity(cx.n_inputs());
        ins.push(Value::Tensor(s0[k].clone()));
        for i in 1..cx.n_inputs() {
            ins.push(match cx.input(i) {
                Some(Value::Sequence(s, _)) => Value::Tensor(s[k].clone()),
                Some(v) => v.clone(),
                None => {
                    return Err(OpError::invalid(format!("sequence_map: input {i} is missing")));
                }
            });
        }
        let res = cx.run_subgraph(body, ins)?;
        for (j, v) in res.into_iter().enumerate().take(n_out) {
            match v {
                Value::Tensor(t) => outs[j].push(t),
                o => {
                    return Err(OpError::invalid(format!("sequence_map: body output {j} is {}", o.describe())));
                }
            }
        }
    }
    let mut result = Vec::with_capacity(n_out);
    for (j, ts) in outs.into_iter().enumerate() {
        let d = ts
            .first()
            .map(|t| t.dtype())
            .or_else(|| seq_elem(cx.node.outputs.get(j).and_then(|v| v.ty.as_ref())))
            .or_else(|| seq_elem(body.outputs().get(j).and_then(|(_, v)| body.value(*v)).and_then(|v| v.ty.as_ref())))
            .unwrap_or(DType::F32);
        result.push(Value::Sequence(ts, d));
    }
    Ok(result)
}
