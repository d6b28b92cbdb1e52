//! Dynamic int8 islands for mixed precision: a MatMul that keeps float activations (its static
//! activation range costs too much accuracy) is re-encoded as
//!
//! ```text
//! com.microsoft::MatMulNBits(A, B[N, K/block, block] uint8, scales[N·K/block], bits=8,
//!                            accuracy_level=4)
//! ```
//!
//! The form `DequantizeLinear(W_q) → MatMul` is what the IR means, but onnxruntime never
//! constant-folds DequantizeLinear, so it dequantizes the whole weight at every run and then
//! multiplies in float (MiniLM with 7 such layers: 10.8 ms against 6.5 ms for onnxruntime's own
//! all-static model, measured). MatMulNBits with `accuracy_level = 4` runs an integer kernel
//! that quantizes each row of A per block of K at run time (a per-row, per-block dynamic int8 —
//! far finer than one static range per tensor): MiniLM's 7 islands keep cosine 0.9913 in
//! onnxruntime, where per-tensor DynamicQuantizeLinear + MatMulInteger islands fall to 0.9835.
//! It is not free: onnxruntime 1.32 ran one 384×1536 island in ~0.8 ms against ~0.1 ms for a
//! static MatMulInteger of the same layer (profiled), so the fewer islands the better — see
//! `smooth.rs`, which lets MiniLM quantize every layer statically.
//!
//! The re-encoding is lossless: the per-column symmetric int8 codes become `code + 128` (the
//! op's default zero point for 8 bits, so no zero-point input) and each column's scale is
//! repeated for its blocks. The evaluator runs MatMulNBits with float activations, i.e. exactly
//! the mixed-precision model the sensitivity search measured.

use crate::quantize::error::{QuantError, gerr};
use crate::quantize::qdq::{const_codes, const_f32, matmul_nbits, unique};
use edgeport_ir::{DType, Graph, NodeId, Op, QuantGranularity, ValueId};

/// Block sizes tried, largest first (fewer scales; onnxruntime's kernels take 16..=256).
const BLOCKS: [usize; 4] = [128, 64, 32, 16];

/// The codes constant and per-column scales behind a weight `DequantizeLinear` of symmetric
/// int8 `[K, N]` (per column or per tensor).
fn int8_weight(g: &Graph, dq: ValueId) -> Option<(ValueId, Vec<f32>, usize, usize)> {
    if !matches!(g.get(dq.node)?.op, Op::DequantizeLinear(_)) {
        return None;
    }
    let w = g.inputs_of(dq.node).first().copied().flatten()?;
    let Op::Constant(c) = &g.get(w.node)?.op else { return None };
    let q = c.value.quant.as_ref()?;
    if c.value.dtype != DType::I8 || c.value.shape.len() != 2 || !q.is_symmetric() {
        return None;
    }
    let (k, n) = (c.value.shape[0], c.value.shape[1]);
    let scales = match q.granularity {
        QuantGranularity::PerTensor if q.scale.len() == 1 => vec![q.scale[0]; n],
        QuantGranularity::PerAxis { axis: 1 } if q.scale.len() == n => q.scale.clone(),
        _ => return None,
    };
    Some((w, scales, k, n))
}

/// Whether `v` is a float activation that no QuantizeLinear/DequantizeLinear produced.
fn float_activation(g: &Graph, v: ValueId) -> bool {
    let Some(node) = g.get(v.node) else { return false };
    if matches!(node.op, Op::DequantizeLinear(_) | Op::QuantizeLinear(_) | Op::Constant(_)) {
        return false;
    }
    g.value(v)
        .and_then(|x| x.ty.as_ref())
        .and_then(|t| t.as_tensor())
        .is_none_or(|t| t.dtype == DType::F32)
}

/// `B` bytes `[N, K/block, block]`: `code + 128` of column `n`, rows `k` in order.
pub fn pack_columns(codes: &[i8], k: usize, n: usize) -> Option<Vec<i32>> {
    if codes.len() != k.checked_mul(n)? {
        return None;
    }
    let mut out = vec![0i32; codes.len()];
    for c in 0..n {
        for r in 0..k {
            *out.get_mut(c * k + r)? = i32::from(*codes.get(r * n + c)?) + 128;
        }
    }
    Some(out)
}

/// Rewrites the given MatMul nodes where the pattern holds (float activation, per-column int8
/// weight behind a DequantizeLinear, K divisible by a block size); returns the rewritten node
/// names with their block size.
pub fn rewrite(g: &mut Graph, matmuls: &[NodeId]) -> Result<Vec<(String, usize)>, QuantError> {
    let mut done = Vec::new();
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
        if !float_activation(g, a) {
            continue;
        }
        let Some((wq, scales, k, n)) = int8_weight(g, b) else { continue };
        let Some(block) = BLOCKS.iter().copied().find(|b| k % b == 0) else {
            continue;
        };
        let Some(codes) = (match &g.node(wq.node).op {
            Op::Constant(c) => c
                .value
                .to_i64_vec()
                .map(|v| v.into_iter().map(|x| x.clamp(-128, 127) as i8).collect::<Vec<i8>>()),
            _ => None,
        }) else {
            continue;
        };
        let Some(bytes) = pack_columns(&codes, k, n) else {
            return Err(gerr(&name, format!("weight codes do not match the shape [{k}, {n}]")));
        };
        let nb = k / block;
        let base = g.value(b).map(|v| v.name.clone()).unwrap_or_else(|| name.clone());
        let bq = const_codes(g, &format!("{base}_nbits8"), DType::U8, vec![n, nb, block], &bytes, None)?;
        let per_block: Vec<f32> = scales.iter().flat_map(|&s| std::iter::repeat_n(s, nb)).collect();
        let s = const_f32(g, &format!("{base}_nbits8_scales"), vec![n * nb], &per_block)?;
        let op = matmul_nbits(k, n, 8, block, Some(4));
        let old = id.out(0);
        let out_val = g.value(old).cloned().unwrap_or_default();
        let tmp = unique(g, &format!("{}_nbits8_out", out_val.name));
        let nid = g
            .add_op(
                unique(g, &format!("{name}_MatMulNBits")),
                op,
                &[Some(a), Some(bq), Some(s)],
                &[&tmp],
            )
            .map_err(|e| gerr(&name, e))?;
        g.replace_all_uses(old, nid.out(0)).map_err(|e| gerr(&name, e))?;
        g.remove_node(id);
        if let Some(v) = g.value_mut(nid.out(0)) {
            v.name = out_val.name;
            v.ty = out_val.ty;
        }
        if g.consumers(b).is_empty() && !g.is_output(b) {
            g.remove_node(b.node);
            if g.consumers(wq).is_empty() && !g.is_output(wq) {
                g.remove_node(wq.node);
            }
        }
        done.push((name, block));
    }
    Ok(done)
}
