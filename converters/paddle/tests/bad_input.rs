//! Hostile and broken inputs: every one must fail with an error naming the file and the op or
//! parameter, never panic. Also companion discovery and the `weights` override.

mod common;
use common::fixtures;
use edgeport_paddle::{Error, PaddleOptions, import_path};
use std::path::{Path, PathBuf};

fn copy(dir: &Path, name: &str, to: &str) -> PathBuf {
    let p = dir.join(to);
    std::fs::copy(fixtures().join(name), &p).unwrap();
    p
}

/// Byte offsets where each tensor record of a combined params file ends.
fn record_ends(b: &[u8]) -> Vec<usize> {
    let t = edgeport_paddle::params::read_combined(&edgeport_ir::Bytes::from_vec(b.to_vec()), usize::MAX);
    assert!(t.is_err());
    let mut ends = Vec::new();
    let mut n = 1;
    loop {
        let buf = edgeport_ir::Bytes::from_vec(b.to_vec());
        match edgeport_paddle::params::read_combined(&buf, n) {
            Ok(_) => {
                ends.push(b.len());
                return ends;
            }
            Err(e) if e.msg.contains("left after") => {
                ends.push(b.len() - e.msg.split(' ').next().unwrap().parse::<usize>().unwrap());
                n += 1;
            }
            Err(e) => panic!("{}", e.msg),
        }
    }
}

#[test]
fn too_few_tensors_names_file_and_parameter() {
    let d = tempfile::tempdir().unwrap();
    let prog = copy(d.path(), "det_head.pir.json", "m.json");
    let full = std::fs::read(fixtures().join("det_head.pir.pdiparams")).unwrap();
    let ends = record_ends(&full);
    assert_eq!(ends.len(), 36);
    std::fs::write(d.path().join("m.pdiparams"), &full[..ends[33]]).unwrap();
    let e = import_path(&prog, &PaddleOptions::default()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::Params { .. }), "{msg}");
    assert!(msg.contains("m.pdiparams"), "{msg}");
    assert!(msg.contains("ends after 34 tensor(s), the program needs 36"), "{msg}");
    // The 35th parameter in sorted order is the first one missing.
    assert!(msg.contains("parameter 'conv2d_transpose_1.b_0'"), "{msg}");
}

#[test]
fn truncated_tensor_data() {
    let d = tempfile::tempdir().unwrap();
    let prog = copy(d.path(), "zoo.pir.json", "z.json");
    let full = std::fs::read(fixtures().join("zoo.pir.pdiparams")).unwrap();
    std::fs::write(d.path().join("z.pdiparams"), &full[..full.len() - 10]).unwrap();
    let msg = import_path(&prog, &PaddleOptions::default()).unwrap_err().to_string();
    assert!(msg.contains("z.pdiparams"), "{msg}");
    assert!(msg.contains("parameter 'zoo_0.w_0'"), "{msg}");
    assert!(msg.contains("truncated: data of a f32 [12, 12] tensor"), "{msg}");
}

#[test]
fn params_of_another_program() {
    let d = tempfile::tempdir().unwrap();
    let prog = copy(d.path(), "zoo.legacy.pdmodel", "z.pdmodel");
    let w = fixtures().join("det_head.legacy.pdiparams");
    let msg = import_path(&prog, &PaddleOptions { weights: Some(w) }).unwrap_err().to_string();
    assert!(msg.contains("det_head.legacy.pdiparams"), "{msg}");
    assert!(msg.contains("belongs to another program"), "{msg}");
}

#[test]
fn unknown_dialect_and_unsupported_ops_all_listed() {
    let d = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixtures().join("zoo.pir.json")).unwrap();
    let text = text
        .replacen("\"1.tanh\"", "\"7.tanh\"", 1)
        .replacen("\"1.swish\"", "\"1.frobnicate\"", 1);
    std::fs::write(d.path().join("z.json"), text).unwrap();
    copy(d.path(), "zoo.pir.pdiparams", "z.pdiparams");
    let e = import_path(&d.path().join("z.json"), &PaddleOptions::default()).unwrap_err();
    let msg = e.to_string();
    let Error::Ops { issues, .. } = &e else { panic!("{msg}") };
    assert!(msg.contains("z.json"), "{msg}");
    assert!(
        issues.iter().any(|i| i.op == "7.tanh" && i.reason.contains("unknown dialect '7'")),
        "{msg}"
    );
    assert!(
        issues
            .iter()
            .any(|i| i.op == "1.frobnicate" && i.reason.contains("'frobnicate' is not supported")),
        "{msg}"
    );
}

#[test]
fn random_and_truncated_programs() {
    let d = tempfile::tempdir().unwrap();
    let legacy = std::fs::read(fixtures().join("det_head.legacy.pdmodel")).unwrap();
    let pir = std::fs::read(fixtures().join("det_head.pir.json")).unwrap();
    let params = std::fs::read(fixtures().join("det_head.pir.pdiparams")).unwrap();
    let mut seed = 0x1234_5678u64;
    for round in 0..60 {
        for (src, form) in [(&legacy, edgeport_paddle::Form::Legacy), (&pir, edgeport_paddle::Form::Pir)] {
            let mut b = src.to_vec();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let cut = (seed as usize) % b.len();
            if round % 2 == 0 {
                b.truncate(cut);
            } else {
                for k in 0..8 {
                    let i = (cut + k * 7919) % b.len();
                    b[i] = b[i].wrapping_add((seed >> (k * 8)) as u8);
                }
            }
            // Must not panic; may import when the change is harmless.
            let _ = edgeport_paddle::import_bytes(&b, form, params.clone(), "fuzzed");
        }
    }
    std::fs::write(d.path().join("r.pdmodel"), b"\xff\xff\xff\xff garbage").unwrap();
    let msg = import_path(&d.path().join("r.pdmodel"), &PaddleOptions::default())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("r.pdmodel: not a valid Paddle program"), "{msg}");
    std::fs::write(d.path().join("r.json"), b"{\"base_code\": {\"magic\": \"nope\"}}").unwrap();
    let msg = import_path(&d.path().join("r.json"), &PaddleOptions::default())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("r.json") && msg.contains("magic"), "{msg}");
}

#[test]
fn missing_params_file_suggests_weights() {
    let d = tempfile::tempdir().unwrap();
    let prog = copy(d.path(), "zoo.legacy.pdmodel", "inference.pdmodel");
    let msg = import_path(&prog, &PaddleOptions::default()).unwrap_err().to_string();
    assert!(msg.contains("inference.pdiparams does not exist (pass --weights)"), "{msg}");
    // The override finds them elsewhere.
    let g = import_path(
        &prog,
        &PaddleOptions {
            weights: Some(fixtures().join("zoo.legacy.pdiparams")),
        },
    )
    .unwrap();
    assert_eq!(g.outputs().len(), 2);
}

#[test]
fn folder_with_one_program() {
    let d = tempfile::tempdir().unwrap();
    copy(d.path(), "zoo.pir.json", "inference.json");
    copy(d.path(), "zoo.pir.pdiparams", "inference.pdiparams");
    let g = import_path(d.path(), &PaddleOptions::default()).unwrap();
    assert_eq!(g.outputs().len(), 2);
    copy(d.path(), "zoo.legacy.pdmodel", "inference.pdmodel");
    let msg = import_path(d.path(), &PaddleOptions::default()).unwrap_err().to_string();
    assert!(msg.contains("holds 2 programs"), "{msg}");
}
