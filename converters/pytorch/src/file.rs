//! Opening model files: a read-only memory map wrapped as shared [`Bytes`], so tensors can point
//! into the file without copying.

use crate::error::{Error, Result};
use edgeport_ir::Bytes;
use std::path::Path;
use std::sync::Arc;

struct MapOwner(memmap2::Mmap);
impl AsRef<[u8]> for MapOwner {
    fn as_ref(&self) -> &[u8] {
        &self.0[..]
    }
}

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
    if meta.len() == 0 {
        return Ok(Bytes::from_vec(Vec::new()));
    }
    // SAFETY: a read-only map of a file the user named. Like every mmap-based reader we assume
    // the file is not truncated by another process while it is mapped.
    let m = unsafe { memmap2::Mmap::map(&f) }.map_err(io)?;
    let len = m.len();
    Bytes::from_owner(Arc::new(MapOwner(m)), 0, len).ok_or_else(|| Error::Format {
        file: display(path),
        msg: "cannot map the file".into(),
    })
}
