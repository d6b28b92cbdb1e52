//! Fuzz target `caffe_text`: any bytes as a Caffe prototxt (protobuf text format) through
//! `edgeport_caffe::import_bytes` — tokenizer, parser, schema binding and layer rules — and, split
//! at the first NUL byte, as prototxt + caffemodel, must give `Ok` or `Err`, never a panic.
//!
//! With `--features libfuzzer` (what `cargo fuzz run caffe_text` uses) this is a libFuzzer
//! target. Without it, it is a plain binary for stable Rust:
//! `caffe_text [--time SECS] [--seed N] [--out DIR] CORPUS_DIR_OR_FILE...` replays every file,
//! then mutates them (bit flips, byte edits, varint tweaks, splices, truncation) until the
//! time runs out, saving any input that panics to DIR (default `fuzz/artifacts/caffe_text`).
#![cfg_attr(feature = "libfuzzer", no_main)]

fn run_one(data: &[u8]) {
    let opts = edgeport_caffe::Options::default();
    let _ = edgeport_caffe::import_bytes(data, None, "fuzz.prototxt", &opts);
    if let Some(i) = data.iter().position(|&b| b == 0) {
        let _ = edgeport_caffe::import_bytes(&data[..i], Some(data[i + 1..].to_vec()), "fuzz.prototxt", &opts);
    }
}

#[cfg(feature = "libfuzzer")]
libfuzzer_sys::fuzz_target!(|data: &[u8]| run_one(data));

#[cfg(not(feature = "libfuzzer"))]
#[path = "plain_driver.rs"]
mod plain;

#[cfg(not(feature = "libfuzzer"))]
fn main() {
    plain::main("caffe_text", run_one)
}
