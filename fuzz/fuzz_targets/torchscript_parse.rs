//! Fuzz target `torchscript_parse`: any bytes through edgeport-pytorch's TorchScript readers —
//! the source lexer/parser (the bytes as a `code/…py` file) and, for zips, the whole TorchScript
//! importer (archive, pickled module tree, constants, symbolic run of `forward`) — must give
//! `Ok` or `Err`, never a panic, an abort, a stack overflow or a huge allocation.
//!
//! With `--features libfuzzer` this is a libFuzzer target (`cargo fuzz run torchscript_parse`);
//! without it, a plain corpus replayer/mutator on stable Rust (see `plain_driver.rs`). Seed it
//! with the committed `.pt` fixtures and their `code/` sources.
#![cfg_attr(feature = "libfuzzer", no_main)]

fn run_one(data: &[u8]) {
    use edgeport_pytorch::{torchscript, zip};
    if let Ok(src) = std::str::from_utf8(data) {
        let _ = torchscript::parser::parse(src);
    }
    let bytes = edgeport_ir::Bytes::from_vec(data.to_vec());
    if let Ok(ar) = zip::Archive::parse("fuzz.pt", bytes) {
        let _ = torchscript::import_archive(ar, &torchscript::TsOptions::default());
    }
}

#[cfg(feature = "libfuzzer")]
libfuzzer_sys::fuzz_target!(|data: &[u8]| run_one(data));

#[cfg(not(feature = "libfuzzer"))]
#[path = "plain_driver.rs"]
mod plain;

#[cfg(not(feature = "libfuzzer"))]
fn main() {
    plain::main("torchscript_parse", run_one)
}
