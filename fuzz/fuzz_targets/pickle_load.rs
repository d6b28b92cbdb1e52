//! Fuzz target `pickle_load`: any bytes through edgeport-pytorch's readers — the safe pickle
//! reader (and the tensor walk of its result), the torch.save loader (zip or legacy) and the
//! `.pt2` importer — must give `Ok` or `Err`, never a panic, an abort or a huge allocation.
//!
//! With `--features libfuzzer` this is a libFuzzer target (`cargo fuzz run pickle_load`);
//! without it, a plain corpus replayer/mutator on stable Rust (see `plain_driver.rs`).
#![cfg_attr(feature = "libfuzzer", no_main)]

fn run_one(data: &[u8]) {
    use edgeport_pytorch::{pickle, torch_save, zip};
    if let Ok(v) = pickle::load("fuzz.pkl", data, &pickle::Options::default()) {
        let mut out = Vec::new();
        let _ = torch_save::collect_tensors(&v, &mut out);
    }
    let ts = pickle::Options {
        script_classes: true,
        ..Default::default()
    };
    let _ = pickle::load("fuzz.pkl", data, &ts);
    let bytes = edgeport_ir::Bytes::from_vec(data.to_vec());
    let _ = torch_save::load_tensors("fuzz.pt", bytes.clone());
    if let Ok(ar) = zip::Archive::parse("fuzz.pt2", bytes) {
        for e in ar.entries() {
            let _ = ar.read(&e.name);
        }
        let _ = edgeport_pytorch::export_program::import_archive(&ar);
    }
}

#[cfg(feature = "libfuzzer")]
libfuzzer_sys::fuzz_target!(|data: &[u8]| run_one(data));

#[cfg(not(feature = "libfuzzer"))]
#[path = "plain_driver.rs"]
mod plain;

#[cfg(not(feature = "libfuzzer"))]
fn main() {
    plain::main("pickle_load", run_one)
}
