//! Sequential GPTQ for int8 Conv/Gemm weights (`--weight-method gptq`) on small conv nets
//! built in code: the im2col patches reproduce the evaluator's conv, GPTQ beats round-to-
//! nearest on the output error of a regular and a depthwise net, and the result is
//! deterministic.

use edgeport_eval::{Tensor as ETensor, Value};
use edgeport_ir::ops::defs::math::Relu;
use edgeport_ir::ops::defs::nn::Conv;
use edgeport_ir::{DType, Graph, Op, Shape, Tensor, ValueType};
use edgeport_passes::quantize::patches::{PatchGeom, im2col};
use edgeport_passes::quantize::{self, Metrics, Mode, Options, WeightMethod};

mod common;
use common::rng;

/// A conv weight `[o, i, k, k]` whose rows each hold one large outlier (a coarse per-channel
/// int8 step for the other weights, as in real depthwise/pointwise layers).
fn weight(o: usize, i: usize, k: usize, s: &mut u64) -> Vec<f32> {
    let n = i * k * k;
    (0..o * n)
        .map(|j| if j % n == (j / n * 7) % n { 4.0 } else { rng(s) * 0.05 })
        .collect()
}

fn conv(
    g: &mut Graph,
    name: &str,
    x: edgeport_ir::ValueId,
    // Output channels, input channels, kernel size, groups.
    [o, i, k, group]: [usize; 4],
    s: &mut u64,
) -> edgeport_ir::ValueId {
    let w = weight(o, i / group, k, s);
    let b: Vec<f32> = (0..o).map(|_| rng(s) * 0.1).collect();
    let w = g.add_constant(format!("{name}_w"), Tensor::from_f32(vec![o, i / group, k, k], &w).unwrap());
    let b = g.add_constant(format!("{name}_b"), Tensor::from_f32(vec![o], &b).unwrap());
    let p = (k / 2) as i64;
    let c = g
        .add_op(
            name,
            Op::Conv(Conv {
                group: group as i64,
                kernel_shape: vec![k as i64, k as i64],
                pads: vec![p, p, p, p],
                ..Default::default()
            }),
            &[Some(x), Some(w), Some(b)],
            &[&format!("{name}_out")],
        )
        .unwrap();
    c.out(0)
}

/// x[1,8,10,10] → Conv3×3(8→16) → Relu → depthwise 3×3 → Relu → Conv1×1(16→8) → y,
/// or only the depthwise part when `depthwise_only`.
fn net(depthwise_only: bool) -> Graph {
    let mut s = 11u64;
    let mut g = Graph::new("convnet");
    let c = if depthwise_only { 16 } else { 8 };
    let x = g.add_input("x", Some(ValueType::tensor(DType::F32, Some(Shape::known(&[1, c as u64, 10, 10])))));
    let y = if depthwise_only {
        conv(&mut g, "dw", x, [16, 16, 3, 16], &mut s)
    } else {
        let a = conv(&mut g, "c1", x, [16, 8, 3, 1], &mut s);
        let a = g.add_op("r1", Op::Relu(Relu {}), &[Some(a)], &["r1_out"]).unwrap().out(0);
        let a = conv(&mut g, "dw", a, [16, 16, 3, 16], &mut s);
        let a = g.add_op("r2", Op::Relu(Relu {}), &[Some(a)], &["r2_out"]).unwrap().out(0);
        conv(&mut g, "c3", a, [8, 16, 1, 1], &mut s)
    };
    g.add_output("y", y).unwrap();
    edgeport_ir::infer::infer_types(&mut g).unwrap();
    g
}

/// Smooth, channel-correlated images (neighbouring patch entries are strongly correlated, as in
/// real activations: what GPTQ exploits).
fn samples(c: usize, n: usize, seed: u64) -> Vec<Vec<Value>> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            let (a, b, d) = (rng(&mut s), rng(&mut s), rng(&mut s));
            let v: Vec<f64> = (0..c * 100)
                .map(|i| {
                    let (ch, y, x) = (i / 100, (i / 10) % 10, i % 10);
                    let base = a * (x as f32 * 0.3 + b).sin() + d * (y as f32 * 0.25).cos() + 0.1 * ch as f32 / c as f32;
                    (base + 0.05 * rng(&mut s)) as f64
                })
                .collect();
            vec![Value::Tensor(ETensor::from_f64(DType::F32, &[1, c, 10, 10], v).unwrap())]
        })
        .collect()
}

/// Mean squared output error and metrics of `g` quantized with `wm`, on held-out samples.
fn quantized(depthwise_only: bool, wm: WeightMethod) -> (Graph, f64, Metrics) {
    let float = net(depthwise_only);
    let c = if depthwise_only { 16 } else { 8 };
    let mut g = float.clone();
    let cal = samples(c, 24, 5);
    let o = Options {
        mode: Mode::Int8,
        weight_method: wm,
        ..Default::default()
    };
    let rep = quantize::quantize(&mut g, &cal, &[], &o).unwrap();
    edgeport_ir::validate::validate(&g).unwrap();
    if wm == WeightMethod::Gptq {
        assert!(rep.layers.iter().all(|l| l.precision.contains("gptq")), "{:?}", rep.layers);
    }
    let held = samples(c, 8, 77);
    let a = quantize::run_all(&float, &held).unwrap();
    let b = quantize::run_all(&g, &held).unwrap();
    let mut se = 0.0;
    let mut n = 0usize;
    for (x, y) in a.iter().zip(&b) {
        let x = x[0].as_tensor().unwrap().to_f64_vec().unwrap();
        let y = y[0].as_tensor().unwrap().to_f64_vec().unwrap();
        for (p, q) in x.iter().zip(&y) {
            se += (p - q) * (p - q);
            n += 1;
        }
    }
    let m = quantize::compare(&a, &b);
    (g, se / n as f64, m)
}

#[test]
fn im2col_rows_times_weight_is_the_conv() {
    // Stride 2, asymmetric pads, dilation 2, two groups: the patches must reproduce the
    // evaluator's Conv exactly.
    let mut s = 3u64;
    let (n, c, h, w, o, k) = (2usize, 4usize, 9usize, 8usize, 6usize, 3usize);
    let mut g = Graph::new("c");
    let x = g.add_input(
        "x",
        Some(ValueType::tensor(
            DType::F32,
            Some(Shape::known(&[n as u64, c as u64, h as u64, w as u64])),
        )),
    );
    let wv: Vec<f32> = (0..o * (c / 2) * k * k).map(|_| rng(&mut s)).collect();
    let wc = g.add_constant("w", Tensor::from_f32(vec![o, c / 2, k, k], &wv).unwrap());
    let op = Op::Conv(Conv {
        group: 2,
        kernel_shape: vec![3, 3],
        strides: vec![2, 2],
        dilations: vec![2, 1],
        pads: vec![1, 0, 2, 1],
        ..Default::default()
    });
    let cv = g.add_op("conv", op, &[Some(x), Some(wc), None], &["y"]).unwrap();
    g.add_output("y", cv.out(0)).unwrap();
    let xs: Vec<f64> = (0..n * c * h * w).map(|_| rng(&mut s) as f64).collect();
    let input = Value::Tensor(ETensor::from_f64(DType::F32, &[n, c, h, w], xs.clone()).unwrap());
    let y = edgeport_eval::run_graph(&g, vec![input]).unwrap();
    let yt = y[0].as_tensor().unwrap();
    let ys = yt.shape().to_vec();
    let yv = yt.to_f64_vec().unwrap();
    let geom = PatchGeom::of(&g, cv, &[o, c / 2, k, k]).unwrap();
    let x32: Vec<f32> = xs.iter().map(|&v| v as f32).collect();
    let cols = im2col(&geom, &x32, &[n, c, h, w]).unwrap();
    assert_eq!(cols.len(), 2);
    let kk = geom.k();
    let (oh, ow) = (ys[2], ys[3]);
    assert_eq!(cols[0].len(), n * oh * ow * kk);
    let mut max_diff = 0f64;
    for (gi, m) in cols.iter().enumerate() {
        for oc in gi * o / 2..(gi + 1) * o / 2 {
            let wrow = &wv[oc * kk..(oc + 1) * kk];
            for b in 0..n {
                for p in 0..oh * ow {
                    let row = &m[(b * oh * ow + p) * kk..][..kk];
                    let d: f64 = row.iter().zip(wrow).map(|(a, b)| *a as f64 * *b as f64).sum();
                    let want = yv[(b * o + oc) * oh * ow + p];
                    max_diff = max_diff.max((d - want).abs());
                }
            }
        }
    }
    assert!(max_diff < 1e-4, "max diff {max_diff}");
}

#[test]
fn gptq_beats_rounding_on_a_conv_net() {
    let (_, e_rtn, m_rtn) = quantized(false, WeightMethod::Rtn);
    let (_, e_gptq, m_gptq) = quantized(false, WeightMethod::Gptq);
    eprintln!(
        "conv net: rtn mse {e_rtn:.3e} cos {:.6}, gptq mse {e_gptq:.3e} cos {:.6}",
        m_rtn.cosine, m_gptq.cosine
    );
    assert!(e_gptq < 0.7 * e_rtn, "gptq {e_gptq} vs rtn {e_rtn}");
    assert!(m_gptq.cosine > 0.99, "{m_gptq:?}");
}

#[test]
fn gptq_beats_rounding_on_a_depthwise_conv() {
    let (_, e_rtn, _) = quantized(true, WeightMethod::Rtn);
    let (_, e_gptq, _) = quantized(true, WeightMethod::Gptq);
    eprintln!("depthwise: rtn mse {e_rtn:.3e}, gptq mse {e_gptq:.3e}");
    assert!(e_gptq < 0.7 * e_rtn, "gptq {e_gptq} vs rtn {e_rtn}");
}

#[test]
fn gptq_is_deterministic() {
    let int8 = |g: &Graph| -> Vec<Vec<u8>> {
        let mut v: Vec<(String, Vec<u8>)> = g
            .node_ids()
            .filter_map(|id| match &g.node(id).op {
                Op::Constant(c) if matches!(c.value.dtype, DType::I8 | DType::I32) => {
                    Some((g.node(id).name.clone(), c.value.raw().map(|b| b.to_vec()).unwrap_or_default()))
                }
                _ => None,
            })
            .collect();
        v.sort();
        v.into_iter().map(|(_, d)| d).collect()
    };
    let (a, ea, _) = quantized(false, WeightMethod::Gptq);
    let (b, eb, _) = quantized(false, WeightMethod::Gptq);
    assert_eq!(ea.to_bits(), eb.to_bits());
    let (ia, ib) = (int8(&a), int8(&b));
    assert_eq!(ia.len(), 6, "3 int8 weights and 3 int32 biases");
    assert_eq!(ia, ib);
}
