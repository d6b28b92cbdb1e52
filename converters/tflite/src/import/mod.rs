//! TFLite import: decode the flatbuffer (`model`), then convert subgraph 0 (or a signature's
//! subgraph) into an IR graph. `subgraph` holds the per-subgraph converter (tensors → values,
//! constants, quantized tensors as QDQ), `cx` the helpers op rules use, `ops/` one file per op
//! family. WHILE/IF bodies are converted recursively into IR subgraphs (Loop/If), with a
//! cycle check on the chain of subgraph indices.

pub mod cx;
pub mod irops;
pub mod ops;
pub mod subgraph;
pub mod tensors;

use crate::error::{OpIssue, TfliteError};
use crate::model::{self, Model};
use edgeport_ir::{Bytes, Graph};
use std::path::Path;

/// Import settings.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Import the subgraph of this signature key instead of subgraph 0; its input and output
    /// names and order are then the signature's.
    pub signature: Option<String>,
}

/// Shared state of one import: the file, the decoded model and its bytes, issues found, and
/// the chain of subgraphs being converted (for cycle detection).
pub struct Env<'a, 'm> {
    pub file: &'a str,
    pub model: &'a Model<'m>,
    pub data: &'a Bytes,
    pub issues: Vec<OpIssue>,
    pub stack: Vec<usize>,
}

/// Imports a `.tflite` file (memory-mapped; constants point into the map).
pub fn import_path(path: &Path) -> Result<Graph, TfliteError> {
    import_path_with(path, &ImportOptions::default())
}

/// [`import_path`] with options.
pub fn import_path_with(path: &Path, opts: &ImportOptions) -> Result<Graph, TfliteError> {
    let file = path.display().to_string();
    let io = |e| TfliteError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let f = std::fs::File::open(path).map_err(io)?;
    let meta = f.metadata().map_err(io)?;
    if meta.is_dir() {
        return Err(TfliteError::Decode {
            file,
            msg: "is a folder, not a .tflite file".into(),
        });
    }
    let data = if meta.len() == 0 {
        Bytes::from_vec(Vec::new())
    } else {
        // A registered read-only map: exporters give its pages back as they write the weights.
        let map = edgeport_ir::mapped::map_file(&f).map_err(io)?;
        let len = map.len();
        Bytes::from_owner(map, 0, len).unwrap_or_else(|| Bytes::from_vec(Vec::new()))
    };
    let g = import_data(&data, &file, opts);
    // Import reads some weights (permuted copies, densified sparse tensors): drop those pages.
    edgeport_ir::mapped::release_all();
    g
}

/// Imports a `.tflite` model held in memory; `file` names it in errors.
pub fn import_bytes(data: Vec<u8>, file: &str) -> Result<Graph, TfliteError> {
    import_data(&Bytes::from_vec(data), file, &ImportOptions::default())
}

/// Imports from shared bytes (constants borrow from `data`).
pub fn import_data(data: &Bytes, file: &str, opts: &ImportOptions) -> Result<Graph, TfliteError> {
    let model = model::decode(data).map_err(|e| TfliteError::Decode {
        file: file.to_string(),
        msg: e.0,
    })?;
    if model.subgraphs.is_empty() {
        return Err(TfliteError::Decode {
            file: file.to_string(),
            msg: "the model has no subgraphs".into(),
        });
    }
    let sig = match &opts.signature {
        None => None,
        Some(key) => Some(model.signatures.iter().find(|s| &s.key == key).ok_or_else(|| TfliteError::Model {
            file: file.to_string(),
            msg: format!(
                "no signature '{key}' (the model has: {})",
                model.signatures.iter().map(|s| s.key.as_str()).collect::<Vec<_>>().join(", ")
            ),
        })?),
    };
    let mut env = Env {
        file,
        model: &model,
        data,
        issues: Vec::new(),
        stack: Vec::new(),
    };
    let g = subgraph::import_main(&mut env, sig)?;
    if !env.issues.is_empty() {
        return Err(TfliteError::Ops {
            file: file.to_string(),
            issues: env.issues,
        });
    }
    Ok(g)
}
