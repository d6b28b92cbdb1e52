//! MXNet import errors; each names the file and, where it applies, the node, its op and the
//! cause.

use std::path::PathBuf;

/// One node that could not be imported.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeIssue {
    pub node: String,
    pub op: String,
    pub reason: String,
}

impl std::fmt::Display for NodeIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "node '{}' ({}): {}", self.node, self.op, self.reason)
    }
}

/// An MXNet import error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{file}: not a valid MXNet symbol file: {msg}")]
    Symbol { file: String, msg: String },
    #[error("{file}: not a valid MXNet params file: {err}")]
    Params { file: String, err: crate::params::ParamsError },
    #[error("{file}: {} node(s) could not be imported:\n  {}", .issues.len(), .issues.iter().map(|i| i.to_string()).collect::<Vec<_>>().join("\n  "))]
    Nodes { file: String, issues: Vec<NodeIssue> },
    #[error("{file}: {msg}")]
    Files { file: String, msg: String },
}
