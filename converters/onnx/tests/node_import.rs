//! Imports every ONNX backend node-test model (and the `light` models) and checks that import
//! succeeds, except for the cases listed in `KNOWN` (each with the reason it is not an importer
//! bug). Evaluation is the conformance suite's job; this test only guards the importer. Skips
//! when the test data is absent (run `tests/setup.sh`).

use edgeport_onnx::{ImportOptions, import_path};
use std::path::{Path, PathBuf};

/// Cases expected to fail import, with why.
const KNOWN: &[(&str, &str)] = &[(
    "test_scan_sum",
    "Scan-8 (batch axis + sequence_lens) has no exact Scan-9 form without a Loop over the batch; refused with a clear message",
)];

fn data_dir() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("EDGEPORT_ONNX_DATA") {
        return Some(PathBuf::from(p));
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/onnx-1.22.0/data");
    p.join("node").is_dir().then_some(p)
}

fn models(data: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(data.join("node")) {
        for e in rd.flatten() {
            let m = e.path().join("model.onnx");
            if m.exists() {
                out.push((e.file_name().to_string_lossy().into_owned(), m));
            }
        }
    }
    if let Ok(rd) = std::fs::read_dir(data.join("light")) {
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "onnx") {
                let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                out.push((stem, p));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn node_tests_import() {
    let Some(data) = data_dir() else {
        eprintln!("ONNX test data not found; skipping");
        return;
    };
    let filter = std::env::var("NODE_FILTER").unwrap_or_default();
    let mut unexpected = Vec::new();
    let mut fixed = Vec::new();
    let mut n = 0;
    for (name, path) in models(&data) {
        if !name.contains(&filter) {
            continue;
        }
        n += 1;
        let known = KNOWN.iter().any(|(k, _)| *k == name);
        match import_path(&path, &ImportOptions::default()) {
            Ok(g) => {
                if std::env::var("NODE_PRINT").is_ok() {
                    println!("== {name}\n{}", edgeport_ir::text::print_graph(&g));
                }
                if known {
                    fixed.push(name);
                }
            }
            Err(e) if !known => unexpected.push(format!("{name}: {e}")),
            Err(_) => {}
        }
    }
    eprintln!("{n} models imported; {} unexpected failures", unexpected.len());
    for u in &unexpected {
        eprintln!("{u}");
    }
    assert!(unexpected.is_empty(), "{} models failed import", unexpected.len());
    assert!(fixed.is_empty(), "now import fine, remove from KNOWN: {fixed:?}");
}
