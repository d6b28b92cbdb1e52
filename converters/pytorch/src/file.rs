//! Opening model files: a read-only memory map wrapped as shared [`Bytes`], so tensors can point
//! into the file without copying.

use crate::error::{Error, Result};
use edgeport_ir::Bytes;
use std::path::Path;

/// The path as shown in errors.
pub fn display(path: &Path) -> String {
    path.display().to_string()
}

/// Maps `path` read-only (an empty file gives empty bytes; a folder is an error).
pub fn map(path: &Path) -> Result<Bytes> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let f = std::fs::File::open(path).map_err(io)?;
    let meta = f.metadata().map_err(io)?;
    if meta.is_dir() {
        return Err(Error::Format {
            file: display(path),
            msg: "is a folder, not a file".into(),
        });
    }
    Ok(edgeport_ir::MappedFile::open(path).map_err(io)?.all())
}
