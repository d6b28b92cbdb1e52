//! Unit tests of the nn group: channels-last layout wrapper, conv against a naive loop, and an
//! ignored timing test of a ResNet-sized conv (`cargo test --release -p edgeport-eval -- --ignored conv_timing --nocapture`).

use super::common::{to_channels_first, to_channels_last};
use super::conv::{ConvAttrs, conv};
use crate::tensor::Tensor;
use crate::value::Value;
use edgeport_ir::Graph;
use edgeport_ir::ops::Layout;
use edgeport_ir::ops::Op;
use edgeport_ir::ops::nn::{AveragePool, BatchNormalization, Conv, ConvTranspose, InstanceNormalization, MaxPool};
use ndarray::{ArrayD, IxDyn};

fn t(shape: &[usize], seed: u32) -> Tensor {
    let n: usize = shape.iter().product();
    let mut s = seed.wrapping_mul(2654435761).wrapping_add(12345);
    let v = (0..n)
        .map(|_| {
            s = s.wrapping_mul(1103515245).wrapping_add(12345);
            ((s >> 8) % 2000) as f32 / 1000.0 - 1.0
        })
        .collect();
    Tensor::F32(ArrayD::from_shape_vec(IxDyn(shape), v).unwrap())
}

/// Runs a one-node graph on `inputs` and returns its first output.
fn run1(op: Op, inputs: &[Tensor]) -> Tensor {
    let mut g = Graph::new("t");
    let ins: Vec<_> = (0..inputs.len()).map(|i| Some(g.add_input(format!("i{i}"), None))).collect();
    let id = g.add_op("n", op, &ins, &["y"]).unwrap();
    g.add_output("y", id.out(0)).unwrap();
    let vals = inputs.iter().cloned().map(Value::Tensor).collect();
    crate::run_graph(&g, vals).unwrap().remove(0).into_tensor().unwrap()
}

fn close(a: &Tensor, b: &Tensor) {
    assert_eq!(a.shape(), b.shape());
    let (x, y) = (a.to_f64_vec().unwrap(), b.to_f64_vec().unwrap());
    for (p, q) in x.iter().zip(&y) {
        assert!((p - q).abs() <= 1e-4 * (1.0 + q.abs()), "{p} vs {q}");
    }
}

/// Runs `make(layout)` on NCHW data and on its NHWC transpose, and checks they agree.
fn check_layout(make: impl Fn(Layout) -> Op, x: Tensor, rest: &[Tensor]) {
    let mut a = vec![x.clone()];
    a.extend_from_slice(rest);
    let cf = run1(make(Layout::ChannelsFirst), &a);
    a[0] = to_channels_last(&x).unwrap();
    let cl = run1(make(Layout::ChannelsLast), &a);
    close(&to_channels_first(&cl).unwrap(), &cf);
}

#[test]
fn channels_last_matches_channels_first() {
    let x = t(&[2, 3, 7, 6], 1);
    check_layout(
        |layout| {
            Op::Conv(Conv {
                group: 1,
                strides: vec![2, 1],
                pads: vec![1, 0, 1, 2],
                layout,
                ..Default::default()
            })
        },
        x.clone(),
        &[t(&[4, 3, 3, 2], 2), t(&[4], 3)],
    );
    check_layout(
        |layout| {
            Op::ConvTranspose(ConvTranspose {
                group: 1,
                strides: vec![2, 2],
                layout,
                ..Default::default()
            })
        },
        x.clone(),
        &[t(&[3, 2, 3, 3], 4)],
    );
    check_layout(
        |layout| {
            Op::MaxPool(MaxPool {
                kernel_shape: vec![2, 3],
                ceil_mode: 1,
                strides: vec![2, 2],
                layout,
                ..Default::default()
            })
        },
        x.clone(),
        &[],
    );
    check_layout(
        |layout| {
            Op::AveragePool(AveragePool {
                kernel_shape: vec![3, 3],
                pads: vec![1, 1, 1, 1],
                layout,
                ..Default::default()
            })
        },
        x.clone(),
        &[],
    );
    let c = || t(&[3], 5);
    let var = Tensor::F32(ArrayD::from_elem(IxDyn(&[3]), 0.5));
    check_layout(
        |layout| {
            Op::BatchNormalization(BatchNormalization {
                epsilon: 1e-5,
                momentum: 0.9,
                layout,
                ..Default::default()
            })
        },
        x.clone(),
        &[c(), c(), c(), var],
    );
    check_layout(
        |layout| Op::InstanceNormalization(InstanceNormalization { epsilon: 1e-5, layout }),
        x,
        &[c(), c()],
    );
}

/// A naive 2-D conv for cross-checking.
#[allow(clippy::too_many_arguments)]
fn naive(x: &[f32], xs: [usize; 4], w: &[f32], ws: [usize; 4], s: usize, d: usize, p: usize, g: usize) -> Vec<f32> {
    let [n, c, h, wd] = xs;
    let [m, cg, kh, kw] = ws;
    let oh = (h + 2 * p - d * (kh - 1) - 1) / s + 1;
    let ow = (wd + 2 * p - d * (kw - 1) - 1) / s + 1;
    let mg = m / g;
    let mut y = vec![0f32; n * m * oh * ow];
    for b in 0..n {
        for o in 0..m {
            for i in 0..oh {
                for j in 0..ow {
                    let mut acc = 0f32;
                    for cc in 0..cg {
                        let ci = (o / mg) * cg + cc;
                        for a in 0..kh {
                            for e in 0..kw {
                                let yy = (i * s + a * d) as isize - p as isize;
                                let xx = (j * s + e * d) as isize - p as isize;
                                if yy >= 0 && xx >= 0 && (yy as usize) < h && (xx as usize) < wd {
                                    acc += x[((b * c + ci) * h + yy as usize) * wd + xx as usize] * w[((o * cg + cc) * kh + a) * kw + e];
                                }
                            }
                        }
                    }
                    y[((b * m + o) * oh + i) * ow + j] = acc;
                }
            }
        }
    }
    y
}

#[test]
fn conv_matches_naive() {
    for (g, c, m) in [(1usize, 4usize, 6usize), (2, 4, 6), (4, 4, 8)] {
        let x = t(&[2, c, 9, 8], 7);
        let w = t(&[m, c / g, 3, 3], 8);
        let a = ConvAttrs {
            auto_pad: "NOTSET",
            dilations: &[2, 2],
            group: g as i64,
            kernel_shape: &[],
            pads: &[1, 1, 1, 1],
            strides: &[2, 2],
        };
        let y = conv(&a, &x, &w, None).unwrap();
        let (Tensor::F32(xa), Tensor::F32(wa)) = (&x, &w) else {
            unreachable!()
        };
        let r = naive(
            xa.as_slice().unwrap(),
            [2, c, 9, 8],
            wa.as_slice().unwrap(),
            [m, c / g, 3, 3],
            2,
            2,
            1,
            g,
        );
        let rt = Tensor::F32(ArrayD::from_shape_vec(IxDyn(y.shape()), r).unwrap());
        close(&y, &rt);
    }
}

#[test]
#[ignore]
fn conv_timing() {
    let x = t(&[1, 64, 56, 56], 1);
    let w = t(&[64, 64, 3, 3], 2);
    let a = ConvAttrs {
        auto_pad: "NOTSET",
        dilations: &[],
        group: 1,
        kernel_shape: &[],
        pads: &[1, 1, 1, 1],
        strides: &[],
    };
    let _ = conv(&a, &x, &w, None).unwrap();
    let t0 = std::time::Instant::now();
    let reps = 10;
    for _ in 0..reps {
        let _ = conv(&a, &x, &w, None).unwrap();
    }
    eprintln!(
        "1x64x56x56 3x3 conv (64 out): {:.2} ms",
        t0.elapsed().as_secs_f64() * 1e3 / reps as f64
    );
    let wd = t(&[64, 1, 3, 3], 3);
    let ad = ConvAttrs { group: 64, ..a };
    let t0 = std::time::Instant::now();
    for _ in 0..reps {
        let _ = conv(&ad, &x, &wd, None).unwrap();
    }
    eprintln!(
        "1x64x56x56 3x3 depthwise conv: {:.2} ms",
        t0.elapsed().as_secs_f64() * 1e3 / reps as f64
    );
}
