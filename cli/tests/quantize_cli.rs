//! `edgeport quantize` end to end on the committed digits CNN (trained on scikit-learn's digits
//! by tests/fixtures/quant/make_digits.py): static int8 keeps held-out top-1 within 0.5 point of
//! the float model, the written ONNX re-imports and runs; bad calibration data is refused.

use edgeport_cli::commands::quantize::{QuantizeOptions, run};
use edgeport_cli::io::npz;
use edgeport_eval::{Tensor, Value};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/quant").join(name)
}

fn accuracy(model: &Path) -> f64 {
    let g = edgeport_onnx::import_path(model, &Default::default()).unwrap();
    let arrays = npz::read(&fixture("digits_heldout.npz")).unwrap();
    let get = |n: &str| arrays.iter().find(|(k, _)| k == n).unwrap().1.clone();
    let (images, labels) = (get("image"), get("label"));
    let out = edgeport_eval::run_graph(&g, vec![Value::Tensor(images)]).unwrap();
    let logits = out[0].as_tensor().unwrap().to_f64_vec().unwrap();
    let labels = labels.to_i64_vec().unwrap();
    let hits = logits
        .chunks(10)
        .zip(&labels)
        .filter(|&(row, &l)| {
            let best = row.iter().enumerate().fold(0, |b, (i, &v)| if v > row[b] { i } else { b });
            best as i64 == l
        })
        .count();
    hits as f64 / labels.len() as f64
}

fn opts(out: &Path) -> QuantizeOptions {
    QuantizeOptions {
        input: fixture("digits_cnn.onnx"),
        output: out.to_path_buf(),
        calibration: Some(fixture("digits_calib.npz")),
        heldout: Some(fixture("digits_heldout.npz")),
        ..Default::default()
    }
}

#[test]
fn digits_static_int8_keeps_top1() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("digits_int8.onnx");
    let r = run(&opts(&out)).unwrap();
    let float_top1 = {
        let a = npz::read(&fixture("digits_heldout.npz")).unwrap();
        a.iter().find(|(k, _)| k == "top1").unwrap().1.to_f64_vec().unwrap()[0]
    };
    let q = accuracy(&out);
    let f = accuracy(&fixture("digits_cnn.onnx"));
    assert!(
        (f - float_top1).abs() < 1e-9,
        "evaluator float top-1 {f} vs onnxruntime {float_top1}"
    );
    assert!(q >= f - 0.005, "int8 top-1 {q} vs float {f}");
    assert!(r.error.as_ref().unwrap().cosine > 0.999, "{:?}", r.error);
    assert!(r.size_ratio < 0.35, "size ratio {}", r.size_ratio);
    assert!(r.layers.iter().all(|l| l.precision.starts_with("int8")), "{:?}", r.layers);
    eprintln!(
        "digits int8: float top-1 {f:.4}, int8 top-1 {q:.4}, cosine {:.6}, size ratio {:.3}",
        r.error.as_ref().unwrap().cosine,
        r.size_ratio
    );
}

#[test]
fn no_check_writes_the_same_model_without_an_error_report() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("checked.onnx"), dir.path().join("unchecked.onnx"));
    let checked = run(&opts(&a)).unwrap();
    let unchecked = run(&QuantizeOptions {
        heldout: None,
        no_check: true,
        ..opts(&b)
    })
    .unwrap();
    assert!(checked.error.is_some());
    assert!(unchecked.error.is_none(), "{:?}", unchecked.error);
    assert_eq!(
        std::fs::read(&a).unwrap(),
        std::fs::read(&b).unwrap(),
        "the check must not change the model"
    );
    assert!(unchecked.to_string().contains("not checked (--no-check)"));
}

fn write_npz(dir: &Path, name: &str, arrays: &[(String, Tensor)]) -> PathBuf {
    let p = dir.join(name);
    npz::write(&p, arrays).unwrap();
    p
}

#[test]
fn bad_calibration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.onnx");
    let cases = [
        (
            "shape.npz",
            Tensor::from_f64(edgeport_ir::DType::F32, &[2, 1, 7, 8], vec![0.0; 112]).unwrap(),
            "does not fit",
        ),
        (
            "dtype.npz",
            Tensor::from_f64(edgeport_ir::DType::F64, &[2, 1, 8, 8], vec![0.0; 128]).unwrap(),
            "is f64",
        ),
        (
            "nan.npz",
            Tensor::from_f64(edgeport_ir::DType::F32, &[1, 1, 8, 8], vec![f64::NAN; 64]).unwrap(),
            "non-finite",
        ),
    ];
    for (file, t, want) in cases {
        let p = write_npz(dir.path(), file, &[("image".into(), t)]);
        let e = run(&QuantizeOptions {
            calibration: Some(p),
            ..opts(&out)
        })
        .unwrap_err();
        assert!(e.to_string().contains(want), "{file}: {e}");
        assert!(!out.exists());
    }
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let e = run(&QuantizeOptions {
        calibration: Some(empty),
        ..opts(&out)
    })
    .unwrap_err();
    assert!(e.to_string().contains("no .npy or .npz"), "{e}");
    // A block size that does not divide the reduction axis (fc1 has K = 512).
    let e = run(&QuantizeOptions {
        mode: "int4-weights".into(),
        block_size: 48,
        ..opts(&out)
    })
    .unwrap_err();
    assert!(e.to_string().contains("does not divide"), "{e}");
}

/// Top-1 of a .tflite on the held-out digits (through the TFLite importer and the evaluator);
/// `int_io`: the file takes int8 images and gives int8 scores (quantized with `scale`/`zp`).
fn tflite_accuracy(model: &Path, int_io: Option<(f32, i64)>) -> f64 {
    let g = edgeport_tflite::import_path(model).unwrap();
    let arrays = npz::read(&fixture("digits_heldout.npz")).unwrap();
    let get = |n: &str| arrays.iter().find(|(k, _)| k == n).unwrap().1.clone();
    let (images, labels) = (get("image"), get("label"));
    let labels = labels.to_i64_vec().unwrap();
    let n = labels.len();
    let px = images.to_f64_vec().unwrap();
    let mut hits = 0;
    for (i, &l) in labels.iter().enumerate() {
        let row = px[i * 64..(i + 1) * 64].to_vec();
        let x = match int_io {
            None => Tensor::from_f64(edgeport_ir::DType::F32, &[1, 1, 8, 8], row).unwrap(),
            Some((s, z)) => {
                let q: Vec<f64> = row
                    .iter()
                    .map(|&v| ((v / s as f64).round() + z as f64).clamp(-128.0, 127.0))
                    .collect();
                Tensor::from_f64(edgeport_ir::DType::I8, &[1, 1, 8, 8], q).unwrap()
            }
        };
        let out = edgeport_eval::run_graph(&g, vec![Value::Tensor(x)]).unwrap();
        let y = out[0].as_tensor().unwrap().to_f64_vec().unwrap();
        let best = y.iter().enumerate().fold(0, |b, (i, &v)| if v > y[b] { i } else { b });
        hits += usize::from(best as i64 == l);
    }
    hits as f64 / n as f64
}

/// The file's own TFLite operators by builtin name (the importer would show every int8 tensor
/// as a DequantizeLinear, so the decoded operator list is what tells full-integer apart).
fn op_counts(model: &Path) -> Vec<(String, usize)> {
    let bytes = std::fs::read(model).unwrap();
    let m = edgeport_tflite::model::decode(&bytes).unwrap();
    let mut c: Vec<(String, usize)> = Vec::new();
    for op in &m.subgraphs[0].operators {
        let code = &m.opcodes[op.opcode_index as usize];
        let n = code.builtin.name().unwrap_or("?").to_string();
        match c.iter_mut().find(|(k, _)| *k == n) {
            Some(e) => e.1 += 1,
            None => c.push((n, 1)),
        }
    }
    c
}

#[test]
fn digits_tflite_full_integer_keeps_top1() {
    let dir = tempfile::tempdir().unwrap();
    let f = accuracy(&fixture("digits_cnn.onnx"));
    let out = dir.path().join("digits_int8.tflite");
    let r = run(&opts(&out)).unwrap();
    assert!(r.error.as_ref().unwrap().cosine > 0.999, "{:?}", r.error);
    let q = tflite_accuracy(&out, None);
    assert!(q >= f - 0.005, "tflite int8 top-1 {q} vs float {f}");
    // Full integer: the only float ops are the input QUANTIZE and output DEQUANTIZE.
    let counts = op_counts(&out);
    eprintln!("digits tflite int8: top-1 {q:.4} (float {f:.4}), ops {counts:?}");
    let deq = counts.iter().find(|(k, _)| k == "DEQUANTIZE").map_or(0, |c| c.1);
    let quant = counts.iter().find(|(k, _)| k == "QUANTIZE").map_or(0, |c| c.1);
    assert!(deq <= 1 && quant <= 1, "{counts:?}");
    // int8 I/O: no QUANTIZE/DEQUANTIZE at all.
    let out_io = dir.path().join("digits_int8_io.tflite");
    run(&QuantizeOptions {
        int8_io: true,
        ..opts(&out_io)
    })
    .unwrap();
    let counts = op_counts(&out_io);
    assert!(!counts.iter().any(|(k, _)| k == "DEQUANTIZE" || k == "QUANTIZE"), "{counts:?}");
}

#[test]
fn digits_tflite_dynamic_range_and_fp16() {
    let dir = tempfile::tempdir().unwrap();
    let f = accuracy(&fixture("digits_cnn.onnx"));
    for (mode, max_ratio) in [("int8-dynamic", 0.35), ("fp16", 0.6)] {
        let out = dir.path().join(format!("digits_{mode}.tflite"));
        let r = run(&QuantizeOptions {
            mode: mode.into(),
            ..opts(&out)
        })
        .unwrap();
        let q = tflite_accuracy(&out, None);
        eprintln!(
            "digits tflite {mode}: top-1 {q:.4}, size ratio {:.3}, cosine {:.6}",
            r.size_ratio,
            r.error.as_ref().unwrap().cosine
        );
        assert!(q >= f - 0.005, "{mode}: top-1 {q} vs float {f}");
        assert!(r.size_ratio < max_ratio, "{mode}: size ratio {}", r.size_ratio);
        assert!(r.error.as_ref().unwrap().cosine > 0.999, "{mode}: {:?}", r.error);
    }
}

#[test]
fn garbage_calibration_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.onnx");
    let good = std::fs::read(fixture("digits_calib.npz")).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated.npz", good[..good.len() / 2].to_vec()),
        (
            "random.npz",
            (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect(),
        ),
        ("empty.npz", Vec::new()),
        (
            "header.npy",
            b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 8, 8), }".to_vec(),
        ),
    ];
    for (name, bytes) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let e = run(&QuantizeOptions {
            calibration: Some(p),
            ..opts(&out)
        })
        .unwrap_err();
        assert!(e.to_string().contains(name), "{name}: {e}");
        assert!(!out.exists());
    }
}
