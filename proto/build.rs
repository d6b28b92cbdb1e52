//! Compiles the schema files in `schemas/` with prost-build and a vendored protoc, so a fresh
//! machine needs no system protoc.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let files = [
        "schemas/onnx.proto",
        "schemas/tensorflow/tensorflow.proto",
        "schemas/paddle_framework.proto",
    ];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    // `bytes` fields become `bytes::Bytes`, so decoding from a memory-mapped buffer borrows the
    // weights instead of copying them.
    prost_build::Config::new()
        .protoc_executable(protoc)
        .bytes(["."])
        .compile_protos(&files, &["schemas"])?;
    // Caffe: also keep the schema's descriptor, which the prototxt (text format) reader uses to
    // map field and enum names to numbers.
    let caffe = "schemas/caffe.proto";
    println!("cargo:rerun-if-changed={caffe}");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    prost_build::Config::new()
        .protoc_executable(protoc_bin_vendored::protoc_bin_path()?)
        .bytes(["."])
        .file_descriptor_set_path(out.join("caffe_descriptor.bin"))
        .compile_protos(&[caffe], &["schemas"])?;
    Ok(())
}
