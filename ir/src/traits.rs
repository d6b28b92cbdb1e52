//! The `Frontend` and `Backend` traits. They live here so that a plugin crate depends on the IR
//! alone.

use crate::graph::Graph;
use std::path::Path;

/// The error type plugins return: any error with a message.
pub type PluginError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// How sure a frontend is that it can read a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Confidence {
    No,
    /// The extension or folder layout fits.
    Maybe,
    /// The magic bytes or a required file's contents fit.
    Yes,
}

/// Reads one model format into the IR.
pub trait Frontend: Send + Sync {
    /// A short format name (`onnx`, `tflite`, …).
    fn name(&self) -> &'static str;
    /// File extensions this format uses, without the dot.
    fn extensions(&self) -> &'static [&'static str];
    /// Looks at a path (file or folder) and its first bytes.
    fn sniff(&self, path: &Path, head: &[u8]) -> Confidence;
    /// Imports the model at `path`.
    fn import(&self, path: &Path) -> Result<Graph, PluginError>;
}

/// Writes the IR in one model format.
pub trait Backend: Send + Sync {
    fn name(&self) -> &'static str;
    fn extensions(&self) -> &'static [&'static str];
    /// Every op or dtype of `graph` that this format cannot express (empty = exportable).
    fn check(&self, graph: &Graph) -> Vec<String>;
    /// Exports a validated graph to `path`. Implementations write to a temporary file and rename.
    fn export(&self, graph: &crate::validate::Validated<'_>, path: &Path) -> Result<(), PluginError>;
}
