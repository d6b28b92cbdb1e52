//! `Loop`: a for/while loop over a body graph with loop-carried values (tensors, sequences or
//! optionals) and scan outputs stacked along a new axis 0.
//!
//! Body signature: `(iteration_num: i64 scalar, cond: bool scalar, v_1..v_N) ->
//! (cond, v_1..v_N, scan_1..scan_K)`. An absent `M` means no trip limit and an absent `cond`
//! means "true" (the body's condition output is then ignored, as the spec's for-loop form says).

use super::if_::truth;
use super::stack::{stack, zeros};
use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use crate::tensor::Tensor;
use crate::value::Value;
use edgeport_ir::ops::defs::controlflow::Loop;
use edgeport_ir::{DType, Graph, ValueType};
use ndarray::{ArrayD, IxDyn};

pub(super) fn run(a: &Loop, cx: &mut NodeCtx<'_>) -> OpResult {
    let body: &Graph = &a.body;
    let n_in = body.inputs().len();
    if n_in < 2 {
        return Err(OpError::invalid(format!("Loop body must take at least 2 inputs, takes {n_in}")));
    }
    let n_carried = n_in - 2;
    let n_body_out = body.outputs().len();
    if n_body_out < 1 + n_carried {
        return Err(OpError::invalid(format!(
            "Loop body yields {n_body_out} outputs, needs at least 1 + {n_carried} loop-carried values"
        )));
    }
    let n_scan = n_body_out - 1 - n_carried;
    let n_init = cx.n_inputs().saturating_sub(2);
    if n_init != n_carried {
        return Err(OpError::invalid(format!(
            "Loop has {n_init} initial values, its body carries {n_carried}"
        )));
    }
    let max_trip = match cx.opt_tensor(0)? {
        Some(m) => {
            let v = m.to_i64_vec()?;
            match v.as_slice() {
                [x] => Some(*x),
                _ => {
                    return Err(OpError::invalid(format!(
                        "Loop trip count M must have one element, got {:?}",
                        m.shape()
                    )));
                }
            }
        }
        None => None,
    };
    let cond_given = match cx.opt_tensor(1)? {
        Some(c) => Some(truth(c, "Loop condition")?),
        None => None,
    };
    let mut cond = cond_given.unwrap_or(true);
    let mut carried: Vec<Value> = (0..n_carried)
        .map(|i| {
            cx.input(2 + i)
                .cloned()
                .ok_or_else(|| OpError::invalid(format!("Loop initial value {i} is missing")))
        })
        .collect::<Result<_, _>>()?;
    let mut scans: Vec<Vec<Tensor>> = vec![Vec::new(); n_scan];
    let mut it: i64 = 0;
    while cond && max_trip.is_none_or(|m| it < m) {
        let mut ins = Vec::with_capacity(n_in);
        ins.push(Value::Tensor(Tensor::scalar_i64(it)));
        ins.push(Value::Tensor(Tensor::Bool(ArrayD::from_elem(IxDyn(&[]), cond))));
        ins.extend(carried);
        let mut outs = cx.run_subgraph(body, ins)?.into_iter();
        let c = outs.next().ok_or_else(|| OpError::invalid("Loop body yields no condition"))?;
        cond = match &c {
            Value::Tensor(t) => truth(t, "Loop body condition")?,
            v => {
                return Err(OpError::invalid(format!("Loop body condition is {}", v.describe())));
            }
        };
        carried = outs.by_ref().take(n_carried).collect();
        for (k, v) in outs.enumerate().take(n_scan) {
            match v {
                Value::Tensor(t) => scans[k].push(t),
                v => {
                    return Err(OpError::invalid(format!("Loop scan output {k} is {}, not a tensor", v.describe())));
                }
            }
        }
        it += 1;
    }
    let mut results = carried;
    for (k, parts) in scans.into_iter().enumerate() {
        let t = if parts.is_empty() {
            empty_scan_output(body, 1 + n_carried + k)?
        } else {
            stack(&parts, 0)?
        };
        results.push(Value::Tensor(t));
    }
    Ok(results)
}

/// The result of a scan output after zero iterations: an empty tensor whose dtype and trailing
/// dims come from the body output's declared type when known (f32 and `[0]` otherwise).
pub(super) fn empty_scan_output(body: &Graph, out_index: usize) -> Result<Tensor, OpError> {
    let ty = body
        .outputs()
        .get(out_index)
        .and_then(|(_, v)| body.value(*v))
        .and_then(|v| v.ty.as_ref());
    let (dtype, dims) = match ty {
        Some(ValueType::Tensor(tt)) => {
            let dims = tt.shape.as_ref().and_then(|s| s.as_known());
            (tt.dtype, dims)
        }
        _ => (DType::F32, None),
    };
    let mut shape = vec![0usize];
    if let Some(d) = dims {
        shape.extend(d.iter().map(|&x| x as usize));
    }
    zeros(dtype, &shape)
}
