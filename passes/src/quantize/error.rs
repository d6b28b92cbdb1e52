//! Errors of the quantization passes.

/// Why quantization failed.
#[derive(Debug, thiserror::Error)]
pub enum QuantError {
    /// Calibration data does not fit the model (names the input and the cause).
    #[error("calibration data: {0}")]
    Calibration(String),
    /// The evaluator failed on a calibration or check sample.
    #[error("evaluating the model on calibration sample {sample}: {msg}")]
    Eval { sample: usize, msg: String },
    /// Bad options (block size, budgets, …).
    #[error("{0}")]
    Options(String),
    /// Nothing in the model can be quantized in the chosen mode.
    #[error("no quantizable op: {0}")]
    NothingToQuantize(String),
    /// A graph edit failed (a bug or an inconsistent graph).
    #[error("editing node '{node}': {msg}")]
    Graph { node: String, msg: String },
}

pub(crate) fn gerr(node: &str, e: impl std::fmt::Display) -> QuantError {
    QuantError::Graph {
        node: node.to_string(),
        msg: e.to_string(),
    }
}
