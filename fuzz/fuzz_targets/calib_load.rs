//! Fuzz target `calib_load`: any bytes as quantization calibration data — through the `.npy`
//! parser, and written to a temporary `.npz` and `.npy` file read by `edgeport quantize`'s
//! calibration loader (`edgeport_cli::calib::load`) against a two-input model (f32 [N,4] with a
//! symbolic batch, i64 [1,3]) — must give `Ok` or `Err`, never a panic, an abort or a huge
//! allocation.
//!
//! With `--features libfuzzer` (what `cargo fuzz run calib_load` uses) this is a libFuzzer
//! target. Without it, it is a plain binary for stable Rust:
//! `calib_load [--time SECS] [--seed N] [--out DIR] CORPUS_DIR_OR_FILE...` (seed it with
//! `tests/fixtures/quant/*.npz`).
#![cfg_attr(feature = "libfuzzer", no_main)]

use edgeport_ir::{DType, Dim, Graph, Shape, ValueType};
use std::sync::OnceLock;

fn model() -> &'static (Graph, Graph) {
    static G: OnceLock<(Graph, Graph)> = OnceLock::new();
    G.get_or_init(|| {
        let mut two = Graph::new("two");
        two.add_input(
            "x",
            Some(ValueType::tensor(DType::F32, Some(Shape(vec![Dim::Sym("n".into()), Dim::Known(4)])))),
        );
        two.add_input("ids", Some(ValueType::tensor(DType::I64, Some(Shape::known(&[1, 3])))));
        let mut one = Graph::new("one");
        one.add_input("x", Some(ValueType::tensor(DType::F32, Some(Shape::known(&[1, 2, 2])))));
        (two, one)
    })
}

fn run_one(data: &[u8]) {
    let _ = edgeport_cli::io::npy::read(data);
    let (two, one) = model();
    let dir = std::env::temp_dir().join(format!("edgeport-fuzz-calib-{}", std::process::id()));
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let npz = dir.join("c.npz");
    let npy = dir.join("c.npy");
    if std::fs::write(&npz, data).is_ok() {
        let _ = edgeport_cli::calib::load(two, Some(&npz), 0, 0);
    }
    if std::fs::write(&npy, data).is_ok() {
        let _ = edgeport_cli::calib::load(one, Some(&npy), 0, 0);
    }
}

#[cfg(feature = "libfuzzer")]
libfuzzer_sys::fuzz_target!(|data: &[u8]| run_one(data));

#[cfg(not(feature = "libfuzzer"))]
#[path = "plain_driver.rs"]
mod plain;

#[cfg(not(feature = "libfuzzer"))]
fn main() {
    plain::main("calib_load", run_one)
}
