//! TensorFlow import errors. Every error names the file and, where it applies, the node, its op
//! and the cause.

use std::path::PathBuf;

/// One node that could not be imported.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeIssue {
    /// The node's name (prefixed by the function it was inlined from, if any).
    pub node: String,
    pub op: String,
    pub reason: String,
}

impl std::fmt::Display for NodeIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "node '{}' ({}): {}", self.node, self.op, self.reason)
    }
}

/// A TensorFlow import error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{file}: not a valid TensorFlow {what}: {msg}")]
    Decode { file: String, what: &'static str, msg: String },
    #[error("{file}: {} node(s) could not be imported:\n  {}", .issues.len(), .issues.iter().map(|i| i.to_string()).collect::<Vec<_>>().join("\n  "))]
    Nodes { file: String, issues: Vec<NodeIssue> },
    #[error("{file}: variables: {msg}")]
    Variables { file: String, msg: String },
    #[error("{file}: {msg}")]
    Model { file: String, msg: String },
}
