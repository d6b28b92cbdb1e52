//! Weight-only quantization: per-channel int8 (`int8-weights`, for every Conv/Gemm/MatMul/
//! embedding) and per-block (u)int4/int8 along the reduction axis for MatMul/Gemm/embedding
//! weights, by round-to-nearest or GPTQ (when calibration Gram matrices are at hand). Emitted as
//! blocked DequantizeLinear (opset 21) feeding the original op, or, for MatMul with a 2-D int4
//! weight, as `com.microsoft::MatMulNBits`.

use crate::quantize::calib::Calibration;
use crate::quantize::error::{QuantError, gerr};
use crate::quantize::gptq::{gptq, inverse_factor};
use crate::quantize::layers::{Kind, Layer, float_const};
use crate::quantize::params::{block_index, per_block};
use crate::quantize::qdq::{QWeight, const_codes, const_f32, dq_weight, matmul_nbits, unique};
use crate::quantize::static_int8::int8_weight;
use edgeport_ir::{DType, Graph, QuantGranularity};

/// Options of weight-only quantization.
#[derive(Clone, Debug)]
pub struct WeightOptions {
    /// 4 or 8.
    pub bits: u8,
    /// Block size along the reduction axis; 0 = per output channel (int8 only).
    pub block: usize,
    /// Block size of embedding tables (Gather) when it differs from `block`: a table's rows
    /// have no calibration-driven error compensation, so a finer block there can buy more
    /// accuracy per byte than one on the MatMuls.
    pub emb_block: Option<usize>,
    /// Use GPTQ where a Gram matrix was calibrated.
    pub gptq: bool,
    /// Emit `MatMulNBits` for 4-bit MatMul weights.
    pub nbits: bool,
    /// Per-layer block sizes: the first (name substring, block) whose substring is in a
    /// layer's name overrides `block`/`emb_block` for that layer.
    pub layer_blocks: Vec<(String, usize)>,
    /// GPTQ with act-order and static groups (see `gptq_order`).
    pub act_order: bool,
    /// 4-bit embedding tables with float16 block scales (see `emb_int4`).
    pub emb_f16: bool,
    /// Quantize Gather tables (embeddings) too.
    pub embeddings: bool,
    /// Quantize Conv weights (per channel only).
    pub conv: bool,
}

/// What weight-only quantization did.
#[derive(Clone, Debug, Default)]
pub struct WeightInfo {
    /// (layer, method) for every quantized layer.
    pub layers: Vec<(String, String)>,
    /// Layers left float, with the reason.
    pub skipped: Vec<(String, String)>,
}

/// The weight as a `rows × k` matrix (rows = output channels, k along the reduction axis).
fn as_rows(w: &[f64], shape: &[usize], red: usize) -> Option<(Vec<f64>, usize, usize)> {
    if shape.len() != 2 {
        return None;
    }
    let (a, b) = (shape[0], shape[1]);
    if red == 1 {
        return Some((w.to_vec(), a, b));
    }
    let mut t = vec![0.0; a * b];
    for i in 0..a {
        for j in 0..b {
            t[j * a + i] = w[i * b + j];
        }
    }
    Some((t, b, a))
}

/// Applies weight-only quantization to `layers`.
pub fn apply(g: &mut Graph, layers: &[Layer], cal: Option<&Calibration>, o: &WeightOptions) -> Result<WeightInfo, QuantError> {
    let mut info = WeightInfo::default();
    if o.bits != 4 && o.bits != 8 {
        return Err(QuantError::Options(format!("weight bits must be 4 or 8, not {}", o.bits)));
    }
    if o.block != 0 && !(16..=256).contains(&o.block) {
        return Err(QuantError::Options(format!("block size {} is outside 16..=256", o.block)));
    }
    if let Some(b) = o.emb_block
        && !(16..=256).contains(&b)
    {
        return Err(QuantError::Options(format!("embedding block size {b} is outside 16..=256")));
    }
    if let Some((p, b)) = o.layer_blocks.iter().find(|(_, b)| !(16..=256).contains(b)) {
        return Err(QuantError::Options(format!(
            "block size {b} for layers matching '{p}' is outside 16..=256"
        )));
    }
    if o.block == 0 && o.bits == 4 {
        return Err(QuantError::Options("4-bit weights need a block size (16..=256)".into()));
    }
    for l in layers {
        if l.kind == Kind::Gather && !o.embeddings {
            continue;
        }
        if o.block == 0 {
            if l.kind == Kind::Conv && !o.conv {
                continue;
            }
            int8_weight(g, l, false)?;
            info.layers.push((l.name.clone(), "int8 per-channel".into()));
            continue;
        }
        if l.kind == Kind::Conv {
            if o.conv {
                int8_weight(g, l, false)?;
                info.layers.push((l.name.clone(), "int8 per-channel".into()));
            }
            continue;
        }
        let block = match (l.kind, o.emb_block) {
            (Kind::Gather, Some(b)) => b,
            _ => o.block,
        };
        let block = o
            .layer_blocks
            .iter()
            .find(|(pat, _)| l.name.contains(pat.as_str()))
            .map_or(block, |&(_, b)| b);
        if l.kind == Kind::Gather && o.bits == 4 && o.emb_f16 {
            let how = crate::quantize::emb_int4::int4_f16(g, l, block)?;
            info.layers.push((l.name.clone(), how));
            continue;
        }
        let Some(red) = l.red_axis else { continue };
        let Some(w) = float_const(g, l.weight).and_then(|t| t.to_f64_vec()) else {
            continue;
        };
        let Some((m, rows, k)) = as_rows(&w, &l.w_shape, red) else {
            info.skipped
                .push((l.name.clone(), format!("weight of rank {} (blocked needs 2-D)", l.w_shape.len())));
            continue;
        };
        if k % block != 0 {
            return Err(QuantError::Options(format!(
                "layer '{}' ({}): block size {} does not divide the reduction axis of length {k}",
                l.name,
                l.kind.name(),
                block
            )));
        }
        let storage = if o.bits == 4 { DType::U4 } else { DType::U8 };
        let nb = k / block;
        let gram = l
            .act
            .and_then(|a| cal.and_then(|c| c.grams.get(&a)))
            .filter(|gm| gm.k == k && gm.rows > 0);
        let ordered = gram
            .filter(|_| o.gptq && o.act_order && l.kind != Kind::Gather)
            .and_then(|gm| crate::quantize::gptq_order::gptq_act_order(&m, rows, k, &gm.xtx, block, storage, 0.01));
        let (codes, scales, zps, how) = match ordered {
            Some((c, s, z)) => (c, s, z, "gptq act-order"),
            None => match gram
                .filter(|_| o.gptq && l.kind != Kind::Gather)
                .and_then(|gm| inverse_factor(&gm.xtx, k, 0.01))
            {
                Some(u) => {
                    let (c, s, z) = gptq(&m, rows, k, &u, block, storage, false);
                    (c, s, z, "gptq")
                }
                None => {
                    let b = per_block(&m, &[rows, k], 1, block, storage, false);
                    (b.codes, b.scales, b.zps, "rtn")
                }
            },
        };
        let wname = g.value(l.weight).map(|v| v.name.clone()).unwrap_or_else(|| l.name.clone());
        let is_2d_matmul = l.kind == Kind::MatMul && red == 0;
        if o.nbits && o.bits == 4 && is_2d_matmul {
            emit_nbits(g, l, &wname, &codes, &scales, &zps, rows, k, block)?;
            info.layers
                .push((l.name.clone(), format!("int4 block {} {how} (MatMulNBits)", block)));
            continue;
        }
        // Back to the weight's own layout: blocks along `red`.
        let (codes, scales, zps, pshape) = if red == 1 {
            (codes, scales, zps, vec![rows, nb])
        } else {
            let mut c2 = vec![0i32; rows * k];
            for r in 0..rows {
                for i in 0..k {
                    c2[i * rows + r] = codes[r * k + i];
                }
            }
            let mut s2 = vec![0f32; rows * nb];
            let mut z2 = vec![0i32; rows * nb];
            for r in 0..rows {
                for b in 0..nb {
                    s2[b * rows + r] = scales[r * nb + b];
                    z2[b * rows + r] = zps[r * nb + b];
                }
            }
            (c2, s2, z2, vec![nb, rows])
        };
        debug_assert_eq!(block_index(0, &l.w_shape, red, block), 0);
        let dq = dq_weight(
            g,
            &QWeight {
                name: &wname,
                storage,
                shape: l.w_shape.clone(),
                codes: &codes,
                scales: &scales,
                zps: &zps,
                granularity: QuantGranularity::PerBlock {
                    axis: red,
                    block_size: block,
                },
                param_shape: pshape,
                explicit_zero_point: false,
            },
        )?;
        g.set_input(l.node, l.w_slot, Some(dq)).map_err(|e| gerr(&l.name, e))?;
        info.layers.push((
            l.name.clone(),
            format!("{} block {} {how}", if o.bits == 4 { "uint4" } else { "uint8" }, block),
        ));
    }
    Ok(info)
}

/// Replaces a MatMul by `MatMulNBits(A, B[N, n_blocks, block/2], scales[N*n_blocks],
/// zero_points[N*ceil(n_blocks/2)])` with the same output value name.
#[allow(clippy::too_many_arguments)]
fn emit_nbits(
    g: &mut Graph,
    l: &Layer,
    wname: &str,
    codes: &[i32],
    scales: &[f32],
    zps: &[i32],
    n: usize,
    k: usize,
    block: usize,
) -> Result<(), QuantError> {
    let nb = k / block;
    let b = const_codes(
        g,
        &format!("{wname}_nbits"),
        DType::U8,
        vec![n, nb, block / 2],
        &packed_bytes(codes),
        None,
    )?;
    let s = const_f32(g, &format!("{wname}_scales"), vec![n * nb], scales)?;
    let zrow = nb.div_ceil(2);
    let mut zb = vec![0i32; n * zrow];
    for r in 0..n {
        for bi in 0..nb {
            let z = zps[r * nb + bi] & 0xF;
            let slot = &mut zb[r * zrow + bi / 2];
            *slot |= if bi % 2 == 0 { z } else { z << 4 };
        }
    }
    let z = const_codes(g, &format!("{wname}_zero_points"), DType::U8, vec![n * zrow], &zb, None)?;
    let a = l.act.ok_or_else(|| gerr(&l.name, "MatMul without an activation input"))?;
    let old = l.node.out(0);
    let out_val = g.value(old).cloned().unwrap_or_default();
    let consumers = g.consumers(old);
    let outputs: Vec<(String, edgeport_ir::ValueId)> = g.outputs().to_vec();
    let op = matmul_nbits(k, n, 4, block, None);
    let tmp = unique(g, &format!("{}_nbits_out", out_val.name));
    let id = g
        .add_op(
            format!("{}_MatMulNBits", l.name),
            op,
            &[Some(a), Some(b), Some(s), Some(z)],
            &[&tmp],
        )
        .map_err(|e| gerr(&l.name, e))?;
    for (c, slot) in consumers {
        g.set_input(c, slot, Some(id.out(0))).map_err(|e| gerr(&l.name, e))?;
    }
    let outs = outputs
        .into_iter()
        .map(|(nm, v)| (nm, if v == old { id.out(0) } else { v }))
        .collect();
    g.set_outputs(outs).map_err(|e| gerr(&l.name, e))?;
    g.remove_node(l.node);
    if let Some(v) = g.value_mut(id.out(0)) {
        v.name = out_val.name;
        v.ty = out_val.ty;
    }
    Ok(())
}

/// 4-bit codes packed two per byte (low nibble first), as byte values.
fn packed_bytes(codes: &[i32]) -> Vec<i32> {
    crate::quantize::params::pack4(codes).into_iter().map(i32::from).collect()
}
