//! Input-patch statistics of a 2-D convolution or a Gemm for layer-wise weight reconstruction:
//! per group, the Hessian `Σ x xᵀ` of the im2col patches (one patch per output position, laid
//! out like a weight row: input channel of the group, then kernel row, then kernel column) and
//! the patch sums (for the mean output shift). A depthwise conv has one tiny Hessian per
//! channel; a Gemm is a 1×1 conv over its rows.

use edgeport_eval::ops::nn::common::GeomSpec;
use edgeport_ir::ops::Layout;
use edgeport_ir::{Graph, NodeId, Op};

/// Where a layer's patches come from.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchGeom {
    pub groups: usize,
    /// Input channels per group.
    pub cin_g: usize,
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    pub dils: [usize; 2],
    /// The Conv's `pads` and `auto_pad` attributes (resolved per input size).
    pub pads: Vec<i64>,
    pub auto_pad: String,
    pub channels_last: bool,
    /// A Gemm/MatMul-like input `[rows, k]` instead of an image.
    pub dense: bool,
}

impl PatchGeom {
    /// Patch length (the weight row length of one group).
    pub fn k(&self) -> usize {
        self.cin_g * self.kernel[0] * self.kernel[1]
    }

    /// The geometry of a Conv node (2-D only) or a Gemm (`alpha == 1`, `transA == 0`).
    pub fn of(g: &Graph, node: NodeId, w_shape: &[usize]) -> Option<PatchGeom> {
        match &g.node(node).op {
            Op::Conv(c) if w_shape.len() == 4 => {
                let groups = usize::try_from(c.group).ok()?.max(1);
                let kernel = [*w_shape.get(2)?, *w_shape.get(3)?];
                let pair = |v: &[i64], dflt: usize| -> Option<[usize; 2]> {
                    match v {
                        [] => Some([dflt, dflt]),
                        [a, b] => Some([usize::try_from(*a).ok()?, usize::try_from(*b).ok()?]),
                        _ => None,
                    }
                };
                Some(PatchGeom {
                    groups,
                    cin_g: *w_shape.get(1)?,
                    kernel,
                    strides: pair(&c.strides, 1)?,
                    dils: pair(&c.dilations, 1)?,
                    pads: c.pads.clone(),
                    auto_pad: c.auto_pad.clone(),
                    channels_last: c.layout == Layout::ChannelsLast,
                    dense: false,
                })
            }
            Op::Gemm(gm) if gm.alpha == 1.0 && gm.transA == 0 && w_shape.len() == 2 => {
                let k = if gm.transB != 0 { w_shape[1] } else { w_shape[0] };
                Some(PatchGeom {
                    groups: 1,
                    cin_g: k,
                    kernel: [1, 1],
                    strides: [1, 1],
                    dils: [1, 1],
                    pads: Vec::new(),
                    auto_pad: "NOTSET".into(),
                    channels_last: false,
                    dense: true,
                })
            }
            _ => None,
        }
    }
}

/// Accumulated patch statistics of one layer: of the patches `x` the quantized model feeds it
/// and, paired sample by sample, the patches `f` the float model feeds it.
#[derive(Clone, Debug)]
pub struct PatchStats {
    pub k: usize,
    /// `Σ x xᵀ`, one `k × k` row-major matrix per group (empty when not requested).
    pub hess: Vec<Vec<f64>>,
    /// `Σ x fᵀ` per group (empty when not requested).
    pub cross: Vec<Vec<f64>>,
    /// `Σ x` and `Σ f` per group.
    pub sums: Vec<Vec<f64>>,
    pub fsums: Vec<Vec<f64>>,
    /// Patches seen (per group).
    pub rows: u64,
}

fn add_into(d: &mut [f64], s: &[f64]) {
    for (x, y) in d.iter_mut().zip(s) {
        *x += y;
    }
}

/// Adds `aᵀ b` (`a`, `b`: `[p, k]` row-major f32) to `d` (`k × k`).
fn add_product(d: &mut [f64], a: &[f32], b: &[f32], p: usize, k: usize) -> Option<()> {
    let a = ndarray::ArrayView2::from_shape((p, k), a).ok()?;
    let b = ndarray::ArrayView2::from_shape((p, k), b).ok()?;
    let part = a.t().dot(&b);
    for (x, &v) in d.iter_mut().zip(part.iter()) {
        *x += v as f64;
    }
    Some(())
}

fn add_sums(d: &mut [f64], m: &[f32], k: usize) {
    for row in m.chunks(k.max(1)) {
        for (x, &v) in d.iter_mut().zip(row) {
            *x += v as f64;
        }
    }
}

impl PatchStats {
    /// Empty statistics; the Hessian and the cross term only when asked for.
    pub fn new(geom: &PatchGeom, hessian: bool, cross: bool) -> PatchStats {
        let k = geom.k();
        let mats = |on: bool| if on { vec![vec![0.0; k * k]; geom.groups] } else { Vec::new() };
        PatchStats {
            k,
            hess: mats(hessian),
            cross: mats(cross),
            sums: vec![vec![0.0; k]; geom.groups],
            fsums: vec![vec![0.0; k]; geom.groups],
            rows: 0,
        }
    }

    /// Adds another sample's statistics.
    pub fn merge(&mut self, o: &PatchStats) {
        for (a, b) in [
            (&mut self.hess, &o.hess),
            (&mut self.cross, &o.cross),
            (&mut self.sums, &o.sums),
            (&mut self.fsums, &o.fsums),
        ] {
            for (x, y) in a.iter_mut().zip(b) {
                add_into(x, y);
            }
        }
        self.rows += o.rows;
    }

    /// Mean patch of group `gi` (of the quantized model's inputs, or the float model's).
    pub fn mean(&self, gi: usize, float: bool) -> Vec<f64> {
        let n = self.rows.max(1) as f64;
        let s = if float { &self.fsums } else { &self.sums };
        s.get(gi).map(|s| s.iter().map(|x| x / n).collect()).unwrap_or_default()
    }

    /// Adds the patches of one input tensor `x` of `shape` (NCHW, NHWC or `[rows, k]`) and of
    /// the float model's input `f` of the same shape. Returns `None` when the shapes do not
    /// fit the geometry.
    pub fn add(&mut self, geom: &PatchGeom, x: &[f32], f: Option<&[f32]>, shape: &[usize]) -> Option<()> {
        let k = self.k;
        let xc = im2col(geom, x, shape)?;
        let fc = match f {
            Some(f) => Some(im2col(geom, f, shape)?),
            None => None,
        };
        let mut p_rows = 0;
        for (gi, m) in xc.iter().enumerate() {
            let p = m.len() / k.max(1);
            p_rows = p;
            add_sums(self.sums.get_mut(gi)?, m, k);
            if let Some(h) = self.hess.get_mut(gi) {
                add_product(h, m, m, p, k)?;
            }
            if let Some(fm) = fc.as_ref().and_then(|c| c.get(gi)) {
                add_sums(self.fsums.get_mut(gi)?, fm, k);
                if let Some(c) = self.cross.get_mut(gi) {
                    add_product(c, m, fm, p, k)?;
                }
            }
        }
        self.rows += p_rows as u64;
        Some(())
    }
}

/// The im2col matrices `[positions, k]` (row-major), one per group.
pub fn im2col(geom: &PatchGeom, x: &[f32], shape: &[usize]) -> Option<Vec<Vec<f32>>> {
    let k = geom.k();
    if geom.dense {
        let &kk = shape.last()?;
        if kk != k || k == 0 || !x.len().is_multiple_of(k) {
            return None;
        }
        return Some(vec![x.to_vec()]);
    }
    let [n, c, h, w] = match (shape, geom.channels_last) {
        (&[n, c, h, w], false) => [n, c, h, w],
        (&[n, h, w, c], true) => [n, c, h, w],
        _ => return None,
    };
    if c != geom.cin_g.checked_mul(geom.groups)? || x.len() != n.checked_mul(c)?.checked_mul(h)?.checked_mul(w)? {
        return None;
    }
    let kernel: Vec<i64> = geom.kernel.iter().map(|&v| v as i64).collect();
    let strides: Vec<i64> = geom.strides.iter().map(|&v| v as i64).collect();
    let dils: Vec<i64> = geom.dils.iter().map(|&v| v as i64).collect();
    let resolved = GeomSpec {
        input: &[h, w],
        kernel: &kernel,
        strides: &strides,
        dils: &dils,
        pads: &geom.pads,
        auto_pad: &geom.auto_pad,
        ceil_mode: false,
    }
    .resolve()
    .ok()?;
    let (oh, ow) = (*resolved.out.first()?, *resolved.out.get(1)?);
    let pads = [*resolved.pb.first()?, *resolved.pb.get(1)?];
    let [kh, kw] = geom.kernel;
    let idx = |b: usize, ch: usize, y: usize, xx: usize| {
        if geom.channels_last {
            ((b * h + y) * w + xx) * c + ch
        } else {
            ((b * c + ch) * h + y) * w + xx
        }
    };
    let p = n * oh * ow;
    let mut out = Vec::with_capacity(geom.groups);
    for gi in 0..geom.groups {
        let mut m = vec![0f32; p.checked_mul(k)?];
        for b in 0..n {
            for oy in 0..oh {
                for ox in 0..ow {
                    let row = &mut m[((b * oh + oy) * ow + ox) * k..][..k];
                    for ci in 0..geom.cin_g {
                        let ch = gi * geom.cin_g + ci;
                        for ky in 0..kh {
                            let y = (oy * geom.strides[0] + ky * geom.dils[0]).checked_sub(pads[0]);
                            for kx in 0..kw {
                                let xx = (ox * geom.strides[1] + kx * geom.dils[1]).checked_sub(pads[1]);
                                if let (Some(y), Some(xx)) = (y, xx)
                                    && y < h
                                    && xx < w
                                {
                                    row[(ci * kh + ky) * kw + kx] = *x.get(idx(b, ch, y, xx))?;
                                }
                            }
                        }
                    }
                }
            }
        }
        out.push(m);
    }
    Some(out)
}
