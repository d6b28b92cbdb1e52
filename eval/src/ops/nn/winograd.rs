//! Winograd convolution for f32 3×3, stride 1, dilation 1, ungrouped 2-D convs in NCHW:
//! F(4×4, 3×3) (6×6 input tiles, 36 products per tile instead of 144) and F(2×2, 3×3) (4×4
//! tiles, 16 instead of 36). The filter transform `U = G·g·Gᵀ` is done once per weight
//! ([`Filter`], kept by the caller next to the constant); each run transforms the input tiles
//! (`V = Bᵀ·d·B`), multiplies per transform point ξ the `M×C` matrix `U[ξ]` by the `C×T` matrix
//! `V[ξ]` of every tile (one GEMM per ξ through `sgemm`), and transforms back (`Aᵀ·Y·A`) with the
//! bias added. Tiles are processed in bands of tile rows of one image so the buffers stay a few
//! MB; each phase is split over the rayon pool unless the caller asked for single-threaded
//! products (`sgemm::single_threaded`, calibration runs one forward per core).
//!
//! Layouts: `U` is `[m][ξ][c]`, `V` is `[c][ξ][t]` (both read as strided GEMM operands, and
//! each built by one task per row of its outer dim), `Y` is `[ξ][m][t]` (GEMM outputs are
//! contiguous).

use super::common::Geom;
use crate::error::OpError;
use crate::ops::linalg::sgemm::{self, Mat};
use rayon::prelude::*;
use std::sync::OnceLock;

/// The output tile side: F(2×2, 3×3) or F(4×4, 3×3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tile {
    F2,
    F4,
}

impl Tile {
    /// The output tile side m.
    pub fn m(self) -> usize {
        match self {
            Tile::F2 => 2,
            Tile::F4 => 4,
        }
    }
    /// The input tile side m + 2.
    pub fn alpha(self) -> usize {
        self.m() + 2
    }
    /// A key naming the filter transform (for caches of prepared weights).
    pub fn key(self) -> &'static str {
        match self {
            Tile::F2 => "winograd-f2x3",
            Tile::F4 => "winograd-f4x3",
        }
    }
}

/// The 1-D transforms of one F(m, 3) (vectors padded to 6; only the first `A` used).
trait Kind: Sync {
    const M: usize;
    const A: usize;
    /// `Bᵀ·x`.
    fn input(x: [f32; 6]) -> [f32; 6];
    /// `Aᵀ·y`.
    fn output(y: [f32; 6]) -> [f32; 4];
    /// `G·g`.
    fn filter(g: [f32; 3]) -> [f32; 6];
}

/// F(2, 3), interpolation points 0, 1, −1, ∞.
struct K2;
impl Kind for K2 {
    const M: usize = 2;
    const A: usize = 4;
    #[inline(always)]
    fn input(x: [f32; 6]) -> [f32; 6] {
        [x[0] - x[2], x[1] + x[2], x[2] - x[1], x[1] - x[3], 0.0, 0.0]
    }
    #[inline(always)]
    fn output(y: [f32; 6]) -> [f32; 4] {
        [y[0] + y[1] + y[2], y[1] - y[2] - y[3], 0.0, 0.0]
    }
    #[inline(always)]
    fn filter(g: [f32; 3]) -> [f32; 6] {
        [g[0], 0.5 * (g[0] + g[1] + g[2]), 0.5 * (g[0] - g[1] + g[2]), g[2], 0.0, 0.0]
    }
}

/// F(4, 3), interpolation points 0, 1, −1, 2, −2, ∞.
struct K4;
impl Kind for K4 {
    const M: usize = 4;
    const A: usize = 6;
    #[inline(always)]
    fn input(x: [f32; 6]) -> [f32; 6] {
        let (p, q) = (x[4] - 4.0 * x[2], x[3] - 4.0 * x[1]);
        let (r, e) = (x[4] - x[2], 2.0 * (x[3] - x[1]));
        [
            4.0 * x[0] - 5.0 * x[2] + x[4],
            p + q,
            p - q,
            r + e,
            r - e,
            4.0 * x[1] - 5.0 * x[3] + x[5],
        ]
    }
    #[inline(always)]
    fn output(y: [f32; 6]) -> [f32; 4] {
        let (s1, d1) = (y[1] + y[2], y[1] - y[2]);
        let (s2, d2) = (y[3] + y[4], y[3] - y[4]);
        [y[0] + s1 + s2, d1 + 2.0 * d2, s1 + 4.0 * s2, d1 + 8.0 * d2 + y[5]]
    }
    #[inline(always)]
    fn filter(g: [f32; 3]) -> [f32; 6] {
        const SIXTH: f32 = 1.0 / 6.0;
        let (s, d) = (g[0] + g[2], g[1]);
        let (p, q) = (0.25 * g[0] + g[2], 0.5 * g[1]);
        [
            0.25 * g[0],
            -(s + d) * SIXTH,
            -(s - d) * SIXTH,
            (p + q) * SIXTH,
            (p - q) * SIXTH,
            g[2],
        ]
    }
}

/// A transformed 3×3 filter bank `U = G·g·Gᵀ` for `m` output and `c` input channels.
#[derive(Debug)]
pub struct Filter {
    tile: Tile,
    m: usize,
    c: usize,
    /// `[m][ξ][c]`.
    u: Vec<f32>,
}

impl Filter {
    /// Transforms the OIHW weight `w` of shape `[m, c, 3, 3]`.
    pub fn new(tile: Tile, w: &[f32], ws: &[usize]) -> Result<Filter, OpError> {
        match tile {
            Tile::F2 => filter_transform::<K2>(tile, w, ws),
            Tile::F4 => filter_transform::<K4>(tile, w, ws),
        }
    }
    /// The tile this transform is for.
    pub fn tile(&self) -> Tile {
        self.tile
    }
}

#[cfg(test)]
thread_local! {
    /// Filter transforms made on this thread (tests check the cache through it).
    pub(crate) static TRANSFORMS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn filter_transform<K: Kind>(tile: Tile, w: &[f32], ws: &[usize]) -> Result<Filter, OpError> {
    #[cfg(test)]
    TRANSFORMS.with(|c| c.set(c.get() + 1));
    let &[m, c, 3, 3] = ws else {
        return Err(OpError::invalid(format!("winograd: weight {ws:?} is not [M, C, 3, 3]")));
    };
    let len = m.checked_mul(c).and_then(|v| v.checked_mul(9));
    if len != Some(w.len()) {
        return Err(OpError::invalid(format!(
            "winograd: weight has {} values for shape {ws:?}",
            w.len()
        )));
    }
    let a2 = K::A * K::A;
    let n_u = m
        .checked_mul(c)
        .and_then(|v| v.checked_mul(a2))
        .ok_or_else(|| OpError::invalid("winograd: weight size overflows"))?;
    let mut u = vec![0f32; n_u];
    if u.is_empty() {
        return Ok(Filter { tile, m, c, u });
    }
    let per_m = |(mo, um): (usize, &mut [f32])| {
        // Each (mo, ci) transform into a contiguous scratch, then scattered to `[ξ][c]` one ξ
        // at a time (writing 36 rows of stride c at once thrashes L1 when c is a power of 2).
        let mut scratch = vec![0f32; c * a2];
        for (ci, sc) in scratch.chunks_exact_mut(a2).enumerate() {
            let g = &w[(mo * c + ci) * 9..(mo * c + ci) * 9 + 9];
            // t = G·g (A×3), column by column.
            let mut t = [[0f32; 3]; 6];
            for j in 0..3 {
                let col = K::filter([g[j], g[3 + j], g[6 + j]]);
                for i in 0..K::A {
                    t[i][j] = col[i];
                }
            }
            // u = t·Gᵀ, row by row.
            for (i, ti) in t.iter().enumerate().take(K::A) {
                let row = K::filter(*ti);
                sc[i * K::A..(i + 1) * K::A].copy_from_slice(&row[..K::A]);
            }
        }
        for (xi, dst) in um.chunks_exact_mut(c).enumerate() {
            for (d, sc) in dst.iter_mut().zip(scratch.chunks_exact(a2)) {
                *d = sc[xi];
            }
        }
    };
    if sgemm::threads_for(m * c * 64) > 1 {
        u.par_chunks_mut(a2 * c).enumerate().for_each(per_m);
    } else {
        u.chunks_mut(a2 * c).enumerate().for_each(per_m);
    }
    Ok(Filter { tile, m, c, u })
}

/// Which algorithm `EDGEPORT_WINOGRAD` forces: `off`/`0`, `2`, `4`; unset = the heuristic.
fn forced() -> Option<Option<Tile>> {
    static F: OnceLock<Option<Option<Tile>>> = OnceLock::new();
    *F.get_or_init(|| match std::env::var("EDGEPORT_WINOGRAD").ok()?.as_str() {
        "off" | "0" | "no" => Some(None),
        "2" => Some(Some(Tile::F2)),
        "4" => Some(Some(Tile::F4)),
        _ => None,
    })
}

/// Whether a conv of input `xs`, weight `ws` and geometry `g` can run as Winograd, and with
/// which tile. Only where it wins over im2col + GEMM: enough channels for the products to
/// dominate the transforms, and enough tiles to pay for reading the transformed weight (and,
/// when it is not `cached` across runs, for making it).
pub fn choose(xs: &[usize], ws: &[usize], g: &Geom, group: usize, cached: bool) -> Option<Tile> {
    let shape_ok = xs.len() == 4
        && ws.len() == 4
        && group == 1
        && ws[2] == 3
        && ws[3] == 3
        && g.kernel == [3, 3]
        && g.strides == [1, 1]
        && g.dils == [1, 1]
        && g.out.len() == 2;
    if !shape_ok {
        return None;
    }
    if let Some(f) = forced() {
        return f;
    }
    let (c, m) = (xs[1], ws[0]);
    let (oh, ow) = (g.out[0], g.out[1]);
    // Measured (ResNet-18's shapes, `winograd_timing`): F(4×4) beats im2col by 1.9–2.5× from
    // 16 tiles up (a 14×14 output), and loses 2–4× on 4 tiles (7×7), where reading the 4×
    // larger transformed weight for so few tiles dominates. Made for one run only, the
    // transform (~60–100 ns per channel pair) costs as much as the 14×14 conv saves.
    let tiles = xs[0].saturating_mul(oh.div_ceil(4)).saturating_mul(ow.div_ceil(4));
    let min_tiles = if cached { 16 } else { 36 };
    if c < 16 || m < 16 || tiles < min_tiles {
        return None;
    }
    // F(4×4)'s rounding grows with the channels summed: ≤ 1e-5 of the output's magnitude up to
    // 256 (measured 8.8e-6 at 128), 1.3e-5 at 512; F(2×2) stays under 1e-6 there.
    Some(if c <= 256 { Tile::F4 } else { Tile::F2 })
}

/// Tile grid of one conv.
struct Grid {
    n: usize,
    c: usize,
    m: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    pt: isize,
    pl: isize,
    th: usize,
    tw: usize,
}

/// Runs the Winograd conv: `x: [N, C, H, W]` with `f` (from the weight) → `[N, M, OH, OW]`.
pub fn conv(x: &[f32], xs: &[usize], f: &Filter, b: Option<&[f32]>, g: &Geom) -> Result<(Vec<f32>, Vec<usize>), OpError> {
    conv_banded(x, xs, f, b, g, BAND_BYTES)
}

/// [`conv`] with bands of tile rows sized for `band_bytes` per buffer.
pub(crate) fn conv_banded(
    x: &[f32],
    xs: &[usize],
    f: &Filter,
    b: Option<&[f32]>,
    g: &Geom,
    band_bytes: usize,
) -> Result<(Vec<f32>, Vec<usize>), OpError> {
    let &[n, c, h, w] = xs else {
        return Err(OpError::invalid(format!("winograd: input {xs:?} is not NCHW")));
    };
    if c != f.c || g.out.len() != 2 || g.pb.len() != 2 {
        return Err(OpError::invalid(format!(
            "winograd: input {xs:?} does not fit the weight's {} channels",
            f.c
        )));
    }
    let len = n.checked_mul(c).and_then(|v| v.checked_mul(h)).and_then(|v| v.checked_mul(w));
    if len != Some(x.len()) {
        return Err(OpError::invalid(format!("winograd: input has {} values for shape {xs:?}", x.len())));
    }
    if let Some(b) = b
        && b.len() != f.m
    {
        return Err(OpError::invalid(format!("bias has {} values, expected {}", b.len(), f.m)));
    }
    let (oh, ow) = (g.out[0], g.out[1]);
    let pt = isize::try_from(g.pb[0]).map_err(|_| OpError::invalid("winograd: padding too large"))?;
    let pl = isize::try_from(g.pb[1]).map_err(|_| OpError::invalid("winograd: padding too large"))?;
    let tm = f.tile.m();
    let grid = Grid {
        n,
        c,
        m: f.m,
        h,
        w,
        oh,
        ow,
        pt,
        pl,
        th: oh.div_ceil(tm),
        tw: ow.div_ceil(tm),
    };
    let size = n
        .checked_mul(f.m)
        .and_then(|v| v.checked_mul(oh))
        .and_then(|v| v.checked_mul(ow))
        .ok_or_else(|| OpError::invalid("winograd: output size overflows"))?;
    let mut y = vec![0f32; size];
    if size > 0 {
        match f.tile {
            Tile::F2 => run::<K2>(&grid, x, f, b, &mut y, band_bytes)?,
            Tile::F4 => run::<K4>(&grid, x, f, b, &mut y, band_bytes)?,
        }
    }
    Ok((y, vec![n, f.m, oh, ow]))
}

/// Bytes one band's `V` or `Y` buffer aims at.
const BAND_BYTES: usize = 4 << 20;

fn run<K: Kind>(gr: &Grid, x: &[f32], f: &Filter, b: Option<&[f32]>, y: &mut [f32], band_bytes: usize) -> Result<(), OpError> {
    let a2 = K::A * K::A;
    let (c, m) = (gr.c, gr.m);
    let too_big = || OpError::invalid("winograd: buffer size overflows");
    let per_row = gr
        .tw
        .checked_mul(a2 * 4)
        .and_then(|v| v.checked_mul(c.max(m)))
        .ok_or_else(too_big)?;
    let band = (band_bytes / per_row.max(1)).clamp(1, gr.th.max(1));
    let work = y.len().saturating_mul(c).saturating_mul(9);
    let par = sgemm::threads_for(work) > 1;
    let tiles = band.checked_mul(gr.tw).ok_or_else(too_big)?;
    let nv = tiles.checked_mul(a2 * c).ok_or_else(too_big)?;
    let ny = tiles.checked_mul(a2 * m).ok_or_else(too_big)?;
    // Both buffers are written before they are read (every tile's points by the input
    // transform, every product by the GEMM), so they come from the thread's scratch.
    super::common::with_scratch::<f32, _>(nv.checked_add(ny).ok_or_else(too_big)?, |buf| {
        let (v, yt) = buf.split_at_mut(nv);
        bands::<K>(gr, x, f, b, y, (band, par), v, yt)
    })
}

/// The band loop of [`run`]: `v` and `yt` hold one band's transformed input and products.
#[allow(clippy::too_many_arguments)]
fn bands<K: Kind>(
    gr: &Grid,
    x: &[f32],
    f: &Filter,
    b: Option<&[f32]>,
    y: &mut [f32],
    (band, par): (usize, bool),
    v: &mut [f32],
    yt: &mut [f32],
) -> Result<(), OpError> {
    let a2 = K::A * K::A;
    let (c, m) = (gr.c, gr.m);
    let ip = gr.h * gr.w;
    let op = gr.oh * gr.ow;
    for ni in 0..gr.n {
        let xi = &x[ni * c * ip..(ni + 1) * c * ip];
        let yi = &mut y[ni * m * op..(ni + 1) * m * op];
        let mut ty0 = 0;
        while ty0 < gr.th {
            let rows = band.min(gr.th - ty0);
            let t = rows * gr.tw;
            // Input transform: one task per channel.
            let vb = &mut v[..c * a2 * t];
            let in_task = |(ci, vc): (usize, &mut [f32])| input_tiles::<K>(gr, &xi[ci * ip..(ci + 1) * ip], ty0, rows, vc);
            if par {
                vb.par_chunks_mut(a2 * t).enumerate().for_each(in_task);
            } else {
                vb.chunks_mut(a2 * t).enumerate().for_each(in_task);
            }
            // One product per transform point: Y[ξ] (m×t) = U[ξ] (m×c) · V[ξ] (c×t).
            let vb = &v[..c * a2 * t];
            let yb = &mut yt[..a2 * m * t];
            let gemm_task = |(xi_, dst): (usize, &mut [f32])| -> Result<(), OpError> {
                let ua = Mat {
                    data: f.u.get(xi_ * c..).unwrap_or(&[]),
                    rs: a2 * c,
                    cs: 1,
                };
                let vb_ = Mat {
                    data: vb.get(xi_ * t..).unwrap_or(&[]),
                    rs: a2 * t,
                    cs: 1,
                };
                sgemm::single_threaded(|| sgemm::gemm_into(dst, ua, vb_, (m, c, t), false))
            };
            if par {
                yb.par_chunks_mut(m * t).enumerate().try_for_each(gemm_task)?;
            } else {
                yb.chunks_mut(m * t).enumerate().try_for_each(gemm_task)?;
            }
            // Output transform: one task per output channel.
            let yb = &yt[..a2 * m * t];
            let out_task = |(mo, plane): (usize, &mut [f32])| {
                let bias = b.and_then(|b| b.get(mo)).copied().unwrap_or(0.0);
                output_tiles::<K>(gr, yb, mo, t, bias, ty0, rows, plane);
            };
            if par {
                yi.par_chunks_mut(op).enumerate().for_each(out_task);
            } else {
                yi.chunks_mut(op).enumerate().for_each(out_task);
            }
            ty0 += rows;
        }
    }
    Ok(())
}

/// Tiles transformed together (one per lane): the transforms are the same adds across lanes,
/// which the compiler turns into vector arithmetic, and each transform point's results are
/// stored as one contiguous run.
const LANES: usize = 8;

/// Transforms the tiles of tile rows `ty0..ty0+rows` of one input plane `xp` (`h×w`) into
/// `vc` (`[ξ][t]` for this channel).
fn input_tiles<K: Kind>(gr: &Grid, xp: &[f32], ty0: usize, rows: usize, vc: &mut [f32]) {
    let t = rows * gr.tw;
    let (h, w) = (gr.h as isize, gr.w as isize);
    for r in 0..rows {
        let y0 = ((ty0 + r) * K::M) as isize - gr.pt;
        let mut tx0 = 0;
        while tx0 < gr.tw {
            let nl = LANES.min(gr.tw - tx0);
            // d[i][j][lane]: the input tile of lane `lane`.
            let mut d = [[[0f32; LANES]; 6]; 6];
            for lane in 0..nl {
                let x0 = ((tx0 + lane) * K::M) as isize - gr.pl;
                if y0 >= 0 && x0 >= 0 && y0 + K::A as isize <= h && x0 + K::A as isize <= w {
                    let base = (y0 * w + x0) as usize;
                    for (i, di) in d.iter_mut().enumerate().take(K::A) {
                        let row = &xp[base + i * gr.w..base + i * gr.w + K::A];
                        for (dv, &x) in di.iter_mut().zip(row) {
                            dv[lane] = x;
                        }
                    }
                } else {
                    for (i, di) in d.iter_mut().enumerate().take(K::A) {
                        let yy = y0 + i as isize;
                        if yy < 0 || yy >= h {
                            continue;
                        }
                        for (j, dv) in di.iter_mut().enumerate().take(K::A) {
                            let xx = x0 + j as isize;
                            if xx >= 0 && xx < w {
                                dv[lane] = xp[(yy * w + xx) as usize];
                            }
                        }
                    }
                }
            }
            // Bᵀ·d column by column, then ·B row by row, every lane at once.
            let mut s = [[[0f32; LANES]; 6]; 6];
            for j in 0..K::A {
                for lane in 0..LANES {
                    let col = K::input([
                        d[0][j][lane],
                        d[1][j][lane],
                        d[2][j][lane],
                        d[3][j][lane],
                        d[4][j][lane],
                        d[5][j][lane],
                    ]);
                    for i in 0..K::A {
                        s[i][j][lane] = col[i];
                    }
                }
            }
            let ti = r * gr.tw + tx0;
            for (i, si) in s.iter().enumerate().take(K::A) {
                let mut v = [[0f32; LANES]; 6];
                for lane in 0..LANES {
                    let row = K::input([si[0][lane], si[1][lane], si[2][lane], si[3][lane], si[4][lane], si[5][lane]]);
                    for j in 0..K::A {
                        v[j][lane] = row[j];
                    }
                }
                for (j, vj) in v.iter().enumerate().take(K::A) {
                    let at = (i * K::A + j) * t + ti;
                    vc[at..at + nl].copy_from_slice(&vj[..nl]);
                }
            }
            tx0 += nl;
        }
    }
}

/// Transforms back output channel `mo`'s tiles of tile rows `ty0..ty0+rows` from `yb`
/// (`[ξ][m][t]`) into its output plane, adding `bias`.
#[allow(clippy::too_many_arguments)]
fn output_tiles<K: Kind>(gr: &Grid, yb: &[f32], mo: usize, t: usize, bias: f32, ty0: usize, rows: usize, plane: &mut [f32]) {
    let stride = gr.m * t;
    let base = mo * t;
    for r in 0..rows {
        let oy0 = (ty0 + r) * K::M;
        let mut tx0 = 0;
        while tx0 < gr.tw {
            let nl = LANES.min(gr.tw - tx0);
            let ti = base + r * gr.tw + tx0;
            // y[i][j][lane]: transform point (i, j) of lane `lane`'s tile, read as one run.
            let mut y = [[[0f32; LANES]; 6]; 6];
            for (i, yi) in y.iter_mut().enumerate().take(K::A) {
                for (j, yij) in yi.iter_mut().enumerate().take(K::A) {
                    let at = (i * K::A + j) * stride + ti;
                    yij[..nl].copy_from_slice(&yb[at..at + nl]);
                }
            }
            // Aᵀ·Y column by column, then ·A row by row, every lane at once.
            let mut s = [[[0f32; LANES]; 6]; 4];
            for j in 0..K::A {
                for lane in 0..LANES {
                    let o = K::output([
                        y[0][j][lane],
                        y[1][j][lane],
                        y[2][j][lane],
                        y[3][j][lane],
                        y[4][j][lane],
                        y[5][j][lane],
                    ]);
                    for i in 0..K::M {
                        s[i][j][lane] = o[i];
                    }
                }
            }
            let hh = K::M.min(gr.oh - oy0);
            for (i, si) in s.iter().enumerate().take(hh) {
                let mut o = [[0f32; 4]; LANES];
                for (lane, ol) in o.iter_mut().enumerate() {
                    *ol = K::output([si[0][lane], si[1][lane], si[2][lane], si[3][lane], si[4][lane], si[5][lane]]);
                }
                let row = &mut plane[(oy0 + i) * gr.ow..(oy0 + i + 1) * gr.ow];
                for (lane, ol) in o.iter().enumerate().take(nl) {
                    let ox0 = (tx0 + lane) * K::M;
                    let ww = K::M.min(gr.ow - ox0);
                    for (dst, &val) in row[ox0..ox0 + ww].iter_mut().zip(ol) {
                        *dst = val + bias;
                    }
                }
            }
            tx0 += nl;
        }
    }
}

#[cfg(test)]
#[path = "winograd_tests.rs"]
mod tests;
