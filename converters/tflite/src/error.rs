//! TFLite converter errors. Every error names the file and, where it applies, the subgraph,
//! operator (index and op name) and tensor.

use std::path::PathBuf;

/// One operator that could not be imported.
#[derive(Debug, Clone, PartialEq)]
pub struct OpIssue {
    pub subgraph: usize,
    pub operator: usize,
    pub op: String,
    pub reason: String,
}

impl std::fmt::Display for OpIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "subgraph {} operator {} ({}): {}",
            self.subgraph, self.operator, self.op, self.reason
        )
    }
}

/// A TFLite import or export error.
#[derive(Debug, thiserror::Error)]
pub enum TfliteError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// The flatbuffer itself is malformed (bad offsets, truncated, wrong identifier…).
    #[error("{file}: not a valid TFLite model: {msg}")]
    Decode { file: String, msg: String },
    /// A tensor's data or metadata is inconsistent.
    #[error("{file}: subgraph {subgraph} tensor {tensor} '{name}': {msg}")]
    Tensor {
        file: String,
        subgraph: usize,
        tensor: usize,
        name: String,
        msg: String,
    },
    /// Operators that could not be imported (all of them are collected).
    #[error("{file}: {} operator(s) could not be imported:\n  {}", .issues.len(), .issues.iter().map(|i| i.to_string()).collect::<Vec<_>>().join("\n  "))]
    Ops { file: String, issues: Vec<OpIssue> },
    /// A structural problem of the model (subgraph cycle, bad signature, …).
    #[error("{file}: {msg}")]
    Model { file: String, msg: String },
    /// Export problems (all listed before anything is written).
    #[error("{file}: cannot export: {}", .problems.join("; "))]
    Export { file: String, problems: Vec<String> },
}
