//! `tflite-convert-bench MODEL.onnx OUT.tflite [--nhwc-io]`: ONNX import → validate → TFLite
//! export, printing the time of each step.

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        return Err("usage: tflite-convert-bench MODEL.onnx OUT.tflite [--nhwc-io]".into());
    }
    let t0 = Instant::now();
    let g = edgeport_onnx::import_path(std::path::Path::new(&args[1]), &Default::default())?;
    let t1 = Instant::now();
    let v = edgeport_ir::validate::validate(&g).map_err(|e| e.to_string())?;
    let opts = edgeport_tflite::export::TfliteExportOptions {
        nhwc_io: args.iter().any(|a| a == "--nhwc-io"),
        ..Default::default()
    };
    let s = edgeport_tflite::export::export_path(&v, std::path::Path::new(&args[2]), &opts)?;
    let t2 = Instant::now();
    println!(
        "import {:.3} s, export {:.3} s, total {:.3} s; {} operators, {} tensors",
        (t1 - t0).as_secs_f64(),
        (t2 - t1).as_secs_f64(),
        (t2 - t0).as_secs_f64(),
        s.operators,
        s.tensors
    );
    Ok(())
}
