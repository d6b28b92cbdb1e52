//! A small, strict ZIP reader for the archives torch writes (torch.save, TorchScript, .pt2).
//!
//! - The central directory is found from the end-of-central-directory record (ZIP64 too) and
//!   every size and offset is checked against the bytes present before it is used.
//! - Sizes come from the central directory, so entries written with a trailing data descriptor
//!   (flag bit 3, which torch always sets) read correctly.
//! - STORED entries are returned as zero-copy views of the (memory-mapped) file; DEFLATE entries
//!   are inflated with flate2 into a buffer of exactly the declared size and CRC-checked.
//! - Entry names with `..`, absolute paths, drive letters, backslashes or NUL are refused, as are
//!   duplicate names.
//! - [`Archive::root`] finds the single top-level folder torch puts every entry under.

use crate::error::{Error, Result};
use edgeport_ir::Bytes;
use std::collections::HashMap;
use std::io::Read;

const EOCD_SIG: u32 = 0x0605_4b50;
const EOCD64_SIG: u32 = 0x0606_4b50;
const EOCD64_LOC_SIG: u32 = 0x0706_4b50;
const CDH_SIG: u32 = 0x0201_4b50;
const LFH_SIG: u32 = 0x0403_4b50;
/// Largest DEFLATE entry we inflate (code and JSON records; weights are always STORED).
const MAX_INFLATED: u64 = 1 << 31;

/// One entry of the central directory.
#[derive(Clone, Debug)]
pub struct Entry {
    pub name: String,
    /// 0 = stored, 8 = deflate.
    pub method: u16,
    pub compressed_size: u64,
    pub size: u64,
    pub crc32: u32,
    /// Offset of the entry's data (after the local header).
    pub data_offset: u64,
}

/// A parsed archive over shared bytes.
pub struct Archive {
    file: String,
    data: Bytes,
    entries: Vec<Entry>,
    by_name: HashMap<String, usize>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}
fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_le_bytes(a))
}

/// True when the bytes start like a zip local file header.
pub fn is_zip(head: &[u8]) -> bool {
    head.starts_with(b"PK\x03\x04")
}

/// Refuses names that could escape a folder or are ambiguous.
fn check_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("an entry has an empty name".into());
    }
    if name.contains('\0') || name.contains('\\') {
        return Err(format!("entry name {name:?} contains a NUL or backslash"));
    }
    if name.starts_with('/') {
        return Err(format!("entry name {name:?} is an absolute path"));
    }
    let b = name.as_bytes();
    if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
        return Err(format!("entry name {name:?} starts with a drive letter"));
    }
    if name.split('/').any(|c| c == "..") {
        return Err(format!("entry name {name:?} contains '..'"));
    }
    Ok(())
}

impl Archive {
    /// Parses the archive in `data`; `file` names it in errors.
    pub fn parse(file: &str, data: Bytes) -> Result<Archive> {
        let err = |msg: String| Error::Zip {
            file: file.to_string(),
            msg,
        };
        let b: &[u8] = &data;
        if b.len() < 22 {
            return Err(err(format!("{} bytes is too short for a zip archive", b.len())));
        }
        // The EOCD is 22 bytes plus a comment of at most 65535 bytes.
        let lo = b.len().saturating_sub(22 + 65535);
        let mut eocd = None;
        let mut i = b.len() - 22;
        loop {
            if u32_at(b, i) == Some(EOCD_SIG) {
                let clen = u16_at(b, i + 20).unwrap_or(0) as usize;
                if i + 22 + clen == b.len() {
                    eocd = Some(i);
                    break;
                }
            }
            if i == lo {
                break;
            }
            i -= 1;
        }
        let eocd = eocd.ok_or_else(|| err("no end-of-central-directory record (truncated or not a zip)".into()))?;
        let mut n_entries = u16_at(b, eocd + 10).unwrap_or(0) as u64;
        let mut cd_size = u32_at(b, eocd + 12).unwrap_or(0) as u64;
        let mut cd_off = u32_at(b, eocd + 16).unwrap_or(0) as u64;
        let mut cd_end_limit = eocd as u64;
        if eocd >= 20 && u32_at(b, eocd - 20) == Some(EOCD64_LOC_SIG) {
            let rec = u64_at(b, eocd - 12).ok_or_else(|| err("truncated ZIP64 locator".into()))?;
            let rec_us = usize::try_from(rec)
                .ok()
                .filter(|&r| r < eocd - 20)
                .ok_or_else(|| err(format!("ZIP64 record offset {rec} is outside the file")))?;
            if u32_at(b, rec_us) != Some(EOCD64_SIG) {
                return Err(err(format!("no ZIP64 end-of-central-directory record at offset {rec}")));
            }
            n_entries = u64_at(b, rec_us + 32).ok_or_else(|| err("truncated ZIP64 record".into()))?;
            cd_size = u64_at(b, rec_us + 40).ok_or_else(|| err("truncated ZIP64 record".into()))?;
            cd_off = u64_at(b, rec_us + 48).ok_or_else(|| err("truncated ZIP64 record".into()))?;
            cd_end_limit = rec;
        }
        let cd_end = cd_off.checked_add(cd_size).filter(|&e| e <= cd_end_limit).ok_or_else(|| {
            err(format!(
                "central directory (offset {cd_off}, {cd_size} bytes) runs past its end record at {cd_end_limit} (truncated or wrong central directory)"
            ))
        })?;
        if n_entries > cd_size / 46 {
            return Err(err(format!("{n_entries} entries cannot fit in a {cd_size}-byte central directory")));
        }
        let mut entries = Vec::with_capacity(n_entries as usize);
        let mut by_name = HashMap::with_capacity(n_entries as usize);
        let mut p = cd_off as usize;
        let cd_end = cd_end as usize;
        for k in 0..n_entries {
            let bad = |what: &str| err(format!("central directory entry {k}: {what}"));
            if p.checked_add(46).is_none_or(|e| e > cd_end) || u32_at(b, p) != Some(CDH_SIG) {
                return Err(bad("bad signature or truncated (wrong central directory)"));
            }
            let flags = u16_at(b, p + 8).unwrap_or(0);
            let method = u16_at(b, p + 10).unwrap_or(0);
            let crc32 = u32_at(b, p + 16).unwrap_or(0);
            let mut csize = u32_at(b, p + 20).unwrap_or(0) as u64;
            let mut usize_ = u32_at(b, p + 24).unwrap_or(0) as u64;
            let nlen = u16_at(b, p + 28).unwrap_or(0) as usize;
            let xlen = u16_at(b, p + 30).unwrap_or(0) as usize;
            let clen = u16_at(b, p + 32).unwrap_or(0) as usize;
            let mut lho = u32_at(b, p + 42).unwrap_or(0) as u64;
            let name_end = p + 46 + nlen;
            let x_end = name_end + xlen;
            let next = x_end + clen;
            if next > cd_end {
                return Err(bad("name/extra/comment run past the central directory"));
            }
            if flags & 1 != 0 {
                return Err(bad("encrypted entries are not supported"));
            }
            let name = std::str::from_utf8(&b[p + 46..name_end])
                .map_err(|_| bad("name is not UTF-8"))?
                .to_string();
            check_name(&name).map_err(&err)?;
            // ZIP64 extended information: only the fields whose 32-bit value is saturated.
            let mut q = name_end;
            while q + 4 <= x_end {
                let id = u16_at(b, q).unwrap_or(0);
                let len = u16_at(b, q + 2).unwrap_or(0) as usize;
                let body = q + 4;
                if body + len > x_end {
                    return Err(bad("extra field runs past its area"));
                }
                if id == 1 {
                    let mut r = body;
                    let mut take = |v: &mut u64| -> Result<()> {
                        if *v == 0xFFFF_FFFF {
                            if r + 8 > body + len {
                                return Err(bad("short ZIP64 extra field"));
                            }
                            *v = u64_at(b, r).unwrap_or(0);
                            r += 8;
                        }
                        Ok(())
                    };
                    take(&mut usize_)?;
                    take(&mut csize)?;
                    take(&mut lho)?;
                }
                q = body + len;
            }
            // The local header: its own name/extra lengths decide where data starts.
            let lh = usize::try_from(lho)
                .ok()
                .filter(|&o| o.checked_add(30).is_some_and(|e| e <= cd_off as usize))
                .ok_or_else(|| bad("local header offset is outside the file"))?;
            if u32_at(b, lh) != Some(LFH_SIG) {
                return Err(bad("no local file header at its offset"));
            }
            let lnlen = u16_at(b, lh + 26).unwrap_or(0) as u64;
            let lxlen = u16_at(b, lh + 28).unwrap_or(0) as u64;
            let data_offset = lho + 30 + lnlen + lxlen;
            if data_offset.checked_add(csize).is_none_or(|e| e > cd_off) {
                return Err(err(format!(
                    "entry '{name}': {csize} bytes of data at offset {data_offset} run past the end of the data area (truncated file?)"
                )));
            }
            match method {
                0 if csize != usize_ => {
                    return Err(err(format!(
                        "entry '{name}': stored entry with compressed size {csize} != size {usize_}"
                    )));
                }
                0 | 8 => {}
                m => {
                    return Err(err(format!(
                        "entry '{name}': compression method {m} is not supported (only stored and deflate)"
                    )));
                }
            }
            if by_name.insert(name.clone(), entries.len()).is_some() {
                return Err(err(format!("duplicate entry '{name}'")));
            }
            entries.push(Entry {
                name,
                method,
                compressed_size: csize,
                size: usize_,
                crc32,
                data_offset,
            });
            p = next;
        }
        Ok(Archive {
            file: file.to_string(),
            data,
            entries,
            by_name,
        })
    }

    /// The file name used in errors.
    pub fn file(&self) -> &str {
        &self.file
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// The top-level folder every entry lives under, with its trailing `/` (`""` when the
    /// entries are not all in one folder, as in torch 2.1–2.7 `.pt2` files).
    pub fn root(&self) -> String {
        let mut root: Option<&str> = None;
        for e in &self.entries {
            let Some((first, _)) = e.name.split_once('/') else {
                return String::new();
            };
            match root {
                None => root = Some(first),
                Some(r) if r == first => {}
                Some(_) => return String::new(),
            }
        }
        root.map(|r| format!("{r}/")).unwrap_or_default()
    }

    /// The entry's data: a zero-copy view for STORED entries, an inflated buffer for DEFLATE.
    pub fn read(&self, name: &str) -> Result<Bytes> {
        let err = |msg: String| Error::Zip {
            file: self.file.clone(),
            msg,
        };
        let i = *self.by_name.get(name).ok_or_else(|| err(format!("no entry '{name}'")))?;
        let e = &self.entries[i];
        let off = usize::try_from(e.data_offset).map_err(|_| err(format!("entry '{name}' offset too large")))?;
        let clen = usize::try_from(e.compressed_size).map_err(|_| err(format!("entry '{name}' too large")))?;
        let raw = self
            .data
            .slice(off, clen)
            .ok_or_else(|| err(format!("entry '{name}' is outside the file")))?;
        if e.method == 0 {
            return Ok(raw);
        }
        if e.size > MAX_INFLATED {
            return Err(err(format!(
                "entry '{name}' declares {} inflated bytes, more than the {MAX_INFLATED} allowed for compressed records",
                e.size
            )));
        }
        // The declared size bounds the buffer; a stream that inflates to more or less is refused.
        let mut out = Vec::with_capacity((e.size as usize).min(clen.saturating_mul(1032).saturating_add(64)));
        let mut dec = flate2::read::DeflateDecoder::new(&raw[..]).take(e.size + 1);
        dec.read_to_end(&mut out)
            .map_err(|x| err(format!("entry '{name}': bad DEFLATE data: {x}")))?;
        if out.len() as u64 != e.size {
            return Err(err(format!(
                "entry '{name}': inflated to {} bytes, the directory says {}",
                out.len(),
                e.size
            )));
        }
        if crc32fast::hash(&out) != e.crc32 {
            return Err(err(format!("entry '{name}': CRC-32 mismatch")));
        }
        Ok(Bytes::from_vec(out))
    }

    /// Reads an entry as UTF-8 text.
    pub fn read_text(&self, name: &str) -> Result<String> {
        let b = self.read(name)?;
        String::from_utf8(b.to_vec()).map_err(|_| Error::Zip {
            file: self.file.clone(),
            msg: format!("entry '{name}' is not UTF-8 text"),
        })
    }
}
