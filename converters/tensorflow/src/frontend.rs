//! `Frontend` implementations for the CLI's format registry: `tf` (frozen GraphDef `.pb`) and
//! `savedmodel` (a folder with `saved_model.pb`), with sniffing that tells a GraphDef from an
//! ONNX ModelProto by the first field's tag.

use crate::{TfImportOptions, import_path};
use edgeport_ir::Graph;
use edgeport_ir::traits::{Confidence, Frontend, PluginError};
use std::path::Path;

/// Frozen GraphDef frontend.
pub struct TfFrontend;
/// SavedModel frontend.
pub struct SavedModelFrontend;

/// True when `head` starts like a serialized GraphDef: field 1 (repeated NodeDef, tag 0x0a)
/// whose first NodeDef starts with its name (field 1, tag 0x0a) — an ONNX ModelProto starts with
/// `ir_version` (tag 0x08).
pub fn looks_like_graphdef(head: &[u8]) -> bool {
    let Some((&0x0a, rest)) = head.split_first() else { return false };
    let Some((_, used)) = crate::bundle::sstable::varint(rest, 5) else {
        return false;
    };
    rest.get(used) == Some(&0x0a)
}

/// True when `path` is a SavedModel folder.
pub fn is_saved_model_dir(path: &Path) -> bool {
    path.is_dir() && path.join("saved_model.pb").is_file()
}

impl Frontend for TfFrontend {
    fn name(&self) -> &'static str {
        "tf"
    }
    fn extensions(&self) -> &'static [&'static str] {
        &["pb"]
    }
    fn sniff(&self, path: &Path, head: &[u8]) -> Confidence {
        if looks_like_graphdef(head) {
            Confidence::Yes
        } else if path.extension().is_some_and(|e| e == "pb") {
            Confidence::Maybe
        } else {
            Confidence::No
        }
    }
    fn import(&self, path: &Path) -> Result<Graph, PluginError> {
        Ok(import_path(path, &TfImportOptions::default())?)
    }
}

impl Frontend for SavedModelFrontend {
    fn name(&self) -> &'static str {
        "savedmodel"
    }
    fn extensions(&self) -> &'static [&'static str] {
        &[]
    }
    fn sniff(&self, path: &Path, _head: &[u8]) -> Confidence {
        if is_saved_model_dir(path) {
            Confidence::Yes
        } else {
            Confidence::No
        }
    }
    fn import(&self, path: &Path) -> Result<Graph, PluginError> {
        Ok(import_path(path, &TfImportOptions::default())?)
    }
}
