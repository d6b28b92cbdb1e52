//! Caffe import errors. Every error names the file and, where it applies, the layer, its type
//! and the cause; syntax errors in a prototxt carry the line and column.

use std::path::PathBuf;

/// One layer that could not be imported.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerIssue {
    pub layer: String,
    pub ty: String,
    pub reason: String,
}

impl std::fmt::Display for LayerIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "layer '{}' ({}): {}", self.layer, self.ty, self.reason)
    }
}

/// A Caffe import error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{file}: {err}")]
    Syntax { file: String, err: crate::text::TextError },
    #[error("{file}: not a valid Caffe {what}: {msg}")]
    Decode { file: String, what: &'static str, msg: String },
    #[error("{file}: layer '{layer}': {msg}")]
    Weights { file: String, layer: String, msg: String },
    #[error("{file}: {} layer(s) could not be imported:\n  {}", .issues.len(), .issues.iter().map(|i| i.to_string()).collect::<Vec<_>>().join("\n  "))]
    Layers { file: String, issues: Vec<LayerIssue> },
    #[error("{file}: {msg}")]
    Net { file: String, msg: String },
}
