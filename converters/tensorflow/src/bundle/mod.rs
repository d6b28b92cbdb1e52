//! TensorFlow tensor bundles (`variables/variables.index` + `variables.data-SSSSS-of-NNNNN`):
//! the index table is read in full (it is small), data shards are memory-mapped on first use and
//! tensors borrow their bytes from the map after their CRC-32C is verified.

pub mod crc32c;
pub mod sstable;

use crate::decode::{self, BundleEntry};
use crate::error::Error;
use edgeport_ir::tensor::Bytes;
use edgeport_ir::{DType, Tensor};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An open tensor bundle.
pub struct Bundle {
    prefix: PathBuf,
    file: String,
    num_shards: i32,
    entries: BTreeMap<Vec<u8>, Vec<u8>>,
    shards: HashMap<i32, Arc<dyn AsRef<[u8]> + Send + Sync>>,
}

struct Map(Arc<memmap2::Mmap>);
impl AsRef<[u8]> for Map {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Bundle {
    /// Opens the bundle whose files start with `prefix` (e.g. `…/variables/variables`).
    pub fn open(prefix: &Path) -> Result<Bundle, Error> {
        let index = with_suffix(prefix, ".index");
        let file = crate::display_path(&index);
        let bytes = std::fs::read(&index).map_err(|e| Error::Io {
            path: index.clone(),
            source: e,
        })?;
        let entries = sstable::read_table(&bytes).map_err(|msg| Error::Decode {
            file: file.clone(),
            what: "checkpoint index",
            msg,
        })?;
        let header = entries.get(&b""[..]).ok_or_else(|| Error::Decode {
            file: file.clone(),
            what: "checkpoint index",
            msg: "no bundle header (empty key)".into(),
        })?;
        let (num_shards, endianness) = decode::decode_bundle_header(header, &file)?;
        if endianness != 0 {
            return Err(Error::Variables {
                file,
                msg: "big-endian tensor bundles are not supported".into(),
            });
        }
        if !(1..=100_000).contains(&num_shards) {
            return Err(Error::Variables {
                file,
                msg: format!("bundle header says {num_shards} shards"),
            });
        }
        Ok(Bundle {
            prefix: prefix.to_path_buf(),
            file,
            num_shards,
            entries,
            shards: HashMap::new(),
        })
    }

    fn verr(&self, key: &str, msg: impl Into<String>) -> Error {
        Error::Variables {
            file: self.file.clone(),
            msg: format!("tensor '{key}': {}", msg.into()),
        }
    }

    fn entry(&self, key: &str) -> Result<BundleEntry, Error> {
        let raw = self
            .entries
            .get(key.as_bytes())
            .ok_or_else(|| self.verr(key, "not in the checkpoint index"))?;
        decode::decode_bundle_entry(raw, &self.file)
    }

    /// The raw bytes of entry `key`, CRC-checked unless `check` is false (string entries have
    /// their own checksum layout).
    fn data(&mut self, key: &str, e: &BundleEntry, check: bool) -> Result<Bytes, Error> {
        if e.sliced {
            return Err(self.verr(key, "partitioned (sliced) variables are not supported"));
        }
        if e.shard_id < 0 || e.shard_id >= self.num_shards {
            return Err(self.verr(key, format!("shard {} out of range (bundle has {})", e.shard_id, self.num_shards)));
        }
        let shard = self.shard(e.shard_id)?;
        let off = usize::try_from(e.offset).map_err(|_| self.verr(key, format!("bad offset {}", e.offset)))?;
        let size = usize::try_from(e.size).map_err(|_| self.verr(key, format!("bad size {}", e.size)))?;
        let total = (*shard).as_ref().len();
        let b = Bytes::from_owner(shard, off, size).ok_or_else(|| {
            self.verr(
                key,
                format!("bytes {off}..+{size} lie past the end of its data shard ({total} bytes)"),
            )
        })?;
        let crc = crc32c::mask(crc32c::crc32c(&b));
        if check && crc != e.crc32c {
            return Err(self.verr(key, format!("checksum mismatch (stored {:#010x}, computed {crc:#010x})", e.crc32c)));
        }
        // Checked: the shard's pages are read again only when the weight is used.
        edgeport_ir::mapped::release(&b);
        Ok(b.own_if_small())
    }

    fn shard(&mut self, id: i32) -> Result<Arc<dyn AsRef<[u8]> + Send + Sync>, Error> {
        if let Some(s) = self.shards.get(&id) {
            return Ok(s.clone());
        }
        let path = with_suffix(&self.prefix, &format!(".data-{id:05}-of-{:05}", self.num_shards));
        let f = std::fs::File::open(&path).map_err(|e| Error::Variables {
            file: crate::display_path(&path),
            msg: format!("data shard {id} cannot be opened: {e}"),
        })?;
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let owner: Arc<dyn AsRef<[u8]> + Send + Sync> = if len == 0 {
            Arc::new(Vec::<u8>::new())
        } else {
            // A registered read-only map: exporters give its pages back as they write weights.
            let m = edgeport_ir::mapped::map_file(&f).map_err(|e| Error::Io {
                path: path.clone(),
                source: e,
            })?;
            Arc::new(Map(m))
        };
        self.shards.insert(id, owner.clone());
        Ok(owner)
    }

    /// Reads tensor `key` (numeric dtypes; bytes borrowed from the shard's memory map).
    pub fn tensor(&mut self, key: &str) -> Result<Tensor, Error> {
        let e = self.entry(key)?;
        let dt = decode::dtype(e.dtype).ok_or_else(|| self.verr(key, format!("unsupported dtype code {}", e.dtype)))?;
        let shape = decode::dims(e.shape.as_deref()).map_err(|m| self.verr(key, m))?;
        if dt == DType::String {
            return Err(self.verr(key, "string variables are not supported as constants"));
        }
        let b = self.data(key, &e, true)?;
        Tensor::from_bytes(dt, shape, b).map_err(|m| self.verr(key, m.to_string()))
    }

    /// Reads a scalar DT_STRING entry (e.g. `_CHECKPOINTABLE_OBJECT_GRAPH`).
    pub fn scalar_string(&mut self, key: &str) -> Result<Vec<u8>, Error> {
        let e = self.entry(key)?;
        if e.dtype != 7 {
            return Err(self.verr(key, "expected a string tensor"));
        }
        let b = self.data(key, &e, false)?;
        // varint64 length, masked CRC of the lengths (as u32), then the bytes; the entry's CRC
        // covers the length as u32, the length CRC and the bytes.
        let (len, used) = sstable::varint(&b, 10).ok_or_else(|| self.verr(key, "bad string length"))?;
        let len32 = u32::try_from(len).map_err(|_| self.verr(key, "string longer than 4 GiB"))?;
        let len = len32 as usize;
        let lcrc = b.get(used..used + 4).ok_or_else(|| self.verr(key, "string data truncated"))?;
        let start = used + 4;
        let s = start
            .checked_add(len)
            .and_then(|end| b.get(start..end))
            .ok_or_else(|| self.verr(key, "string runs past its data"))?;
        let stored_lcrc = u32::from_le_bytes([lcrc[0], lcrc[1], lcrc[2], lcrc[3]]);
        if crc32c::mask(crc32c::crc32c(&len32.to_le_bytes())) != stored_lcrc {
            return Err(self.verr(key, "checksum mismatch in the string lengths"));
        }
        let mut c = crc32c::crc32c(&len32.to_le_bytes());
        c = crc32c::extend(c, lcrc);
        c = crc32c::extend(c, s);
        if crc32c::mask(c) != e.crc32c {
            return Err(self.verr(
                key,
                format!("checksum mismatch (stored {:#010x}, computed {:#010x})", e.crc32c, crc32c::mask(c)),
            ));
        }
        Ok(s.to_vec())
    }

    /// The object graph stored with a TF2 checkpoint: per object node, the (full name,
    /// checkpoint key) of its `VARIABLE_VALUE` attribute.
    pub fn object_keys(&mut self) -> Result<Vec<Option<(String, String)>>, Error> {
        let raw = self.scalar_string("_CHECKPOINTABLE_OBJECT_GRAPH")?;
        let nodes = decode::decode_object_graph(&raw, &self.file)?;
        Ok(nodes
            .into_iter()
            .map(|attrs| attrs.into_iter().find(|(n, _, _)| n == "VARIABLE_VALUE").map(|(_, f, k)| (f, k)))
            .collect())
    }
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}
