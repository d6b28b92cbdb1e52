//! Paddle importer errors. Every error names the file and, where it applies, the op (its index
//! in the program, its type) or the parameter.

use std::path::PathBuf;

/// One unsupported or invalid op, as collected during import.
#[derive(Debug, Clone, PartialEq)]
pub struct OpIssue {
    /// Position of the op in the program's op list (block 0 / region 0).
    pub index: usize,
    /// The op's type, as written in the file (`conv2d`, `1.conv2d`, …).
    pub op: String,
    /// A name for the op: its first output.
    pub name: String,
    pub reason: String,
}

impl std::fmt::Display for OpIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "op #{} '{}' ({}): {}", self.index, self.name, self.op, self.reason)
    }
}

/// A Paddle import error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{file}: not a valid Paddle program: {msg}")]
    Decode { file: String, msg: String },
    #[error("{file}: parameter '{param}': {msg}")]
    Params { file: String, param: String, msg: String },
    #[error("{file}: {msg}")]
    Companion { file: String, msg: String },
    #[error("{file}: {} op(s) could not be imported:\n  {}", .issues.len(), .issues.iter().map(|i| i.to_string()).collect::<Vec<_>>().join("\n  "))]
    Ops { file: String, issues: Vec<OpIssue> },
    #[error("{file}: {msg}")]
    Graph { file: String, msg: String },
}
