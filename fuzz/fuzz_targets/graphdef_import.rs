//! Fuzz target `graphdef_import`: any bytes through
//! `edgeport_tensorflow::import_graphdef_bytes` (GraphDef decode, function inlining, op rules)
//! and through the tensor-bundle table reader must give `Ok` or `Err`, never a panic, an abort
//! or a huge allocation.
//!
//! With `--features libfuzzer` (what `cargo fuzz run graphdef_import` uses) this is a libFuzzer
//! target. Without it, it is a plain binary for stable Rust:
//! `graphdef_import [--time SECS] [--seed N] [--out DIR] CORPUS_DIR_OR_FILE...` replays every file,
//! then mutates them (bit flips, byte edits, varint tweaks, splices, truncation) until the
//! time runs out, saving any input that panics to DIR (default `fuzz/artifacts/graphdef_import`).
#![cfg_attr(feature = "libfuzzer", no_main)]

fn run_one(data: &[u8]) {
    let _ = edgeport_tensorflow::import_graphdef_bytes(data.to_vec(), "fuzz.pb", &Default::default());
    let _ = edgeport_tensorflow::bundle::sstable::read_table(data);
}

#[cfg(feature = "libfuzzer")]
libfuzzer_sys::fuzz_target!(|data: &[u8]| run_one(data));

#[cfg(not(feature = "libfuzzer"))]
#[path = "plain_driver.rs"]
mod plain;

#[cfg(not(feature = "libfuzzer"))]
fn main() {
    plain::main("graphdef_import", run_one)
}
