//! Evaluator errors: every error names the node and op where it happened.

/// An error inside one op.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OpError {
    /// The op (or this form of it) is not implemented by the evaluator.
    #[error("not supported: {0}")]
    Unsupported(String),
    /// The inputs or attributes break the op's contract.
    #[error("{0}")]
    Invalid(String),
    /// A dtype the op does not accept.
    #[error("unsupported dtype {0}")]
    DType(String),
}

impl OpError {
    pub fn invalid(msg: impl Into<String>) -> OpError {
        OpError::Invalid(msg.into())
    }
    pub fn unsupported(msg: impl Into<String>) -> OpError {
        OpError::Unsupported(msg.into())
    }
}

/// An evaluation error, located at a node.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    #[error("node '{node}' ({op}): {error}")]
    Op { node: String, op: String, error: OpError },
    #[error("graph: {0}")]
    Graph(String),
    #[error("graph input '{name}': {msg}")]
    Input { name: String, msg: String },
}
