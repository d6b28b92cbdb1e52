//! `Scan`: iterates a body over slices of scan inputs (per-input axis and direction), carrying
//! state values and stacking scan outputs (per-output axis and direction).
//!
//! Body signature: `(s_1..s_N, x_1..x_M) -> (s_1..s_N, y_1..y_K)`.

use super::loop_::empty_scan_output;
use super::stack::{index_axis, move_first_axis_to, reverse_first_axis, stack};
use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use crate::ops::util::norm_axis;
use crate::tensor::Tensor;
use crate::value::Value;
use edgeport_ir::ops::defs::controlflow::Scan;

pub(super) fn run(a: &Scan, cx: &mut NodeCtx<'_>) -> OpResult {
    let body = &a.body;
    let n_total = cx.n_inputs();
    let m = usize::try_from(a.num_scan_inputs)
        .ok()
        .filter(|&m| m <= n_total)
        .ok_or_else(|| OpError::invalid(format!("num_scan_inputs {} is out of range", a.num_scan_inputs)))?;
    let n = n_total - m;
    if body.inputs().len() != n + m {
        return Err(OpError::invalid(format!(
            "Scan body takes {} inputs, the node gives {}",
            body.inputs().len(),
            n + m
        )));
    }
    let k = body
        .outputs()
        .len()
        .checked_sub(n)
        .ok_or_else(|| OpError::invalid(format!("Scan body yields fewer than {n} state values")))?;
    let attr = |v: &[i64], i: usize| v.get(i).copied().unwrap_or(0);
    if !a.scan_input_axes.is_empty() && a.scan_input_axes.len() != m
        || !a.scan_input_directions.is_empty() && a.scan_input_directions.len() != m
        || !a.scan_output_axes.is_empty() && a.scan_output_axes.len() != k
        || !a.scan_output_directions.is_empty() && a.scan_output_directions.len() != k
    {
        return Err(OpError::invalid(
            "Scan axis/direction attribute lengths do not match the inputs/outputs",
        ));
    }
    let mut state: Vec<Value> = (0..n)
        .map(|i| {
            cx.input(i)
                .cloned()
                .ok_or_else(|| OpError::invalid(format!("Scan initial state {i} is missing")))
        })
        .collect::<Result<_, _>>()?;
    // Scan inputs: (tensor, axis, reversed).
    let mut xs = Vec::with_capacity(m);
    let mut seq_len: Option<usize> = None;
    for j in 0..m {
        let t = cx.tensor(n + j)?;
        let axis = norm_axis(attr(&a.scan_input_axes, j), t.shape().len())?;
        let len = t.shape()[axis];
        if seq_len.is_some_and(|l| l != len) {
            return Err(OpError::invalid(format!(
                "Scan inputs have different sequence lengths ({:?} and {len})",
                seq_len
            )));
        }
        seq_len = Some(len);
        xs.push((t, axis, attr(&a.scan_input_directions, j) != 0));
    }
    let seq_len = seq_len.unwrap_or(0);
    let mut outs: Vec<Vec<Tensor>> = vec![Vec::new(); k];
    for t in 0..seq_len {
        let mut ins = std::mem::take(&mut state);
        for (x, axis, rev) in &xs {
            let i = if *rev { seq_len - 1 - t } else { t };
            ins.push(Value::Tensor(index_axis(x, *axis, i)?));
        }
        let mut res = cx.run_subgraph(body, ins)?.into_iter();
        state = res.by_ref().take(n).collect();
        for (j, v) in res.enumerate().take(k) {
            match v {
                Value::Tensor(t) => outs[j].push(t),
                v => {
                    return Err(OpError::invalid(format!("Scan output {j} is {}, not a tensor", v.describe())));
                }
            }
        }
    }
    let mut results = state;
    for (j, parts) in outs.into_iter().enumerate() {
        let stacked = if parts.is_empty() {
            empty_scan_output(body, n + j)?
        } else {
            stack(&parts, 0)?
        };
        let stacked = if attr(&a.scan_output_directions, j) != 0 {
            reverse_first_axis(&stacked)?
        } else {
            stacked
        };
        let axis = norm_axis(attr(&a.scan_output_axes, j), stacked.shape().len())?;
        results.push(Value::Tensor(move_first_axis_to(&stacked, axis)?));
    }
    Ok(results)
}
