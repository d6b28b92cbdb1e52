//! int4 embedding tables with float16 block scales:
//!
//! ```text
//! DequantizeLinear(codes uint4 [rows, dim], scales f16 [rows, dim/B], zps uint4, axis=1,
//!                  block_size=B) → f16 table → Gather(ids) → Cast(float)
//! ```
//!
//! A word-embedding table is half of a small transformer's parameters (MiniLM: 11.7 M of
//! 22.7 M), and its rows get no calibration-driven error compensation, so the block size is
//! what buys its accuracy. With float32 scales a block of 64 spends 0.56 bits per weight on
//! parameters; float16 scales (which ONNX DequantizeLinear takes from opset 21, and onnxruntime
//! runs) halve that, so the same bytes buy a block half as long, or the saved bytes go to the
//! MatMuls. The codes are computed with the float16-rounded scales, so the exported table is
//! exactly the one measured.

use crate::quantize::embeddings::table_and_ids;
use crate::quantize::error::{QuantError, gerr};
use crate::quantize::layers::{Kind, Layer};
use crate::quantize::params::{per_block, qparams, quant1};
use crate::quantize::qdq::{cast_f32, const_codes, unique};
use edgeport_ir::ops::defs::quantization::DequantizeLinear;
use edgeport_ir::ops::defs::tensor::Gather;
use edgeport_ir::{DType, Graph, Op, QuantGranularity, Shape, ValueType};

/// Scales rounded to float16 (never zero: a block of zeros keeps a positive scale), as the
/// float16 tensor and its values read back.
pub fn f16_scales(scales: &[f32], shape: &[usize]) -> Result<(edgeport_ir::Tensor, Vec<f32>), QuantError> {
    // Smallest positive float16 normal: subnormal scales lose relative precision.
    const MIN: f64 = 6.103_515_625e-5;
    const MAX: f64 = 65504.0;
    let v: Vec<f64> = scales
        .iter()
        .map(|&s| {
            let s = f64::from(s);
            if s.is_finite() { s.clamp(MIN, MAX) } else { 1.0 }
        })
        .collect();
    let t = edgeport_eval::Tensor::from_f64(DType::F16, shape, v)
        .map_err(|e| gerr("float16 scales", e))?
        .to_ir();
    let back = t
        .to_f64_vec()
        .ok_or_else(|| gerr("float16 scales", "unreadable after rounding"))?
        .into_iter()
        .map(|x| x as f32)
        .collect();
    Ok((t, back))
}

/// Rewrites one embedding Gather into the float16-scale int4 form; returns the report string.
pub fn int4_f16(g: &mut Graph, l: &Layer, block: usize) -> Result<String, QuantError> {
    if l.kind != Kind::Gather {
        return Err(gerr(&l.name, "not an embedding Gather"));
    }
    let [rows, dim] = l.w_shape[..] else {
        return Err(gerr(&l.name, format!("table of shape {:?} is not 2-D", l.w_shape)));
    };
    if block == 0 || dim % block != 0 {
        return Err(QuantError::Options(format!(
            "layer '{}' (Gather): block size {block} does not divide the row length {dim}",
            l.name
        )));
    }
    let (w, ids) = table_and_ids(g, l, rows, dim)?;
    let storage = DType::U4;
    let nb = dim / block;
    let p = per_block(&w, &[rows, dim], 1, block, storage, false);
    let (scale_t, scales) = f16_scales(&p.scales, &[rows, nb])?;
    let codes: Vec<i32> = w
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let b = (i / dim) * nb + (i % dim) / block;
            let (s, z) = (scales.get(b).copied().unwrap_or(1.0), p.zps.get(b).copied().unwrap_or(0));
            quant1(x, s, z, storage)
        })
        .collect();
    let tname = g.value(l.weight).map(|v| v.name.clone()).unwrap_or_else(|| l.name.clone());
    let gran = QuantGranularity::PerBlock {
        axis: 1,
        block_size: block,
    };
    let mut qp = qparams(storage, gran, scales.clone(), p.zps.clone());
    qp.scale_dtype = DType::F16;
    let q = const_codes(g, &format!("{tname}_quantized"), storage, vec![rows, dim], &codes, Some(qp))?;
    let sname = unique(g, &format!("{tname}_scale_f16"));
    let s = g.add_constant(sname, scale_t);
    let z = if p.zps.iter().all(|&z| z == 0) {
        None
    } else {
        Some(const_codes(
            g,
            &format!("{tname}_zero_point"),
            storage,
            vec![rows, nb],
            &p.zps,
            None,
        )?)
    };
    let f16_ty = |shape: &[usize]| {
        Some(ValueType::tensor(
            DType::F16,
            Some(Shape::known(&shape.iter().map(|&d| d as u64).collect::<Vec<_>>())),
        ))
    };
    let dq = g
        .add_op(
            unique(g, &format!("{tname}_DequantizeLinear")),
            Op::DequantizeLinear(DequantizeLinear {
                axis: 1,
                block_size: block as i64,
                ..Default::default()
            }),
            &[Some(q), Some(s), z],
            &[&unique(g, &format!("{tname}_dequantized_f16"))],
        )
        .map_err(|e| gerr(&l.name, e))?;
    if let Some(v) = g.value_mut(dq.out(0)) {
        v.ty = f16_ty(&[rows, dim]);
    }
    let old = l.node.out(0);
    let base = g.value(old).map(|v| v.name.clone()).unwrap_or_else(|| l.name.clone());
    let ty = g.value(old).and_then(|v| v.ty.clone());
    let gq = g
        .add_op(
            unique(g, &format!("{}_f16", l.name)),
            Op::Gather(Gather { axis: 0 }),
            &[Some(dq.out(0)), Some(ids)],
            &[&unique(g, &format!("{base}_f16"))],
        )
        .map_err(|e| gerr(&l.name, e))?;
    let cast = cast_f32(g, &l.name, &format!("{}_cast", l.name), &format!("{base}_float"), gq.out(0))?;
    g.replace_all_uses(old, cast).map_err(|e| gerr(&l.name, e))?;
    g.remove_node(l.node);
    if let Some(v) = g.value_mut(cast) {
        v.name = base;
        v.ty = ty;
    }
    Ok(format!("uint4 block {block} rtn (float16 scales)"))
}
