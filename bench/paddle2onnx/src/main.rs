//! `paddle2onnx-bench MODEL OUT.onnx [--weights P]`: import a Paddle program with
//! edgeport-paddle, validate, export with edgeport-onnx — what `edgeport convert` does for
//! these formats, without the CLI's other dependencies. Used by bench/convert_paddle.sh.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(model), Some(out)) = (args.first(), args.get(1)) else {
        eprintln!("usage: paddle2onnx-bench MODEL OUT.onnx [--weights FILE]");
        return ExitCode::from(2);
    };
    let weights = args
        .iter()
        .position(|a| a == "--weights")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from);
    let t0 = std::time::Instant::now();
    let g = match edgeport_paddle::import_path(model.as_ref(), &edgeport_paddle::PaddleOptions { weights }) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    let t1 = std::time::Instant::now();
    let v = match edgeport_ir::validate::validate(&g) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{model}: invalid graph: {e}");
            return ExitCode::from(1);
        }
    };
    if let Err(e) = edgeport_onnx::export_path(&v, out.as_ref(), &Default::default()) {
        eprintln!("{e}");
        return ExitCode::from(1);
    }
    let t2 = std::time::Instant::now();
    eprintln!(
        "import {:.3} s, validate+export {:.3} s, {} nodes",
        (t1 - t0).as_secs_f64(),
        (t2 - t1).as_secs_f64(),
        g.node_count()
    );
    ExitCode::SUCCESS
}
