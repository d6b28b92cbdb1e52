//! # edgeport-caffe — Caffe import
pub mod decode;
pub mod error;
pub mod text;
pub use error::{Error, LayerIssue};
