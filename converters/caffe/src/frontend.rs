//! The [`Frontend`] implementation, so that the CLI and plugins can use the Caffe importer
//! through the common trait.

use edgeport_ir::Graph;
use edgeport_ir::traits::{Confidence, Frontend, PluginError};
use std::path::Path;

/// Caffe frontend (prototxt + caffemodel, or a folder holding both).
#[derive(Clone, Debug, Default)]
pub struct CaffeFrontend {
    pub opts: crate::Options,
}

impl Frontend for CaffeFrontend {
    fn name(&self) -> &'static str {
        "caffe"
    }
    fn extensions(&self) -> &'static [&'static str] {
        &["prototxt", "caffemodel"]
    }
    fn sniff(&self, path: &Path, _head: &[u8]) -> Confidence {
        let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("prototxt" | "caffemodel") => Confidence::Maybe,
            _ if path.is_dir() => match crate::companions(path, None) {
                Ok((Some(_), Some(_))) => Confidence::Yes,
                _ => Confidence::No,
            },
            _ => Confidence::No,
        }
    }
    fn import(&self, path: &Path) -> Result<Graph, PluginError> {
        Ok(crate::import_path(path, &self.opts)?)
    }
}
