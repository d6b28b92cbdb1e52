//! # edgeport-proto
//!
//! Protobuf types generated at build time from edgeport's own minimal schema files in
//! `schemas/` (written from each format's published field numbers). Only converter `decode`
//! modules use these types; they never appear in the IR's API.

/// ONNX `ModelProto` and friends (package `onnx`), plus the test-data containers.
#[allow(clippy::all, missing_docs)]
pub mod onnx {
    include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
}

/// TensorFlow GraphDef, SavedModel and tensor-bundle messages (package `tensorflow`).
#[allow(clippy::all, missing_docs)]
pub mod tensorflow {
    include!(concat!(env!("OUT_DIR"), "/tensorflow.rs"));
}

/// Caffe `NetParameter` and friends (package `caffe`): prototxt and caffemodel.
#[allow(clippy::all, missing_docs)]
pub mod caffe {
    include!(concat!(env!("OUT_DIR"), "/caffe.rs"));
    /// The encoded `FileDescriptorSet` of the Caffe schema (for the text-format reader).
    pub const DESCRIPTOR: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/caffe_descriptor.bin"));
}

/// PaddlePaddle `ProgramDesc` (package `paddle.framework.proto`), the legacy `.pdmodel`.
#[allow(clippy::all, missing_docs)]
pub mod paddle {
    include!(concat!(env!("OUT_DIR"), "/paddle.framework.proto.rs"));
}

pub use bytes;
pub use prost;
