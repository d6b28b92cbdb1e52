//! MediaPipe's face-attention custom operators (version 2, as in `face_landmark_with_attention`),
//! lowered at import into standard IR ops (Gather, Slice, MatMul, reductions, arithmetic, Floor,
//! comparisons, Where, Concat, Reshape) that the evaluator and both exporters support. Semantics,
//! as read from MediaPipe's kernels (mediapipe/util/tflite/operations) and the option parsers:
//!
//! `Landmarks2TransformMatrix` v2: input landmarks `[1, N, 3]`, output a `[1, 4, 4]` matrix.
//! Options (FlexBuffers map): `subset_idxs` (landmark indices; MediaPipe groups them in pairs,
//! which only matters for which points enter the min/max below), `left_rotation_idx`,
//! `right_rotation_idx`, `target_rotation_radians`, `output_height`, `output_width`, `scale_x`,
//! `scale_y`. The rotation is `r = target − θ`, θ the direction of (right − left) in the xy plane
//! (`atan2(dy, dx)`, 0 when the two points coincide); here cos θ and sin θ come from the normalised
//! difference vector, so no atan is needed: cos r = cos t·cos θ + sin t·sin θ, sin r = sin t·cos θ −
//! cos t·sin θ. The subset's xy points are rotated by r; their bounding box gives the crop size
//! (w, h) and the centre, rotated back by −r to (cx, cy). The matrix is
//! `shift(cx, cy) · rot(−r) · scale(sx, sy) · shift(−W/2, −H/2)` with `sx = scale_x·w/W`,
//! `sy = scale_y·h/H` (W, H the output width/height): rows `[cr·sx, sr·sy, 0, tx]`,
//! `[−sr·sx, cr·sy, 0, ty]`, `[0, 0, 1, 0]`, `[0, 0, 0, 1]`, where
//! `tx = cr·sx·(−W/2) + sr·sy·(−H/2) + cx` and `ty = −sr·sx·(−W/2) + cr·sy·(−H/2) + cy`. It maps
//! output pixel coordinates to input landmark coordinates.
//!
//! `TransformTensorBilinear` v2: inputs a feature map `[1, H, W, C]` and the matrix `[1, 4, 4]`;
//! options `output_height`, `output_width`; output `[1, OH, OW, C]`. Output pixel (ox, oy) samples
//! the input at `(X, Y) = M·(ox + ½, oy + ½, 0, 1) − ½` (rows 0 and 1 of M; pixel centres on both
//! sides). When `X < 0`, `X > W − 1`, `Y < 0` or `Y > H − 1` the output is 0; otherwise it is the
//! bilinear mix of the four neighbours `(⌊X⌋ or ⌊X⌋+1, ⌊Y⌋ or ⌊Y⌋+1)`, a neighbour past the last
//! row/column reading 0 (it then has weight 0). Lowered as four Gathers on the flattened map
//! with clamped flat indices, the weights, and Where on the in-range mask (out-of-range and NaN
//! coordinates are replaced by 0 before indexing, so the gathers never see a bad index).
//!
//! `TransformLandmarks` v2: inputs landmarks `[1, N, D]` (D = 2 or 3, taken from the output's last
//! dimension) and the matrix `[1, 4, 4]`; no options. x' = m00·x + m01·y + m03 and
//! y' = m10·x + m11·y + m13 (z enters with weight 0); a third coordinate is copied. Lowered as
//! MatMul of the xy pairs with the transposed 2×2 block, plus the translation column.
//!
//! Version 1 of these ops (different formulas and options) and any shape or option value the
//! kernels reject are import errors naming the op and the value.

use super::mediapipe_flex::{self, Flex};
use super::{Fail, R};
use crate::import::cx::OpCx;
use crate::import::irops::{
    Add, And, Cast, Clip, Concat, Div, Equal, Floor, Gather, GreaterOrEqual, LessOrEqual, MatMul, Mul, Neg, ReduceMax, ReduceMin, Reshape,
    Slice, Sqrt, Sub, Transpose, Where,
};
use edgeport_ir::{DType, Graph, Op, Tensor, ValueId};

/// Builds the lowered graph for one custom op: every node and constant is named after the op's
/// first output.
pub(super) struct B<'c, 'e, 'a, 'm, 's> {
    pub(super) cx: &'c mut OpCx<'e, 'a, 'm, 's>,
    pub(super) g: &'c mut Graph,
}

impl B<'_, '_, '_, '_, '_> {
    pub(super) fn op(&mut self, name: &str, op: Op, ins: &[ValueId]) -> Result<ValueId, String> {
        let ins: Vec<Option<ValueId>> = ins.iter().copied().map(Some).collect();
        self.cx.node1(self.g, name, op, &ins)
    }
    pub(super) fn f32s(&mut self, name: &str, shape: Vec<usize>, v: &[f32]) -> Result<ValueId, String> {
        let t = Tensor::from_f32(shape, v).map_err(|e| e.to_string())?;
        Ok(self.cx.constant(self.g, name, t))
    }
    pub(super) fn scalar(&mut self, name: &str, v: f32) -> Result<ValueId, String> {
        self.cx.const_f32(self.g, name, v)
    }
    pub(super) fn i64s(&mut self, name: &str, v: &[i64]) -> Result<ValueId, String> {
        self.cx.const_i64(self.g, name, v)
    }
    pub(super) fn add(&mut self, a: ValueId, b: ValueId) -> Result<ValueId, String> {
        self.op("add", Op::Add(Add {}), &[a, b])
    }
    pub(super) fn sub(&mut self, a: ValueId, b: ValueId) -> Result<ValueId, String> {
        self.op("sub", Op::Sub(Sub {}), &[a, b])
    }
    pub(super) fn mul(&mut self, a: ValueId, b: ValueId) -> Result<ValueId, String> {
        self.op("mul", Op::Mul(Mul {}), &[a, b])
    }
    pub(super) fn mul_c(&mut self, a: ValueId, c: f32) -> Result<ValueId, String> {
        let k = self.scalar("k", c)?;
        self.mul(a, k)
    }
    /// `x[..., start..end]` along `axis`.
    pub(super) fn slice(&mut self, x: ValueId, axis: i64, start: i64, end: i64) -> Result<ValueId, String> {
        let s = self.i64s("starts", &[start])?;
        let e = self.i64s("ends", &[end])?;
        let a = self.i64s("axes", &[axis])?;
        self.op("slice", Op::Slice(Slice {}), &[x, s, e, a])
    }
    pub(super) fn gather(&mut self, x: ValueId, idx: &[i64], axis: i64) -> Result<ValueId, String> {
        let i = self.i64s("indices", idx)?;
        self.op("gather", Op::Gather(Gather { axis }), &[x, i])
    }
    pub(super) fn reshape(&mut self, x: ValueId, shape: &[i64]) -> Result<ValueId, String> {
        let s = self.i64s("shape", shape)?;
        self.op("reshape", Op::Reshape(Reshape { allowzero: 0 }), &[x, s])
    }
    pub(super) fn concat(&mut self, xs: &[ValueId], axis: i64) -> Result<ValueId, String> {
        self.op("concat", Op::Concat(Concat { axis }), xs)
    }
    pub(super) fn reduce(&mut self, x: ValueId, max: bool) -> Result<ValueId, String> {
        let axes = self.i64s("axes", &[1])?;
        let op = if max {
            Op::ReduceMax(ReduceMax {
                keepdims: 1,
                noop_with_empty_axes: 0,
            })
        } else {
            Op::ReduceMin(ReduceMin {
                keepdims: 1,
                noop_with_empty_axes: 0,
            })
        };
        self.op(if max { "max" } else { "min" }, op, &[x, axes])
    }
}

/// The custom options as a FlexBuffers map (an empty map when there are none).
fn options(cx: &OpCx<'_, '_, '_, '_>, op: &str) -> Result<Flex, String> {
    let Some(r) = cx.op.custom_options else {
        return Ok(Flex::Map(Vec::new()));
    };
    let b = cx
        .env
        .data
        .slice(r.pos, r.len)
        .ok_or_else(|| format!("{op}: custom options are past the end of the file"))?;
    let bytes: &[u8] = &b;
    if bytes.is_empty() {
        return Ok(Flex::Map(Vec::new()));
    }
    let m = mediapipe_flex::parse(bytes).map_err(|e| format!("{op}: custom options: {e}"))?;
    match m {
        Flex::Map(_) => Ok(m),
        other => Err(format!("{op}: custom options are not a FlexBuffers map ({other:?})")),
    }
}

/// An integer option; a missing key reads as 0 as in MediaPipe's parser.
fn opt_int(m: &Flex, op: &str, key: &str) -> Result<i64, String> {
    match m.get(key) {
        None | Some(Flex::Null) => Ok(0),
        Some(v) => v.as_i64().ok_or_else(|| format!("{op}: option {key} = {v:?} is not an integer")),
    }
}

/// A float option; a missing key reads as 0.
fn opt_float(m: &Flex, op: &str, key: &str) -> Result<f64, String> {
    match m.get(key) {
        None | Some(Flex::Null) => Ok(0.0),
        Some(v) => v
            .as_f64()
            .filter(|f| f.is_finite())
            .ok_or_else(|| format!("{op}: option {key} = {v:?} is not a finite number")),
    }
}

/// A size option that must lie in `1..=limit`.
fn opt_size(m: &Flex, op: &str, key: &str, limit: i64) -> Result<i64, String> {
    let v = opt_int(m, op, key)?;
    if !(1..=limit).contains(&v) {
        return Err(format!("{op}: option {key} = {v} is out of range (1..={limit})"));
    }
    Ok(v)
}

fn check_version(cx: &OpCx<'_, '_, '_, '_>, op: &str) -> Result<(), String> {
    match cx.code.version {
        2 => Ok(()),
        v => Err(format!("{op}: version {v} is not supported (only version 2)")),
    }
}

fn check_io(cx: &OpCx<'_, '_, '_, '_>, op: &str, n_in: usize) -> Result<(), String> {
    if cx.n_inputs() != n_in || (0..n_in).any(|i| !cx.has_input(i)) {
        return Err(format!("{op}: takes {n_in} inputs, has {}", cx.n_inputs()));
    }
    if cx.op.outputs.len() != 1 {
        return Err(format!("{op}: has 1 output, the operator lists {}", cx.op.outputs.len()));
    }
    for i in 0..n_in {
        let t = cx.in_dtype(i)?;
        if t != DType::F32 || cx.in_quantized(i) {
            return Err(format!("{op}: input {i} is {t}, not float32"));
        }
    }
    Ok(())
}

/// The static shape of input `i`, which must have `rank` dimensions.
fn shape_of(cx: &OpCx<'_, '_, '_, '_>, op: &str, i: usize, rank: usize) -> Result<Vec<usize>, String> {
    let s = cx.in_shape(i).map_err(|e| format!("{op}: input {i}: {e}"))?;
    if s.len() != rank {
        return Err(format!("{op}: input {i} has shape {s:?}, expected rank {rank}"));
    }
    Ok(s)
}

fn check_matrix(cx: &OpCx<'_, '_, '_, '_>, op: &str, i: usize) -> Result<(), String> {
    let s = cx.in_shape(i).map_err(|e| format!("{op}: input {i}: {e}"))?;
    if s != [1, 4, 4] {
        return Err(format!("{op}: matrix input {i} has shape {s:?}, expected [1, 4, 4]"));
    }
    Ok(())
}

pub fn landmarks_to_matrix(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    const OP: &str = "Landmarks2TransformMatrix";
    check_version(cx, OP)?;
    check_io(cx, OP, 1)?;
    let s = shape_of(cx, OP, 0, 3)?;
    if s[0] != 1 || s[2] != 3 {
        return Err(Fail::Issue(format!("{OP}: landmarks have shape {s:?}, expected [1, N, 3]")));
    }
    let n = s[1] as i64;
    let m = options(cx, OP)?;
    let idx = |key: &str| -> Result<i64, String> {
        let v = opt_int(&m, OP, key)?;
        if !(0..n).contains(&v) {
            return Err(format!("{OP}: option {key} = {v} is out of range for {n} landmarks"));
        }
        Ok(v)
    };
    let (left, right) = (idx("left_rotation_idx")?, idx("right_rotation_idx")?);
    let subset: Vec<i64> = match m.get("subset_idxs") {
        Some(Flex::Vector(v)) => v
            .iter()
            .map(|e| match e.as_i64() {
                Some(k) if (0..n).contains(&k) => Ok(k),
                _ => Err(format!("{OP}: subset_idxs value {e:?} is out of range for {n} landmarks")),
            })
            .collect::<Result<_, _>>()?,
        other => return Err(Fail::Issue(format!("{OP}: option subset_idxs is {other:?}, not a vector"))),
    };
    if subset.is_empty() {
        return Err(Fail::Issue(format!("{OP}: option subset_idxs is empty")));
    }
    let ow = opt_size(&m, OP, "output_width", 1 << 16)?;
    let oh = opt_size(&m, OP, "output_height", 1 << 16)?;
    let scale = |key: &str| -> Result<f32, String> {
        let v = opt_float(&m, OP, key)?;
        if v <= 0.0 {
            return Err(format!("{OP}: option {key} = {v} must be positive"));
        }
        Ok(v as f32)
    };
    let (scale_x, scale_y) = (scale("scale_x")?, scale("scale_y")?);
    let target = opt_float(&m, OP, "target_rotation_radians")? as f32;

    let x_in = cx.input(g, 0)?;
    let mut b = B { cx, g };
    // Rotation from the two reference landmarks.
    let lr = b.gather(x_in, &[left, right], 1)?; // [1, 2, 3]
    let l = b.slice(lr, 1, 0, 1)?;
    let r = b.slice(lr, 1, 1, 2)?;
    let d = b.sub(r, l)?; // [1, 1, 3]
    let dx = b.slice(d, 2, 0, 1)?;
    let dy = b.slice(d, 2, 1, 2)?;
    let dx2 = b.mul(dx, dx)?;
    let dy2 = b.mul(dy, dy)?;
    let nn = b.add(dx2, dy2)?;
    let norm = b.op("norm", Op::Sqrt(Sqrt {}), &[nn])?;
    let zero = b.scalar("zero", 0.0)?;
    let one = b.scalar("one", 1.0)?;
    let same = b.op("same_points", Op::Equal(Equal {}), &[norm, zero])?;
    let c0 = b.op("cos_div", Op::Div(Div {}), &[dx, norm])?;
    let s0 = b.op("sin_div", Op::Div(Div {}), &[dy, norm])?;
    let cos_t = b.op("cos_theta", Op::Where(Where {}), &[same, one, c0])?;
    let sin_t = b.op("sin_theta", Op::Where(Where {}), &[same, zero, s0])?;
    // r = target − θ.
    let (ct, st) = (target.cos(), target.sin());
    let a1 = b.mul_c(cos_t, ct)?;
    let a2 = b.mul_c(sin_t, st)?;
    let cr = b.add(a1, a2)?;
    let b1 = b.mul_c(cos_t, st)?;
    let b2 = b.mul_c(sin_t, ct)?;
    let sr = b.sub(b1, b2)?;
    // Bounding box of the rotated subset.
    let pts = b.gather(x_in, &subset, 1)?; // [1, K, 3]
    let px = b.slice(pts, 2, 0, 1)?;
    let py = b.slice(pts, 2, 1, 2)?;
    let t1 = b.mul(cr, px)?;
    let t2 = b.mul(sr, py)?;
    let rx = b.sub(t1, t2)?;
    let t3 = b.mul(sr, px)?;
    let t4 = b.mul(cr, py)?;
    let ry = b.add(t3, t4)?;
    let (max_x, min_x) = (b.reduce(rx, true)?, b.reduce(rx, false)?);
    let (max_y, min_y) = (b.reduce(ry, true)?, b.reduce(ry, false)?);
    let w = b.sub(max_x, min_x)?;
    let h = b.sub(max_y, min_y)?;
    let sum_x = b.add(min_x, max_x)?;
    let sum_y = b.add(min_y, max_y)?;
    let mx = b.mul_c(sum_x, 0.5)?;
    let my = b.mul_c(sum_y, 0.5)?;
    // Centre rotated back by −r.
    let u1 = b.mul(cr, mx)?;
    let u2 = b.mul(sr, my)?;
    let cxv = b.add(u1, u2)?;
    let v1 = b.mul(sr, mx)?;
    let v2 = b.mul(cr, my)?;
    let cyv = b.sub(v2, v1)?;
    // Scale: scale_x·w / W, scale_y·h / H.
    let swx = b.mul_c(w, scale_x)?;
    let wk = b.scalar("out_w", ow as f32)?;
    let sx = b.op("scale_x", Op::Div(Div {}), &[swx, wk])?;
    let shy = b.mul_c(h, scale_y)?;
    let hk = b.scalar("out_h", oh as f32)?;
    let sy = b.op("scale_y", Op::Div(Div {}), &[shy, hk])?;
    let (hx, hy) = (-(ow as f32) / 2.0, -(oh as f32) / 2.0);
    let m00 = b.mul(cr, sx)?;
    let m01 = b.mul(sr, sy)?;
    let nsr = b.op("neg_sin", Op::Neg(Neg {}), &[sr])?;
    let m10 = b.mul(nsr, sx)?;
    let m11 = b.mul(cr, sy)?;
    let e1 = b.mul_c(m00, hx)?;
    let e2 = b.mul_c(m01, hy)?;
    let e12 = b.add(e1, e2)?;
    let m03 = b.add(e12, cxv)?;
    let f1 = b.mul_c(m10, hx)?;
    let f2 = b.mul_c(m11, hy)?;
    let f12 = b.add(f1, f2)?;
    let m13 = b.add(f12, cyv)?;
    let z = b.f32s("zeros", vec![1, 1, 1], &[0.0])?;
    let row0 = b.concat(&[m00, m01, z, m03], 2)?;
    let row1 = b.concat(&[m10, m11, z, m13], 2)?;
    let rest = b.f32s("rows23", vec![1, 2, 4], &[0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0])?;
    let y = b.concat(&[row0, row1, rest], 1)?;
    cx.output(g, 0, y)?;
    Ok(())
}

pub fn transform_tensor_bilinear(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    const OP: &str = "TransformTensorBilinear";
    check_version(cx, OP)?;
    check_io(cx, OP, 2)?;
    let s = shape_of(cx, OP, 0, 4)?;
    check_matrix(cx, OP, 1)?;
    let (h, w, c) = (s[1], s[2], s[3]);
    if s[0] != 1 || h == 0 || w == 0 || c == 0 {
        return Err(Fail::Issue(format!(
            "{OP}: input has shape {s:?}, expected [1, H, W, C] with H, W, C ≥ 1"
        )));
    }
    if h.checked_mul(w).is_none_or(|hw| hw > 1 << 24) {
        return Err(Fail::Issue(format!("{OP}: input of {h}×{w} pixels is too large")));
    }
    let m = options(cx, OP)?;
    let oh = opt_size(&m, OP, "output_height", 1 << 12)? as usize;
    let ow = opt_size(&m, OP, "output_width", 1 << 12)? as usize;
    let want = [1, oh, ow, c];
    if let Ok(os) = cx.out_shape(0)
        && os != want
    {
        return Err(Fail::Issue(format!("{OP}: output has shape {os:?}, the options give {want:?}")));
    }
    let p = oh * ow;
    // Output pixel centres (ox + ½, oy + ½, 0, 1), one row per pixel.
    let mut grid = Vec::with_capacity(p * 4);
    for oy in 0..oh {
        for ox in 0..ow {
            grid.extend_from_slice(&[ox as f32 + 0.5, oy as f32 + 0.5, 0.0, 1.0]);
        }
    }
    let x_in = cx.input(g, 0)?;
    let mat = cx.input(g, 1)?;
    let mut b = B { cx, g };
    let grid = b.f32s("grid", vec![p, 4], &grid)?;
    let m44 = b.reshape(mat, &[4, 4])?;
    let mt = b.op("matrix_t", Op::Transpose(Transpose { perm: vec![1, 0] }), &[m44])?;
    let tc = b.op("coords", Op::MatMul(MatMul {}), &[grid, mt])?; // [P, 4]
    let tx0 = b.slice(tc, 1, 0, 1)?;
    let ty0 = b.slice(tc, 1, 1, 2)?;
    let half = b.scalar("half", 0.5)?;
    let tx = b.sub(tx0, half)?; // [P, 1]
    let ty = b.sub(ty0, half)?;
    // In range: 0 ≤ X ≤ W − 1 and 0 ≤ Y ≤ H − 1.
    let zero = b.scalar("zero", 0.0)?;
    let wmax = b.scalar("w_max", (w - 1) as f32)?;
    let hmax = b.scalar("h_max", (h - 1) as f32)?;
    let c1 = b.op("x_ge0", Op::GreaterOrEqual(GreaterOrEqual {}), &[tx, zero])?;
    let c2 = b.op("x_le", Op::LessOrEqual(LessOrEqual {}), &[tx, wmax])?;
    let c3 = b.op("y_ge0", Op::GreaterOrEqual(GreaterOrEqual {}), &[ty, zero])?;
    let c4 = b.op("y_le", Op::LessOrEqual(LessOrEqual {}), &[ty, hmax])?;
    let c12 = b.op("in_x", Op::And(And {}), &[c1, c2])?;
    let c34 = b.op("in_y", Op::And(And {}), &[c3, c4])?;
    let inside = b.op("inside", Op::And(And {}), &[c12, c34])?;
    // Out-of-range (or NaN) coordinates become 0 before indexing, so every gather index is
    // valid whatever the matrix holds; those pixels are zeroed at the end.
    let tx = b.op("x_safe", Op::Where(Where {}), &[inside, tx, zero])?;
    let ty = b.op("y_safe", Op::Where(Where {}), &[inside, ty, zero])?;
    // Neighbours and weights.
    let x0 = b.op("x_floor", Op::Floor(Floor {}), &[tx])?;
    let y0 = b.op("y_floor", Op::Floor(Floor {}), &[ty])?;
    let fx = b.sub(tx, x0)?;
    let fy = b.sub(ty, y0)?;
    let one = b.scalar("one", 1.0)?;
    let x1 = b.add(x0, one)?;
    let y1 = b.add(y0, one)?;
    let clip = |b: &mut B<'_, '_, '_, '_, '_>, v: ValueId, hi: ValueId| b.op("clip", Op::Clip(Clip {}), &[v, zero, hi]);
    let x0c = clip(&mut b, x0, wmax)?;
    let x1c = clip(&mut b, x1, wmax)?;
    let y0c = clip(&mut b, y0, hmax)?;
    let y1c = clip(&mut b, y1, hmax)?;
    let wk = b.scalar("width", w as f32)?;
    let rows0 = b.mul(y0c, wk)?;
    let rows1 = b.mul(y1c, wk)?;
    let flat = b.reshape(x_in, &[(h * w) as i64, c as i64])?;
    let corner = |b: &mut B<'_, '_, '_, '_, '_>, row: ValueId, col: ValueId| -> Result<ValueId, String> {
        let k = b.add(row, col)?;
        let cast = Op::Cast(Cast {
            to: DType::I64.onnx_code() as i64,
            ..Default::default()
        });
        let ki = b.op("index", cast, &[k])?;
        let k1 = b.reshape(ki, &[p as i64])?;
        b.op("sample", Op::Gather(Gather { axis: 0 }), &[flat, k1])
    };
    let q11 = corner(&mut b, rows0, x0c)?;
    let q21 = corner(&mut b, rows0, x1c)?;
    let q12 = corner(&mut b, rows1, x0c)?;
    let q22 = corner(&mut b, rows1, x1c)?;
    let gx = b.sub(one, fx)?;
    let gy = b.sub(one, fy)?;
    let u1 = b.mul(gx, q11)?;
    let u2 = b.mul(fx, q21)?;
    let upper = b.add(u1, u2)?;
    let l1 = b.mul(gx, q12)?;
    let l2 = b.mul(fx, q22)?;
    let lower = b.add(l1, l2)?;
    let r1 = b.mul(fy, lower)?;
    let r2 = b.mul(gy, upper)?;
    let res = b.add(r1, r2)?; // [P, C]
    let masked = b.op("masked", Op::Where(Where {}), &[inside, res, zero])?;
    let y = b.reshape(masked, &[1, oh as i64, ow as i64, c as i64])?;
    cx.output(g, 0, y)?;
    Ok(())
}

pub fn transform_landmarks(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    const OP: &str = "TransformLandmarks";
    check_version(cx, OP)?;
    check_io(cx, OP, 2)?;
    let s = shape_of(cx, OP, 0, 3)?;
    check_matrix(cx, OP, 1)?;
    let d = match cx.out_shape(0) {
        Ok(os) if os.len() == 3 => os[2],
        Ok(os) => return Err(Fail::Issue(format!("{OP}: output has shape {os:?}, expected rank 3"))),
        Err(_) => s[2],
    };
    if d != 2 && d != 3 {
        return Err(Fail::Issue(format!("{OP}: landmark dimension {d} is not 2 or 3")));
    }
    if s[0] != 1 || s[2] != d {
        return Err(Fail::Issue(format!("{OP}: landmarks have shape {s:?}, expected [1, N, {d}]")));
    }
    let x_in = cx.input(g, 0)?;
    let mat = cx.input(g, 1)?;
    let mut b = B { cx, g };
    let m44 = b.reshape(mat, &[4, 4])?;
    let rows = b.slice(m44, 0, 0, 2)?; // [2, 4]
    let a = b.slice(rows, 1, 0, 2)?; // [2, 2]
    let at = b.op("linear_t", Op::Transpose(Transpose { perm: vec![1, 0] }), &[a])?;
    let t = b.slice(rows, 1, 3, 4)?; // [2, 1]
    let t = b.reshape(t, &[2])?;
    let xy = if d == 2 { x_in } else { b.slice(x_in, 2, 0, 2)? };
    let lin = b.op("linear", Op::MatMul(MatMul {}), &[xy, at])?;
    let mut y = b.add(lin, t)?;
    if d == 3 {
        let z = b.slice(x_in, 2, 2, 3)?;
        y = b.concat(&[y, z], 2)?;
    }
    cx.output(g, 0, y)?;
    Ok(())
}
