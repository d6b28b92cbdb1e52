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

/// PaddlePaddle `ProgramDesc` (package `paddle.framework.proto`), the legacy `.pdmodel`.
#[allow(clippy::all, missing_docs)]
pub mod paddle {
    include!(concat!(env!("OUT_DIR"), "/paddle.framework.proto.rs"));
}

pub use bytes;
pub use prost;
