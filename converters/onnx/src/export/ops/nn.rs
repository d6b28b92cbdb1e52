//! Export rules for the `nn` op family (see `ops/mod.rs`).

use super::{Emit, OnnxNode, Rule};

pub(super) fn rule(op_type: &str) -> Option<Rule> {
    match op_type {
        _ => None,
    }
}

#[allow(dead_code)]
fn keep(n: OnnxNode, em: &mut Emit<'_>) -> Result<(), String> {
    em.push(n);
    Ok(())
}
