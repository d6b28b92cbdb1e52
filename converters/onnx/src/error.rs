//! ONNX converter errors. Every error names the file and, where it applies, the node, op and
//! opset.

use std::path::PathBuf;

/// One unsupported or invalid node, as collected during import.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeIssue {
    pub node: String,
    pub op: String,
    pub domain: String,
    pub opset: i64,
    pub reason: String,
}

impl std::fmt::Display for NodeIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dom = if self.domain.is_empty() { "ai.onnx" } else { &self.domain };
        write!(f, "node '{}' ({dom}::{} opset {}): {}", self.node, self.op, self.opset, self.reason)
    }
}

/// An ONNX import or export error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{file}: not a valid ONNX model: {msg}")]
    Decode { file: String, msg: String },
    #[error("{file}: tensor '{tensor}': {msg}")]
    Tensor { file: String, tensor: String, msg: String },
    #[error("{file}: {} node(s) could not be imported:\n  {}", .issues.len(), .issues.iter().map(|i| i.to_string()).collect::<Vec<_>>().join("\n  "))]
    Nodes { file: String, issues: Vec<NodeIssue> },
    #[error("{file}: {msg}")]
    Graph { file: String, msg: String },
    #[error("{file}: cannot export: {}", .problems.join("; "))]
    Export { file: String, problems: Vec<String> },
}
