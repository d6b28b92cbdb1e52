//! Layout passes (`nhwc`, `nchw`) and BatchNormalization folding (`fold_bn`): text-IR snapshots on small
//! graphs, and numeric checks on torch-exported ONNX models (evaluator before vs after the pass,
//! and against torch's own outputs saved beside each fixture), with Transpose counts.

use edgeport_ir::ops::Layout;
use edgeport_ir::ops::defs::math::{Add, MatMul, Relu, Softmax};
use edgeport_ir::ops::defs::nn::{BatchNormalization, Conv, MaxPool};
use edgeport_ir::ops::defs::tensor::Transpose;
use edgeport_ir::{DType, Graph, Op, OpKind, Shape, Tensor, ValueType};
use edgeport_passes::{Context, LayoutOptions, Manager, to_channels_first, to_channels_last};
use std::path::{Path, PathBuf};

fn f32_ty(dims: &[u64]) -> Option<ValueType> {
    Some(ValueType::tensor(DType::F32, Some(Shape::known(dims))))
}

fn ramp(shape: Vec<usize>, scale: f32) -> Tensor {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|i| ((i * 7919 % 23) as f32 - 11.0) * scale).collect();
    Tensor::from_f32(shape, &v).unwrap()
}

/// x[1,2,4,4] → Conv(3) → Relu → Add([3,1,1]) → MaxPool → Conv → output.
fn small_cnn() -> Graph {
    let mut g = Graph::new("cnn");
    let x = g.add_input("x", f32_ty(&[1, 2, 4, 4]));
    let w = g.add_constant("w", ramp(vec![3, 2, 3, 3], 0.05));
    let c = g
        .add_op(
            "conv",
            Op::Conv(Conv {
                pads: vec![1, 1, 1, 1],
                ..Default::default()
            }),
            &[Some(x), Some(w)],
            &["c"],
        )
        .unwrap();
    let r = g.add_op("relu", Op::Relu(Relu {}), &[Some(c.out(0))], &["r"]).unwrap();
    let b = g.add_constant("bias", Tensor::from_f32(vec![3, 1, 1], &[0.5, -0.25, 1.0]).unwrap());
    let a = g.add_op("add", Op::Add(Add {}), &[Some(r.out(0)), Some(b)], &["a"]).unwrap();
    let p = g
        .add_op(
            "pool",
            Op::MaxPool(MaxPool {
                kernel_shape: vec![2, 2],
                strides: vec![2, 2],
                ..Default::default()
            }),
            &[Some(a.out(0))],
            &["p", ""],
        )
        .unwrap();
    let w2 = g.add_constant("w2", ramp(vec![4, 3, 1, 1], 0.1));
    let c2 = g
        .add_op("conv2", Op::Conv(Conv::default()), &[Some(p.out(0)), Some(w2)], &["y"])
        .unwrap();
    g.add_output("y", c2.out(0)).unwrap();
    edgeport_ir::infer::infer_types(&mut g).unwrap();
    g
}

fn run(g: &Graph, inputs: &[Tensor]) -> Vec<(Vec<usize>, Vec<f64>)> {
    let vals = inputs
        .iter()
        .map(|t| edgeport_eval::Value::Tensor(edgeport_eval::Tensor::from_ir(t).unwrap()))
        .collect();
    edgeport_eval::run_graph(g, vals)
        .unwrap()
        .iter()
        .map(|v| {
            let t = v.as_tensor().unwrap();
            (t.shape().to_vec(), t.to_f64_vec().unwrap())
        })
        .collect()
}

/// Row-major transpose of f64 data: output axis i is input axis p[i].
fn transpose(shape: &[usize], data: &[f64], p: &[usize]) -> (Vec<usize>, Vec<f64>) {
    let r = shape.len();
    let mut strides = vec![1usize; r];
    for i in (0..r.saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1];
    }
    let out_shape: Vec<usize> = p.iter().map(|&a| shape[a]).collect();
    let mut out = Vec::with_capacity(data.len());
    let mut idx = vec![0usize; r];
    for _ in 0..data.len() {
        out.push(data[idx.iter().zip(p).map(|(&i, &a)| i * strides[a]).sum::<usize>()]);
        for ax in (0..r).rev() {
            idx[ax] += 1;
            if idx[ax] < out_shape[ax] {
                break;
            }
            idx[ax] = 0;
        }
    }
    (out_shape, out)
}

fn nhwc(r: usize) -> Vec<usize> {
    let mut p = vec![0];
    p.extend(2..r);
    p.push(1);
    p
}

fn nchw(r: usize) -> Vec<usize> {
    let mut p = vec![0, r - 1];
    p.extend(1..r - 1);
    p
}

fn max_abs(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

fn transposes(g: &Graph) -> usize {
    g.node_ids().filter(|&n| g.node(n).op.kind() == OpKind::Transpose).count()
}

/// Runs `g` before and after the pass (inputs/outputs transposed when `nhwc_io`) and returns
/// the largest difference.
fn check_pass(g: &Graph, inputs: &[Tensor], nhwc_io: bool) -> (Graph, edgeport_passes::LayoutReport, f64) {
    let before = run(g, inputs);
    let mut h = g.clone();
    let t0 = std::time::Instant::now();
    let rep = to_channels_last(&mut h, &LayoutOptions { nhwc_io }).unwrap();
    eprintln!("{}: pass took {:?} on {} nodes", g.name, t0.elapsed(), g.node_count());
    edgeport_ir::validate::validate(&h).unwrap();
    let ins2: Vec<Tensor> = inputs
        .iter()
        .map(|t| {
            if nhwc_io && (3..=5).contains(&t.shape.len()) {
                let d = t.to_f64_vec().unwrap();
                let (s, v) = transpose(&t.shape, &d, &nhwc(t.shape.len()));
                Tensor::from_f32(s, &v.iter().map(|&x| x as f32).collect::<Vec<_>>()).unwrap()
            } else {
                t.clone()
            }
        })
        .collect();
    let after = run(&h, &ins2);
    let mut worst = 0.0f64;
    for ((bs, bv), (as_, av)) in before.iter().zip(&after) {
        let (s, v) = if nhwc_io && bs != as_ {
            transpose(as_, av, &nchw(as_.len()))
        } else {
            (as_.clone(), av.clone())
        };
        assert_eq!(&s, bs, "output shape");
        worst = worst.max(max_abs(bv, &v));
    }
    (h, rep, worst)
}

#[test]
fn nhwc_small_cnn_keeps_io_layout() {
    let g = small_cnn();
    let (h, rep, diff) = check_pass(&g, &[ramp(vec![1, 2, 4, 4], 0.1)], false);
    assert!(diff <= 1e-5, "max abs {diff}");
    assert_eq!(rep.converted_ops, 3);
    assert_eq!((rep.transposes_inside, rep.boundary_transposes), (0, 2));
    insta::assert_snapshot!(edgeport_ir::text::print_graph(&h));
}

#[test]
fn nhwc_small_cnn_nhwc_io() {
    let g = small_cnn();
    let (h, rep, diff) = check_pass(&g, &[ramp(vec![1, 2, 4, 4], 0.1)], true);
    assert!(diff <= 1e-5, "max abs {diff}");
    assert_eq!((rep.transposes_inside, rep.boundary_transposes), (0, 0));
    assert_eq!(transposes(&h), 0);
    insta::assert_snapshot!(edgeport_ir::text::print_graph(&h));
}

/// The `nchw` pass on a channels-last graph (what a TFLite import looks like: here the small CNN
/// after `nhwc` with NHWC I/O): only the two boundary Transposes come back, none around the
/// Relu/Add between the convs, and the numbers are unchanged.
#[test]
fn nchw_keeps_elementwise_ops_between_convs_channels_first() {
    let g = small_cnn();
    let mut last = g.clone();
    to_channels_last(&mut last, &LayoutOptions { nhwc_io: true }).unwrap();
    assert_eq!(transposes(&last), 0);
    let x = ramp(vec![1, 2, 4, 4], 0.1);
    let (xs, xv) = transpose(&x.shape, &x.to_f64_vec().unwrap(), &nhwc(4));
    let x_nhwc = Tensor::from_f32(xs, &xv.iter().map(|&v| v as f32).collect::<Vec<_>>()).unwrap();
    let want = run(&last, std::slice::from_ref(&x_nhwc));
    let mut first = last.clone();
    assert_eq!(to_channels_first(&mut first).unwrap(), 3);
    edgeport_ir::validate::validate(&first).unwrap();
    assert_eq!(transposes(&first), 2, "{}", edgeport_ir::text::print_graph(&first));
    let got = run(&first, &[x_nhwc]);
    assert_eq!(got[0].0, want[0].0);
    assert!(max_abs(&got[0].1, &want[0].1) <= 1e-5);
    // The Add's constant operand was permuted once, not read through a Transpose.
    let add = first.node_ids().find(|&n| first.node(n).op.kind() == OpKind::Add).unwrap();
    for v in first.inputs_of(add).into_iter().flatten() {
        assert_ne!(first.node(v.node).op.kind(), OpKind::Transpose);
    }
}

/// A TFLite-style channels-last Conv whose weight is `Transpose(Cast(f16 constant in OHWI))`:
/// the `nchw` pass permutes the float16 constant once (it stays float16 behind its Cast), so no
/// Transpose runs on a weight, and the numbers are unchanged.
#[test]
fn nchw_permutes_float16_weights_behind_their_cast() {
    use edgeport_ir::ops::defs::tensor::Cast;
    let mut g = Graph::new("tflite_like");
    let x = g.add_input("x", f32_ty(&[1, 4, 4, 2]));
    let w: Vec<half::f16> = (0..3 * 3 * 3 * 2)
        .map(|i| half::f16::from_f32(((i % 7) as f32 - 3.0) * 0.125))
        .collect();
    let bytes: Vec<u8> = w.iter().flat_map(|v| v.to_le_bytes()).collect();
    let w16 = Tensor::from_bytes(DType::F16, vec![3, 3, 3, 2], edgeport_ir::Bytes::from_vec(bytes)).unwrap();
    let w16 = g.add_constant("w_f16", w16);
    let cast = g
        .add_op(
            "dequantize",
            Op::Cast(Cast {
                to: DType::F32.onnx_code() as i64,
                ..Default::default()
            }),
            &[Some(w16)],
            &["w_f32"],
        )
        .unwrap();
    let t = g
        .add_op(
            "w_oihw",
            Op::Transpose(Transpose { perm: vec![0, 3, 1, 2] }),
            &[Some(cast.out(0))],
            &["w"],
        )
        .unwrap();
    let c = g
        .add_op(
            "conv",
            Op::Conv(Conv {
                pads: vec![1, 1, 1, 1],
                layout: Layout::ChannelsLast,
                ..Default::default()
            }),
            &[Some(x), Some(t.out(0))],
            &["c"],
        )
        .unwrap();
    let r = g.add_op("relu", Op::Relu(Relu {}), &[Some(c.out(0))], &["y"]).unwrap();
    g.add_output("y", r.out(0)).unwrap();
    edgeport_ir::infer::infer_types(&mut g).unwrap();
    let input = ramp(vec![1, 4, 4, 2], 0.1);
    let want = run(&g, std::slice::from_ref(&input));
    let mut h = g.clone();
    to_channels_first(&mut h).unwrap();
    edgeport_ir::validate::validate(&h).unwrap();
    let got = run(&h, &[input]);
    assert!(max_abs(&got[0].1, &want[0].1) <= 1e-6);
    // Only the data's two boundary Transposes; the Conv's weight is a Cast of an f16 constant.
    assert_eq!(transposes(&h), 2, "{}", edgeport_ir::text::print_graph(&h));
    let conv = h.node_ids().find(|&n| h.node(n).op.kind() == OpKind::Conv).unwrap();
    let wv = h.inputs_of(conv)[1].unwrap();
    assert_eq!(h.node(wv.node).op.kind(), OpKind::Cast);
    let k = h.inputs_of(wv.node)[0].unwrap();
    let kt = h.constant_of(k).expect("the Cast reads a constant");
    assert_eq!((kt.dtype, kt.shape.clone()), (DType::F16, vec![3, 2, 3, 3]));
}

#[test]
fn transformer_graph_is_unchanged() {
    let mut g = Graph::new("attn");
    let x = g.add_input("x", f32_ty(&[2, 4, 8]));
    let w = g.add_constant("w", ramp(vec![8, 8], 0.1));
    let m = g.add_op("mm", Op::MatMul(MatMul {}), &[Some(x), Some(w)], &["m"]).unwrap();
    let t = g
        .add_op("t", Op::Transpose(Transpose { perm: vec![0, 2, 1] }), &[Some(m.out(0))], &["t"])
        .unwrap();
    let s = g
        .add_op("sm", Op::Softmax(Softmax { axis: -1 }), &[Some(t.out(0))], &["s"])
        .unwrap();
    g.add_output("s", s.out(0)).unwrap();
    edgeport_ir::infer::infer_types(&mut g).unwrap();
    let before = edgeport_ir::text::print_graph(&g);
    for io in [false, true] {
        let mut h = g.clone();
        let rep = to_channels_last(&mut h, &LayoutOptions { nhwc_io: io }).unwrap();
        assert_eq!(edgeport_ir::text::print_graph(&h), before);
        assert_eq!((rep.converted_ops, rep.transposes_inside), (0, 1));
    }
}

#[test]
fn fold_bn_into_conv_and_standalone() {
    let mut g = Graph::new("bn");
    let x = g.add_input("x", f32_ty(&[1, 2, 3, 3]));
    let w = g.add_constant("w", ramp(vec![3, 2, 3, 3], 0.05));
    let c = g
        .add_op(
            "conv",
            Op::Conv(Conv {
                pads: vec![1, 1, 1, 1],
                ..Default::default()
            }),
            &[Some(x), Some(w)],
            &["c"],
        )
        .unwrap();
    let bn_params = |g: &mut Graph, p: &str| {
        [
            g.add_constant(format!("{p}.s"), Tensor::from_f32(vec![3], &[1.5, 0.5, -1.0]).unwrap()),
            g.add_constant(format!("{p}.b"), Tensor::from_f32(vec![3], &[0.1, 0.2, -0.3]).unwrap()),
            g.add_constant(format!("{p}.m"), Tensor::from_f32(vec![3], &[0.05, -0.1, 0.2]).unwrap()),
            g.add_constant(format!("{p}.v"), Tensor::from_f32(vec![3], &[0.9, 1.2, 0.4]).unwrap()),
        ]
    };
    let p1 = bn_params(&mut g, "bn1");
    let b1 = g
        .add_op(
            "bn1",
            Op::BatchNormalization(BatchNormalization::default()),
            &[Some(c.out(0)), Some(p1[0]), Some(p1[1]), Some(p1[2]), Some(p1[3])],
            &["b1", "", ""],
        )
        .unwrap();
    let r = g.add_op("relu", Op::Relu(Relu {}), &[Some(b1.out(0))], &["r"]).unwrap();
    let p2 = bn_params(&mut g, "bn2");
    let b2 = g
        .add_op(
            "bn2",
            Op::BatchNormalization(BatchNormalization::default()),
            &[Some(r.out(0)), Some(p2[0]), Some(p2[1]), Some(p2[2]), Some(p2[3])],
            &["y", "", ""],
        )
        .unwrap();
    g.add_output("y", b2.out(0)).unwrap();
    edgeport_ir::infer::infer_types(&mut g).unwrap();
    let input = ramp(vec![1, 2, 3, 3], 0.2);
    let before = run(&g, std::slice::from_ref(&input));
    let mut h = g.clone();
    Manager::from_names("fold_bn")
        .unwrap()
        .validate_between(true)
        .run(&mut h, &mut Context::default())
        .unwrap();
    assert!(!h.node_ids().any(|n| h.node(n).op.kind() == OpKind::BatchNormalization));
    let after = run(&h, &[input]);
    assert!(max_abs(&before[0].1, &after[0].1) <= 1e-5);
    insta::assert_snapshot!(edgeport_ir::text::print_graph(&h));
}

#[test]
fn bad_transpose_perm_is_an_error() {
    let mut g = small_cnn();
    let y = g.outputs()[0].1;
    let t = g
        .add_op("bad", Op::Transpose(Transpose { perm: vec![0, 0, 1, 2] }), &[Some(y)], &["z"])
        .unwrap();
    g.set_outputs(vec![("z".into(), t.out(0))]).unwrap();
    let e = to_channels_last(&mut g, &LayoutOptions::default()).unwrap_err();
    assert!(
        e.to_string().contains("node 'bad'") && e.to_string().contains("not a permutation"),
        "{e}"
    );
}

#[test]
fn unknown_rank_conv_stays_channels_first() {
    let mut g = Graph::new("u");
    let x = g.add_input("x", Some(ValueType::tensor(DType::F32, None)));
    let w = g.add_constant("w", ramp(vec![3, 2, 1, 1], 0.1));
    let c = g.add_op("conv", Op::Conv(Conv::default()), &[Some(x), Some(w)], &["y"]).unwrap();
    g.add_output("y", c.out(0)).unwrap();
    let rep = to_channels_last(&mut g, &LayoutOptions { nhwc_io: true }).unwrap();
    assert_eq!(rep.converted_ops, 0);
    assert!(matches!(&g.node(c).op, Op::Conv(c) if c.layout == Layout::ChannelsFirst));
}

// ---- torch-exported ONNX models ----

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/layout")
}

/// Reads a little-endian f32 C-order .npy file.
fn read_npy(path: &Path) -> Tensor {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&b[..6], b"\x93NUMPY");
    let (hlen, start) = if b[6] == 1 {
        (u16::from_le_bytes([b[8], b[9]]) as usize, 10)
    } else {
        (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12)
    };
    let header = std::str::from_utf8(&b[start..start + hlen]).unwrap();
    assert!(header.contains("'<f4'") && header.contains("'fortran_order': False"), "{header}");
    let shape_s = &header[header.find("'shape': (").unwrap() + 10..];
    let shape: Vec<usize> = shape_s[..shape_s.find(')').unwrap()]
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().unwrap())
        .collect();
    Tensor::from_bytes(DType::F32, shape, edgeport_ir::Bytes::from_vec(b[start + hlen..].to_vec())).unwrap()
}

struct ModelCheck {
    report: edgeport_passes::LayoutReport,
    pass_diff: f64,
    torch_diff: f64,
}

/// `max_inside`: Transposes allowed between input and output. The model is constant-folded
/// first (as a backend pipeline `fold,nhwc` does).
fn check_model(dir: &Path, name: &str, outs: &[&str], nhwc_io: bool, fold_bn: bool, max_inside: usize) -> ModelCheck {
    let mut g = edgeport_onnx::import_path(&dir.join(format!("{name}.onnx")), &Default::default()).unwrap();
    if fold_bn {
        Manager::from_names("fold_bn")
            .unwrap()
            .run(&mut g, &mut Context::default())
            .unwrap();
    }
    let x = read_npy(&dir.join(format!("{name}.input.npy")));
    let before = run(&g, std::slice::from_ref(&x));
    let mut torch_diff = 0.0f64;
    for (o, (_, v)) in outs.iter().zip(&before) {
        let t = read_npy(&dir.join(format!("{name}.{o}.npy")));
        torch_diff = torch_diff.max(max_abs(&t.to_f64_vec().unwrap(), v));
    }
    let (h, report, pass_diff) = check_pass(&g, &[x], nhwc_io);
    if report.transposes_inside > 0 {
        let text = edgeport_ir::text::print_graph(&h);
        for l in text
            .lines()
            .filter(|l| l.contains("Transpose") || l.contains("__t)") || l.contains("__t,"))
        {
            eprintln!("  {}", l.chars().take(160).collect::<String>());
        }
    }
    assert!(report.transposes_inside <= max_inside, "{name}: {report:?}");
    assert_eq!(transposes(&h), report.transposes_inside + report.boundary_transposes);
    eprintln!("{name} nhwc_io={nhwc_io} fold_bn={fold_bn}: {report:?}, pass max abs {pass_diff:.2e}, torch max abs {torch_diff:.2e}");
    ModelCheck {
        report,
        pass_diff,
        torch_diff,
    }
}

#[test]
fn torch_cnn_fixtures_have_no_inner_transposes() {
    let dir = fixtures();
    for (name, outs, tol) in [
        ("resnet_tiny", &["logits"][..], 1e-4),
        ("mobilenet_v2_w025", &["logits"][..], 1e-4),
        ("flatten_fc", &["logits"][..], 1e-4),
        ("mixed", &["pooled", "map"][..], 1e-4),
    ] {
        // mixed: F.pad's pads come from a Shape-dependent subgraph the fold pass cannot fold,
        // so Pad gets NCHW data: one Transpose in, the existing i64 pads Transpose (known gap).
        let max_inside = if name == "mixed" { 2 } else { 0 };
        for io in [false, true] {
            let c = check_model(&dir, name, outs, io, false, max_inside);
            assert!(
                c.pass_diff <= tol && c.torch_diff <= tol,
                "{name}: pass {} torch {}",
                c.pass_diff,
                c.torch_diff
            );
            let boundary = if io { 0 } else { 1 + outs.len() };
            assert!(c.report.boundary_transposes <= boundary, "{name}: {:?}", c.report);
            assert!(c.report.converted_ops > 0);
        }
        let c = check_model(&dir, name, outs, false, true, max_inside);
        assert!(
            c.pass_diff <= 1e-4 && c.torch_diff <= 1e-4,
            "{name} fold_bn: pass {} torch {}",
            c.pass_diff,
            c.torch_diff
        );
    }
}

#[test]
fn torch_resnet_and_mobilenet_one_transpose_per_boundary() {
    let dir = fixtures();
    for name in ["resnet_tiny", "mobilenet_v2_w025"] {
        let c = check_model(&dir, name, &["logits"], false, false, 0);
        assert_eq!((c.report.transposes_inside, c.report.boundary_transposes), (0, 1), "{name}");
        let c = check_model(&dir, name, &["logits"], true, false, 0);
        assert_eq!((c.report.transposes_inside, c.report.boundary_transposes), (0, 0), "{name}");
    }
}

#[test]
fn torch_transformer_encoder_is_unchanged() {
    let dir = fixtures();
    let g = edgeport_onnx::import_path(&dir.join("encoder.onnx"), &Default::default()).unwrap();
    let before = edgeport_ir::text::print_graph(&g);
    for io in [false, true] {
        let mut h = g.clone();
        let rep = to_channels_last(&mut h, &LayoutOptions { nhwc_io: io }).unwrap();
        assert_eq!(rep.converted_ops, 0);
        assert_eq!(edgeport_ir::text::print_graph(&h), before);
    }
    let x = read_npy(&dir.join("encoder.input.npy"));
    let y = read_npy(&dir.join("encoder.output.npy"));
    let out = run(&g, &[x]);
    assert!(max_abs(&y.to_f64_vec().unwrap(), &out[0].1) <= 1e-4);
}

/// Full-size torchvision models, made by `make_layout_fixtures.py --big` (skipped when absent).
#[test]
fn torchvision_resnet18_mobilenet_v2_when_present() {
    let dir = Path::new("/work/cache/fixtures/layout");
    for name in ["resnet18", "mobilenet_v2"] {
        if !dir.join(format!("{name}.onnx")).exists() {
            eprintln!("skipping {name}: run make_layout_fixtures.py --big");
            continue;
        }
        for io in [false, true] {
            let c = check_model(dir, name, &["logits"], io, false, 0);
            assert!(
                c.pass_diff <= 1e-4 && c.torch_diff <= 1e-4,
                "{name}: pass {} torch {}",
                c.pass_diff,
                c.torch_diff
            );
            assert_eq!(
                (c.report.transposes_inside, c.report.boundary_transposes),
                (0, usize::from(!io)),
                "{name}"
            );
        }
    }
}
