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
    assert!(r.error.cosine > 0.999, "{:?}", r.error);
    assert!(r.size_ratio < 0.35, "size ratio {}", r.size_ratio);
    assert!(r.layers.iter().all(|l| l.precision.starts_with("int8")), "{:?}", r.layers);
    eprintln!(
        "digits int8: float top-1 {f:.4}, int8 top-1 {q:.4}, cosine {:.6}, size ratio {:.3}",
        r.error.cosine, r.size_ratio
    );
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
