//! Fuzz target `pdiparams`: any bytes as a Paddle combined parameter file must give `Ok` or
//! `Err`, never a panic, an abort or a huge allocation. Each input is read as a `.pdiparams`
//! for 1 and 36 tensors, and imported together with the committed det-head program (legacy
//! form), so tensors of unexpected shapes and dtypes reach the op rules too.
//!
//! With `--features libfuzzer` (what `cargo fuzz run pdiparams` uses) this is a libFuzzer
//! target. Without it, it is a plain binary for stable Rust with the same replayer/mutator as
//! `onnx_import`: `pdiparams [--time SECS] [--seed N] [--out DIR] CORPUS_DIR_OR_FILE...`
//! (seed it with `tests/fixtures/paddle/*.pdiparams`).
#![cfg_attr(feature = "libfuzzer", no_main)]

const PROGRAM: &[u8] = include_bytes!("../../tests/fixtures/paddle/det_head.legacy.pdmodel");

fn run_one(data: &[u8]) {
    let buf = edgeport_ir::Bytes::from_vec(data.to_vec());
    let _ = edgeport_paddle::params::read_combined(&buf, 1);
    let _ = edgeport_paddle::params::read_combined(&buf, 36);
    let _ = edgeport_paddle::import_bytes(PROGRAM, edgeport_paddle::Form::Legacy, data.to_vec(), "fuzz.pdmodel");
}

#[cfg(feature = "libfuzzer")]
libfuzzer_sys::fuzz_target!(|data: &[u8]| run_one(data));

#[cfg(not(feature = "libfuzzer"))]
#[path = "plain_driver.rs"]
mod plain;

#[cfg(not(feature = "libfuzzer"))]
fn main() {
    plain::main("pdiparams", run_one)
}
