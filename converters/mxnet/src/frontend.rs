//! The [`Frontend`] implementation for the CLI and plugins.

use edgeport_ir::Graph;
use edgeport_ir::traits::{Confidence, Frontend, PluginError};
use std::path::Path;

/// MXNet frontend (`prefix-symbol.json` + `prefix-NNNN.params`).
#[derive(Clone, Debug, Default)]
pub struct MxnetFrontend {
    pub opts: crate::Options,
}

impl Frontend for MxnetFrontend {
    fn name(&self) -> &'static str {
        "mxnet"
    }
    fn extensions(&self) -> &'static [&'static str] {
        &["json", "params"]
    }
    fn sniff(&self, path: &Path, head: &[u8]) -> Confidence {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.ends_with("-symbol.json") {
            return Confidence::Yes;
        }
        if name.ends_with(".params") && head.len() >= 8 && head[..8] == 0x112u64.to_le_bytes() {
            return Confidence::Yes;
        }
        if path.is_dir() && crate::companions(path, None).is_ok() {
            return Confidence::Maybe;
        }
        Confidence::No
    }
    fn import(&self, path: &Path) -> Result<Graph, PluginError> {
        Ok(crate::import_path(path, &self.opts)?)
    }
}
