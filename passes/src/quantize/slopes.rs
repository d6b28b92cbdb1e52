//! PRelu slopes as int8 constants for full-integer targets: TFLite's integer PRELU reads its
//! slope (alpha) as an int8 tensor with one scale and zero point, so a float slope would leave
//! the op — and the data around it — in float (MediaPipe's face landmark model: 23 PRelus, each
//! between a DEQUANTIZE and a QUANTIZE). The slope goes behind a DequantizeLinear of its int8
//! codes (per tensor, asymmetric over its min–max), which the TFLite writer folds into the op.
//! onnxruntime has no integer PRelu, so ONNX outputs keep float slopes.

use crate::quantize::error::QuantError;
use crate::quantize::params::{from_range, quant1};
use crate::quantize::qdq::{QWeight, dq_weight};
use edgeport_ir::{DType, Graph, NodeId, Op, QuantGranularity, ValueId};

/// Quantizes the constant float slope of every PRelu whose data input is in `points`; returns
/// how many.
pub fn quantize(g: &mut Graph, points: &[ValueId]) -> Result<usize, QuantError> {
    let prelus: Vec<NodeId> = g.node_ids().filter(|&id| matches!(g.node(id).op, Op::PRelu(_))).collect();
    let mut n = 0;
    for id in prelus {
        let ins = g.inputs_of(id);
        let (Some(Some(x)), Some(Some(slope))) = (ins.first().copied(), ins.get(1).copied()) else {
            continue;
        };
        if !points.contains(&x) {
            continue;
        }
        let Some(t) = g.constant_of(slope).filter(|t| t.dtype == DType::F32) else {
            continue;
        };
        let Some(v) = t.to_f64_vec() else { continue };
        let shape = t.shape.clone();
        let lo = v.iter().copied().fold(0.0, f64::min);
        let hi = v.iter().copied().fold(0.0, f64::max);
        let (s, z) = from_range(lo, hi, DType::I8, false);
        let codes: Vec<i32> = v.iter().map(|&a| quant1(a, s, z, DType::I8)).collect();
        let name = g
            .value(slope)
            .map(|x| x.name.clone())
            .unwrap_or_else(|| format!("{}_slope", g.node(id).name));
        let w = QWeight {
            name: &name,
            storage: DType::I8,
            shape,
            codes: &codes,
            scales: &[s],
            zps: &[z],
            granularity: QuantGranularity::PerTensor,
            param_shape: vec![],
            explicit_zero_point: true,
        };
        let dq = dq_weight(g, &w)?;
        g.set_input(id, 1, Some(dq))
            .map_err(|e| crate::quantize::error::gerr(&g.node(id).name.clone(), e))?;
        n += 1;
    }
    Ok(n)
}
