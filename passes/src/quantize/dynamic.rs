//! Dynamic int8 in the form onnxruntime's CPU provider runs: MatMul/Gemm become
//! `DynamicQuantizeLinear(x) → MatMulInteger(x_q, W_q:int8, x_zp) → Cast → Mul(x_scale·w_scale)
//! [→ Add(bias)]` with per-column weight scales; Conv and embedding weights (for which there is
//! no integer kernel taking int8 weights) become per-channel int8 DequantizeLinear.

use crate::quantize::error::{QuantError, gerr};
use crate::quantize::layers::{Kind, Layer, float_const};
use crate::quantize::params::per_channel_i8;
use crate::quantize::qdq::{const_codes, const_f32, unique};
use crate::quantize::static_int8::int8_weight;
use edgeport_ir::ops::defs::math::{Add, MatMulInteger, Mul};
use edgeport_ir::ops::defs::quantization::DynamicQuantizeLinear;
use edgeport_ir::ops::defs::tensor::Cast;
use edgeport_ir::{DType, Graph, Op, ValueId};

/// Applies dynamic int8; returns (layer, form) for every quantized layer.
pub fn apply(g: &mut Graph, layers: &[Layer]) -> Result<Vec<(String, String)>, QuantError> {
    let mut done = Vec::new();
    for l in layers {
        let simple_gemm = match &g.node(l.node).op {
            Op::Gemm(gm) => gm.alpha == 1.0 && (gm.beta == 1.0 || l.bias_slot.is_none()),
            _ => true,
        };
        let dynamic_ok = matches!(l.kind, Kind::MatMul | Kind::Gemm) && l.w_shape.len() == 2 && simple_gemm;
        if !dynamic_ok {
            int8_weight(g, l, false)?;
            done.push((l.name.clone(), "int8 weights (DequantizeLinear)".into()));
            continue;
        }
        matmul_integer(g, l)?;
        done.push((l.name.clone(), "int8 dynamic (MatMulInteger)".into()));
    }
    Ok(done)
}

fn op_out(g: &mut Graph, node: &str, op: Op, ins: &[Option<ValueId>], base: &str) -> Result<ValueId, QuantError> {
    let out = unique(g, base);
    let nn = unique(g, &format!("{base}_node"));
    Ok(g.add_op(nn, op, ins, &[&out]).map_err(|e| gerr(node, e))?.out(0))
}

fn matmul_integer(g: &mut Graph, l: &Layer) -> Result<(), QuantError> {
    let w = float_const(g, l.weight)
        .and_then(|t| t.to_f64_vec())
        .ok_or_else(|| gerr(&l.name, "weight unreadable"))?;
    let (r, c) = (l.w_shape[0], l.w_shape[1]);
    // As [K, N].
    let (wkn, k, n) = if l.out_axis == 1 {
        (w, r, c)
    } else {
        let mut t = vec![0.0; r * c];
        for i in 0..r {
            for j in 0..c {
                t[j * r + i] = w[i * c + j];
            }
        }
        (t, c, r)
    };
    let (codes, scales) = per_channel_i8(&wkn, &[k, n], 1);
    let codes: Vec<i32> = codes.into_iter().map(i32::from).collect();
    let a = l.act.ok_or_else(|| gerr(&l.name, "no activation input"))?;
    let base = g.value(l.node.out(0)).map(|v| v.name.clone()).unwrap_or_else(|| l.name.clone());
    // No `quant` annotation: MatMulInteger reads raw codes and the scale is applied by the Mul
    // below, so the graph itself carries the parameters (and ONNX can express it).
    let wq = const_codes(g, &format!("{base}_weight_quantized"), DType::I8, vec![k, n], &codes, None)?;
    let ws = const_f32(g, &format!("{base}_weight_scale"), vec![n], &scales)?;
    let dq_name = unique(g, &format!("{base}_x"));
    let dql = g
        .add_op(
            unique(g, &format!("{base}_DynamicQuantizeLinear")),
            Op::DynamicQuantizeLinear(DynamicQuantizeLinear {}),
            &[Some(a)],
            &[&dq_name, &format!("{dq_name}_scale"), &format!("{dq_name}_zero_point")],
        )
        .map_err(|e| gerr(&l.name, e))?;
    let mmi = op_out(
        g,
        &l.name,
        Op::MatMulInteger(MatMulInteger {}),
        &[Some(dql.out(0)), Some(wq), Some(dql.out(2))],
        &format!("{base}_int32"),
    )?;
    let cast = op_out(
        g,
        &l.name,
        Op::Cast(Cast {
            to: DType::F32.onnx_code() as i64,
            ..Default::default()
        }),
        &[Some(mmi)],
        &format!("{base}_float"),
    )?;
    let sc = op_out(g, &l.name, Op::Mul(Mul {}), &[Some(dql.out(1)), Some(ws)], &format!("{base}_scale"))?;
    let mut y = op_out(g, &l.name, Op::Mul(Mul {}), &[Some(cast), Some(sc)], &format!("{base}_scaled"))?;
    if let Some(bs) = l.bias_slot
        && let Some(b) = g.inputs_of(l.node).get(bs).copied().flatten()
    {
        y = op_out(g, &l.name, Op::Add(Add {}), &[Some(y), Some(b)], &format!("{base}_biased"))?;
    }
    let old = l.node.out(0);
    let ty = g.value(old).and_then(|v| v.ty.clone());
    g.replace_all_uses(old, y).map_err(|e| gerr(&l.name, e))?;
    g.remove_node(l.node);
    if let Some(v) = g.value_mut(y) {
        v.ty = ty;
    }
    Ok(())
}
