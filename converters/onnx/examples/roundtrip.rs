//! `roundtrip IN.onnx -o OUT.onnx [--opset N] [--external auto|always|never]`: import →
//! validate → export, the ONNX-to-ONNX path `edgeport convert` takes. Used by
//! `bench/convert_onnx.sh` until the CLI exists.

use edgeport_onnx::{ExportOptions, ExternalDataPolicy, export_path, import_path};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut input = None;
    let mut output = None;
    let mut opts = ExportOptions::default();
    let mut own_opset = true;
    while let Some(a) = args.next() {
        match a.as_str() {
            "-o" => output = args.next().map(PathBuf::from),
            "--opset" => {
                own_opset = false;
                opts.opset = args.next().and_then(|s| s.parse().ok()).unwrap_or(17);
            }
            "--external" => {
                opts.external_data = match args.next().as_deref() {
                    Some("always") => ExternalDataPolicy::Always,
                    Some("never") => ExternalDataPolicy::Never,
                    _ => ExternalDataPolicy::Auto,
                }
            }
            _ => input = Some(PathBuf::from(a)),
        }
    }
    let (Some(input), Some(output)) = (input, output) else {
        eprintln!("usage: roundtrip IN.onnx -o OUT.onnx [--opset N] [--external auto|always|never]");
        return ExitCode::from(2);
    };
    let g = match import_path(&input, &Default::default()) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if own_opset
        && let Some(v) = g
            .metadata
            .iter()
            .find(|(k, _)| k == "onnx.opset.ai.onnx")
            .and_then(|(_, v)| v.parse::<i64>().ok())
    {
        opts.opset = v.clamp(7, 27);
    }
    let v = match edgeport_ir::validate::validate(&g) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = export_path(&v, &output, &opts) {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
