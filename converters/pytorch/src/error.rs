//! The crate's error type. Every variant names the file it is about; pickle and program errors
//! also name the opcode offset, global, node or op concerned.

use std::path::PathBuf;

/// Anything that can go wrong reading PyTorch files.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The zip container is malformed or hostile.
    #[error("{file}: zip: {msg}")]
    Zip { file: String, msg: String },
    /// A pickle could not be read, or asked for something that is not allowed.
    #[error("{file}: pickle at byte {offset}: {msg}")]
    Pickle { file: String, offset: usize, msg: String },
    /// A tensor's storage, offset, sizes or strides do not fit.
    #[error("{file}: tensor '{tensor}': {msg}")]
    Tensor { file: String, tensor: String, msg: String },
    /// The file is readable but not what we expected (layout, JSON schema, missing record).
    #[error("{file}: {msg}")]
    Format { file: String, msg: String },
    /// Nodes of a program that cannot be converted, all listed at once.
    #[error("{file}: {} unsupported node(s):\n  {}", .nodes.len(), .nodes.join("\n  "))]
    Unsupported { file: String, nodes: Vec<String> },
    /// A node's arguments are not what its op expects.
    #[error("{file}: node '{node}' ({target}): {msg}")]
    Node {
        file: String,
        node: String,
        target: String,
        msg: String,
    },
    /// TorchScript source that cannot be parsed or imported: the code file and line.
    #[error("{file}: {entry}:{line}: {msg}")]
    Script {
        file: String,
        entry: String,
        line: u32,
        msg: String,
    },
    /// TorchScript constructs the importer does not support, all listed at once (`entry:line: construct`).
    #[error("{file}: {} unsupported TorchScript construct(s):\n  {}", .items.len(), .items.join("\n  "))]
    ScriptUnsupported { file: String, items: Vec<String> },
    /// Building the IR failed.
    #[error("{file}: building the graph: {msg}")]
    Graph { file: String, msg: String },
    /// Writing an output failed.
    #[error("{path}: writing: {msg}")]
    Write { path: PathBuf, msg: String },
}

pub type Result<T> = std::result::Result<T, Error>;
