//! Output dtypes from each op's schema type constraints, with the ops that pick their output
//! type by attribute or by another input special-cased.

use super::Cx;
use crate::dtype::DType;
use crate::ops::{Op, ParamKind};

/// The dtype a schema type string names: `tensor(int64)`, or a dtype short name.
pub(crate) fn fixed_type(ty: &str) -> Option<DType> {
    if let Some(inner) = ty.strip_prefix("tensor(").and_then(|s| s.strip_suffix(')')) {
        return Some(match inner {
            "float" => DType::F32,
            "double" => DType::F64,
            "float16" => DType::F16,
            "bfloat16" => DType::BF16,
            "int64" => DType::I64,
            "int32" => DType::I32,
            "int16" => DType::I16,
            "int8" => DType::I8,
            "uint64" => DType::U64,
            "uint32" => DType::U32,
            "uint16" => DType::U16,
            "uint8" => DType::U8,
            "bool" => DType::Bool,
            "string" => DType::String,
            _ => return None,
        });
    }
    DType::from_name(ty)
}

fn onnx_dtype(code: i64) -> Option<DType> {
    i32::try_from(code).ok().and_then(DType::from_onnx_code)
}

/// One dtype per output (`None` = unknown).
pub(crate) fn output_dtypes(cx: &Cx<'_>) -> Vec<Option<DType>> {
    let special = |k: usize| -> Option<Option<DType>> {
        Some(match cx.op {
            Op::Constant(c) => Some(c.value.dtype),
            Op::Cast(c) => onnx_dtype(c.to),
            Op::BitCast(c) => onnx_dtype(c.to),
            Op::LayerNormalization(l) if k > 0 => onnx_dtype(l.stash_type),
            Op::QuantizeLinear(q) if k == 0 => cx.dtype(2).or_else(|| {
                if q.output_dtype != 0 {
                    onnx_dtype(q.output_dtype)
                } else {
                    Some(DType::U8)
                }
            }),
            Op::DequantizeLinear(q) => {
                if q.output_dtype != 0 {
                    onnx_dtype(q.output_dtype)
                } else {
                    cx.dtype(1)
                }
            }
            Op::EyeLike(e) => e.dtype.and_then(onnx_dtype).or_else(|| cx.dtype(0)),
            Op::Bernoulli(e) => e.dtype.and_then(onnx_dtype).or_else(|| cx.dtype(0)),
            Op::RandomNormalLike(e) => e.dtype.and_then(onnx_dtype).or_else(|| cx.dtype(0)),
            Op::RandomUniformLike(e) => e.dtype.and_then(onnx_dtype).or_else(|| cx.dtype(0)),
            Op::RandomNormal(e) => onnx_dtype(e.dtype),
            Op::RandomUniform(e) => onnx_dtype(e.dtype),
            Op::Multinomial(e) => onnx_dtype(e.dtype),
            Op::ConstantOfShape(c) => Some(c.value.as_ref().map(|t| t.dtype).unwrap_or(DType::F32)),
            Op::BlackmanWindow(w) => onnx_dtype(w.output_datatype),
            Op::HammingWindow(w) => onnx_dtype(w.output_datatype),
            Op::HannWindow(w) => onnx_dtype(w.output_datatype),
            Op::MelWeightMatrix(w) => onnx_dtype(w.output_datatype),
            // Sequence and optional ops, and control flow, are typed elsewhere or not at all.
            Op::Loop(_) | Op::Scan(_) | Op::If(_) => None,
            _ => return None,
        })
    };
    let Some(schema) = cx.op.kind().schema() else {
        return vec![None; cx.n_out];
    };
    let ins = schema.input_params();
    let outs = schema.output_params();
    (0..cx.n_out)
        .map(|k| {
            if let Some(d) = special(k) {
                return d;
            }
            let p = outs
                .get(k)
                .or_else(|| outs.last().filter(|p| matches!(p.kind, ParamKind::Variadic { .. })))?;
            if let Some(d) = fixed_type(p.ty) {
                return Some(d);
            }
            // The first input typed by the same variable whose dtype is known.
            for slot in 0..cx.n_in() {
                let ip = ins
                    .get(slot)
                    .or_else(|| ins.last().filter(|p| matches!(p.kind, ParamKind::Variadic { .. })));
                if ip.is_some_and(|ip| ip.ty == p.ty)
                    && let Some(d) = cx.dtype(slot)
                {
                    return Some(d);
                }
            }
            // A variable allowed a single dtype.
            match schema.allowed(p.ty).as_slice() {
                [one] => DType::from_name(one),
                _ => None,
            }
        })
        .collect()
}
