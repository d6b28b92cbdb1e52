//! [`OnnxFrontend`]: the ONNX importer behind the IR's [`Frontend`] trait, for the CLI's
//! format registry and for plugins.
//!
//! Sniffing: ONNX has no magic number, so the first bytes are checked for the start of a
//! `ModelProto`: protobuf fields with the numbers and wire types a model uses
//! (`ir_version`, `producer_name`, `graph`, `opset_import`, …), with the first field within
//! reach. A `.onnx` extension alone gives `Maybe`.

use crate::{ImportOptions, import_path};
use edgeport_ir::Graph;
use edgeport_ir::traits::{Confidence, Frontend, PluginError};
use std::path::Path;

/// The ONNX frontend.
#[derive(Clone, Debug, Default)]
pub struct OnnxFrontend {
    pub options: ImportOptions,
}

impl Frontend for OnnxFrontend {
    fn name(&self) -> &'static str {
        "onnx"
    }

    fn extensions(&self) -> &'static [&'static str] {
        &["onnx"]
    }

    fn sniff(&self, path: &Path, head: &[u8]) -> Confidence {
        if path.is_dir() {
            return Confidence::No;
        }
        if looks_like_model(head) {
            return Confidence::Yes;
        }
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("onnx") => Confidence::Maybe,
            _ => Confidence::No,
        }
    }

    fn import(&self, path: &Path) -> Result<Graph, PluginError> {
        Ok(import_path(path, &self.options)?)
    }
}

/// Reads a protobuf varint from `b`, returning it and the bytes used.
fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// Does `head` start like a serialized `ModelProto`? The first two fields (or the first, when
/// the head ends) must be model fields with their proper wire types, and an `ir_version`
/// must be plausible.
pub fn looks_like_model(head: &[u8]) -> bool {
    let mut pos = 0;
    let mut fields = 0;
    while pos < head.len() && fields < 3 {
        let Some((key, used)) = varint(&head[pos..]) else {
            return fields > 0;
        };
        pos += used;
        let (field, wire) = (key >> 3, key & 7);
        match (field, wire) {
            // ir_version, model_version: varints.
            (1 | 5, 0) => {
                let Some((v, used)) = varint(&head[pos..]) else {
                    return fields > 0;
                };
                if field == 1 && !(1..=64).contains(&v) {
                    return false;
                }
                pos += used;
            }
            // producer_name, producer_version, domain, doc_string, graph, opset_import,
            // metadata_props, training_info, functions: length-delimited.
            (2 | 3 | 4 | 6 | 7 | 8 | 14 | 20 | 25, 2) => {
                let Some((len, used)) = varint(&head[pos..]) else {
                    return fields > 0;
                };
                pos += used;
                // A length past the head is fine (the head is only the file's start).
                pos = pos.saturating_add(usize::try_from(len).unwrap_or(usize::MAX));
            }
            _ => return false,
        }
        fields += 1;
    }
    // Two model fields in a row, or one that fills the whole head.
    fields >= 2 || (fields == 1 && pos >= head.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_header_and_extension() {
        let f = OnnxFrontend::default();
        // ir_version 8, producer_name "x".
        let head = [0x08, 0x08, 0x12, 0x01, b'x'];
        assert_eq!(f.sniff(Path::new("m.bin"), &head), Confidence::Yes);
        assert_eq!(f.sniff(Path::new("m.onnx"), b"\x89PNG\r\n"), Confidence::Maybe);
        assert_eq!(f.sniff(Path::new("m.bin"), b"PK\x03\x04"), Confidence::No);
        assert_eq!(f.sniff(Path::new("m.tflite"), b"\x1c\0\0\0TFL3"), Confidence::No);
        assert_eq!(f.sniff(Path::new("m.onnx"), &[]), Confidence::Maybe);
    }
}
