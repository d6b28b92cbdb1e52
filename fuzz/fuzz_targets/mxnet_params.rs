//! Fuzz target `mxnet_params`: any bytes through the MXNet NDArray-list reader
//! (`edgeport_mxnet::params::read_params`) and, split at the first NUL byte, as symbol JSON +
//! params through `edgeport_mxnet::import_bytes`, must give `Ok` or `Err`, never a panic, an
//! abort or a huge allocation.
//!
//! With `--features libfuzzer` (what `cargo fuzz run mxnet_params` uses) this is a libFuzzer
//! target. Without it, it is a plain binary for stable Rust:
//! `mxnet_params [--time SECS] [--seed N] [--out DIR] CORPUS_DIR_OR_FILE...` replays every file,
//! then mutates them (bit flips, byte edits, varint tweaks, splices, truncation) until the
//! time runs out, saving any input that panics to DIR (default `fuzz/artifacts/mxnet_params`).
#![cfg_attr(feature = "libfuzzer", no_main)]

fn run_one(data: &[u8]) {
    let _ = edgeport_mxnet::params::read_params(edgeport_ir::Bytes::from_vec(data.to_vec()));
    if let Some(i) = data.iter().position(|&b| b == 0) {
        let opts = edgeport_mxnet::Options { params: None, input_shapes: vec![("data".into(), vec![1, 3, 8, 8])] };
        let _ = edgeport_mxnet::import_bytes(&data[..i], Some(data[i + 1..].to_vec()), "fuzz-symbol.json", &opts);
    }
}

#[cfg(feature = "libfuzzer")]
libfuzzer_sys::fuzz_target!(|data: &[u8]| run_one(data));

#[cfg(not(feature = "libfuzzer"))]
#[path = "plain_driver.rs"]
mod plain;

#[cfg(not(feature = "libfuzzer"))]
fn main() {
    plain::main("mxnet_params", run_one)
}
