//! Layers that mixed precision keeps float (float activations, int8 weights), in the form
//! onnxruntime runs fast:
//!
//! ```text
//! Conv(x, Mul(Cast(codes int8 → float), scales [C,1,1,1]))
//! ```
//!
//! instead of `Conv(x, DequantizeLinear(codes, scales))`. Both give the same numbers and the same
//! file size. onnxruntime never constant-folds a DequantizeLinear (it keeps them for its QDQ
//! fusions), so a float Conv behind one reads a non-constant weight: it dequantizes the weight on
//! every run and cannot take its blocked-layout (NCHWc) kernels. A Cast and a Mul of constants
//! are folded when the session loads. Measured on torchvision's mobilenet_v2 with 20 float
//! layers: 8.88 ms per sample with DequantizeLinear weights, 5.01 ms with this form (float
//! model: 5.94 ms).
//!
//! Only per-tensor and per-channel weights of Conv and Gemm layers left out of the quantized set
//! are rewritten; quantized layers keep their QDQ form, which the runtime fuses into integer
//! kernels.
//!
//! [`f16_weight`] is the other form of a float layer: its original weight stored as float16
//! behind a Cast (mixed precision's default for ONNX), so the layer loses no accuracy to its
//! weights either.

use crate::quantize::error::{QuantError, gerr};
use crate::quantize::layers::{Kind, Layer};
use crate::quantize::qdq::{cast_f32, const_f32, unique};
use edgeport_ir::ops::defs::math::Mul;
use edgeport_ir::{Graph, Op};
use std::collections::HashSet;

/// Rewrites the weights of `layers` that are not in `quantized` (the layers with int8
/// activations); returns how many. (A float layer may read a DequantizeLinear too: the output
/// of a MaxPool or Flatten tied to a quantized value before it.)
pub fn rewrite(g: &mut Graph, layers: &[Layer], quantized: &HashSet<&str>) -> Result<usize, QuantError> {
    let mut n = 0;
    for l in layers.iter().filter(|l| matches!(l.kind, Kind::Conv | Kind::Gemm)) {
        if quantized.contains(l.name.as_str()) {
            continue;
        }
        let ins = g.inputs_of(l.node);
        let Some(w) = ins.get(l.w_slot).copied().flatten() else { continue };
        let Some(dq) = g.get(w.node) else { continue };
        let Op::DequantizeLinear(d) = &dq.op else { continue };
        if d.block_size != 0 {
            continue;
        }
        let dq_ins = g.inputs_of(w.node);
        let (Some(q), Some(s)) = (dq_ins.first().copied().flatten(), dq_ins.get(1).copied().flatten()) else {
            continue;
        };
        let zero_zp = match dq_ins.get(2).copied().flatten() {
            None => true,
            Some(z) => g
                .constant_of(z)
                .and_then(|t| t.to_f64_vec())
                .is_some_and(|v| v.iter().all(|&x| x == 0.0)),
        };
        let (Some(codes), Some(scales)) = (g.constant_of(q), g.constant_of(s)) else {
            continue;
        };
        let Some(scales) = scales.f32_values() else { continue };
        if !zero_zp || !codes.dtype.is_int() {
            continue;
        }
        let rank = codes.shape.len();
        let sshape: Vec<usize> = if scales.len() == 1 {
            Vec::new()
        } else {
            let axis = if d.axis < 0 { d.axis + rank as i64 } else { d.axis };
            let axis = usize::try_from(axis).map_err(|_| gerr(&l.name, "weight axis out of range"))?;
            if codes.shape.get(axis).copied() != Some(scales.len()) {
                continue;
            }
            (0..rank).map(|i| if i == axis { scales.len() } else { 1 }).collect()
        };
        let scales = scales.into_owned();
        // The codes without their `quant` annotation: the Cast and Mul carry the parameters in
        // the graph itself (an annotated constant must be read by DequantizeLinear only).
        let mut plain = codes.clone();
        plain.quant = None;
        let wname = g.value(w).map(|v| v.name.clone()).unwrap_or_else(|| l.name.clone());
        let cname = unique(g, &format!("{wname}_codes"));
        let q = g.add_constant(cname, plain);
        let ty = g.value(w).and_then(|v| v.ty.clone());
        let sv = const_f32(g, &format!("{wname}_scale_bcast"), sshape, &scales)?;
        let cast = cast_f32(g, &l.name, &format!("{wname}_cast"), &format!("{wname}_float"), q)?;
        let mul = g
            .add_op(
                unique(g, &format!("{wname}_scale")),
                Op::Mul(Mul {}),
                &[Some(cast), Some(sv)],
                &[&unique(g, &format!("{wname}_weight"))],
            )
            .map_err(|e| gerr(&l.name, e))?;
        if let Some(v) = g.value_mut(mul.out(0)) {
            v.ty = ty;
        }
        g.set_input(l.node, l.w_slot, Some(mul.out(0))).map_err(|e| gerr(&l.name, e))?;
        n += 1;
    }
    Ok(n)
}

/// Gives a layer kept float by mixed precision its float weight, stored as float16 behind a
/// Cast to float32 (runtimes fold the Cast at load; the weight error is about 2⁻¹¹ relative,
/// against 2⁻⁸ for int8, at one byte per weight more than int8). Returns false when the
/// weight is not a float32 constant or has values beyond the float16 range (it is left as it
/// is: float32).
pub fn f16_weight(g: &mut Graph, l: &Layer) -> Result<bool, QuantError> {
    let Some(t) = crate::quantize::layers::float_const(g, l.weight) else {
        return Ok(false);
    };
    if t.f32_values().is_none_or(|v| v.iter().any(|x| x.is_nan() || x.abs() > 65504.0)) {
        return Ok(false);
    }
    let wname = g.value(l.weight).map(|v| v.name.clone()).unwrap_or_else(|| l.name.clone());
    let half = edgeport_eval::Tensor::from_ir(t)
        .and_then(|t| t.cast(edgeport_ir::DType::F16))
        .map_err(|e| gerr(&l.name, e))?
        .to_ir();
    let ty = g.value(l.weight).and_then(|v| v.ty.clone());
    let hname = unique(g, &format!("{wname}_f16"));
    let h = g.add_constant(hname, half);
    let cast = cast_f32(g, &l.name, &format!("{wname}_cast"), &format!("{wname}_float"), h)?;
    if let Some(v) = g.value_mut(cast) {
        v.ty = ty;
    }
    g.set_input(l.node, l.w_slot, Some(cast)).map_err(|e| gerr(&l.name, e))?;
    Ok(true)
}
