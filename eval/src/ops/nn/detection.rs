//! Detection ops: NonMaxSuppression and RoiAlign (avg and max, both coordinate modes).

use super::common::{fdata, fout};
use crate::error::OpError;
use crate::tensor::Tensor;
use edgeport_ir::DType;
use edgeport_ir::ops::detection::RoiAlign;

/// ONNX NonMaxSuppression.
pub fn nms(
    center_point_box: i64,
    boxes: &Tensor,
    scores: &Tensor,
    max_out: Option<&Tensor>,
    iou: Option<&Tensor>,
    score_th: Option<&Tensor>,
) -> Result<Tensor, OpError> {
    let (bv, bs) = fdata(boxes)?;
    let (sv, ss) = fdata(scores)?;
    if bs.len() != 3 || bs[2] != 4 || ss.len() != 3 || ss[0] != bs[0] || ss[2] != bs[1] {
        return Err(OpError::invalid(format!(
            "NonMaxSuppression boxes {bs:?} and scores {ss:?} do not fit"
        )));
    }
    let max_out = match max_out {
        Some(t) => t.to_i64_vec()?.first().copied().unwrap_or(0).max(0) as usize,
        None => 0,
    };
    let iou_th = super::common::opt_scalar(iou)?.unwrap_or(0.0);
    let score_th = super::common::opt_scalar(score_th)?;
    let (nb, nc, n) = (ss[0], ss[1], ss[2]);
    // Boxes as (y1, x1, y2, x2) with min/max ordered.
    let corners = |b: usize, i: usize| -> [f64; 4] {
        let v = &bv[(b * n + i) * 4..(b * n + i) * 4 + 4];
        if center_point_box == 1 {
            let (xc, yc, w, h) = (v[0], v[1], v[2], v[3]);
            [yc - h / 2.0, xc - w / 2.0, yc + h / 2.0, xc + w / 2.0]
        } else {
            [v[0].min(v[2]), v[1].min(v[3]), v[0].max(v[2]), v[1].max(v[3])]
        }
    };
    let iou_of = |a: [f64; 4], b: [f64; 4]| -> f64 {
        let area_a = (a[2] - a[0]) * (a[3] - a[1]);
        let area_b = (b[2] - b[0]) * (b[3] - b[1]);
        if area_a <= 0.0 || area_b <= 0.0 {
            return 0.0;
        }
        let ih = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
        let iw = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
        let inter = ih * iw;
        let uni = area_a + area_b - inter;
        if uni <= 0.0 { 0.0 } else { inter / uni }
    };
    let mut out: Vec<f64> = Vec::new();
    for b in 0..nb {
        for c in 0..nc {
            let sc = &sv[(b * nc + c) * n..(b * nc + c + 1) * n];
            let mut cand: Vec<usize> = (0..n).filter(|&i| score_th.is_none_or(|t| sc[i] > t)).collect();
            cand.sort_by(|&i, &j| sc[j].partial_cmp(&sc[i]).unwrap_or(std::cmp::Ordering::Equal).then(i.cmp(&j)));
            let mut sel: Vec<usize> = Vec::new();
            for i in cand {
                if sel.len() >= max_out {
                    break;
                }
                let bi = corners(b, i);
                if sel.iter().all(|&s| iou_of(bi, corners(b, s)) <= iou_th) {
                    sel.push(i);
                }
            }
            for s in sel {
                out.extend([b as f64, c as f64, s as f64]);
            }
        }
    }
    let k = out.len() / 3;
    Tensor::from_f64(DType::I64, &[k, 3], out)
}

/// ONNX RoiAlign.
pub fn roi_align(a: &RoiAlign, x: &Tensor, rois: &Tensor, bidx: &Tensor) -> Result<Tensor, OpError> {
    let (xv, xs) = fdata(x)?;
    let (rv, rs) = fdata(rois)?;
    let bi = bidx.to_i64_vec()?;
    if xs.len() != 4 || rs.len() != 2 || rs[1] != 4 || bi.len() != rs[0] {
        return Err(OpError::invalid(format!("RoiAlign X {xs:?}, rois {rs:?} do not fit")));
    }
    let (n, c, h, w) = (xs[0], xs[1], xs[2], xs[3]);
    if h == 0 || w == 0 {
        return Err(OpError::invalid(format!("RoiAlign input {xs:?} has an empty spatial dim")));
    }
    let (oh, ow) = (
        usize::try_from(a.output_height).unwrap_or(0),
        usize::try_from(a.output_width).unwrap_or(0),
    );
    if oh == 0 || ow == 0 {
        return Err(OpError::invalid("output_height and output_width must be positive"));
    }
    let half = a.coordinate_transformation_mode == "half_pixel";
    let off = if half { 0.5 } else { 0.0 };
    let sc = a.spatial_scale as f64;
    let max_mode = a.mode == "max";
    let r = rs[0];
    let mut y = vec![0f64; r * c * oh * ow];
    let (hf, wf) = (h as f64, w as f64);
    for ri in 0..r {
        let b = usize::try_from(bi[ri])
            .ok()
            .filter(|&b| b < n)
            .ok_or_else(|| OpError::invalid("batch index out of range"))?;
        let roi = &rv[ri * 4..ri * 4 + 4];
        let (sw, sh) = (roi[0] * sc - off, roi[1] * sc - off);
        let (ew, eh) = (roi[2] * sc - off, roi[3] * sc - off);
        let (mut rw, mut rh) = (ew - sw, eh - sh);
        if !half {
            rw = rw.max(1.0);
            rh = rh.max(1.0);
        }
        let (bh, bw) = (rh / oh as f64, rw / ow as f64);
        let gh = if a.sampling_ratio > 0 {
            a.sampling_ratio as usize
        } else {
            (rh / oh as f64).ceil().max(0.0) as usize
        };
        let gw = if a.sampling_ratio > 0 {
            a.sampling_ratio as usize
        } else {
            (rw / ow as f64).ceil().max(0.0) as usize
        };
        let count = (gh * gw).max(1) as f64;
        for ph in 0..oh {
            for pw in 0..ow {
                // Precompute the samples' corner indices and weights.
                let mut samples: Vec<([usize; 4], [f64; 4])> = Vec::with_capacity(gh * gw);
                for iy in 0..gh {
                    let yy = sh + ph as f64 * bh + (iy as f64 + 0.5) * bh / gh as f64;
                    for ix in 0..gw {
                        let xx = sw + pw as f64 * bw + (ix as f64 + 0.5) * bw / gw as f64;
                        if yy < -1.0 || yy > hf || xx < -1.0 || xx > wf {
                            samples.push(([0; 4], [0.0; 4]));
                            continue;
                        }
                        let (mut yy, mut xx) = (yy.max(0.0), xx.max(0.0));
                        let mut yl = yy as usize;
                        let yh;
                        if yl >= h - 1 {
                            yl = h - 1;
                            yh = h - 1;
                            yy = yl as f64;
                        } else {
                            yh = yl + 1;
                        }
                        let mut xl = xx as usize;
                        let xh;
                        if xl >= w - 1 {
                            xl = w - 1;
                            xh = w - 1;
                            xx = xl as f64;
                        } else {
                            xh = xl + 1;
                        }
                        let (ly, lx) = (yy - yl as f64, xx - xl as f64);
                        let (hy, hx) = (1.0 - ly, 1.0 - lx);
                        samples.push((
                            [yl * w + xl, yl * w + xh, yh * w + xl, yh * w + xh],
                            [hy * hx, hy * lx, ly * hx, ly * lx],
                        ));
                    }
                }
                for ci in 0..c {
                    let base = (b * c + ci) * h * w;
                    let mut acc = 0.0;
                    let mut first = true;
                    for (p, wt) in &samples {
                        if max_mode {
                            let v = (0..4).map(|k| wt[k] * xv[base + p[k]]).fold(f64::NEG_INFINITY, f64::max);
                            acc = if first { v } else { acc.max(v) };
                            first = false;
                        } else {
                            acc += (0..4).map(|k| wt[k] * xv[base + p[k]]).sum::<f64>();
                        }
                    }
                    y[((ri * c + ci) * oh + ph) * ow + pw] = if max_mode { acc } else { acc / count };
                }
            }
        }
    }
    fout(x.dtype(), &[r, c, oh, ow], y)
}
