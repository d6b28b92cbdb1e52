//! Fuzz target `tflite_import`: any bytes through `edgeport_tflite::import_bytes` must give
//! `Ok` or `Err`, never a panic, an abort or a huge allocation.
//!
//! With `--features libfuzzer` (what `cargo fuzz run tflite_import` uses) this is a libFuzzer
//! target. Without it, it is a plain binary for stable Rust:
//! `tflite_import [--time SECS] [--seed N] [--out DIR] CORPUS_DIR_OR_FILE...` replays every file,
//! then mutates them (bit flips, byte edits, u32 offset/length tweaks, splices, truncation)
//! until the time runs out, saving any input that panics to DIR (default
//! `fuzz/artifacts/tflite_import`).
#![cfg_attr(feature = "libfuzzer", no_main)]

fn run_one(data: &[u8]) {
    let _ = edgeport_tflite::import_bytes(data.to_vec(), "fuzz.tflite");
}

#[cfg(feature = "libfuzzer")]
libfuzzer_sys::fuzz_target!(|data: &[u8]| run_one(data));

#[cfg(not(feature = "libfuzzer"))]
#[path = "plain_driver.rs"]
mod plain;

#[cfg(not(feature = "libfuzzer"))]
fn main() {
    plain::main("tflite_import", run_one)
}
