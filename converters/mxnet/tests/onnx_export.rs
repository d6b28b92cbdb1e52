//! MXNet fixtures → ONNX: imported, exported with the ONNX backend (to
//! `$CARGO_TARGET_TMPDIR/mxnet-onnx/<net>.onnx`, for onnxruntime checks with
//! tests/fixtures/caffe/ort_check.py), imported back and evaluated against MXNet's outputs.

mod common;
use std::collections::HashMap;
use std::path::PathBuf;

fn roundtrip(net: &str, inputs: &[&str]) {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/mxnet");
    let npz = common::read_npz(&d.join(format!("{net}.npz")));
    let shapes = inputs.iter().map(|n| (n.to_string(), npz[*n].shape().to_vec())).collect();
    let opts = edgeport_mxnet::Options {
        params: None,
        input_shapes: shapes,
    };
    let g = edgeport_mxnet::import_path(&d.join(format!("{net}-symbol.json")), &opts).unwrap_or_else(|e| panic!("{e}"));
    let v = edgeport_ir::validate::validate(&g).unwrap_or_else(|e| panic!("{net}: {e}"));
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mxnet-onnx");
    std::fs::create_dir_all(&out).unwrap();
    let path = out.join(format!("{net}.onnx"));
    edgeport_onnx::export_path(&v, &path, &Default::default()).unwrap_or_else(|e| panic!("{net}: export: {e}"));
    let back = edgeport_onnx::import_path(&path, &Default::default()).unwrap_or_else(|e| panic!("{net}: re-import: {e}"));
    let mut want = HashMap::new();
    want.insert(back.outputs()[0].0.clone(), npz["out"].clone());
    let xs = inputs.iter().map(|n| npz[*n].clone()).collect();
    let diff = common::run_and_compare(&back, xs, &want);
    eprintln!("{net} via ONNX: max abs diff {diff:e}");
    assert!(diff <= 1e-4, "{net}: {diff}");
}

#[test]
fn tiny_via_onnx() {
    roundtrip("tiny", &["data", "idx"]);
}

#[test]
fn mobilenet025_via_onnx() {
    roundtrip("mobilenet0.25", &["data"]);
}

fn vm_hwm_mb() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Import → ONNX time and peak RSS for the model-zoo nets (run with `--ignored --nocapture`,
/// ideally `--release`; prints the figures).
#[test]
#[ignore = "needs the model-zoo files made by make_mxnet.py in $MX_FIXTURES; prints timings"]
fn zoo_import_to_onnx_time_and_rss() {
    let big = std::env::var_os("MX_FIXTURES").map_or_else(|| PathBuf::from("/work/cache/fixtures/mxnet"), PathBuf::from);
    for net in ["resnet18_v1", "mobilenet1.0"] {
        let t0 = std::time::Instant::now();
        let opts = edgeport_mxnet::Options {
            params: None,
            input_shapes: vec![("data".into(), vec![1, 3, 224, 224])],
        };
        let g = edgeport_mxnet::import_path(&big.join(format!("{net}-symbol.json")), &opts).unwrap_or_else(|e| panic!("{e}"));
        let t1 = t0.elapsed();
        let v = edgeport_ir::validate::validate(&g).unwrap_or_else(|e| panic!("{net}: {e}"));
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mxnet-onnx");
        std::fs::create_dir_all(&out).unwrap();
        edgeport_onnx::export_path(&v, &out.join(format!("{net}.onnx")), &Default::default()).unwrap_or_else(|e| panic!("{net}: {e}"));
        let size = std::fs::metadata(big.join(format!("{net}-0000.params"))).map_or(0, |m| m.len()) as f64 / 1e6;
        eprintln!(
            "{net}: import {:.3} s, import+export {:.3} s, peak RSS so far {:.0} MB, params {size:.1} MB",
            t1.as_secs_f64(),
            t0.elapsed().as_secs_f64(),
            vm_hwm_mb()
        );
        assert!(g.node_count() > 10);
    }
}
