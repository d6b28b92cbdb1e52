//! DeformConv (2-D): each kernel tap samples the input bilinearly (zeros outside) at its
//! position plus a learned offset, optionally scaled by a mask.

use super::common::{fdata, fout, to_usize};
use crate::error::OpError;
use crate::tensor::Tensor;
use edgeport_ir::ops::nn::DeformConv;

fn bilinear(img: &[f64], h: usize, w: usize, y: f64, x: f64) -> f64 {
    let (y0, x0) = (y.floor(), x.floor());
    let (ly, lx) = (y - y0, x - x0);
    let mut s = 0.0;
    for (dy, wy) in [(0i64, 1.0 - ly), (1, ly)] {
        for (dx, wx) in [(0i64, 1.0 - lx), (1, lx)] {
            let (yy, xx) = (y0 as i64 + dy, x0 as i64 + dx);
            if yy >= 0 && (yy as usize) < h && xx >= 0 && (xx as usize) < w && wy * wx != 0.0 {
                s += wy * wx * img[yy as usize * w + xx as usize];
            }
        }
    }
    s
}

/// ONNX DeformConv.
pub fn deform_conv(
    a: &DeformConv,
    x: &Tensor,
    wt: &Tensor,
    offset: &Tensor,
    b: Option<&Tensor>,
    mask: Option<&Tensor>,
) -> Result<Tensor, OpError> {
    let (xv, xs) = fdata(x)?;
    let (wv, ws) = fdata(wt)?;
    let (ov, os) = fdata(offset)?;
    if xs.len() != 4 || ws.len() != 4 || os.len() != 4 {
        return Err(OpError::unsupported("DeformConv is implemented for 2-D inputs only"));
    }
    let (n, ic, ih, iw) = (xs[0], xs[1], xs[2], xs[3]);
    let (oc, icg, kh, kw) = (ws[0], ws[1], ws[2], ws[3]);
    let (oh, ow) = (os[2], os[3]);
    let group = to_usize(a.group, "group")?.max(1);
    let og = to_usize(a.offset_group, "offset_group")?.max(1);
    if icg * group != ic || oc % group != 0 || ic % og != 0 || os[1] != og * kh * kw * 2 || os[0] != n {
        return Err(OpError::invalid(format!(
            "DeformConv shapes X {xs:?}, W {ws:?}, offset {os:?} do not fit"
        )));
    }
    let get = |v: &[i64], i: usize, d: i64| v.get(i).copied().unwrap_or(d) as f64;
    let (sh, sw) = (get(&a.strides, 0, 1), get(&a.strides, 1, 1));
    let (dh, dw) = (get(&a.dilations, 0, 1), get(&a.dilations, 1, 1));
    let (ph, pw) = (get(&a.pads, 0, 0), get(&a.pads, 1, 0));
    let mv = mask.map(|m| fdata(m).map(|d| d.0)).transpose()?;
    if let Some(m) = &mv
        && m.len() != n * og * kh * kw * oh * ow
    {
        return Err(OpError::invalid("DeformConv mask shape does not fit"));
    }
    let bv = b.map(|b| fdata(b).map(|d| d.0)).transpose()?;
    let ocg = oc / group;
    let icog = ic / og;
    let sp = oh * ow;
    let mut y = vec![0f64; n * oc * sp];
    for bi in 0..n {
        for c in 0..ic {
            let g = c / icg;
            let ogi = c / icog;
            let img = &xv[(bi * ic + c) * ih * iw..(bi * ic + c + 1) * ih * iw];
            for ki in 0..kh {
                for kj in 0..kw {
                    let k = ki * kw + kj;
                    let obase = ((bi * og + ogi) * kh * kw + k) * 2;
                    for i in 0..oh {
                        for j in 0..ow {
                            let p = i * ow + j;
                            let yy = -ph + sh * i as f64 + ki as f64 * dh + ov[obase * sp + p];
                            let xx = -pw + sw * j as f64 + kj as f64 * dw + ov[(obase + 1) * sp + p];
                            let mut v = bilinear(img, ih, iw, yy, xx);
                            if let Some(m) = &mv {
                                v *= m[((bi * og + ogi) * kh * kw + k) * sp + p];
                            }
                            if v == 0.0 {
                                continue;
                            }
                            for o in g * ocg..(g + 1) * ocg {
                                y[(bi * oc + o) * sp + p] += v * wv[((o * icg) + c % icg) * kh * kw + k];
                            }
                        }
                    }
                }
            }
        }
    }
    if let Some(bv) = bv {
        for bi in 0..n {
            for o in 0..oc {
                let bb = bv.get(o).copied().unwrap_or(0.0);
                y[(bi * oc + o) * sp..(bi * oc + o + 1) * sp].iter_mut().for_each(|v| *v += bb);
            }
        }
    }
    fout(x.dtype(), &[n, oc, oh, ow], y)
}
