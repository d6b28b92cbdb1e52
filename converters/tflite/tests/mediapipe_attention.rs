//! MediaPipe's face-attention custom ops (Landmarks2TransformMatrix, TransformTensorBilinear,
//! TransformLandmarks, version 2), lowered at import: tiny one-op models built here (with their
//! FlexBuffers options) run on the evaluator against direct loop implementations of the kernels'
//! arithmetic, and malformed operators (input counts, shapes, options, versions, hostile option
//! bytes) give import errors naming the op and the cause, never a panic.

mod common;
mod mediapipe_model;

use edgeport_ir::Tensor;
use edgeport_tflite::import_bytes;
use mediapipe_model::*;

// ---- Landmarks2TransformMatrix ---------------------------------------------------------------

fn l2m_options(subset: &[i64], left: i64, right: i64, target: f64, scale: f64) -> Vec<u8> {
    flex_map(&[
        ("subset_idxs", V::Ints(subset.to_vec())),
        ("left_rotation_idx", V::I(left)),
        ("right_rotation_idx", V::I(right)),
        ("target_rotation_radians", V::F(target)),
        ("output_height", V::I(16)),
        ("output_width", V::I(12)),
        ("scale_x", V::F(scale)),
        ("scale_y", V::F(scale * 1.25)),
    ])
}

fn l2m(options: Option<Vec<u8>>, inputs: Vec<Vec<i32>>, version: i32) -> Custom<'static> {
    Custom {
        name: "Landmarks2TransformMatrix",
        version,
        inputs,
        outputs: vec![vec![1, 4, 4]],
        options,
    }
}

/// The kernel's construction: rotation by atan2, bounding box of the rotated subset, the product
/// shift · rotation · scale · shift of 4×4 matrices (in f64).
fn l2m_reference(lm: &[f64], subset: &[i64], left: usize, right: usize, target: f64, sx: f64, sy: f64) -> Vec<f64> {
    let p = |i: usize| (lm[3 * i], lm[3 * i + 1]);
    let (l, r) = (p(left), p(right));
    let rot = target - (r.1 - l.1).atan2(r.0 - l.0);
    let (c, s) = (rot.cos(), rot.sin());
    let (mut lo, mut hi) = ((f64::MAX, f64::MAX), (f64::MIN, f64::MIN));
    for &k in subset {
        let (x, y) = p(k as usize);
        let (a, b) = (c * x - s * y, s * x + c * y);
        lo = (lo.0.min(a), lo.1.min(b));
        hi = (hi.0.max(a), hi.1.max(b));
    }
    let (w, h) = (hi.0 - lo.0, hi.1 - lo.1);
    let (mx, my) = ((lo.0 + hi.0) / 2.0, (lo.1 + hi.1) / 2.0);
    let (ci, si) = ((-rot).cos(), (-rot).sin());
    let (cx, cy) = (ci * mx - si * my, si * mx + ci * my);
    let mul = |a: [[f64; 4]; 4], b: [[f64; 4]; 4]| {
        let mut o = [[0.0; 4]; 4];
        for i in 0..4 {
            for j in 0..4 {
                o[i][j] = (0..4).map(|k| a[i][k] * b[k][j]).sum();
            }
        }
        o
    };
    let eye = |f: &dyn Fn(&mut [[f64; 4]; 4])| {
        let mut m = [[0.0; 4]; 4];
        (0..4).for_each(|i| m[i][i] = 1.0);
        f(&mut m);
        m
    };
    let (ow, oh) = (12.0, 16.0);
    let t = mul(
        mul(
            mul(
                eye(&|m| {
                    m[0][3] = cx;
                    m[1][3] = cy
                }),
                eye(&|m| {
                    m[0][0] = ci;
                    m[0][1] = -si;
                    m[1][0] = si;
                    m[1][1] = ci
                }),
            ),
            eye(&|m| {
                m[0][0] = sx * w / ow;
                m[1][1] = sy * h / oh
            }),
        ),
        eye(&|m| {
            m[0][3] = -ow / 2.0;
            m[1][3] = -oh / 2.0
        }),
    );
    t.iter().flatten().copied().collect()
}

#[test]
fn landmarks_to_transform_matrix_matches_kernel_arithmetic() {
    let n = 10;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let subset = [1i64, 4, 7, 2, 9, 0, 5]; // odd length: MediaPipe repeats the last index
    for (case, (target, left, right)) in [(0.0, 3usize, 6usize), (0.4, 6, 3), (-1.2, 8, 1)].into_iter().enumerate() {
        let lm: Vec<f64> = (0..n * 3).map(|_| rng.next() * 20.0 - 5.0).collect();
        let c = l2m(
            Some(l2m_options(&subset, left as i64, right as i64, target, 1.5)),
            vec![vec![1, n as i32, 3]],
            2,
        );
        let x = Tensor::from_f32(vec![1, n, 3], &lm.iter().map(|&v| v as f32).collect::<Vec<_>>()).unwrap();
        let got = run(&c, &[x]);
        let lm32: Vec<f64> = lm.iter().map(|&v| f64::from(v as f32)).collect();
        let want = l2m_reference(&lm32, &subset, left, right, target, 1.5, 1.875);
        assert_close(&got, &want, 1e-4, &format!("Landmarks2TransformMatrix case {case}"));
    }
    // Coinciding rotation landmarks: atan2(0, 0) = 0.
    let mut lm: Vec<f64> = (0..n * 3).map(|_| rng.next() * 20.0).collect();
    lm[9] = lm[18];
    lm[10] = lm[19];
    let c = l2m(Some(l2m_options(&subset, 3, 6, 0.0, 1.5)), vec![vec![1, n as i32, 3]], 2);
    let x = Tensor::from_f32(vec![1, n, 3], &lm.iter().map(|&v| v as f32).collect::<Vec<_>>()).unwrap();
    let got = run(&c, &[x]);
    let lm32: Vec<f64> = lm.iter().map(|&v| f64::from(v as f32)).collect();
    let want = l2m_reference(&lm32, &subset, 3, 6, 0.0, 1.5, 1.875);
    assert_close(&got, &want, 1e-4, "Landmarks2TransformMatrix, coinciding landmarks");
}

#[test]
fn landmarks_to_transform_matrix_rejects_bad_operators() {
    let sh = || vec![vec![1, 10, 3]];
    let good = || Some(l2m_options(&[1, 2, 3], 0, 1, 0.0, 1.5));
    err(
        &l2m(good(), vec![vec![1, 10, 3], vec![1, 10, 3]], 2),
        &["Landmarks2TransformMatrix", "takes 1 inputs, has 2"],
    );
    err(
        &l2m(good(), vec![vec![1, 10, 2]], 2),
        &["Landmarks2TransformMatrix", "expected [1, N, 3]"],
    );
    err(
        &l2m(good(), vec![vec![2, 10, 3]], 2),
        &["Landmarks2TransformMatrix", "expected [1, N, 3]"],
    );
    err(&l2m(good(), vec![vec![10, 3]], 2), &["expected rank 3"]);
    err(&l2m(good(), sh(), 1), &["Landmarks2TransformMatrix", "version 1 is not supported"]);
    err(
        &l2m(Some(l2m_options(&[1, 2, 3], 10, 1, 0.0, 1.5)), sh(), 2),
        &["left_rotation_idx = 10 is out of range"],
    );
    err(
        &l2m(Some(l2m_options(&[1, 2, 3], 0, -1, 0.0, 1.5)), sh(), 2),
        &["right_rotation_idx = -1 is out of range"],
    );
    err(
        &l2m(Some(l2m_options(&[1, 12], 0, 1, 0.0, 1.5)), sh(), 2),
        &["subset_idxs value", "out of range"],
    );
    err(&l2m(Some(l2m_options(&[], 0, 1, 0.0, 1.5)), sh(), 2), &["subset_idxs is empty"]);
    err(
        &l2m(Some(l2m_options(&[1, 2], 0, 1, 0.0, 0.0)), sh(), 2),
        &["scale_x = 0 must be positive"],
    );
    err(&l2m(None, sh(), 2), &["Landmarks2TransformMatrix", "subset_idxs"]);
    let no_size = flex_map(&[("subset_idxs", V::Ints(vec![1, 2])), ("scale_x", V::F(1.0)), ("scale_y", V::F(1.0))]);
    err(&l2m(Some(no_size), sh(), 2), &["output_width = 0 is out of range"]);
}

// ---- TransformTensorBilinear -----------------------------------------------------------------

fn ttb(oh: i64, ow: i64, x: Vec<i32>, m: Vec<i32>, out: Vec<i32>) -> Custom<'static> {
    Custom {
        name: "TransformTensorBilinear",
        version: 2,
        inputs: vec![x, m],
        outputs: vec![out],
        options: Some(flex_map(&[("output_height", V::I(oh)), ("output_width", V::I(ow))])),
    }
}

/// The v2 kernel: sample at M·(x + ½, y + ½, 0, 1) − ½; 0 outside [0, W−1]×[0, H−1]; neighbours
/// past the edge read 0.
fn ttb_reference(x: &[f64], (h, w, c): (usize, usize, usize), m: &[f64], oh: usize, ow: usize) -> Vec<f64> {
    let at = |yy: i64, xx: i64, ch: usize| {
        if yy < 0 || xx < 0 || yy >= h as i64 || xx >= w as i64 {
            0.0
        } else {
            x[(yy as usize * w + xx as usize) * c + ch]
        }
    };
    let mut out = Vec::new();
    for oy in 0..oh {
        for ox in 0..ow {
            let (px, py) = (ox as f64 + 0.5, oy as f64 + 0.5);
            let tx = m[0] * px + m[1] * py + m[3] - 0.5;
            let ty = m[4] * px + m[5] * py + m[7] - 0.5;
            let outside = tx < 0.0 || tx > (w - 1) as f64 || ty < 0.0 || ty > (h - 1) as f64;
            for ch in 0..c {
                if outside {
                    out.push(0.0);
                    continue;
                }
                let (fx, fy) = (tx.floor(), ty.floor());
                let (rx, ry) = (tx - fx, ty - fy);
                let (fx, fy) = (fx as i64, fy as i64);
                let upper = (1.0 - rx) * at(fy, fx, ch) + rx * at(fy, fx + 1, ch);
                let lower = (1.0 - rx) * at(fy + 1, fx, ch) + rx * at(fy + 1, fx + 1, ch);
                out.push(ry * lower + (1.0 - ry) * upper);
            }
        }
    }
    out
}

#[test]
fn transform_tensor_bilinear_matches_kernel_arithmetic() {
    let (h, w, c, oh, ow) = (5usize, 6usize, 3usize, 7usize, 8usize);
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let x: Vec<f64> = (0..h * w * c).map(|_| f64::from((rng.next() * 4.0 - 2.0) as f32)).collect();
    // Dyadic matrices: coordinates are exact in f32, so the in-range test and the edges
    // (X = 0, X = W − 1 exactly) decide the same way as in f64. Some pixels fall outside.
    let mats: [[f64; 16]; 3] = [
        [0.75, 0.25, 0.0, -0.5, -0.25, 1.0, 0.0, 0.75, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0],
        [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0],
        [
            -0.5, 0.125, 0.0, 5.25, 0.375, 0.5, 0.0, -0.625, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0,
        ],
    ];
    let spec = ttb(
        oh as i64,
        ow as i64,
        vec![1, h as i32, w as i32, c as i32],
        vec![1, 4, 4],
        vec![1, oh as i32, ow as i32, c as i32],
    );
    let xt = Tensor::from_f32(vec![1, h, w, c], &x.iter().map(|&v| v as f32).collect::<Vec<_>>()).unwrap();
    for (k, m) in mats.iter().enumerate() {
        let mt = Tensor::from_f32(vec![1, 4, 4], &m.iter().map(|&v| v as f32).collect::<Vec<_>>()).unwrap();
        let got = run(&spec, &[xt.clone(), mt]);
        let want = ttb_reference(&x, (h, w, c), m, oh, ow);
        let zeros = want.iter().filter(|v| **v == 0.0).count();
        assert!(k == 1 || zeros > 0, "matrix {k} should send some pixels outside");
        assert_close(&got, &want, 1e-5, &format!("TransformTensorBilinear matrix {k}"));
    }
    // A matrix of NaN / infinities samples nothing: all zeros, no bad gather index.
    for v in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1e30] {
        let mt = Tensor::from_f32(vec![1, 4, 4], &[v; 16]).unwrap();
        let got = run(&spec, &[xt.clone(), mt]);
        assert!(got.iter().all(|&y| y == 0.0), "matrix of {v}: {got:?}");
    }
}

#[test]
fn transform_tensor_bilinear_rejects_bad_operators() {
    let x = || vec![1, 4, 4, 2];
    let m = || vec![1, 4, 4];
    let out = || vec![1, 3, 3, 2];
    err(
        &ttb(3, 3, x(), vec![1, 3, 4], out()),
        &["TransformTensorBilinear", "expected [1, 4, 4]"],
    );
    err(
        &ttb(3, 3, vec![4, 4, 2], m(), out()),
        &["TransformTensorBilinear", "expected rank 4"],
    );
    err(&ttb(3, 3, vec![2, 4, 4, 2], m(), out()), &["expected [1, H, W, C]"]);
    err(&ttb(0, 3, x(), m(), out()), &["output_height = 0 is out of range"]);
    err(
        &ttb(3, 5, x(), m(), out()),
        &["output has shape [1, 3, 3, 2], the options give [1, 3, 5, 2]"],
    );
    let mut one = ttb(3, 3, x(), m(), out());
    one.inputs.pop();
    err(&one, &["TransformTensorBilinear", "takes 2 inputs, has 1"]);
    let mut v1 = ttb(3, 3, x(), m(), out());
    v1.version = 1;
    err(&v1, &["version 1 is not supported"]);
}

// ---- TransformLandmarks ----------------------------------------------------------------------

fn tl(x: Vec<i32>, m: Vec<i32>, out: Vec<i32>) -> Custom<'static> {
    Custom {
        name: "TransformLandmarks",
        version: 2,
        inputs: vec![x, m],
        outputs: vec![out],
        options: None,
    }
}

#[test]
fn transform_landmarks_matches_kernel_arithmetic() {
    let mut rng = Rng(0x0f0f_1234_5555_aaaa);
    for d in [2usize, 3] {
        let n = 9;
        let lm: Vec<f64> = (0..n * d).map(|_| f64::from((rng.next() * 30.0 - 10.0) as f32)).collect();
        let m: Vec<f64> = (0..16).map(|_| f64::from((rng.next() * 4.0 - 2.0) as f32)).collect();
        let spec = tl(vec![1, n as i32, d as i32], vec![1, 4, 4], vec![1, n as i32, d as i32]);
        let xt = Tensor::from_f32(vec![1, n, d], &lm.iter().map(|&v| v as f32).collect::<Vec<_>>()).unwrap();
        let mt = Tensor::from_f32(vec![1, 4, 4], &m.iter().map(|&v| v as f32).collect::<Vec<_>>()).unwrap();
        let got = run(&spec, &[xt, mt]);
        let mut want = Vec::new();
        for p in lm.chunks(d) {
            want.push(m[0] * p[0] + m[1] * p[1] + m[3]);
            want.push(m[4] * p[0] + m[5] * p[1] + m[7]);
            if d == 3 {
                want.push(p[2]);
            }
        }
        assert_close(&got, &want, 1e-4, &format!("TransformLandmarks d={d}"));
    }
}

#[test]
fn transform_landmarks_rejects_bad_operators() {
    err(
        &tl(vec![1, 5, 4], vec![1, 4, 4], vec![1, 5, 4]),
        &["TransformLandmarks", "landmark dimension 4 is not 2 or 3"],
    );
    err(&tl(vec![1, 5, 2], vec![1, 4, 4], vec![1, 5, 3]), &["expected [1, N, 3]"]);
    err(&tl(vec![1, 1, 5, 2], vec![1, 4, 4], vec![1, 1, 5, 2]), &["expected rank 3"]);
    err(
        &tl(vec![1, 5, 2], vec![16], vec![1, 5, 2]),
        &["TransformLandmarks", "expected [1, 4, 4]"],
    );
    let mut v1 = tl(vec![1, 5, 2], vec![1, 4, 4], vec![1, 5, 2]);
    v1.version = 1;
    err(&v1, &["TransformLandmarks", "version 1 is not supported"]);
}

// ---- hostile option bytes ----------------------------------------------------------------------

#[test]
fn hostile_option_bytes_never_panic() {
    let good = l2m_options(&[1, 2, 3, 4], 0, 5, 0.25, 1.5);
    let sh = || vec![vec![1, 10, 3]];
    // Every truncation of a valid map, and every single-byte corruption of it.
    for cut in 0..good.len() {
        let _ = import_bytes(model(&l2m(Some(good[..cut].to_vec()), sh(), 2)), FILE);
    }
    for i in 0..good.len() {
        for v in [0u8, 1, 0x7f, 0x80, 0xff] {
            let mut b = good.clone();
            b[i] = v;
            let _ = import_bytes(model(&l2m(Some(b), sh(), 2)), FILE);
        }
    }
    let mut rng = Rng(42);
    for len in 0..300 {
        let b: Vec<u8> = (0..len % 97).map(|_| (rng.next() * 256.0) as u8).collect();
        let _ = import_bytes(model(&l2m(Some(b), sh(), 2)), FILE);
    }
    // A map whose root is not a map, and garbage, are errors naming the op.
    err(
        &l2m(Some(vec![5, 4, 1]), sh(), 2),
        &["Landmarks2TransformMatrix", "not a FlexBuffers map"],
    );
    err(&l2m(Some(vec![0xff; 3]), sh(), 2), &["Landmarks2TransformMatrix", "custom options"]);
}

// ---- options encoded by the reference FlexBuffers library ------------------------------------

/// `flexbuffers.Dumps` (python flatbuffers 25.x) of the map {left_rotation_idx: 3,
/// output_height: 16, output_width: 12, right_rotation_idx: 6, scale_x: 1.5, scale_y: 1.875,
/// subset_idxs: [1, 4, 7, 2, 9, 0, 5], target_rotation_radians: 0.4}: an untyped vector of 1-byte
/// ints, 8-byte floats, 1-byte keys offsets.
const PY_OPTIONS: [u8; 243] = [
    108, 101, 102, 116, 95, 114, 111, 116, 97, 116, 105, 111, 110, 95, 105, 100, 120, 0, 111, 117, 116, 112, 117, 116, 95, 104, 101, 105,
    103, 104, 116, 0, 111, 117, 116, 112, 117, 116, 95, 119, 105, 100, 116, 104, 0, 114, 105, 103, 104, 116, 95, 114, 111, 116, 97, 116,
    105, 111, 110, 95, 105, 100, 120, 0, 115, 99, 97, 108, 101, 95, 120, 0, 115, 99, 97, 108, 101, 95, 121, 0, 115, 117, 98, 115, 101, 116,
    95, 105, 100, 120, 115, 0, 7, 1, 4, 7, 2, 9, 0, 5, 4, 4, 4, 4, 4, 4, 4, 116, 97, 114, 103, 101, 116, 95, 114, 111, 116, 97, 116, 105,
    111, 110, 95, 114, 97, 100, 105, 97, 110, 115, 0, 8, 132, 115, 102, 90, 72, 65, 58, 32, 0, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0,
    0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 248, 63, 0, 0, 0, 0, 0, 0, 254, 63, 123, 0, 0, 0, 0, 0, 0, 0, 154, 153, 153, 153, 153, 153, 217, 63, 7, 7, 7, 7,
    15, 15, 40, 15, 72, 39, 1,
];

/// The same with subset_idxs [1, 4, 7, 300, 2] (2-byte vector elements).
const PY_OPTIONS_300: [u8; 243] = [
    108, 101, 102, 116, 95, 114, 111, 116, 97, 116, 105, 111, 110, 95, 105, 100, 120, 0, 111, 117, 116, 112, 117, 116, 95, 104, 101, 105,
    103, 104, 116, 0, 111, 117, 116, 112, 117, 116, 95, 119, 105, 100, 116, 104, 0, 114, 105, 103, 104, 116, 95, 114, 111, 116, 97, 116,
    105, 111, 110, 95, 105, 100, 120, 0, 115, 99, 97, 108, 101, 95, 120, 0, 115, 99, 97, 108, 101, 95, 121, 0, 115, 117, 98, 115, 101, 116,
    95, 105, 100, 120, 115, 0, 5, 0, 1, 0, 4, 0, 7, 0, 44, 1, 2, 0, 5, 5, 5, 5, 5, 116, 97, 114, 103, 101, 116, 95, 114, 111, 116, 97, 116,
    105, 111, 110, 95, 114, 97, 100, 105, 97, 110, 115, 0, 8, 134, 117, 104, 92, 74, 67, 60, 32, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 248, 63, 0, 0, 0, 0, 0, 0, 254, 63, 122, 0, 0, 0, 0, 0, 0, 0, 154, 153, 153, 153, 153, 153, 217, 63, 7, 7, 7, 7, 15,
    15, 41, 15, 72, 39, 1,
];

#[test]
fn options_from_the_reference_flexbuffers_encoder() {
    let n = 10;
    let mut rng = Rng(77);
    let lm: Vec<f64> = (0..n * 3).map(|_| f64::from((rng.next() * 20.0 - 5.0) as f32)).collect();
    let x = Tensor::from_f32(vec![1, n, 3], &lm.iter().map(|&v| v as f32).collect::<Vec<_>>()).unwrap();
    let got = run(&l2m(Some(PY_OPTIONS.to_vec()), vec![vec![1, n as i32, 3]], 2), &[x]);
    let want = l2m_reference(&lm, &[1, 4, 7, 2, 9, 0, 5], 3, 6, 0.4, 1.5, 1.875);
    assert_close(&got, &want, 1e-4, "Landmarks2TransformMatrix with encoder-made options");
    err(
        &l2m(Some(PY_OPTIONS_300.to_vec()), vec![vec![1, n as i32, 3]], 2),
        &["subset_idxs value Int(300) is out of range for 10 landmarks"],
    );
}
