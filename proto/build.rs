//! Compiles the schema files in `schemas/` with prost-build and a vendored protoc, so a fresh
//! machine needs no system protoc.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let files = ["schemas/onnx.proto", "schemas/paddle_framework.proto"];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    // `bytes` fields become `bytes::Bytes`, so decoding from a memory-mapped buffer borrows the
    // weights instead of copying them.
    prost_build::Config::new()
        .protoc_executable(protoc)
        .bytes(["."])
        .compile_protos(&files, &["schemas"])?;
    Ok(())
}
