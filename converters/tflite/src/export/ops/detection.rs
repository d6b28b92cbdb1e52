//! Detection post-processing ops: ONNX NonMaxSuppression → one NON_MAX_SUPPRESSION_V4 per class
//! (TFLite's is single-class), each class's valid prefix sliced out and tagged with its batch and
//! class as `[M, 3]` rows, all classes concatenated in class order (the order onnxruntime
//! returns: by class, then by descending score); GatherND → GATHER_ND.
//!
//! The counts are data dependent, so these tensors carry `-1` in their shape signature and
//! LiteRT sizes them at run time.

use super::super::lower::{LErr, LResult, Lower, err, opts};
use super::super::model::{BufData, Field};
use super::super::util::i32_bytes;
use crate::codes::{BuiltinOperator as B, BuiltinOptions as O, TensorType};
use edgeport_ir::{DType, NodeId, Op, ValueId};

/// NonMaxSuppression with batch 1, a static class count and static box count.
fn nms(cx: &mut Lower, id: NodeId, center_point_box: i64) -> LResult<()> {
    if center_point_box != 0 {
        return err("center_point_box = 1 is not exported (TFLite takes corner boxes)");
    }
    let boxes = cx.input(id, 0)?;
    let scores = cx.input(id, 1)?;
    let (bd, sd) = (cx.dims(boxes)?, cx.dims(scores)?);
    if bd.len() != 3 || sd.len() != 3 || bd[2] != 4 {
        return err(format!("boxes {bd:?} / scores {sd:?} are not [N, P, 4] / [N, C, P]"));
    }
    if bd[0] != 1 || sd[0] != 1 {
        return err("NonMaxSuppression is exported for batch 1");
    }
    let (p, c) = (bd[1], sd[1]);
    if p <= 0 || c <= 0 || sd[2] != p {
        return err(format!(
            "box count {p} and class count {c} must be static and match the scores {sd:?}"
        ));
    }
    let konst = |cx: &Lower, slot: usize| {
        cx.opt_input(id, slot)
            .and_then(|v| cx.const_f64(v))
            .and_then(|v| v.first().copied())
    };
    let max_out = match cx.opt_input(id, 2) {
        None => 0,
        Some(v) => cx
            .const_i64(v)
            .and_then(|v| v.first().copied())
            .ok_or_else(|| LErr::Msg("max_output_boxes_per_class must be a constant".into()))?,
    };
    let iou = match cx.opt_input(id, 3) {
        None => 0.0,
        Some(_) => konst(cx, 3).ok_or_else(|| LErr::Msg("iou_threshold must be a constant".into()))?,
    };
    let thr = match cx.opt_input(id, 4) {
        None => f64::from(f32::MIN),
        Some(_) => konst(cx, 4).ok_or_else(|| LErr::Msg("score_threshold must be a constant".into()))?,
    };
    let keep = max_out.clamp(0, p) as i32;
    if keep == 0 {
        return err("max_output_boxes_per_class is 0: the result is always empty");
    }
    let name = cx.g.node(id).name.clone();
    let bt = cx.get_id(boxes)?;
    let st = cx.get_id(scores)?;
    let b2 = cx.tensor(&format!("{name}_boxes"), &[p, 4], TensorType::FLOAT32);
    let s_p4 = cx.const_i32(&format!("{name}_boxes_shape"), &[p as i32, 4]);
    cx.emit(
        B::RESHAPE,
        vec![bt, s_p4],
        vec![b2],
        Some(opts(O::ReshapeOptions).with(0, Field::VecI32(vec![p as i32, 4]))),
    );
    let s2 = cx.tensor(&format!("{name}_scores"), &[c, p], TensorType::FLOAT32);
    let s_cp = cx.const_i32(&format!("{name}_scores_shape"), &[c as i32, p as i32]);
    cx.emit(
        B::RESHAPE,
        vec![st, s_cp],
        vec![s2],
        Some(opts(O::ReshapeOptions).with(0, Field::VecI32(vec![c as i32, p as i32]))),
    );
    let scalar_i32 = |cx: &mut Lower, what: &str, v: i32| cx.const_tensor(what, &[], TensorType::INT32, BufData::Owned(i32_bytes(&[v])));
    let kt = scalar_i32(cx, &format!("{name}_max_out"), keep);
    let it = cx.const_f32(&format!("{name}_iou"), &[], &[iou as f32]);
    let tt = cx.const_f32(&format!("{name}_score_threshold"), &[], &[thr as f32]);
    let begin0 = cx.const_i32(&format!("{name}_begin0"), &[0]);
    let one = cx.const_i32(&format!("{name}_one"), &[1]);
    let zero = scalar_i32(cx, &format!("{name}_zero"), 0);
    let mut rows = Vec::with_capacity(c as usize);
    for k in 0..c {
        let kname = format!("{name}_c{k}");
        let ki = scalar_i32(cx, &format!("{kname}_index"), k as i32);
        let sk = cx.tensor(&format!("{kname}_scores"), &[p], TensorType::FLOAT32);
        cx.emit(
            B::GATHER,
            vec![s2, ki],
            vec![sk],
            Some(opts(O::GatherOptions).with(0, Field::I32(0))),
        );
        let sel = cx.tensor(&format!("{kname}_selected"), &[keep as i64], TensorType::INT32);
        let valid = cx.tensor(&format!("{kname}_valid"), &[], TensorType::INT32);
        cx.emit(
            B::NON_MAX_SUPPRESSION_V4,
            vec![b2, sk, kt, it, tt],
            vec![sel, valid],
            Some(opts(O::NonMaxSuppressionV4Options)),
        );
        // The valid prefix: SLICE(sel, [0], [valid]).
        let vsize = cx.tensor(&format!("{kname}_valid_1"), &[1], TensorType::INT32);
        cx.emit(
            B::RESHAPE,
            vec![valid, one],
            vec![vsize],
            Some(opts(O::ReshapeOptions).with(0, Field::VecI32(vec![1]))),
        );
        let idx = cx.tensor(&format!("{kname}_boxes_kept"), &[-1], TensorType::INT32);
        cx.emit(B::SLICE, vec![sel, begin0, vsize], vec![idx], Some(opts(O::SliceOptions)));
        // Columns (batch 0, class k, box index): zeros shaped like `idx`, plus k.
        let zeros = cx.tensor(&format!("{kname}_zeros"), &[-1], TensorType::INT32);
        cx.emit(B::MUL, vec![idx, zero], vec![zeros], Some(opts(O::MulOptions)));
        let class = cx.tensor(&format!("{kname}_class"), &[-1], TensorType::INT32);
        cx.emit(B::ADD, vec![zeros, ki], vec![class], Some(opts(O::AddOptions)));
        let r = cx.tensor(&format!("{kname}_rows"), &[-1, 3], TensorType::INT32);
        cx.emit(
            B::PACK,
            vec![zeros, class, idx],
            vec![r],
            Some(opts(O::PackOptions).with(0, Field::I32(3)).with(1, Field::I32(1))),
        );
        rows.push(r);
    }
    let all = if rows.len() == 1 {
        rows[0]
    } else {
        let t = cx.tensor(&format!("{name}_rows"), &[-1, 3], TensorType::INT32);
        cx.emit(
            B::CONCATENATION,
            rows,
            vec![t],
            Some(opts(O::ConcatenationOptions).with(0, Field::I32(0))),
        );
        t
    };
    let y = cx.out_id(ValueId { node: id, port: 0 })?;
    cx.emit(
        B::CAST,
        vec![all],
        vec![y],
        Some(
            opts(O::CastOptions)
                .with(0, Field::I8(TensorType::INT32.0))
                .with(1, Field::I8(TensorType::INT64.0)),
        ),
    );
    Ok(())
}

/// GatherND with `batch_dims = 0` → GATHER_ND (int32 or int64 indices).
fn gather_nd(cx: &mut Lower, id: NodeId, batch_dims: i64) -> LResult<()> {
    if batch_dims != 0 {
        return err("GatherND with batch_dims > 0 is not exported");
    }
    let x = cx.input(id, 0)?;
    let idx = cx.input(id, 1)?;
    if !matches!(cx.dtype(idx)?, DType::I32 | DType::I64) {
        return err("GatherND indices must be int32 or int64");
    }
    let xt = cx.get_id(x)?;
    let it = cx.get_id(idx)?;
    let yt = cx.out_id(ValueId { node: id, port: 0 })?;
    cx.emit(B::GATHER_ND, vec![xt, it], vec![yt], Some(opts(O::GatherNdOptions)));
    Ok(())
}

pub(crate) fn lower(cx: &mut Lower, id: NodeId, op: &Op) -> LResult<bool> {
    match op {
        Op::NonMaxSuppression(n) => nms(cx, id, n.center_point_box)?,
        Op::GatherND(g) => gather_nd(cx, id, g.batch_dims)?,
        _ => return Ok(false),
    }
    Ok(true)
}
