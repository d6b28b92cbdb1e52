//! MediaPipe's `MaxPoolingWithArgmax2D` and `MaxUnpooling2D` custom ops, lowered at import: tiny
//! one-op models (options = the C struct `TfLitePoolParams`) run on the evaluator against direct
//! loop implementations of the kernels, through TFLite and ONNX export round trips, and bad
//! operators give import errors naming the op and the cause.

mod common;
mod mediapipe_model;

use edgeport_ir::Tensor;
use mediapipe_model::*;

/// `TfLitePoolParams` words: padding (1 SAME, 2 VALID), stride w/h, filter w/h, activation, and
/// the runtime's computed padding (4 words, zero here).
fn pool_params(padding: i32, stride: (i32, i32), filter: (i32, i32), activation: i32) -> Vec<u8> {
    [padding, stride.1, stride.0, filter.1, filter.0, activation, 0, 0, 0, 0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect()
}

fn argmax_op(x: [i32; 4], out: [i32; 4], options: Option<Vec<u8>>) -> Custom<'static> {
    Custom {
        name: "MaxPoolingWithArgmax2D",
        version: 1,
        inputs: vec![x.to_vec()],
        outputs: vec![out.to_vec(), out.to_vec()],
        options,
    }
}

fn unpool_op(x: [i32; 4], out: [i32; 4], options: Option<Vec<u8>>) -> Custom<'static> {
    Custom {
        name: "MaxUnpooling2D",
        version: 1,
        inputs: vec![x.to_vec(), x.to_vec()],
        outputs: vec![out.to_vec()],
        options,
    }
}

/// The kernel's loops: window origin `o·s − pad`, cells outside the input skipped, first strict
/// maximum in row-major order, index `y·kw + x + 0.1`, then the activation clamp.
fn argmax_reference(x: &[f64], [n, h, w, c]: [usize; 4], k: (usize, usize), same: bool, clamp: (f64, f64)) -> (Vec<f64>, Vec<f64>) {
    let size = |inp: usize, k: usize| if same { inp.div_ceil(k) } else { inp / k };
    let (oh, ow) = (size(h, k.0), size(w, k.1));
    let pad = |out: usize, k: usize, inp: usize| ((out * k).saturating_sub(inp) / 2) as i64;
    let (ph, pw) = (pad(oh, k.0, h), pad(ow, k.1, w));
    let (mut y, mut idx) = (Vec::new(), Vec::new());
    for b in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for ch in 0..c {
                    let (y0, x0) = (oy as i64 * k.0 as i64 - ph, ox as i64 * k.1 as i64 - pw);
                    let (mut best, mut at) = (f64::from(f32::MIN), 0usize);
                    for fy in 0..k.0 {
                        for fx in 0..k.1 {
                            let (iy, ix) = (y0 + fy as i64, x0 + fx as i64);
                            if iy < 0 || ix < 0 || iy >= h as i64 || ix >= w as i64 {
                                continue;
                            }
                            let v = x[((b * h + iy as usize) * w + ix as usize) * c + ch];
                            if v > best {
                                best = v;
                                at = fy * k.1 + fx;
                            }
                        }
                    }
                    y.push(best.clamp(clamp.0, clamp.1));
                    idx.push(f64::from(at as f32 + 0.1f32));
                }
            }
        }
    }
    (y, idx)
}

fn unpool_reference(x: &[f64], idx: &[f64], [n, h, w, c]: [usize; 4], k: (usize, usize)) -> Vec<f64> {
    let (oh, ow) = (h * k.0, w * k.1);
    let mut out = vec![0.0; n * oh * ow * c];
    for b in 0..n {
        for iy in 0..h {
            for ix in 0..w {
                for ch in 0..c {
                    let i = ((b * h + iy) * w + ix) * c + ch;
                    let j = idx[i] as usize;
                    let (oy, ox) = (iy * k.0 + j / k.1, ix * k.1 + j % k.1);
                    out[((b * oh + oy) * ow + ox) * c + ch] = x[i];
                }
            }
        }
    }
    out
}

fn f32_tensor(shape: [usize; 4], v: &[f64]) -> Tensor {
    Tensor::from_f32(shape.to_vec(), &v.iter().map(|&a| a as f32).collect::<Vec<_>>()).unwrap()
}

/// (input shape, filter (h, w), SAME, activation code, clamp range).
type Case = ([usize; 4], (usize, usize), bool, i32, (f64, f64));

#[test]
fn max_pool_argmax_matches_kernel_loops() {
    let mut rng = Rng(0xdead_beef_1234_5678);
    // The last case pads one row/column before (SAME, total padding 2); case 2 crops (VALID).
    let cases: [Case; 5] = [
        ([1, 6, 8, 3], (2, 2), true, 0, (f64::MIN, f64::MAX)),
        ([2, 7, 5, 2], (2, 2), true, 3, (0.0, 6.0)),
        ([1, 7, 9, 2], (3, 2), false, 1, (0.0, f64::MAX)),
        ([1, 5, 5, 1], (3, 3), true, 2, (-1.0, 1.0)),
        ([1, 7, 4, 2], (3, 3), true, 0, (f64::MIN, f64::MAX)),
    ];
    for (case, (shape, k, same, act, clamp)) in cases.into_iter().enumerate() {
        let [n, h, w, c] = shape;
        let len = n * h * w * c;
        // Values quantised to 1/8 so that ties occur (the first maximum must win).
        let x: Vec<f64> = (0..len).map(|_| ((rng.next() * 80.0 - 40.0).round()) / 8.0).collect();
        let size = |inp: usize, k: usize| if same { inp.div_ceil(k) } else { inp / k };
        let out = [n as i32, size(h, k.0) as i32, size(w, k.1) as i32, c as i32];
        let op = argmax_op(
            shape.map(|d| d as i32),
            out,
            Some(pool_params(
                if same { 1 } else { 2 },
                (k.0 as i32, k.1 as i32),
                (k.0 as i32, k.1 as i32),
                act,
            )),
        );
        let got = run_all(&op, &[f32_tensor(shape, &x)]);
        let (y, idx) = argmax_reference(&x, shape, k, same, clamp);
        assert_close(&got[0], &y, 0.0, &format!("MaxPoolingWithArgmax2D case {case} values"));
        assert_close(&got[1], &idx, 0.0, &format!("MaxPoolingWithArgmax2D case {case} indices"));
    }
}

#[test]
fn max_unpooling_matches_kernel_loops() {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    for (case, (shape, k)) in [([1usize, 3, 4, 2], (2usize, 2usize)), ([2, 2, 3, 3], (3, 2))]
        .into_iter()
        .enumerate()
    {
        let [n, h, w, c] = shape;
        let len = n * h * w * c;
        let x: Vec<f64> = (0..len).map(|_| f64::from((rng.next() * 10.0 - 5.0) as f32)).collect();
        // Window-local indices as MaxPoolingWithArgmax2D writes them (j + 0.1).
        let idx: Vec<f64> = (0..len)
            .map(|_| f64::from(((rng.next() * (k.0 * k.1) as f64).floor() as f32) + 0.1))
            .collect();
        let out = [n as i32, (h * k.0) as i32, (w * k.1) as i32, c as i32];
        let op = unpool_op(
            shape.map(|d| d as i32),
            out,
            Some(pool_params(1, (k.0 as i32, k.1 as i32), (k.0 as i32, k.1 as i32), 0)),
        );
        let got = run(&op, &[f32_tensor(shape, &x), f32_tensor(shape, &idx)]);
        let want = unpool_reference(&x, &idx, shape, k);
        assert_close(&got, &want, 0.0, &format!("MaxUnpooling2D case {case}"));
    }
}

#[test]
fn pooling_ops_reject_bad_operators() {
    let ok = || Some(pool_params(1, (2, 2), (2, 2), 0));
    let x = [1, 4, 4, 2];
    let o = [1, 2, 2, 2];
    err(
        &argmax_op(x, o, Some(pool_params(1, (1, 1), (2, 2), 0))),
        &["MaxPoolingWithArgmax2D", "stride 1×1 differs from filter 2×2"],
    );
    err(
        &argmax_op(x, o, Some(pool_params(3, (2, 2), (2, 2), 0))),
        &["MaxPoolingWithArgmax2D", "padding 3"],
    );
    err(
        &argmax_op(x, o, Some(pool_params(1, (2, 2), (2, 2), 4))),
        &["fused activation 4 is not supported"],
    );
    err(
        &argmax_op(x, o, Some(pool_params(1, (0, 0), (0, 0), 0))),
        &["stride_width 0 is out of range"],
    );
    err(&argmax_op(x, o, None), &["MaxPoolingWithArgmax2D", "custom options are missing"]);
    err(
        &argmax_op(x, o, Some(vec![1, 0, 0, 0, 2])),
        &["custom options hold 5 bytes, expected at least 24"],
    );
    err(
        &argmax_op(x, [1, 3, 2, 2], ok()),
        &["output 0 has shape [1, 3, 2, 2], the options give [1, 2, 2, 2]"],
    );
    err(
        &argmax_op([1, 1, 4, 2], [1, 0, 2, 2], Some(pool_params(2, (2, 2), (2, 2), 0))),
        &["height: a window of 2 does not fit an input of 1"],
    );
    err(
        &argmax_op([4, 4, 2, 1], o, ok()),
        &["output 0 has shape [1, 2, 2, 2], the options give [4, 2, 1, 1]"],
    );
    let mut one_out = argmax_op(x, o, ok());
    one_out.outputs.pop();
    err(&one_out, &["MaxPoolingWithArgmax2D", "has 2 outputs, the operator lists 1"]);
    err(
        &unpool_op(o, [1, 4, 5, 2], ok()),
        &["MaxUnpooling2D", "output has shape [1, 4, 5, 2], expected [1, 4, 4, 2]"],
    );
    let mut bad_idx = unpool_op(o, x, ok());
    bad_idx.inputs[1] = vec![1, 2, 3, 2];
    err(&bad_idx, &["MaxUnpooling2D", "indices have shape [1, 2, 3, 2]"]);
    let mut one_in = unpool_op(o, x, ok());
    one_in.inputs.pop();
    err(&one_in, &["MaxUnpooling2D", "takes 2 inputs, has 1"]);
    let mut rank3 = unpool_op(o, x, ok());
    rank3.inputs = vec![vec![2, 2, 2], vec![2, 2, 2]];
    err(&rank3, &["MaxUnpooling2D", "expected [N, H, W, C]"]);
}
