//! Tests of the Winograd conv: F(2×2) and F(4×4) against a direct f64 conv on random data over
//! many shapes (odd sizes, symmetric and asymmetric padding 0–2, batch > 1, with and without
//! bias, sizes that are not a multiple of the tile, several bands), the ONNX Conv node in both
//! layouts and with a constant cache (the transform made once), the heuristic's refusals, bad
//! inputs, and an ignored timing comparison with im2col on ResNet-18's shapes
//! (`cargo test -p edgeport-eval winograd_timing -- --ignored --nocapture`).

use super::super::conv::{ConvAttrs, conv_core, conv_geom};
use super::*;
use crate::tensor::Tensor;
use crate::value::Value;
use edgeport_ir::Graph;
use edgeport_ir::ops::Layout;
use edgeport_ir::ops::Op;
use edgeport_ir::ops::nn::Conv;
use ndarray::{ArrayD, IxDyn};

fn rand(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) as f32
        })
        .collect()
}

fn attrs(pads: &[i64; 4]) -> ConvAttrs<'_> {
    ConvAttrs {
        auto_pad: "NOTSET",
        dilations: &[],
        group: 1,
        kernel_shape: &[],
        pads,
        strides: &[],
    }
}

/// One case: (n, c, m, h, w, pads [top, left, bottom, right], bias).
type Case = (usize, usize, usize, usize, usize, [i64; 4], bool);

/// Winograd with `tile` (and band size `band`) against the f64 direct conv: returns the max
/// abs error relative to the reference's largest magnitude, and the same for f32 im2col.
fn rel_error(case: Case, tile: Tile, band: usize, seed: u64) -> (f64, f64) {
    let (n, c, m, h, w, pads, bias) = case;
    let xs = [n, c, h, w];
    let ws = [m, c, 3, 3];
    let x = rand(n * c * h * w, seed);
    let wt = rand(m * c * 9, seed + 1);
    let b = bias.then(|| rand(m, seed + 2));
    let (g, group) = conv_geom(&attrs(&pads), &xs, &ws).unwrap();
    let f = Filter::new(tile, &wt, &ws).unwrap();
    let (y, ys) = conv_banded(&x, &xs, &f, b.as_deref(), &g, band).unwrap();
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let w64: Vec<f64> = wt.iter().map(|&v| v as f64).collect();
    let b64: Option<Vec<f64>> = b.as_ref().map(|b| b.iter().map(|&v| v as f64).collect());
    let (r, rs) = conv_core(&x64, &xs, &w64, &ws, b64.as_deref(), &g, group).unwrap();
    let (y32, _) = conv_core(&x, &xs, &wt, &ws, b.as_deref(), &g, group).unwrap();
    assert_eq!(ys, rs, "{case:?}");
    let mag = r.iter().fold(0f64, |a, v| a.max(v.abs())).max(1e-30);
    let err = |v: &[f32]| v.iter().zip(&r).fold(0f64, |a, (p, q)| a.max((*p as f64 - q).abs())) / mag;
    (err(&y), err(&y32))
}

const CASES: &[Case] = &[
    (1, 16, 16, 8, 8, [1, 1, 1, 1], true),
    (2, 17, 19, 9, 11, [1, 1, 1, 1], false),
    (1, 32, 24, 13, 7, [0, 0, 0, 0], true),
    (1, 16, 16, 10, 10, [2, 2, 2, 2], true),
    (1, 20, 18, 12, 9, [0, 1, 2, 0], true),
    (3, 16, 33, 6, 6, [1, 0, 0, 1], false),
    (1, 1, 1, 3, 3, [0, 0, 0, 0], true),
    (1, 3, 5, 5, 4, [2, 0, 1, 2], true),
    (2, 64, 64, 14, 14, [1, 1, 1, 1], true),
    (1, 128, 32, 23, 17, [1, 1, 1, 1], false),
    (1, 256, 48, 7, 7, [1, 1, 1, 1], true),
    (1, 512, 16, 7, 7, [1, 1, 1, 1], false),
];

/// Relative error bounds (max abs error over the output's largest magnitude, against f64) met
/// on every case: F(4×4) ≤ 1e-5 (measured up to 9e-6), F(2×2) ≤ 1e-6 (up to 8.3e-7); f32
/// im2col's own is up to 1.2e-6.
const BOUND: f64 = 1e-5;
const BOUND_F2: f64 = 1e-6;

#[test]
fn matches_direct_conv_over_many_shapes() {
    for (k, &case) in CASES.iter().enumerate() {
        for tile in [Tile::F2, Tile::F4] {
            // Default bands, then bands of one tile row.
            for band in [BAND_BYTES, 1] {
                let (e, e32) = rel_error(case, tile, band, 10 * k as u64);
                eprintln!("{case:?} {tile:?} band {band}: winograd {e:.2e}, im2col f32 {e32:.2e}");
                let bound = if tile == Tile::F2 { BOUND_F2 } else { BOUND };
                assert!(e <= bound, "{case:?} {tile:?}: relative error {e:.3e} > {bound:e}");
            }
        }
    }
}

#[test]
fn conv_node_uses_it_in_both_layouts_and_with_cached_weights() {
    let (n, c, m, h, w) = (2, 16, 24, 23, 21);
    let x = ArrayD::from_shape_vec(IxDyn(&[n, c, h, w]), rand(n * c * h * w, 5)).unwrap();
    let wt = ArrayD::from_shape_vec(IxDyn(&[m, c, 3, 3]), rand(m * c * 9, 6)).unwrap();
    let b = ArrayD::from_shape_vec(IxDyn(&[m]), rand(m, 7)).unwrap();
    let (xt, wt_t, bt) = (Tensor::F32(x.clone()), Tensor::F32(wt.clone()), Tensor::F32(b.clone()));
    let pads = [1i64, 1, 1, 1];
    let want = super::super::conv::conv(&attrs(&pads), &xt, &wt_t, Some(&bt)).unwrap();
    // The same geometry is Winograd's.
    let (g, group) = conv_geom(&attrs(&pads), &[n, c, h, w], &[m, c, 3, 3]).unwrap();
    assert_eq!(choose(&[n, c, h, w], &[m, c, 3, 3], &g, group, false), Some(Tile::F4));
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let w64: Vec<f64> = wt.iter().map(|&v| v as f64).collect();
    let b64: Vec<f64> = b.iter().map(|&v| v as f64).collect();
    let (r, _) = conv_core(&x64, &[n, c, h, w], &w64, &[m, c, 3, 3], Some(&b64), &g, group).unwrap();
    let mag = r.iter().fold(0f64, |a, v| a.max(v.abs()));
    // The Winograd result itself: the node's output must be exactly this.
    let xv: Vec<f32> = x.iter().copied().collect();
    let wv: Vec<f32> = wt.iter().copied().collect();
    let bv: Vec<f32> = b.iter().copied().collect();
    let f = Filter::new(Tile::F4, &wv, &[m, c, 3, 3]).unwrap();
    let (exact, _) = conv(&xv, &[n, c, h, w], &f, Some(&bv), &g).unwrap();
    let check = |got: &Tensor| {
        assert_eq!(got.shape(), &[n, m, h, w]);
        assert_eq!(got.to_f32_array().unwrap().iter().copied().collect::<Vec<f32>>(), exact);
        let v = got.to_f64_vec().unwrap();
        let e = v.iter().zip(&r).fold(0f64, |a, (p, q)| a.max((p - q).abs()));
        assert!(e <= BOUND * mag, "error {e:.3e} of {mag:.3e}");
    };
    check(&want);

    for layout in [Layout::ChannelsFirst, Layout::ChannelsLast] {
        let mut g = Graph::new("t");
        let xi = g.add_input("x", None);
        let wc = g.add_constant("w", edgeport_ir::Tensor::from_f32(vec![m, c, 3, 3], &wv).unwrap());
        let bc = g.add_constant("b", edgeport_ir::Tensor::from_f32(vec![m], &bv).unwrap());
        let op = Op::Conv(Conv {
            pads: pads.to_vec(),
            layout,
            ..Default::default()
        });
        let id = g.add_op("conv", op, &[Some(xi), Some(wc), Some(bc)], &["y"]).unwrap();
        g.add_output("y", id.out(0)).unwrap();
        let input = match layout {
            Layout::ChannelsFirst => xt.clone(),
            Layout::ChannelsLast => super::super::common::to_channels_last(&xt).unwrap(),
        };
        let back = |t: Tensor| match layout {
            Layout::ChannelsFirst => t,
            Layout::ChannelsLast => super::super::common::to_channels_first(&t).unwrap(),
        };
        let plain = crate::run_graph(&g, vec![Value::Tensor(input.clone())]).unwrap();
        check(&back(plain[0].as_tensor().unwrap().clone()));
        // With a constant cache: the first run makes the transform, the second reuses it.
        let opts = crate::EvalOptions {
            consts: Some(std::sync::Arc::new(crate::ConstCache::new(&g).unwrap())),
            ..Default::default()
        };
        let made = TRANSFORMS.with(|c| c.get());
        for _ in 0..3 {
            let (outs, _) = crate::run_graph_with(&g, vec![Value::Tensor(input.clone())], &opts).unwrap();
            check(&back(outs[0].as_tensor().unwrap().clone()));
        }
        assert_eq!(TRANSFORMS.with(|c| c.get()), made + 1, "one transform for three cached runs");
    }
}

#[test]
fn declines_what_it_does_not_cover() {
    let geom = |pads: &[i64], strides: &[i64], dils: &[i64], group: i64, xs: &[usize], ws: &[usize]| {
        let a = ConvAttrs {
            auto_pad: "NOTSET",
            dilations: dils,
            group,
            kernel_shape: &[],
            pads,
            strides,
        };
        conv_geom(&a, xs, ws).map(|(g, gr)| choose(xs, ws, &g, gr, true)).unwrap()
    };
    let p = [1i64, 1, 1, 1];
    let (xs, ws) = ([1usize, 32, 16, 16], [32usize, 32, 3, 3]);
    assert_eq!(geom(&p, &[], &[], 1, &xs, &ws), Some(Tile::F4));
    assert_eq!(geom(&p, &[2, 2], &[], 1, &xs, &ws), None, "stride 2");
    assert_eq!(geom(&p, &[], &[2, 2], 1, &xs, &ws), None, "dilation 2");
    assert_eq!(geom(&p, &[], &[], 2, &xs, &[32, 16, 3, 3]), None, "grouped");
    assert_eq!(geom(&p, &[], &[], 1, &xs, &[32, 32, 5, 5]), None, "5×5");
    assert_eq!(geom(&p, &[], &[], 1, &[1, 8, 16, 16], &[32, 8, 3, 3]), None, "few input channels");
    assert_eq!(geom(&p, &[], &[], 1, &[1, 32, 3, 3], &ws), None, "tiny output");
    assert_eq!(geom(&p, &[], &[], 1, &[1, 512, 7, 7], &[512, 512, 3, 3]), None, "4 tiles");
    assert_eq!(
        geom(&p, &[], &[], 1, &[4, 512, 7, 7], &[512, 512, 3, 3]),
        Some(Tile::F2),
        "16 tiles, 512 channels"
    );
    assert_eq!(
        geom(&p, &[], &[], 1, &[1, 256, 14, 14], &[256, 256, 3, 3]),
        Some(Tile::F4),
        "16 tiles"
    );
    let (g14, _) = conv_geom(&attrs(&[1, 1, 1, 1]), &[1, 256, 14, 14], &[256, 256, 3, 3]).unwrap();
    assert_eq!(choose(&[1, 256, 14, 14], &[256, 256, 3, 3], &g14, 1, false), None, "not cached");
    assert_eq!(geom(&[1, 1], &[], &[], 1, &[1, 32, 16], &[32, 32, 3]), None, "1-D");
}

#[test]
fn bad_inputs_are_errors() {
    let w = rand(4 * 2 * 9, 1);
    assert!(Filter::new(Tile::F4, &w, &[4, 2, 3, 3]).is_ok());
    assert!(Filter::new(Tile::F4, &w[1..], &[4, 2, 3, 3]).is_err(), "short weight");
    assert!(Filter::new(Tile::F4, &w, &[4, 2, 5, 5]).is_err(), "not 3×3");
    assert!(Filter::new(Tile::F2, &w, &[4, 2, 3]).is_err(), "rank 3");
    assert!(Filter::new(Tile::F2, &w, &[usize::MAX, 2, 3, 3]).is_err(), "overflowing shape");
    let f = Filter::new(Tile::F4, &w, &[4, 2, 3, 3]).unwrap();
    let xs = [1usize, 2, 8, 8];
    let x = rand(128, 2);
    let (g, _) = conv_geom(&attrs(&[1, 1, 1, 1]), &xs, &[4, 2, 3, 3]).unwrap();
    assert!(conv(&x, &xs, &f, None, &g).is_ok());
    let e = conv(&x[..100], &xs, &f, None, &g).unwrap_err();
    assert!(e.to_string().contains("values for shape"), "{e}");
    assert!(conv(&x, &[1, 4, 4, 8], &f, None, &g).is_err(), "channel mismatch");
    let e = conv(&x, &xs, &f, Some(&[1.0; 3]), &g).unwrap_err();
    assert!(e.to_string().contains("bias has 3 values"), "{e}");
    assert!(conv(&x, &[1, 2, 64], &f, None, &g).is_err(), "rank 3 input");
}

#[test]
#[ignore]
fn winograd_timing() {
    // ResNet-18's 3×3 stride-1 convs (224×224 input), batch 1.
    for (c, hw) in [(64usize, 56usize), (128, 28), (256, 14), (512, 7)] {
        let xs = [1, c, hw, hw];
        let ws = [c, c, 3, 3];
        let x = rand(c * hw * hw, 1);
        let w = rand(c * c * 9, 2);
        let b = rand(c, 3);
        let (g, group) = conv_geom(&attrs(&[1, 1, 1, 1]), &xs, &ws).unwrap();
        let reps = 10;
        let time = |f: &dyn Fn()| {
            f();
            let t0 = std::time::Instant::now();
            for _ in 0..reps {
                f();
            }
            t0.elapsed().as_secs_f64() * 1e3 / reps as f64
        };
        let mut line = format!("{c}×{hw}×{hw}:");
        for single in [false, true] {
            let run = |f: &dyn Fn()| if single { sgemm::single_threaded(|| time(f)) } else { time(f) };
            let im2col = run(&|| {
                conv_core(&x, &xs, &w, &ws, Some(&b), &g, group).unwrap();
            });
            line += &format!(" [{}] im2col {im2col:.2} ms", if single { "1 thread" } else { "pool" });
            for tile in [Tile::F2, Tile::F4] {
                let f = Filter::new(tile, &w, &ws).unwrap();
                let ms = run(&|| {
                    conv(&x, &xs, &f, Some(&b), &g).unwrap();
                });
                let ft = run(&|| {
                    Filter::new(tile, &w, &ws).unwrap();
                });
                line += &format!(", {tile:?} {ms:.2} (+transform {ft:.2})");
            }
        }
        eprintln!("{line}");
    }
}
