//! A reader for the LevelDB-style table (`variables.index`): footer, block handles, blocks with
//! their masked CRC-32C trailer, restart arrays and prefix-compressed keys. Every offset and
//! length read from the file is checked against the bytes present.

use super::crc32c::{crc32c, extend, mask};
use std::collections::BTreeMap;

const FOOTER_LEN: usize = 48;
const MAGIC: u64 = 0xdb47_7524_8b80_fb57;
/// A block handle's size plus its 5-byte trailer (type byte + CRC).
const TRAILER: usize = 5;
/// Bound on the number of data blocks, against index blocks listing the same block repeatedly.
const MAX_BLOCKS: usize = 1 << 20;

/// Reads a varint of at most `max_bytes` bytes; returns (value, bytes used).
pub fn varint(buf: &[u8], max_bytes: usize) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &b) in buf.iter().take(max_bytes).enumerate() {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

fn handle(buf: &[u8]) -> Result<((usize, usize), usize), String> {
    let (off, a) = varint(buf, 10).ok_or("bad block handle offset")?;
    let (size, b) = varint(buf.get(a..).unwrap_or(&[]), 10).ok_or("bad block handle size")?;
    let off = usize::try_from(off).map_err(|_| "block offset too large")?;
    let size = usize::try_from(size).map_err(|_| "block size too large")?;
    Ok(((off, size), a + b))
}

/// Returns the verified contents of the block at `(offset, size)`.
fn block(file: &[u8], (off, size): (usize, usize)) -> Result<&[u8], String> {
    let end = off
        .checked_add(size)
        .and_then(|e| e.checked_add(TRAILER))
        .filter(|&e| e <= file.len())
        .ok_or_else(|| {
            format!(
                "block at {off} (+{size} bytes) runs past the end of the file ({} bytes)",
                file.len()
            )
        })?;
    let contents = &file[off..off + size];
    let kind = file[off + size];
    let stored = u32::from_le_bytes([file[end - 4], file[end - 3], file[end - 2], file[end - 1]]);
    let actual = mask(extend(crc32c(contents), &[kind]));
    if stored != actual {
        return Err(format!(
            "block at {off}: checksum mismatch (stored {stored:#010x}, computed {actual:#010x})"
        ));
    }
    match kind {
        0 => Ok(contents),
        1 => Err(format!("block at {off} is snappy-compressed, which is not supported")),
        k => Err(format!("block at {off} has unknown compression type {k}")),
    }
}

/// One decoded block entry: the full key and the value's bytes.
type Entry<'a> = (Vec<u8>, &'a [u8]);

/// Decodes all (key, value) entries of a block, in order.
fn entries(b: &[u8]) -> Result<Vec<Entry<'_>>, String> {
    let n = b.len().checked_sub(4).ok_or("block shorter than its restart count")?;
    let n_restarts = u32::from_le_bytes([b[n], b[n + 1], b[n + 2], b[n + 3]]) as usize;
    let data_end = n_restarts
        .checked_mul(4)
        .and_then(|r| n.checked_sub(r))
        .ok_or_else(|| format!("block claims {n_restarts} restart points, more than its size allows"))?;
    let mut out = Vec::new();
    let mut pos = 0usize;
    let mut key: Vec<u8> = Vec::new();
    while pos < data_end {
        let rest = &b[pos..data_end];
        let (shared, a) = varint(rest, 5).ok_or_else(|| format!("bad entry header at {pos}"))?;
        let (unshared, c) = varint(rest.get(a..).unwrap_or(&[]), 5).ok_or_else(|| format!("bad entry header at {pos}"))?;
        let (vlen, d) = varint(rest.get(a + c..).unwrap_or(&[]), 5).ok_or_else(|| format!("bad entry header at {pos}"))?;
        let (shared, unshared, vlen) = (shared as usize, unshared as usize, vlen as usize);
        if shared > key.len() {
            return Err(format!("entry at {pos} shares {shared} key bytes, previous key has {}", key.len()));
        }
        let h = a + c + d;
        let kend = h
            .checked_add(unshared)
            .filter(|&e| e <= rest.len())
            .ok_or_else(|| format!("entry at {pos}: key runs past the block"))?;
        let vend = kend
            .checked_add(vlen)
            .filter(|&e| e <= rest.len())
            .ok_or_else(|| format!("entry at {pos}: value runs past the block"))?;
        key.truncate(shared);
        key.extend_from_slice(&rest[h..kend]);
        out.push((key.clone(), &rest[kend..vend]));
        pos += vend;
    }
    Ok(out)
}

/// Reads every (key, value) pair of a table file.
pub fn read_table(file: &[u8]) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, String> {
    let fstart = file
        .len()
        .checked_sub(FOOTER_LEN)
        .ok_or_else(|| format!("file has {} bytes, shorter than a table footer ({FOOTER_LEN})", file.len()))?;
    let footer = &file[fstart..];
    let lo = u32::from_le_bytes([footer[40], footer[41], footer[42], footer[43]]);
    let hi = u32::from_le_bytes([footer[44], footer[45], footer[46], footer[47]]);
    if (u64::from(hi) << 32 | u64::from(lo)) != MAGIC {
        return Err("bad table magic number (not a TensorFlow checkpoint index)".into());
    }
    let (_meta, used) = handle(footer)?;
    let (index, _) = handle(&footer[used..40])?;
    let index_block = block(file, index)?;
    let mut out = BTreeMap::new();
    let handles = entries(index_block)?;
    if handles.len() > MAX_BLOCKS {
        return Err(format!("index lists {} blocks", handles.len()));
    }
    for (_, v) in handles {
        let (h, _) = handle(v)?;
        for (k, v) in entries(block(file, h)?)? {
            out.insert(k, v.to_vec());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a one-data-block table holding `kv` (sorted), for tests.
    pub(crate) fn build(kv: &[(&[u8], &[u8])]) -> Vec<u8> {
        fn put_varint(out: &mut Vec<u8>, mut v: u64) {
            while v >= 0x80 {
                out.push((v as u8) | 0x80);
                v >>= 7;
            }
            out.push(v as u8);
        }
        fn finish_block(out: &mut Vec<u8>, contents: &[u8]) -> (u64, u64) {
            let off = out.len() as u64;
            out.extend_from_slice(contents);
            out.push(0);
            let c = mask(extend(crc32c(contents), &[0]));
            out.extend(c.to_le_bytes());
            (off, contents.len() as u64)
        }
        let mut data = Vec::new();
        let mut prev: &[u8] = &[];
        for (k, v) in kv {
            let shared = prev.iter().zip(k.iter()).take_while(|(a, b)| a == b).count();
            put_varint(&mut data, shared as u64);
            put_varint(&mut data, (k.len() - shared) as u64);
            put_varint(&mut data, v.len() as u64);
            data.extend_from_slice(&k[shared..]);
            data.extend_from_slice(v);
            prev = k;
        }
        data.extend(0u32.to_le_bytes());
        data.extend(1u32.to_le_bytes());
        let mut file = Vec::new();
        let (doff, dsize) = finish_block(&mut file, &data);
        let mut hv = Vec::new();
        put_varint(&mut hv, doff);
        put_varint(&mut hv, dsize);
        let mut idx = Vec::new();
        put_varint(&mut idx, 0);
        put_varint(&mut idx, 1);
        put_varint(&mut idx, hv.len() as u64);
        idx.push(0xff);
        idx.extend_from_slice(&hv);
        idx.extend(0u32.to_le_bytes());
        idx.extend(1u32.to_le_bytes());
        let meta = finish_block(&mut file, &[0, 0, 0, 0]);
        let index = finish_block(&mut file, &idx);
        let mut footer = Vec::new();
        for (o, s) in [meta, index] {
            put_varint(&mut footer, o);
            put_varint(&mut footer, s);
        }
        footer.resize(40, 0);
        footer.extend(((MAGIC & 0xffff_ffff) as u32).to_le_bytes());
        footer.extend(((MAGIC >> 32) as u32).to_le_bytes());
        file.extend(footer);
        file
    }

    #[test]
    fn round_trip_prefix_keys() {
        let kv: Vec<(&[u8], &[u8])> = vec![(b"", b"hdr"), (b"layer/kernel", b"1"), (b"layer/kernel2", b"22"), (b"m", b"")];
        let t = read_table(&build(&kv)).unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(t.get(&b"layer/kernel2"[..]).map(|v| v.as_slice()), Some(&b"22"[..]));
    }

    #[test]
    fn corrupt_tables_are_errors() {
        let kv: Vec<(&[u8], &[u8])> = vec![(b"", b"hdr"), (b"a", b"1")];
        let good = build(&kv);
        assert!(read_table(&good[..good.len() - 1]).unwrap_err().contains("magic"));
        assert!(read_table(&good[..10]).unwrap_err().contains("shorter"));
        let mut bad = good.clone();
        bad[1] ^= 0x40;
        assert!(read_table(&bad).unwrap_err().contains("checksum"));
        // Every truncation and every single-byte change is an error or a table, never a panic.
        for i in 0..good.len() {
            let _ = read_table(&good[..i]);
            let mut m = good.clone();
            m[i] = m[i].wrapping_add(0x5b);
            let _ = read_table(&m);
        }
    }
}
