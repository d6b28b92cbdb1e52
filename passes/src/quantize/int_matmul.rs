//! Static int8 MatMuls without an output QuantizeLinear, rewritten into the integer-op form
//!
//! ```text
//! QuantizeLinear(x) → MatMulInteger(x_q, W_q, x_zp) → Cast(float) → Mul(s_x · s_w[N])
//! ```
//!
//! The QDQ form `DQ(Q(x)) → MatMul ← DQ(W_q)` is the same arithmetic, but onnxruntime fuses
//! MatMul + bias Add into Gemm before its QDQ pass sees the pattern, so the MatMul runs in float
//! behind per-run weight dequantization (MiniLM: 2.5× slower than the float model, measured).
//! The integer form is what its MatMulIntegerToFloat fusion expects. Only 2-D `[K, N]` weights
//! with per-column (or per-tensor) symmetric int8 codes and uint8/int8 per-tensor activations
//! are rewritten; the weight codes lose their `quant` annotation (the Mul carries the scales).

use crate::quantize::error::{QuantError, gerr};
use crate::quantize::qdq::{const_f32, unique};
use edgeport_ir::ops::defs::math::{MatMulInteger, Mul};
use edgeport_ir::ops::defs::tensor::Cast;
use edgeport_ir::{DType, Graph, NodeId, Op, QuantGranularity, ValueId};

fn const_scalar_f32(g: &Graph, v: ValueId) -> Option<f32> {
    match &g.get(v.node)?.op {
        Op::Constant(c) => {
            let x = c.value.to_f64_vec()?;
            (x.len() == 1).then(|| x[0] as f32)
        }
        _ => None,
    }
}

/// The (Q output, scale) behind a per-tensor activation DequantizeLinear.
fn act_q(g: &Graph, dq: ValueId) -> Option<(ValueId, f32, Option<ValueId>)> {
    let node = g.get(dq.node)?;
    if !matches!(node.op, Op::DequantizeLinear(_)) {
        return None;
    }
    let ins = g.inputs_of(dq.node);
    let q = ins.first().copied().flatten()?;
    if !matches!(g.get(q.node)?.op, Op::QuantizeLinear(_)) {
        return None;
    }
    let s = const_scalar_f32(g, ins.get(1).copied().flatten()?)?;
    Some((q, s, ins.get(2).copied().flatten()))
}

/// The (codes, per-column scales) behind a weight DequantizeLinear of symmetric int8 `[K, N]`.
fn weight_q(g: &Graph, dq: ValueId) -> Option<(ValueId, Vec<f32>, usize)> {
    if !matches!(g.get(dq.node)?.op, Op::DequantizeLinear(_)) {
        return None;
    }
    let w = g.inputs_of(dq.node).first().copied().flatten()?;
    let Op::Constant(c) = &g.get(w.node)?.op else { return None };
    let q = c.value.quant.as_ref()?;
    if c.value.dtype != DType::I8 || c.value.shape.len() != 2 || !q.is_symmetric() {
        return None;
    }
    let n = c.value.shape[1];
    let scales = match q.granularity {
        QuantGranularity::PerTensor if q.scale.len() == 1 => vec![q.scale[0]; n],
        QuantGranularity::PerAxis { axis: 1 } if q.scale.len() == n => q.scale.clone(),
        _ => return None,
    };
    Some((w, scales, n))
}

/// Rewrites the given MatMul nodes where the pattern holds; returns how many were rewritten.
pub fn rewrite(g: &mut Graph, matmuls: &[NodeId]) -> Result<usize, QuantError> {
    let mut done = 0;
    for &id in matmuls {
        let Some(node) = g.get(id) else { continue };
        if !matches!(node.op, Op::MatMul(_)) {
            continue;
        }
        let name = node.name.clone();
        let ins = g.inputs_of(id);
        let (Some(a), Some(b)) = (ins.first().copied().flatten(), ins.get(1).copied().flatten()) else {
            continue;
        };
        let (Some((xq, sx, zx)), Some((wq, sw, n))) = (act_q(g, a), weight_q(g, b)) else {
            continue;
        };
        let scales: Vec<f32> = sw.iter().map(|&s| s * sx).collect();
        let old = id.out(0);
        let base = g.value(old).map(|v| v.name.clone()).unwrap_or_else(|| name.clone());
        let ty = g.value(old).and_then(|v| v.ty.clone());
        let mi_out = unique(g, &format!("{base}_int32"));
        let mi = g
            .add_op(
                unique(g, &format!("{name}_MatMulInteger")),
                Op::MatMulInteger(MatMulInteger {}),
                &[Some(xq), Some(wq), zx, None],
                &[&mi_out],
            )
            .map_err(|e| gerr(&name, e))?;
        let cast_out = unique(g, &format!("{base}_int32_float"));
        let cast = g
            .add_op(
                unique(g, &format!("{name}_Cast")),
                Op::Cast(Cast {
                    to: DType::F32.onnx_code() as i64,
                    ..Default::default()
                }),
                &[Some(mi.out(0))],
                &[&cast_out],
            )
            .map_err(|e| gerr(&name, e))?;
        let s = const_f32(g, &format!("{base}_scale"), vec![n], &scales)?;
        let mul = g
            .add_op(
                unique(g, &format!("{name}_Mul")),
                Op::Mul(Mul {}),
                &[Some(cast.out(0)), Some(s)],
                &[&unique(g, &format!("{base}_rescaled"))],
            )
            .map_err(|e| gerr(&name, e))?;
        g.replace_all_uses(old, mul.out(0)).map_err(|e| gerr(&name, e))?;
        g.remove_node(id);
        if let Some(v) = g.value_mut(mul.out(0)) {
            v.name = base;
            v.ty = ty;
        }
        if g.consumers(b).is_empty() && !g.is_output(b) {
            g.remove_node(b.node);
        }
        // MatMulInteger reads the raw codes; the scales now live in the Mul.
        let still_dq = g
            .consumers(wq)
            .iter()
            .any(|(c, _)| matches!(g.node(*c).op, Op::DequantizeLinear(_)));
        if !still_dq && let Op::Constant(c) = &mut g.node_mut(wq.node).op {
            c.value.quant = None;
        }
        done += 1;
    }
    Ok(done)
}
