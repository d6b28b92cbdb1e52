//! NumPy `.npz` archives: a zip of `.npy` files, one per named array.

use super::npy;
use edgeport_eval::Tensor;
use std::io::{Read, Write};
use std::path::Path;

/// An npz error naming the file and array.
#[derive(Debug, thiserror::Error)]
pub enum NpzError {
    #[error("{file}: {msg}")]
    Archive { file: String, msg: String },
    #[error("{file}: array '{name}': {source}")]
    Array { file: String, name: String, source: npy::NpyError },
}

/// The largest array member accepted (guards against zip bombs).
const MAX_MEMBER: u64 = 16 << 30;

/// Reads every array of an `.npz` file, in archive order.
pub fn read(path: &Path) -> Result<Vec<(String, Tensor)>, NpzError> {
    let file = path.display().to_string();
    let arch = |msg: String| NpzError::Archive { file: file.clone(), msg };
    let f = std::fs::File::open(path).map_err(|e| arch(e.to_string()))?;
    let mut z = zip::ZipArchive::new(f).map_err(|e| arch(format!("not a zip archive: {e}")))?;
    let mut out = Vec::new();
    for i in 0..z.len() {
        let mut m = z.by_index(i).map_err(|e| arch(e.to_string()))?;
        let name = m.name().trim_end_matches(".npy").to_string();
        if m.size() > MAX_MEMBER {
            return Err(arch(format!("member '{name}' is too large ({} bytes)", m.size())));
        }
        let mut buf = Vec::with_capacity(m.size() as usize);
        m.by_ref().take(MAX_MEMBER).read_to_end(&mut buf).map_err(|e| arch(e.to_string()))?;
        let t = npy::read(&buf).map_err(|source| NpzError::Array {
            file: file.clone(),
            name: name.clone(),
            source,
        })?;
        out.push((name, t));
    }
    Ok(out)
}

/// Writes named arrays as an `.npz` file (stored, not compressed; written to a temporary file
/// and renamed).
pub fn write(path: &Path, arrays: &[(String, Tensor)]) -> Result<(), NpzError> {
    let file = path.display().to_string();
    let arch = |msg: String| NpzError::Archive { file: file.clone(), msg };
    let tmp = path.with_extension("npz.tmp");
    let f = std::fs::File::create(&tmp).map_err(|e| arch(e.to_string()))?;
    let mut z = zip::ZipWriter::new(f);
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let result = (|| {
        for (name, t) in arrays {
            let bytes = npy::write(t).map_err(|source| NpzError::Array {
                file: file.clone(),
                name: name.clone(),
                source,
            })?;
            z.start_file(format!("{name}.npy"), opts).map_err(|e| arch(e.to_string()))?;
            z.write_all(&bytes).map_err(|e| arch(e.to_string()))?;
        }
        z.finish().map_err(|e| arch(e.to_string()))?;
        Ok(())
    })();
    match result {
        Ok(()) => std::fs::rename(&tmp, path).map_err(|e| arch(e.to_string())),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}
