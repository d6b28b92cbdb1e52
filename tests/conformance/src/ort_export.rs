//! `ort_export`: exports every ONNX node-test case and light model through import → validate
//! → export, for `tests/ort_suite.py` to run on onnxruntime.
//!
//! Usage: `ort_export --out DIR [--opsets own,21,17] [FILTER]`. For each case and opset it
//! writes `DIR/<case>/model_<tag>.onnx` (tag `own` = the model's own opset) and appends
//! `<case> <tag> ok` or `<case> <tag> fail <reason>` to `DIR/export_status.txt`.

use edgeport_conformance::DataDir;
use edgeport_onnx::{ExportOptions, export_path, import_path};
use std::io::Write;
use std::path::{Path, PathBuf};

fn own_opset(g: &edgeport_ir::Graph) -> i64 {
    g.metadata
        .iter()
        .find(|(k, _)| k == "onnx.opset.ai.onnx")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(17)
}

fn one(model: &Path, out: &Path, tag: &str) -> Result<(), String> {
    let g = import_path(model, &Default::default()).map_err(|e| format!("import: {e}"))?;
    let v = edgeport_ir::validate::validate(&g).map_err(|e| format!("validate: {e}"))?;
    let opset = if tag == "own" {
        own_opset(&g).clamp(7, 27)
    } else {
        tag.parse::<i64>().map_err(|e| e.to_string())?
    };
    let opts = ExportOptions {
        opset,
        ..Default::default()
    };
    std::fs::create_dir_all(out.parent().unwrap_or(Path::new("."))).map_err(|e| e.to_string())?;
    export_path(&v, out, &opts).map_err(|e| format!("export: {e}"))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut out = PathBuf::from("target/ort");
    let mut tags = vec!["own".to_string()];
    let mut filter = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out = PathBuf::from(args.next().unwrap_or_default()),
            "--opsets" => tags = args.next().unwrap_or_default().split(',').map(str::to_string).collect(),
            f => filter = Some(f.to_string()),
        }
    }
    let Some(data) = DataDir::locate() else {
        eprintln!("ONNX test data not found: run tests/setup.sh or set EDGEPORT_ONNX_DATA");
        std::process::exit(2);
    };
    let mut cases: Vec<(String, PathBuf)> = data
        .node_cases()
        .into_iter()
        .map(|d| {
            (
                d.file_name().unwrap_or_default().to_string_lossy().into_owned(),
                d.join("model.onnx"),
            )
        })
        .collect();
    cases.extend(data.light_cases().into_iter().map(|(n, m, _)| (n, m)));
    if let Some(f) = &filter {
        cases.retain(|(n, _)| n.contains(f.as_str()));
    }
    if std::fs::create_dir_all(&out).is_err() {
        eprintln!("cannot create {}", out.display());
        std::process::exit(2);
    }
    let status_path = out.join("export_status.txt");
    let mut status = match std::fs::File::create(&status_path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{}: {e}", status_path.display());
            std::process::exit(2);
        }
    };
    let mut ok = 0;
    let mut total = 0;
    for (name, model) in &cases {
        for tag in &tags {
            total += 1;
            let dst = out.join(name).join(format!("model_{tag}.onnx"));
            let _ = std::fs::remove_file(&dst);
            let line = match one(model, &dst, tag) {
                Ok(()) => {
                    ok += 1;
                    format!("{name} {tag} ok")
                }
                Err(e) => format!("{name} {tag} fail {}", e.replace('\n', " ").chars().take(400).collect::<String>()),
            };
            let _ = writeln!(status, "{line}");
        }
    }
    eprintln!("exported {ok} of {total} (case, opset) pairs into {}", out.display());
}
