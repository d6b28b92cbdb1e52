//! # edgeport-onnx — ONNX import and export
//!
//! Same shape as every converter crate: [`ImportOptions`]/[`Error`], [`import_path`] /
//! [`import_bytes`], a `decode` step that is the only import code touching generated protobuf
//! types, and per-op rules in `import/ops/<family>.rs`.
//!
//! Import reads ModelProto of IR version 3 and up at any opset, normalizing older opsets'
//! attribute forms into the IR's (newest-opset) op forms; ops of other domains become
//! `Op::Custom`. Unsupported nodes are all collected into one [`Error::Nodes`].

pub mod decode;
pub mod encode;
pub mod error;
pub mod export;
pub mod external;
pub mod frontend;
pub mod import;
pub mod model;

pub use error::{Error, NodeIssue};
pub use export::{ExportOptions, ExternalDataPolicy, OnnxBackend, export_bytes, export_path};
pub use frontend::OnnxFrontend;

use edgeport_ir::Graph;
use std::path::Path;
use std::sync::Arc;

/// Import settings.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {}

/// Imports an ONNX model file (memory-mapped; external data resolved beside it).
pub fn import_path(path: &Path, _opts: &ImportOptions) -> Result<Graph, Error> {
    let file = decode::display_path(path);
    let f = std::fs::File::open(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let meta = f.metadata().map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    if meta.is_dir() {
        return Err(Error::Decode {
            file,
            msg: "is a folder, not an ONNX file".into(),
        });
    }
    let map = edgeport_ir::MappedFile::open(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let buf = edgeport_proto::bytes::Bytes::from_owner(MapBytes(map));
    let base = path.parent().map(|p| {
        if p.as_os_str().is_empty() {
            Path::new(".").to_path_buf()
        } else {
            p.to_path_buf()
        }
    });
    let ext = decode::ExternalData { base };
    let raw = decode::decode_model(buf, &decode::Ctx { file: &file, ext: &ext })?;
    let g = import::import_model(&raw, &file).map(with_types);
    edgeport_ir::mapped::release_all();
    g
}

/// Imports an ONNX model from bytes (external data is refused: it needs a folder).
pub fn import_bytes(bytes: Vec<u8>, name: &str, _opts: &ImportOptions) -> Result<Graph, Error> {
    let ext = decode::ExternalData { base: None };
    let raw = decode::decode_model(edgeport_proto::bytes::Bytes::from(bytes), &decode::Ctx { file: name, ext: &ext })?;
    import::import_model(&raw, name).map(with_types)
}

struct MapBytes(Arc<edgeport_ir::MappedFile>);
impl AsRef<[u8]> for MapBytes {
    fn as_ref(&self) -> &[u8] {
        (*self.0).as_ref()
    }
}

/// Fills in the types that shape/dtype inference can derive (best effort: a model whose
/// declared types contradict inference still imports; the validator judges it).
fn with_types(mut g: Graph) -> Graph {
    let _ = edgeport_ir::infer::infer_types(&mut g);
    g
}
