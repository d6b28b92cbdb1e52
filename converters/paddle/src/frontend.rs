//! [`PaddleFrontend`]: the Paddle importer behind the IR's [`Frontend`] trait, for the CLI's
//! format registry. A `.pdmodel` extension gives `Maybe` (protobuf has no magic); a `.json`
//! whose first bytes hold `"base_code"` and `"pir"` gives `Yes`.

use crate::{PaddleOptions, import_path, looks_like_pir};
use edgeport_ir::Graph;
use edgeport_ir::traits::{Confidence, Frontend, PluginError};
use std::path::Path;

/// The Paddle frontend.
#[derive(Clone, Debug, Default)]
pub struct PaddleFrontend {
    pub options: PaddleOptions,
}

impl Frontend for PaddleFrontend {
    fn name(&self) -> &'static str {
        "paddle"
    }

    fn extensions(&self) -> &'static [&'static str] {
        &["pdmodel", "json"]
    }

    fn sniff(&self, path: &Path, head: &[u8]) -> Confidence {
        if path.is_dir() {
            return Confidence::No;
        }
        if looks_like_pir(head) {
            return Confidence::Yes;
        }
        match path.extension().and_then(|e| e.to_str()) {
            Some("pdmodel") => Confidence::Maybe,
            _ => Confidence::No,
        }
    }

    fn import(&self, path: &Path) -> Result<Graph, PluginError> {
        Ok(import_path(path, &self.options)?)
    }
}
