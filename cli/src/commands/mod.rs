//! One module per command. Each takes typed options and returns a report that implements
//! `Display` (human output) and `Serialize` (`--json`).

pub mod compress;
pub mod convert;
pub mod distill;
pub mod inspect;
pub mod prune;
pub mod quantize;
pub mod run;
pub mod verify;

/// The error of a command, with the process exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The input could not be read or understood (exit 3).
    #[error("{0}")]
    Input(String),
    /// The model uses something a stage does not support (exit 4).
    #[error("{0}")]
    Unsupported(String),
    /// Writing output failed (exit 5).
    #[error("{0}")]
    Output(String),
}

impl CommandError {
    /// The process exit code.
    pub fn exit_code(&self) -> i32 {
        match self {
            CommandError::Input(_) => 3,
            CommandError::Unsupported(_) => 4,
            CommandError::Output(_) => 5,
        }
    }
}

impl From<crate::formats::FormatError> for CommandError {
    fn from(e: crate::formats::FormatError) -> Self {
        use crate::formats::FormatError as F;
        match e {
            F::Export(m) => CommandError::Output(m),
            other => CommandError::Input(other.to_string()),
        }
    }
}

/// Loads a model by sniffing (or the named `--from` format).
pub fn load(path: &std::path::Path, from: Option<&str>) -> Result<edgeport_ir::Graph, CommandError> {
    load_with(path, from, &crate::formats::ImportSettings::default())
}

/// Loads a model with import settings (SavedModel signature, `--weights`, `--input-shape`).
pub fn load_with(
    path: &std::path::Path,
    from: Option<&str>,
    s: &crate::formats::ImportSettings,
) -> Result<edgeport_ir::Graph, CommandError> {
    if !path.exists() {
        return Err(CommandError::Input(format!("{}: no such file or folder", path.display())));
    }
    let fmt = match from {
        Some(f) => crate::formats::by_name(f)?,
        None => crate::formats::sniff(path)?,
    };
    let g = crate::formats::import_with(path, &fmt, s)?;
    Ok(g)
}
