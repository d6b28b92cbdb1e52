//! Typed errors of graph building, differentiable execution and training.

/// Why building, running or training failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The graph is not usable for training (bad structure, unsupported attribute, …).
    #[error("{0}")]
    Graph(String),
    /// Ops on the gradient path that have no gradient here, one entry per node.
    #[error("{} op(s) on the gradient path have no gradient: {}", .0.len(), .0.join("; "))]
    NoGradient(Vec<String>),
    /// A node failed while running.
    #[error("node '{node}' ({op}): {msg}")]
    Node { node: String, op: String, msg: String },
    /// The data does not fit the models, or teacher and student disagree.
    #[error("{0}")]
    Data(String),
    /// The loss became NaN or infinite.
    #[error("{0}")]
    NonFinite(String),
    /// Reading or writing checkpoints.
    #[error("{0}")]
    Io(String),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, TrainError>;

/// Wraps a candle error with the node it came from.
pub(crate) fn node_err(node: &str, op: &str, e: impl std::fmt::Display) -> TrainError {
    TrainError::Node {
        node: node.to_string(),
        op: op.to_string(),
        msg: first_line(&e.to_string()),
    }
}

/// Candle errors carry backtraces when RUST_BACKTRACE is set; keep the message line only.
pub(crate) fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

/// A candle error as a plain message (first line).
pub(crate) fn ce(e: candle_core::Error) -> String {
    first_line(&e.to_string())
}
