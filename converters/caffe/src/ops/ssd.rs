//! The SSD family's box layers. PriorBox depends only on shapes, so it becomes a constant
//! computed here with Caffe's formula (in f32, like Caffe). DetectionOutput is decomposed into
//! box decoding, per-class top-k pre-selection, ONNX NonMaxSuppression and keep_top_k.

use super::Layer;
use crate::build::Ctx;
use edgeport_ir::ValueId;

pub fn prior_box(cx: &mut Ctx, l: &Layer<'_>) -> Result<Vec<ValueId>, String> {
    let feat = cx.shape(l.input(0)?)?;
    let p = l.p.prior_box_param.clone().ok_or("missing prior_box_param")?;
    if feat.len() != 4 {
        return Err(format!("feature map of shape {feat:?} is not 4-D"));
    }
    let (lh, lw) = (feat[2], feat[3]);
    let (img_h, img_w) = if p.img_h.is_some() || p.img_w.is_some() {
        (p.img_h() as f32, p.img_w() as f32)
    } else if p.img_size.is_some() {
        (p.img_size() as f32, p.img_size() as f32)
    } else {
        let img = cx.shape(l.input(1)?)?;
        if img.len() != 4 {
            return Err(format!("image bottom of shape {img:?} is not 4-D"));
        }
        (img[2] as f32, img[3] as f32)
    };
    let (step_h, step_w) = if p.step_h.is_some() || p.step_w.is_some() {
        (p.step_h(), p.step_w())
    } else if p.step.is_some() {
        (p.step(), p.step())
    } else {
        (img_h / lh as f32, img_w / lw as f32)
    };
    if p.min_size.is_empty() || p.min_size.iter().any(|&m| m <= 0.0) {
        return Err("min_size must be given and positive".into());
    }
    if !p.max_size.is_empty() && p.max_size.len() != p.min_size.len() {
        return Err(format!("{} max_size for {} min_size", p.max_size.len(), p.min_size.len()));
    }
    if p.max_size.iter().zip(&p.min_size).any(|(mx, mn)| mx <= mn) {
        return Err("max_size must be greater than min_size".into());
    }
    let mut ars = vec![1.0f32];
    for &ar in &p.aspect_ratio {
        if ar <= 0.0 {
            return Err(format!("aspect ratio {ar} must be positive"));
        }
        if ars.iter().any(|&a| (a - ar).abs() < 1e-6) {
            continue;
        }
        ars.push(ar);
        if p.flip() {
            ars.push(1.0 / ar);
        }
    }
    let var: Vec<f32> = match p.variance.len() {
        0 => vec![0.1],
        1 | 4 => p.variance.clone(),
        n => return Err(format!("{n} variances: give 1 or 4")),
    };
    if var.iter().any(|&v| v <= 0.0) {
        return Err("variances must be positive".into());
    }
    let num_priors = ars.len() * p.min_size.len() + p.max_size.len();
    let total = lh
        .checked_mul(lw)
        .and_then(|v| v.checked_mul(num_priors))
        .and_then(|v| v.checked_mul(4))
        .filter(|&v| v <= 1 << 24)
        .ok_or("too many prior boxes")?;
    let mut boxes = Vec::with_capacity(total * 2);
    let offset = p.offset();
    for h in 0..lh {
        for w in 0..lw {
            let cx0 = (w as f32 + offset) * step_w;
            let cy0 = (h as f32 + offset) * step_h;
            let mut push = |bw: f32, bh: f32| {
                boxes.push((cx0 - bw / 2.0) / img_w);
                boxes.push((cy0 - bh / 2.0) / img_h);
                boxes.push((cx0 + bw / 2.0) / img_w);
                boxes.push((cy0 + bh / 2.0) / img_h);
            };
            for (s, &min) in p.min_size.iter().enumerate() {
                push(min, min);
                if let Some(&max) = p.max_size.get(s) {
                    let side = (min * max).sqrt();
                    push(side, side);
                }
                for &ar in &ars {
                    if (ar - 1.0).abs() < 1e-6 {
                        continue;
                    }
                    push(min * ar.sqrt(), min / ar.sqrt());
                }
            }
        }
    }
    if p.clip() {
        for v in &mut boxes {
            *v = v.clamp(0.0, 1.0);
        }
    }
    for i in 0..total {
        boxes.push(if var.len() == 1 { var[0] } else { var[i % 4] });
    }
    Ok(vec![cx.f32s("", vec![1, 2, total], &boxes)?])
}

/// DetectionOutput (shared locations): decode the boxes against the priors (CORNER,
/// CENTER_SIZE or CORNER_SIZE, variances from the prior blob unless encoded in the target), keep
/// each class's `top_k` best scores, run NonMaxSuppression per class with the confidence
/// threshold, keep the `keep_top_k` best overall (batch 1) and emit `[1, 1, K, 7]` rows
/// `(image, label, score, xmin, ymin, xmax, ymax)`, by label and then descending score, as
/// Caffe does. (With no detection the result has K = 0 rows.)
pub fn detection_output(cx: &mut Ctx, l: &Layer<'_>) -> Result<Vec<ValueId>, String> {
    use crate::build::{int, ints};
    use edgeport_proto::caffe::prior_box_parameter::CodeType;
    let p = l.p.detection_output_param.ok_or("missing detection_output_param")?;
    if !p.share_location() {
        return Err("share_location: false is not supported".into());
    }
    let (loc, conf, prior) = (l.input(0)?, l.input(1)?, l.input(2)?);
    let ps = cx.shape(prior)?;
    let ls = cx.shape(loc)?;
    let n_priors = ps.last().copied().unwrap_or(0) / 4;
    let n = *ls.first().ok_or("loc input has no batch axis")?;
    let c = p.num_classes() as usize;
    if n_priors == 0 || c == 0 {
        return Err("no priors or no classes".into());
    }
    let keep = p.keep_top_k();
    if n != 1 && keep > -1 {
        return Err(format!("keep_top_k with batch {n} is not supported (batch 1 only)"));
    }
    let (np, ni, nc) = (n_priors as i64, n as i64, c as i64);
    // Priors and variances: [2, P, 4].
    let pshape = cx.ints("prior_shape", &[2, np, 4])?;
    let pb = cx.op("priors3", "Reshape", vec![], &[prior, pshape])?;
    let zero = cx.i64s("i0", vec![], &[0])?;
    let one = cx.i64s("i1", vec![], &[1])?;
    let pr = cx.op("prior", "Gather", vec![int("axis", 0)], &[pb, zero])?;
    let var = cx.op("variance", "Gather", vec![int("axis", 0)], &[pb, one])?;
    let lshape = cx.ints("loc_shape", &[ni, np, 4])?;
    let loc3 = cx.op("loc3", "Reshape", vec![], &[loc, lshape])?;
    let scaled = if p.variance_encoded_in_target() {
        loc3
    } else {
        cx.op("loc_var", "Mul", vec![], &[loc3, var])?
    };
    let half = |cx: &mut Ctx, x: ValueId, first: bool, what: &str| -> Result<ValueId, String> {
        let (s, e) = if first { (0, 2) } else { (2, 4) };
        let sv = cx.ints(&format!("{what}_s"), &[s])?;
        let ev = cx.ints(&format!("{what}_e"), &[e])?;
        let av = cx.ints(&format!("{what}_a"), &[-1])?;
        cx.op(what, "Slice", vec![], &[x, sv, ev, av])
    };
    let pmin = half(cx, pr, true, "prior_min")?;
    let pmax = half(cx, pr, false, "prior_max")?;
    let pwh = cx.op("prior_wh", "Sub", vec![], &[pmax, pmin])?;
    let boxes = match p.code_type() {
        CodeType::Corner => cx.op("boxes", "Add", vec![], &[pr, scaled])?,
        CodeType::CornerSize => {
            let wh2 = cx.op("prior_whwh", "Concat", vec![int("axis", -1)], &[pwh, pwh])?;
            let d = cx.op("delta", "Mul", vec![], &[scaled, wh2])?;
            cx.op("boxes", "Add", vec![], &[pr, d])?
        }
        CodeType::CenterSize => {
            let sum = cx.op("prior_sum", "Add", vec![], &[pmin, pmax])?;
            let h = cx.f32s("half", vec![], &[0.5])?;
            let pc = cx.op("prior_center", "Mul", vec![], &[sum, h])?;
            let lxy = half(cx, scaled, true, "loc_xy")?;
            let lwh = half(cx, scaled, false, "loc_wh")?;
            let dc = cx.op("dcenter", "Mul", vec![], &[lxy, pwh])?;
            let center = cx.op("center", "Add", vec![], &[dc, pc])?;
            let ewh = cx.op("exp_wh", "Exp", vec![], &[lwh])?;
            let wh = cx.op("wh", "Mul", vec![], &[ewh, pwh])?;
            let hwh = cx.op("half_wh", "Mul", vec![], &[wh, h])?;
            let bmin = cx.op("box_min", "Sub", vec![], &[center, hwh])?;
            let bmax = cx.op("box_max", "Add", vec![], &[center, hwh])?;
            cx.op("boxes", "Concat", vec![int("axis", -1)], &[bmin, bmax])?
        }
    };
    // Scores [N, C', P] without the background class; `labels` maps back.
    let cshape = cx.ints("conf_shape", &[ni, np, nc])?;
    let conf3 = cx.op("conf3", "Reshape", vec![], &[conf, cshape])?;
    let conf_t = cx.op("conf_t", "Transpose", vec![ints("perm", &[0, 2, 1])], &[conf3])?;
    let bg = i64::from(p.background_label_id());
    let labels: Vec<i64> = (0..nc).filter(|&k| k != bg).collect();
    if labels.is_empty() {
        return Err("no class besides the background".into());
    }
    let lab = cx.ints("labels", &labels)?;
    let mut scores = cx.op("scores", "Gather", vec![int("axis", 1)], &[conf_t, lab])?;
    // Caffe keeps each class's `top_k` best before NMS.
    let nms = p.nms_param.unwrap_or_default();
    let top_k = i64::from(nms.top_k());
    if nms.top_k.is_some() && top_k > 0 && top_k < np {
        let kv = cx.ints("top_k", &[top_k])?;
        let tk = cx.op_n("top_k_vals", "TopK", vec![int("axis", 2)], &[Some(scores), Some(kv)], 2)?;
        let s = cx.ints("kth_s", &[top_k - 1])?;
        let e = cx.ints("kth_e", &[top_k])?;
        let a = cx.ints("kth_a", &[2])?;
        let kth = cx.op("kth", "Slice", vec![], &[tk[0], s, e, a])?;
        let mask = cx.op("in_top_k", "GreaterOrEqual", vec![], &[scores, kth])?;
        let low = cx.f32s("low", vec![], &[f32::NEG_INFINITY])?;
        scores = cx.op("scores_top_k", "Where", vec![], &[mask, scores, low])?;
    }
    let max_out = cx.ints("max_per_class", &[np])?;
    let iou = cx.f32s("iou", vec![1], &[nms.nms_threshold()])?;
    let thr = if p.confidence_threshold.is_some() {
        p.confidence_threshold()
    } else {
        f32::MIN
    };
    let thr = cx.f32s("score_threshold", vec![1], &[thr])?;
    let sel = cx.op(
        "selected",
        "NonMaxSuppression",
        vec![int("center_point_box", 0)],
        &[boxes, scores, max_out, iou, thr],
    )?;
    // Rows of the result.
    let col = |cx: &mut Ctx, what: &str, i: i64| -> Result<ValueId, String> {
        let idx = cx.ints(&format!("{what}_col"), &[i])?;
        cx.op(what, "Gather", vec![int("axis", 1)], &[sel, idx])
    };
    let b = col(cx, "sel_batch", 0)?;
    let cl = col(cx, "sel_class", 1)?;
    let bx = col(cx, "sel_box", 2)?;
    let bi = cx.op("sel_batch_box", "Concat", vec![int("axis", 1)], &[b, bx])?;
    let mut score = cx.op("det_score", "GatherND", vec![], &[scores, sel])?;
    let mut bxs = cx.op("det_box", "GatherND", vec![], &[boxes, bi])?;
    let ax1 = one_axis(cx)?;
    let clf = cx.op("sel_class_flat", "Squeeze", vec![], &[cl, ax1])?;
    let mut label = cx.op("det_label_i", "Gather", vec![int("axis", 0)], &[lab, clf])?;
    let mut batch = cx.op("det_batch_i", "Squeeze", vec![], &[b, ax1])?;
    if keep > -1 {
        // Best `keep_top_k` overall, then back in NMS order (label, then score).
        let k_all = cx.op("n_det", "Shape", vec![], &[score])?;
        let kv = cx.ints("keep_top_k", &[i64::from(keep)])?;
        let k = cx.op("k", "Min", vec![], &[k_all, kv])?;
        let tk = cx.op_n("keep_best", "TopK", vec![int("axis", 0)], &[Some(score), Some(k)], 2)?;
        let order = cx.op_n(
            "keep_order",
            "TopK",
            vec![int("axis", 0), int("largest", 0)],
            &[Some(tk[1]), Some(k)],
            2,
        )?;
        let idx = order[0];
        score = cx.op("kept_score", "Gather", vec![int("axis", 0)], &[score, idx])?;
        bxs = cx.op("kept_box", "Gather", vec![int("axis", 0)], &[bxs, idx])?;
        label = cx.op("kept_label", "Gather", vec![int("axis", 0)], &[label, idx])?;
        batch = cx.op("kept_batch", "Gather", vec![int("axis", 0)], &[batch, idx])?;
    }
    let to_col = |cx: &mut Ctx, x: ValueId, what: &str, cast: bool| -> Result<ValueId, String> {
        let x = if cast {
            cx.op(&format!("{what}_f"), "Cast", vec![int("to", 1)], &[x])?
        } else {
            x
        };
        let ax = one_axis(cx)?;
        cx.op(what, "Unsqueeze", vec![], &[x, ax])
    };
    let bcol = to_col(cx, batch, "col_image", true)?;
    let lcol = to_col(cx, label, "col_label", true)?;
    let scol = to_col(cx, score, "col_score", false)?;
    let rows = cx.op("rows", "Concat", vec![int("axis", 1)], &[bcol, lcol, scol, bxs])?;
    let axes = cx.ints("out_axes", &[0, 1])?;
    Ok(vec![cx.op("", "Unsqueeze", vec![], &[rows, axes])?])
}

fn one_axis(cx: &mut Ctx) -> Result<ValueId, String> {
    cx.ints("axis1", &[1])
}
