//! Read-only memory maps of model files whose resident pages are given back once their bytes
//! have been consumed.
//!
//! Importers map a model file and borrow weights from it (see [`crate::tensor::Bytes`]); every
//! page the process reads then stays resident until the map is dropped, so converting a model
//! would hold the whole input in memory next to everything else. Maps made with [`map_file`]
//! are registered here: [`release`] drops the resident pages behind a byte range that lies in
//! one of them (an exporter calls it after writing a tensor), [`release_all`] drops every
//! registered map's pages (an importer calls it when done). The data stays readable: a read-only
//! shared file map re-reads dropped pages from the page cache or the file on the next access.
//! Ranges outside the registered maps (heap memory) are never touched.
//!
//! [`MappedFile`] is the map importers open files with (registered, empty files allowed); the
//! weights they borrow from it are [`Bytes`] views, and [`Bytes::release_pages`] releases one.

use crate::tensor::Bytes;
use memmap2::Mmap;
use std::fs::File;
use std::path::Path;
use std::sync::{Arc, Mutex, Weak};

static MAPS: Mutex<Vec<Weak<Mmap>>> = Mutex::new(Vec::new());

/// Ranges below this size are not worth a system call.
const MIN_RELEASE: usize = 64 << 10;

/// Maps `file` read-only (shared) and registers the map for [`release`].
pub fn map_file(file: &File) -> std::io::Result<Arc<Mmap>> {
    // SAFETY: a read-only map of a file the caller opened. Like every mmap-based loader this
    // assumes the file is not truncated by another process while the map lives.
    let map = Arc::new(unsafe { Mmap::map(file) }?);
    register(&map);
    Ok(map)
}

/// Maps `file` like [`map_file`], with every page mapped up front (`MAP_POPULATE` where the
/// system has it): for files read whole right away, one system call instead of a page fault
/// per few pages.
pub fn map_file_populated(file: &File) -> std::io::Result<Arc<Mmap>> {
    // SAFETY: as in `map_file`.
    let map = Arc::new(unsafe { memmap2::MmapOptions::new().populate().map(file) }?);
    register(&map);
    Ok(map)
}

/// Registers an existing read-only map (made with `Mmap::map`, which maps shared).
pub fn register(map: &Arc<Mmap>) {
    if let Ok(mut maps) = MAPS.lock() {
        maps.retain(|w| w.strong_count() > 0);
        maps.push(Arc::downgrade(map));
    }
}

fn live_maps() -> Vec<Arc<Mmap>> {
    match MAPS.lock() {
        Ok(maps) => maps.iter().filter_map(Weak::upgrade).collect(),
        Err(_) => Vec::new(),
    }
}

/// A whole file mapped read-only and registered for [`release`]: the owner of the weights that
/// importers borrow as [`Bytes`].
pub struct MappedFile {
    map: Option<Arc<Mmap>>,
}

/// Canonical paths of the files opened with [`MappedFile::open`] in this process.
static OPENED: Mutex<Vec<std::path::PathBuf>> = Mutex::new(Vec::new());

/// The model files this process has read through [`MappedFile::open`] (canonical paths), even
/// when no view of them is alive any more (small constants are copied out of the map): writers
/// refuse to overwrite them.
pub fn opened_inputs() -> Vec<std::path::PathBuf> {
    OPENED.lock().map(|v| v.clone()).unwrap_or_default()
}

impl MappedFile {
    /// Maps `path`. An empty file gives an empty map (mmap of length 0 is an error on Linux).
    pub fn open(path: &Path) -> std::io::Result<Arc<MappedFile>> {
        let f = File::open(path)?;
        if let (Ok(real), Ok(mut v)) = (path.canonicalize(), OPENED.lock())
            && !v.contains(&real)
        {
            v.push(real);
        }
        if f.metadata()?.len() == 0 {
            return Ok(Arc::new(MappedFile { map: None }));
        }
        Ok(Arc::new(MappedFile { map: Some(map_file(&f)?) }))
    }

    pub fn len(&self) -> usize {
        self.map.as_ref().map_or(0, |m| m.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A view of `len` bytes at `start`, or `None` when out of bounds.
    pub fn bytes(self: &Arc<Self>, start: usize, len: usize) -> Option<Bytes> {
        Bytes::from_owner(self.clone(), start, len)
    }

    /// The whole file as one view.
    pub fn all(self: &Arc<Self>) -> Bytes {
        self.bytes(0, self.len()).unwrap_or_else(|| Bytes::from_vec(Vec::new()))
    }

    /// The view of `slice` when it lies inside this map (for decoders that hand out borrowed
    /// slices of the file, such as protobuf `bytes` fields), or `None`.
    pub fn view_of(self: &Arc<Self>, slice: &[u8]) -> Option<Bytes> {
        let data: &[u8] = (**self).as_ref();
        let start = (slice.as_ptr() as usize).checked_sub(data.as_ptr() as usize)?;
        self.bytes(start, slice.len())
    }
}

impl AsRef<[u8]> for MappedFile {
    fn as_ref(&self) -> &[u8] {
        self.map.as_deref().map_or(&[], |m| &m[..])
    }
}

/// Elsewhere than on Unix the pages stay (memmap2 offers no advice there).
#[cfg(not(unix))]
fn drop_pages(_map: &Mmap, _offset: usize, _len: usize) {}

#[cfg(unix)]
fn drop_pages(map: &Mmap, offset: usize, len: usize) {
    use memmap2::UncheckedAdvice;
    let len = len.min(map.len().saturating_sub(offset));
    if len == 0 {
        return;
    }
    // SAFETY: `Mmap::map` maps the file read-only and shared, so MADV_DONTNEED only unmaps
    // clean file pages: the next access reads the same bytes again. No page of this map can
    // have been written. The range is inside the map (memmap2 rounds the start down to a page
    // boundary, which is still inside it).
    let _ = unsafe { map.unchecked_advise_range(UncheckedAdvice::DontNeed, offset, len) };
}

/// Drops the resident pages behind `bytes` when they lie inside a registered map (whole pages
/// touching the range, which may include a few neighbouring bytes: harmless, they are re-read on
/// demand). Does nothing for other memory or small ranges.
pub fn release(bytes: &[u8]) {
    if bytes.len() < MIN_RELEASE {
        return;
    }
    let lo = bytes.as_ptr() as usize;
    let Some(hi) = lo.checked_add(bytes.len()) else {
        return;
    };
    for map in live_maps() {
        let base = map.as_ptr() as usize;
        let Some(end) = base.checked_add(map.len()) else {
            continue;
        };
        if lo >= base && hi <= end {
            drop_pages(&map, lo - base, bytes.len());
            return;
        }
    }
}

/// Bytes written between two releases by [`write_all`].
const CHUNK: usize = 1 << 20;

/// Writes `bytes` to `w` in chunks, dropping each chunk's pages once written when `bytes` lie in
/// a registered map, so a large weight is never resident in full.
pub fn write_all<W: std::io::Write + ?Sized>(w: &mut W, bytes: &[u8]) -> std::io::Result<()> {
    for chunk in bytes.chunks(CHUNK) {
        w.write_all(chunk)?;
        release(chunk);
    }
    Ok(())
}

/// Drops the resident pages of every registered map.
pub fn release_all() {
    for map in live_maps() {
        drop_pages(&map, 0, map.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn released_pages_read_back_the_same() {
        let dir = std::env::temp_dir().join(format!("edgeport-mapped-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("data.bin");
        let data: Vec<u8> = (0..(1u32 << 20)).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        std::fs::File::create(&path).and_then(|mut f| f.write_all(&data)).unwrap();
        let map = map_file(&std::fs::File::open(&path).unwrap()).unwrap();
        assert_eq!(&map[..], &data[..]);
        release(&map[100..900_000]);
        assert_eq!(&map[..], &data[..]);
        release_all();
        assert_eq!(&map[..], &data[..]);
        let mut out = Vec::new();
        write_all(&mut out, &map[3..]).unwrap();
        assert_eq!(&out[..], &data[3..]);
        assert_eq!(&map[..], &data[..]);
        // Heap memory is left alone.
        let heap = data.clone();
        release(&heap);
        assert_eq!(heap, data);
        drop(map);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn mapped_file_views() {
        let path = std::env::temp_dir().join(format!("edgeport-mappedfile-{}", std::process::id()));
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let map = MappedFile::open(&path).unwrap();
        let b = map.bytes(100, 150_000).unwrap();
        assert_eq!(&b[..], &data[100..150_100]);
        b.release_pages();
        assert_eq!(&b[..], &data[100..150_100]);
        let inner = map.view_of(&b[10..20]).unwrap();
        assert_eq!(&inner[..], &data[110..120]);
        assert!(map.view_of(&data[..4]).is_none());
        assert!(map.bytes(199_999, 2).is_none());
        std::fs::write(&path, b"").unwrap();
        let empty = MappedFile::open(&path).unwrap();
        assert!(empty.is_empty() && empty.all().is_empty());
        let _ = std::fs::remove_file(&path);
    }
}
