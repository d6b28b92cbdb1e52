//! Read-only memory maps of model files, shared by every importer.
//!
//! Weights stay in the file: tensors borrow ranges of the map through [`Bytes`], so importing
//! never copies them. Once an exporter has written a tensor it calls [`Bytes::release_pages`],
//! which tells the kernel this process no longer needs those pages (`MADV_DONTNEED`). The map is
//! shared and read-only, so the data is unchanged: a later read faults the pages back in from
//! the page cache. This keeps the resident set of a conversion near the size of the largest
//! tensor instead of the whole model.

use crate::tensor::Bytes;
use std::path::Path;
use std::sync::Arc;

/// A whole file mapped read-only.
pub struct MappedFile {
    map: Option<memmap2::Mmap>,
}

impl MappedFile {
    /// Maps `path`. An empty file gives an empty map (mmap of length 0 is an error on Linux).
    pub fn open(path: &Path) -> std::io::Result<Arc<MappedFile>> {
        let f = std::fs::File::open(path)?;
        if f.metadata()?.len() == 0 {
            return Ok(Arc::new(MappedFile { map: None }));
        }
        // SAFETY: a read-only map of a file we only read. Like every memory-mapped reader, this
        // assumes nobody truncates the file while the graph is alive.
        let map = unsafe { memmap2::Mmap::map(&f) }?;
        Ok(Arc::new(MappedFile { map: Some(map) }))
    }

    pub fn len(&self) -> usize {
        self.map.as_ref().map_or(0, |m| m.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A view of `len` bytes at `start`, or `None` when out of bounds.
    pub fn bytes(self: &Arc<Self>, start: usize, len: usize) -> Option<Bytes> {
        Bytes::from_map(self.clone(), start, len)
    }

    /// The whole file as one view.
    pub fn all(self: &Arc<Self>) -> Bytes {
        Bytes::from_map(self.clone(), 0, self.len()).unwrap_or_else(|| Bytes::from_vec(Vec::new()))
    }

    /// Drops this process's pages of `start..start + len` (whole pages inside the range only, so
    /// neighbouring tensors keep theirs). Best effort: failures are ignored.
    pub(crate) fn release(&self, start: usize, len: usize) {
        #[cfg(unix)]
        if let Some(m) = &self.map {
            const PAGE: usize = 4096;
            let base = m.as_ptr() as usize;
            let first = (base + start).div_ceil(PAGE) * PAGE - base;
            let end = (base + start + len) / PAGE * PAGE - base;
            if end > first && end <= m.len() {
                // SAFETY: a shared read-only file map: dropping its pages does not change what
                // any reader sees; the next access reads the same bytes from the page cache.
                let _ = unsafe { m.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, first, end - first) };
            }
        }
        #[cfg(not(unix))]
        let _ = (start, len);
    }
}

impl AsRef<[u8]> for MappedFile {
    fn as_ref(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }
}

impl MappedFile {
    /// The view of `slice` when it lies inside this map (for decoders that hand out borrowed
    /// slices of the file, such as protobuf `bytes` fields), or `None`.
    pub fn view_of(self: &Arc<Self>, slice: &[u8]) -> Option<Bytes> {
        let data: &[u8] = (**self).as_ref();
        let base = data.as_ptr() as usize;
        let start = (slice.as_ptr() as usize).checked_sub(base)?;
        self.bytes(start, slice.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn released_pages_read_back_unchanged() {
        let dir = std::env::temp_dir().join(format!("edgeport-mapped-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("w.bin");
        let data: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let map = MappedFile::open(&path).unwrap();
        let b = map.bytes(100, 30_000).unwrap();
        assert_eq!(&b[..], &data[100..30_100]);
        b.release_pages();
        assert_eq!(&b[..], &data[100..30_100]);
        let inner = map.view_of(&b[10..20]).unwrap();
        assert_eq!(&inner[..], &data[110..120]);
        assert!(map.view_of(&data[..4]).is_none());
        assert!(map.bytes(39_999, 2).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn empty_file_maps_to_nothing() {
        let path = std::env::temp_dir().join(format!("edgeport-mapped-empty-{}", std::process::id()));
        std::fs::write(&path, b"").unwrap();
        let map = MappedFile::open(&path).unwrap();
        assert!(map.is_empty());
        assert!(map.all().is_empty());
        std::fs::remove_file(&path).unwrap();
    }
}
