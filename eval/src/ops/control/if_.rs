//! `If`: runs `then_branch` or `else_branch` (no formal inputs; outer values via captures) and
//! returns its outputs, which may be tensors, sequences or optionals.

use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use crate::tensor::Tensor;
use edgeport_ir::ops::defs::controlflow::If;

/// Reads a boolean condition: a one-element tensor (bool, or numeric where non-zero is true).
pub(super) fn truth(t: &Tensor, what: &str) -> Result<bool, OpError> {
    if t.len() != 1 {
        return Err(OpError::invalid(format!("{what} must have one element, got shape {:?}", t.shape())));
    }
    match t {
        Tensor::Bool(a) => Ok(a.iter().next().copied().unwrap_or(false)),
        t => Ok(t.to_f64_vec()?.first().is_some_and(|&x| x != 0.0)),
    }
}

pub(super) fn run(a: &If, cx: &mut NodeCtx<'_>) -> OpResult {
    let cond = truth(cx.tensor(0)?, "If condition")?;
    let branch = if cond { &a.then_branch } else { &a.else_branch };
    let outs = cx.run_subgraph(branch, Vec::new())?;
    if outs.len() < cx.n_outputs() {
        return Err(OpError::invalid(format!(
            "the {} branch yields {} outputs, the node has {}",
            if cond { "then" } else { "else" },
            outs.len(),
            cx.n_outputs()
        )));
    }
    Ok(outs)
}
