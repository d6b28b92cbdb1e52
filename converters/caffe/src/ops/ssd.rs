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
        .filter(|&v| v <= 1 << 28)
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
