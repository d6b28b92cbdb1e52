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
    // The archive is mapped: stored (uncompressed, numpy's default) members are parsed where
    // they lie, without reading them into a buffer first.
    let map = edgeport_ir::mapped::map_file_populated(&f).map_err(|e| arch(e.to_string()))?;
    let bytes: &[u8] = &map;
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| arch(format!("not a zip archive: {e}")))?;
    let mut out = Vec::new();
    for i in 0..z.len() {
        let mut m = z.by_index(i).map_err(|e| arch(e.to_string()))?;
        let name = m.name().trim_end_matches(".npy").to_string();
        if m.size() > MAX_MEMBER {
            return Err(arch(format!("member '{name}' is too large ({} bytes)", m.size())));
        }
        let stored = (m.compression() == zip::CompressionMethod::Stored && m.compressed_size() == m.size())
            .then(|| {
                let start = usize::try_from(m.data_start()).ok()?;
                bytes.get(start..start.checked_add(usize::try_from(m.size()).ok()?)?)
            })
            .flatten();
        if let Some(d) = stored
            && crc32fast::hash(d) != m.crc32()
        {
            return Err(arch(format!("member '{name}' fails its CRC-32 check (the archive is corrupted)")));
        }
        let mut buf = Vec::new();
        let data: &[u8] = match stored {
            Some(d) => d,
            None => {
                buf.reserve(m.size() as usize);
                m.by_ref().take(MAX_MEMBER).read_to_end(&mut buf).map_err(|e| arch(e.to_string()))?;
                &buf
            }
        };
        let t = npy::read(data).map_err(|source| NpzError::Array {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_members_are_read_in_place_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npz");
        let t = Tensor::F32(ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[2, 3]), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.5]).unwrap());
        write(&p, &[("x".to_string(), t)]).unwrap();
        let back = read(&p).unwrap();
        assert_eq!(back[0].0, "x");
        assert_eq!(back[0].1.to_f64_vec().unwrap(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.5]);
        // Flip one bit of the last value (6.5 = 0x40D00000, little-endian): the CRC catches it.
        let mut bytes = std::fs::read(&p).unwrap();
        let at = bytes.windows(4).position(|w| w == [0x00, 0x00, 0xD0, 0x40]).unwrap();
        bytes[at + 2] ^= 0x01;
        std::fs::write(&p, &bytes).unwrap();
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("CRC-32") && e.contains("a.npz"), "{e}");
    }
}
