//! The erf form of GELU that exporters write, `x · 0.5 · (1 + erf(x / √2))` (TFLite has no
//! ERF): found before lowering and written as one GELU op (approximate = false).
//!
//! Matched shapes (each intermediate value read only by the next node, none a graph output):
//! `Div(x, √2)` or `Mul(x, 1/√2)` → `Erf` → `Add(·, 1)` → then either `Mul(x, ·)` → `Mul(·, 0.5)`
//! or `Mul(Mul(x, 0.5), ·)`.

use super::super::lower::Lower;
use edgeport_ir::{NodeId, Op, ValueId};
use std::collections::HashMap;

fn v0(node: NodeId) -> ValueId {
    ValueId { node, port: 0 }
}

fn near(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-3)
}

/// The only consumer of `node`'s output 0 (None when it has several or is a graph output).
fn sole_consumer(cx: &Lower, node: NodeId) -> Option<NodeId> {
    let v = v0(node);
    if cx.g.is_output(v) {
        return None;
    }
    match cx.g.consumers(v).as_slice() {
        [(c, _)] => Some(*c),
        _ => None,
    }
}

/// For a binary node with inputs (a, b): the input that is not `v`, if `v` is one of them.
fn other_input(cx: &Lower, node: NodeId, v: ValueId) -> Option<ValueId> {
    let ins = cx.g.inputs_of(node);
    match ins.as_slice() {
        [Some(a), Some(b)] if *a == v => Some(*b),
        [Some(a), Some(b)] if *b == v => Some(*a),
        _ => None,
    }
}

/// Finds every erf-GELU; returns final node → x, and marks the other nodes skipped.
pub(crate) fn find(cx: &mut Lower) -> HashMap<NodeId, ValueId> {
    let mut found = HashMap::new();
    let erfs: Vec<NodeId> = cx.g.node_ids().filter(|&n| matches!(cx.g.node(n).op, Op::Erf(_))).collect();
    for e in erfs {
        if let Some((fin, x, skipped)) = match_one(cx, e) {
            found.insert(fin, x);
            cx.skip.extend(skipped);
        }
    }
    found
}

fn match_one(cx: &Lower, e: NodeId) -> Option<(NodeId, ValueId, Vec<NodeId>)> {
    let d_val = cx.g.inputs_of(e).first().copied().flatten()?;
    let d = d_val.node;
    let ins = cx.g.inputs_of(d);
    let (x, c) = match ins.as_slice() {
        [Some(x), Some(c)] => (*x, *c),
        _ => return None,
    };
    let scaled = match cx.g.node(d).op {
        Op::Div(_) => near(cx.const_scalar(c), std::f64::consts::SQRT_2),
        Op::Mul(_) => near(cx.const_scalar(c), std::f64::consts::FRAC_1_SQRT_2),
        _ => false,
    };
    if !scaled || sole_consumer(cx, d) != Some(e) {
        return None;
    }
    let a = sole_consumer(cx, e)?;
    if !matches!(cx.g.node(a).op, Op::Add(_)) || !near(other_input(cx, a, v0(e)).and_then(|o| cx.const_scalar(o)), 1.0) {
        return None;
    }
    let m1 = sole_consumer(cx, a)?;
    if !matches!(cx.g.node(m1).op, Op::Mul(_)) {
        return None;
    }
    let m1_other = other_input(cx, m1, v0(a))?;
    if m1_other == x {
        // Mul(x, 1 + erf) → Mul(·, 0.5)
        let m2 = sole_consumer(cx, m1)?;
        if !matches!(cx.g.node(m2).op, Op::Mul(_)) || !near(other_input(cx, m2, v0(m1)).and_then(|o| cx.const_scalar(o)), 0.5) {
            return None;
        }
        return Some((m2, x, vec![d, e, a, m1]));
    }
    // Mul(Mul(x, 0.5), 1 + erf)
    let h = m1_other.node;
    if !matches!(cx.g.get(h)?.op, Op::Mul(_)) || sole_consumer(cx, h) != Some(m1) || other_input(cx, h, x).is_none() {
        return None;
    }
    if !near(other_input(cx, h, x).and_then(|o| cx.const_scalar(o)), 0.5) {
        return None;
    }
    Some((m1, x, vec![d, e, a, h]))
}
