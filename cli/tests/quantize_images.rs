//! Image-folder calibration (`--calibration DIR --preprocess …`) on the committed digits
//! images (tests/fixtures/quant/make_digit_images.py: the digits CNN's 32 calibration images as
//! 24 PNG + 8 JPEG files): the loader reproduces the model inputs the PNGs stand for, static int8
//! calibrated from the images keeps held-out top-1 within 0.5 point of float, bad images or
//! specs are refused with the file named, and without --heldout the error is measured on
//! calibration samples.

use edgeport_cli::calib::{self, images::Preprocess};
use edgeport_cli::commands::quantize::{QuantizeOptions, run};
use edgeport_cli::io::npz;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/quant").join(name)
}

const SPEC: &str = "scale=255,mean=0.5,std=0.5,layout=nchw,order=rgb";

#[test]
fn images_load_as_model_inputs() {
    let g = edgeport_onnx::import_path(&fixture("digits_cnn.onnx"), &Default::default()).unwrap();
    let pre = Preprocess::parse(SPEC).unwrap();
    let s = calib::load_with(&g, Some(&fixture("digit_images")), 0, 0, Some(&pre)).unwrap();
    assert_eq!(s.samples.len(), 32);
    let want = npz::read(&fixture("digit_images_expected.npz")).unwrap();
    let want = want.iter().find(|(k, _)| k == "png").unwrap().1.to_f64_vec().unwrap();
    // The 24 PNGs (sorted first) are lossless: equal to the saved inputs.
    let mut got = Vec::new();
    for smp in &s.samples[..24] {
        let t = smp[0].as_tensor().unwrap();
        assert_eq!(t.shape(), &[1, 1, 8, 8]);
        got.extend(t.to_f64_vec().unwrap());
    }
    assert_eq!(got.len(), want.len());
    let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-6, "max abs {worst}");
    // The JPEGs decode into the same value range.
    for smp in &s.samples[24..] {
        let v = smp[0].as_tensor().unwrap().to_f64_vec().unwrap();
        assert!(v.iter().all(|x| (-1.05..=1.05).contains(x)), "{v:?}");
    }
}

#[test]
fn static_int8_from_images_keeps_top1() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("digits_img_int8.onnx");
    let r = run(&QuantizeOptions {
        input: fixture("digits_cnn.onnx"),
        output: out.clone(),
        calibration: Some(fixture("digit_images")),
        heldout: Some(fixture("digits_heldout.npz")),
        preprocess: Some(SPEC.into()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(r.calibration_samples, 32);
    assert!(r.error.as_ref().unwrap().cosine > 0.999, "{:?}", r.error);
    let top1 = r.error.as_ref().unwrap().top1_agreement.unwrap();
    assert!(top1 >= 0.995, "top-1 agreement with float {top1}");
    assert!(out.exists());
}

#[test]
fn without_heldout_the_check_reads_calibration_samples() {
    // Real calibration data and no --heldout: the error is measured on the user's own data
    // (in-sample, and the report says so), not on synthetic noise.
    let dir = tempfile::tempdir().unwrap();
    let r = run(&QuantizeOptions {
        input: fixture("digits_cnn.onnx"),
        output: dir.path().join("digits_int8.onnx"),
        calibration: Some(fixture("digits_calib.npz")),
        ..Default::default()
    })
    .unwrap();
    let e = r.error.as_ref().unwrap();
    assert_eq!(e.samples, 8);
    assert!(
        e.source.contains("digits_calib.npz") && e.source.contains("in-sample"),
        "{}",
        e.source
    );
    assert!(e.cosine > 0.999, "{e:?}");
    // Without calibration data either, the check stays synthetic.
    let r = run(&QuantizeOptions {
        input: fixture("digits_cnn.onnx"),
        output: dir.path().join("digits_synth.onnx"),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(r.error.as_ref().unwrap().source, "synthetic");
}

#[test]
fn bad_images_and_specs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.onnx");
    let base = QuantizeOptions {
        input: fixture("digits_cnn.onnx"),
        output: out.clone(),
        calibration: Some(fixture("digit_images")),
        heldout: Some(fixture("digits_heldout.npz")),
        preprocess: Some(SPEC.into()),
        ..Default::default()
    };
    // A size the model input does not have.
    let e = run(&QuantizeOptions {
        preprocess: Some(format!("{SPEC},size=224")),
        ..base.clone()
    })
    .unwrap_err();
    assert!(e.to_string().contains("does not match model input"), "{e}");
    // Three mean values for a one-channel input.
    let e = run(&QuantizeOptions {
        preprocess: Some("mean=0.1,0.2,0.3".into()),
        ..base.clone()
    })
    .unwrap_err();
    assert!(e.to_string().contains("3 values for 1 channels"), "{e}");
    // A truncated PNG and a random "JPEG".
    let bad = dir.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    let png = std::fs::read(fixture("digit_images/digit_00.png")).unwrap();
    std::fs::write(bad.join("a.png"), &png[..png.len() / 2]).unwrap();
    let e = run(&QuantizeOptions {
        calibration: Some(bad.clone()),
        ..base.clone()
    })
    .unwrap_err();
    assert!(e.to_string().contains("a.png"), "{e}");
    std::fs::remove_file(bad.join("a.png")).unwrap();
    let noise: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(bad.join("b.jpg"), noise).unwrap();
    let e = run(&QuantizeOptions {
        calibration: Some(bad),
        ..base
    })
    .unwrap_err();
    assert!(e.to_string().contains("b.jpg"), "{e}");
    assert!(!out.exists());
}
