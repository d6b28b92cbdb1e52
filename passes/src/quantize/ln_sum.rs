//! The residual `Add` in front of a `LayerNormalization` of a static-int8 ONNX model, written as
//! the equivalent two-input `Sum`.
//!
//! onnxruntime fuses `Add → LayerNormalization` into its `SkipLayerNormalization` kernel, which
//! on this machine's CPU runs ~5× slower than a plain LayerNormalization plus an elementwise
//! add (MiniLM float: 13 of them take 1.9 ms of a 22 ms run; int8: 2.7 of 15 ms, measured
//! with onnxruntime's profiler). Its own static-int8 output never meets that fusion (its adds
//! are QLinearAdd). `Sum` has the same numbers (multidirectional broadcasting since opset 8),
//! and the fusion does not match it: our int8 MiniLM went from 8.8 to 6.8 ms per sample,
//! against 7.8 ms for onnxruntime's own quantize_static model in the same run.

use edgeport_ir::ops::defs::math::Sum;
use edgeport_ir::{Graph, Op};

/// Rewrites every two-input float `Add` whose readers are all LayerNormalization data inputs;
/// returns how many were rewritten.
pub fn rewrite(g: &mut Graph) -> usize {
    let ids: Vec<_> = g.node_ids().collect();
    let mut n = 0;
    for id in ids {
        let Some(node) = g.get(id) else { continue };
        if !matches!(node.op, Op::Add(_)) {
            continue;
        }
        let out = id.out(0);
        if g.is_output(out) {
            continue;
        }
        let readers = g.consumers(out);
        let only_ln = !readers.is_empty()
            && readers
                .iter()
                .all(|(c, slot)| *slot == 0 && matches!(g.node(*c).op, Op::LayerNormalization(_)));
        let ins = g.inputs_of(id);
        if !only_ln || ins.len() != 2 || ins.iter().any(|i| i.is_none()) {
            continue;
        }
        g.node_mut(id).op = Op::Sum(Sum {});
        n += 1;
    }
    n
}
