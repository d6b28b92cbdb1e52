//! Sparse weights in TFLite export: torch-made ONNX fixtures (tests/fixtures/tflite_export)
//! pruned by edgeport's magnitude and 2:4 pruning, exported with sparse weights (the default)
//! and dense (`dense_weights`), then re-imported (the importer densifies) and run on the
//! evaluator: the sparse file must be smaller, hold DENSIFY ops, and give the same numbers as
//! the dense file and as the pruned graph itself. LiteRT runs the same files in the TFLite suite
//! (`tests/tflite/tflite_suite.py`, mode `sparse`).

use edgeport_eval::{Tensor as ETensor, Value, run_graph};
use edgeport_ir::{DType, Graph, Op, Tensor};
use edgeport_passes::prune::{Criterion, PruneMode, PruneOptions, prune};
use edgeport_tflite::export::{ExportSummary, TfliteExportOptions, export_path};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tflite_export")
}

fn load(name: &str) -> Graph {
    let mut g = edgeport_onnx::import_path(&fixtures().join(format!("{name}.onnx")), &Default::default()).expect("onnx import");
    let m = edgeport_passes::Manager::from_names("identity,shapes,dce").unwrap();
    m.run(&mut g, &mut Default::default()).expect("passes");
    g
}

fn pruned(name: &str, mode: PruneMode) -> Graph {
    let mut g = load(name);
    let opts = PruneOptions {
        mode,
        criterion: Criterion::L1,
        keep: Vec::new(),
        global: false,
        round_to: 1,
        heads: None,
        expansion_only: false,
        latency: None,
    };
    let r = prune(&mut g, &opts).expect("prune");
    let zeros: usize = r.layers.iter().map(|l| l.zeros_after).sum();
    assert!(zeros > 0, "{name}: pruning zeroed nothing");
    edgeport_ir::infer::infer_types(&mut g).expect("types");
    g
}

/// The fixture's inputs (in_<name> arrays of its JSON file), in graph input order.
fn inputs(name: &str, g: &Graph) -> Vec<Tensor> {
    let text = std::fs::read_to_string(fixtures().join(format!("{name}.json"))).expect("fixture json");
    let m: serde_json::Value = serde_json::from_str(&text).expect("json");
    g.inputs()
        .iter()
        .map(|&i| {
            let a = &m[format!("in_{}", g.node(i).outputs[0].name)];
            let shape: Vec<usize> = a["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap() as usize)
                .collect();
            let data: Vec<f32> = a["data"].as_array().unwrap().iter().map(|d| d.as_f64().unwrap() as f32).collect();
            Tensor::from_f32(shape, &data).unwrap()
        })
        .collect()
}

fn run(g: &Graph, xs: &[Tensor]) -> Vec<Vec<f32>> {
    let vals = xs.iter().map(|t| Value::Tensor(ETensor::from_ir(t).unwrap())).collect();
    run_graph(g, vals)
        .expect("eval")
        .iter()
        .map(|v| v.as_tensor().unwrap().to_f32_array().unwrap().iter().copied().collect())
        .collect()
}

fn max_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    assert_eq!(a.len(), b.len());
    let mut worst = 0f32;
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.len(), y.len());
        for (p, q) in x.iter().zip(y) {
            worst = worst.max((p - q).abs());
        }
    }
    worst
}

fn write(g: &Graph, path: &Path, opts: &TfliteExportOptions) -> (ExportSummary, u64) {
    let v = edgeport_ir::validate::validate(g).expect("valid");
    let s = export_path(&v, path, opts).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (s, std::fs::metadata(path).unwrap().len())
}

fn count(s: &ExportSummary, op: &str) -> usize {
    s.op_counts.iter().find(|(n, _)| n == op).map_or(0, |(_, c)| *c)
}

/// Exports `g` sparse and dense (with `base` options otherwise), checks size and numbers; returns
/// (sparse bytes, dense bytes, DENSIFY count, max diff sparse vs dense, max diff vs the graph).
fn compare(tag: &str, g: &Graph, xs: &[Tensor], base: &TfliteExportOptions) -> (u64, u64, usize, f32, f32) {
    let dir = tempfile::tempdir().unwrap();
    let sp = dir.path().join(format!("{tag}.sparse.tflite"));
    let de = dir.path().join(format!("{tag}.dense.tflite"));
    let (ss, sbytes) = write(g, &sp, base);
    let dense_opts = TfliteExportOptions {
        dense_weights: true,
        ..base.clone()
    };
    let (ds, dbytes) = write(g, &de, &dense_opts);
    assert_eq!(count(&ds, "DENSIFY"), 0, "{tag}: dense export has DENSIFY");
    let n = count(&ss, "DENSIFY");
    let s_back = edgeport_tflite::import_path(&sp).unwrap_or_else(|e| panic!("{tag}: sparse re-import: {e}"));
    let d_back = edgeport_tflite::import_path(&de).unwrap_or_else(|e| panic!("{tag}: dense re-import: {e}"));
    let ys = run(&s_back, xs);
    let yd = run(&d_back, xs);
    let yg = run(g, xs);
    let d_sd = max_diff(&ys, &yd);
    let d_sg = max_diff(&ys, &yg);
    eprintln!("{tag}: sparse {sbytes} B, dense {dbytes} B, {n} DENSIFY; max |sparse - dense| {d_sd:e}, max |sparse - graph| {d_sg:e}");
    (sbytes, dbytes, n, d_sd, d_sg)
}

#[test]
fn small_cnn_pruned_80_percent_is_smaller_and_equal() {
    let g = pruned("small_cnn", PruneMode::Sparsity(0.8));
    let xs = inputs("small_cnn", &g);
    let (s, d, n, d_sd, d_sg) = compare("small_cnn_s80", &g, &xs, &TfliteExportOptions::default());
    assert!(n >= 2, "{n} sparse weights");
    assert!(s < d, "sparse file {s} B is not smaller than dense {d} B");
    // The densified weights are the dense bytes: the same kernels give the same numbers.
    assert_eq!(d_sd, 0.0, "sparse and dense exports differ");
    assert!(d_sg <= 1e-4, "max abs diff to the pruned graph {d_sg}");
}

#[test]
fn encoder_pruned_2_of_4() {
    let g = pruned("encoder_layer", PruneMode::NOfM(2, 4));
    let xs = inputs("encoder_layer", &g);
    // 2:4 halves the weights: float32 with 8-bit indices saves ~37% of the larger ones (small
    // ones do not pay for their DENSIFY op and stay dense).
    let (s, d, n, d_sd, d_sg) = compare("encoder_nm", &g, &xs, &TfliteExportOptions::default());
    assert!(n >= 1, "no sparse weight");
    assert!(s < d, "sparse file {s} B is not smaller than dense {d} B");
    assert_eq!(d_sd, 0.0);
    assert!(d_sg <= 1e-4, "{d_sg}");
}

#[test]
fn float16_weights_are_densified_then_dequantized() {
    let g = pruned("small_cnn", PruneMode::Sparsity(0.8));
    let xs = inputs("small_cnn", &g);
    let opts = TfliteExportOptions {
        f16_weights: true,
        ..Default::default()
    };
    let (s, d, n, d_sd, d_sg) = compare("small_cnn_f16", &g, &xs, &opts);
    assert!(n >= 1, "no sparse weight");
    assert!(s < d, "sparse file {s} B is not smaller than dense {d} B");
    assert_eq!(d_sd, 0.0);
    // float16 rounding of the weights.
    assert!(d_sg <= 5e-3, "{d_sg}");
}

#[test]
fn transformer_matmul_weights() {
    let g = pruned("encoder_layer", PruneMode::Sparsity(0.8));
    let xs = inputs("encoder_layer", &g);
    let (s, d, n, d_sd, d_sg) = compare("encoder_s80", &g, &xs, &TfliteExportOptions::default());
    assert!(n >= 2, "{n} sparse weights");
    assert!(s < d, "sparse file {s} B is not smaller than dense {d} B");
    assert_eq!(d_sd, 0.0);
    assert!(d_sg <= 1e-4, "{d_sg}");
}

/// Dense weights (nothing pruned): the default export writes no sparse tensor.
#[test]
fn unpruned_weights_stay_dense() {
    let g = load("small_cnn");
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = write(&g, &dir.path().join("dense.tflite"), &TfliteExportOptions::default());
    assert_eq!(count(&s, "DENSIFY"), 0, "{:?}", s.op_counts);
}

fn lcg(seed: &mut u64) -> f32 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    (*seed >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
}

/// x[1,16,8,8] → conv 3×3 (64) → relu → conv 3×3 (32): convolutions big enough for int8 sparse
/// weights to pay for their DENSIFY op.
fn conv_graph() -> Graph {
    use edgeport_ir::ops::defs::math::Relu;
    use edgeport_ir::ops::defs::nn::Conv;
    use edgeport_ir::{Shape, ValueType};
    let mut g = Graph::new("convs");
    let x = g.add_input("x", Some(ValueType::tensor(DType::F32, Some(Shape::known(&[1, 16, 8, 8])))));
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut konst = |g: &mut Graph, name: &str, shape: Vec<usize>, scale: f32| {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| lcg(&mut seed) * scale).collect();
        g.add_constant(name, Tensor::from_f32(shape, &v).unwrap())
    };
    let w1 = konst(&mut g, "w1", vec![64, 16, 3, 3], 0.2);
    let b1 = konst(&mut g, "b1", vec![64], 0.1);
    let w2 = konst(&mut g, "w2", vec![32, 64, 3, 3], 0.1);
    let b2 = konst(&mut g, "b2", vec![32], 0.1);
    let conv = || {
        Op::Conv(Conv {
            pads: vec![1, 1, 1, 1],
            ..Default::default()
        })
    };
    let c1 = g.add_op("conv1", conv(), &[Some(x), Some(w1), Some(b1)], &["c1"]).unwrap();
    let r1 = g.add_op("relu1", Op::Relu(Relu {}), &[Some(c1.out(0))], &["r1"]).unwrap();
    let c2 = g.add_op("conv2", conv(), &[Some(r1.out(0)), Some(w2), Some(b2)], &["y"]).unwrap();
    g.add_output("y", c2.out(0)).unwrap();
    edgeport_ir::infer::infer_types(&mut g).unwrap();
    g
}

/// Pruned to 80% zeros, then statically quantized to int8 by edgeport's quantizer (int8
/// activations, full-integer): pruned weights quantize to 0, the sparse tensors are int8 with
/// per-channel parameters, read by the integer CONV_2D kernels through DENSIFY.
#[test]
fn int8_weights_of_integer_convolutions() {
    use edgeport_passes::quantize::{Mode, Options, quantize};
    let mut g = conv_graph();
    let opts = PruneOptions {
        mode: PruneMode::Sparsity(0.8),
        criterion: Criterion::L1,
        keep: Vec::new(),
        global: false,
        round_to: 1,
        heads: None,
        expansion_only: false,
        latency: None,
    };
    prune(&mut g, &opts).expect("prune");
    let mut seed = 7u64;
    let mut sample = || {
        let v: Vec<f32> = (0..16 * 64).map(|_| lcg(&mut seed) * 2.0).collect();
        Tensor::from_f32(vec![1, 16, 8, 8], &v).unwrap()
    };
    let xs = vec![sample()];
    let calib: Vec<Vec<Value>> = (0..8).map(|_| vec![Value::Tensor(ETensor::from_ir(&sample()).unwrap())]).collect();
    let qopts = Options {
        mode: Mode::Int8,
        gptq: false,
        act_dtype: DType::I8,
        full_integer: true,
        ..Default::default()
    };
    quantize(&mut g, &calib, &[], &qopts).expect("quantize");
    edgeport_ir::infer::infer_types(&mut g).expect("types");
    let (s, d, n, d_sd, d_sg) = compare("convs_int8", &g, &xs, &TfliteExportOptions::default());
    assert_eq!(n, 2, "both int8 convolution weights sparse");
    assert!(s < d, "sparse file {s} B is not smaller than dense {d} B");
    assert_eq!(d_sd, 0.0);
    // Integer kernels against the QDQ graph on the evaluator: the int8 export's own error
    // (the dense file's is the same, d_sd = 0).
    assert!(d_sg <= 0.1, "{d_sg}");
}

/// A transposed convolution (TRANSPOSE_CONV: the weight is input 1, the activation input 2).
#[test]
fn transposed_convolution_weights() {
    use edgeport_ir::ops::defs::nn::ConvTranspose;
    use edgeport_ir::{Shape, ValueType};
    let mut g = Graph::new("deconv");
    let x = g.add_input("x", Some(ValueType::tensor(DType::F32, Some(Shape::known(&[1, 32, 8, 8])))));
    let mut seed = 11u64;
    let w: Vec<f32> = (0..32 * 16 * 9).map(|_| lcg(&mut seed) * 0.1).collect();
    let b: Vec<f32> = (0..16).map(|_| lcg(&mut seed) * 0.1).collect();
    let w = g.add_constant("w", Tensor::from_f32(vec![32, 16, 3, 3], &w).unwrap());
    let b = g.add_constant("b", Tensor::from_f32(vec![16], &b).unwrap());
    let op = Op::ConvTranspose(ConvTranspose {
        strides: vec![2, 2],
        pads: vec![1, 1, 1, 1],
        output_padding: vec![1, 1],
        ..Default::default()
    });
    let t = g.add_op("deconv", op, &[Some(x), Some(w), Some(b)], &["y"]).unwrap();
    g.add_output("y", t.out(0)).unwrap();
    edgeport_ir::infer::infer_types(&mut g).unwrap();
    let opts = PruneOptions {
        mode: PruneMode::Sparsity(0.8),
        criterion: Criterion::L1,
        keep: Vec::new(),
        global: false,
        round_to: 1,
        heads: None,
        expansion_only: false,
        latency: None,
    };
    prune(&mut g, &opts).expect("prune");
    let xv: Vec<f32> = (0..32 * 64).map(|_| lcg(&mut seed)).collect();
    let xs = vec![Tensor::from_f32(vec![1, 32, 8, 8], &xv).unwrap()];
    let (s, d, n, d_sd, d_sg) = compare("deconv", &g, &xs, &TfliteExportOptions::default());
    assert_eq!(n, 1, "the TRANSPOSE_CONV weight is sparse");
    assert!(s < d, "sparse file {s} B is not smaller than dense {d} B");
    assert_eq!(d_sd, 0.0);
    assert!(d_sg <= 1e-4, "{d_sg}");
}
