//! `quant` annotations on values and constants in the ONNX writer. ONNX keeps quantization
//! parameters in QuantizeLinear/DequantizeLinear inputs, so an annotated value is written as it
//! is (the annotation itself is dropped) when the Q/DQ nodes around it already carry the same
//! parameters: every consumer is a DequantizeLinear reading it as its data input, with constant
//! scales and zero points equal to the annotation's. Anything else would lose information and
//! is a problem for the caller.

use edgeport_ir::{Graph, Op, QuantGranularity, QuantParams, Tensor, ValueId};

/// The constant tensor behind `v`, if any.
fn const_of(g: &Graph, v: ValueId) -> Option<&Tensor> {
    match &g.get(v.node)?.op {
        Op::Constant(c) => Some(&c.value),
        _ => None,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(f64::MIN_POSITIVE)
}

/// Ok when the DequantizeLinear consumers of `v` express `q`; else why not.
pub(crate) fn carried_by_qdq(g: &Graph, v: ValueId, q: &QuantParams) -> Result<(), String> {
    let consumers = g.consumers(v);
    if consumers.is_empty() || g.is_output(v) {
        return Err("the value is not read by a DequantizeLinear, so ONNX cannot express its parameters".into());
    }
    for (c, slot) in consumers {
        let node = g.node(c);
        let Op::DequantizeLinear(dq) = &node.op else {
            return Err(format!(
                "consumer '{}' ({}) is not a DequantizeLinear, so ONNX cannot express the parameters",
                node.name,
                node.op.name()
            ));
        };
        if slot != 0 {
            return Err(format!(
                "it is read by DequantizeLinear '{}' as a parameter, not as data",
                node.name
            ));
        }
        let ins = g.inputs_of(c);
        let scale = ins
            .get(1)
            .copied()
            .flatten()
            .and_then(|s| const_of(g, s))
            .and_then(|t| t.to_f64_vec());
        let Some(scale) = scale else {
            return Err(format!("DequantizeLinear '{}' has no constant scale to compare with", node.name));
        };
        if scale.len() != q.scale.len() || !scale.iter().zip(&q.scale).all(|(&a, &b)| close(a, b as f64)) {
            return Err(format!(
                "DequantizeLinear '{}' scales differ from the annotation ({} vs {} values)",
                node.name,
                scale.len(),
                q.scale.len()
            ));
        }
        let zp = match ins.get(2).copied().flatten() {
            Some(z) => const_of(g, z)
                .and_then(ints)
                .ok_or_else(|| format!("DequantizeLinear '{}' has a non-constant zero point", node.name))?,
            None => vec![0; scale.len()],
        };
        let want: Vec<i64> = if q.zero_point.is_empty() {
            vec![0; q.scale.len()]
        } else {
            q.zero_point.clone()
        };
        if zp != want {
            return Err(format!("DequantizeLinear '{}' zero points differ from the annotation", node.name));
        }
        let rank = g
            .value(v)
            .and_then(|x| x.ty.as_ref())
            .and_then(|t| t.as_tensor())
            .and_then(|t| t.shape.as_ref())
            .map(|s| s.0.len() as i64)
            .or_else(|| const_of(g, v).map(|t| t.shape.len() as i64));
        let norm = |a: i64| if a < 0 { rank.map_or(a, |r| a + r) } else { a };
        let ok = match q.granularity {
            QuantGranularity::PerTensor => scale.len() == 1,
            QuantGranularity::PerAxis { axis } => scale.len() == 1 || norm(dq.axis) == axis as i64,
            QuantGranularity::PerBlock { axis, block_size } => norm(dq.axis) == axis as i64 && dq.block_size == block_size as i64,
        };
        if !ok {
            return Err(format!(
                "DequantizeLinear '{}' axis/block ({}, {}) differ from the annotation ({:?})",
                node.name, dq.axis, dq.block_size, q.granularity
            ));
        }
    }
    Ok(())
}

/// A constant's integer values, 4-bit types unpacked (low nibble first, as ONNX packs them).
fn ints(t: &edgeport_ir::Tensor) -> Option<Vec<i64>> {
    use edgeport_ir::DType;
    if !matches!(t.dtype, DType::U4 | DType::I4) {
        return t.to_i64_vec();
    }
    let raw = t.raw()?;
    let n = t.numel();
    if raw.len() < n.div_ceil(2) {
        return None;
    }
    Some(
        (0..n)
            .filter_map(|i| {
                let b = raw.get(i / 2)?;
                let nib = if i % 2 == 0 { b & 0x0f } else { b >> 4 };
                Some(if t.dtype == DType::I4 {
                    ((nib << 4) as i8 >> 4) as i64
                } else {
                    nib as i64
                })
            })
            .collect(),
    )
}
