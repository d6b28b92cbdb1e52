//! Elementwise ops: unary and binary arithmetic, activations, comparisons and logic, casts.

use super::OpResult;
use crate::interp::NodeCtx;
use edgeport_ir::Op;

/// Runs the op if it belongs to this group.
pub fn run(op: &Op, cx: &mut NodeCtx<'_>) -> Option<OpResult> {
    let _ = (op, cx);
    None
}
