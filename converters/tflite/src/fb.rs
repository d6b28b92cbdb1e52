//! A read-only, bounds-checked FlatBuffers reader. Every access checks offsets against the buffer
//! and reads scalars unaligned (little-endian), so a hostile file yields an error, never a panic
//! or an out-of-bounds read. Tables are addressed by field slot (field `i` has vtable offset
//! `4 + 2i`), matching the schema's field order.

/// Why a flatbuffer read failed (position and what was being read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FbError(pub String);

impl std::fmt::Display for FbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub type FbResult<T> = Result<T, FbError>;

fn err<T>(msg: String) -> FbResult<T> {
    Err(FbError(msg))
}

/// The whole buffer.
#[derive(Clone, Copy)]
pub struct Buf<'a>(pub &'a [u8]);

impl<'a> Buf<'a> {
    /// `n` bytes at `pos`.
    pub fn bytes(&self, pos: usize, n: usize) -> FbResult<&'a [u8]> {
        let end = pos.checked_add(n);
        match end.and_then(|e| self.0.get(pos..e)) {
            Some(b) => Ok(b),
            None => err(format!(
                "read of {n} byte(s) at offset {pos} is past the end ({} bytes)",
                self.0.len()
            )),
        }
    }
    fn arr<const N: usize>(&self, pos: usize) -> FbResult<[u8; N]> {
        let b = self.bytes(pos, N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(b);
        Ok(a)
    }
    pub fn u8(&self, pos: usize) -> FbResult<u8> {
        Ok(self.arr::<1>(pos)?[0])
    }
    pub fn u16(&self, pos: usize) -> FbResult<u16> {
        Ok(u16::from_le_bytes(self.arr(pos)?))
    }
    pub fn u32(&self, pos: usize) -> FbResult<u32> {
        Ok(u32::from_le_bytes(self.arr(pos)?))
    }
    pub fn i32(&self, pos: usize) -> FbResult<i32> {
        Ok(i32::from_le_bytes(self.arr(pos)?))
    }
    pub fn u64(&self, pos: usize) -> FbResult<u64> {
        Ok(u64::from_le_bytes(self.arr(pos)?))
    }

    /// Follows a `uoffset` stored at `pos` (relative to `pos`).
    fn follow(&self, pos: usize) -> FbResult<usize> {
        let off = self.u32(pos)? as usize;
        let target = pos.checked_add(off);
        match target {
            Some(t) if t < self.0.len() => Ok(t),
            _ => err(format!("offset at {pos} points past the end of the buffer")),
        }
    }

    /// The root table.
    pub fn root(&self) -> FbResult<Table<'a>> {
        let pos = self.follow(0)?;
        Table::at(*self, pos)
    }
}

/// A table: its position and its vtable.
#[derive(Clone, Copy)]
pub struct Table<'a> {
    buf: Buf<'a>,
    pos: usize,
    vt: usize,
    vt_len: u16,
}

impl<'a> Table<'a> {
    fn at(buf: Buf<'a>, pos: usize) -> FbResult<Table<'a>> {
        let soff = buf.i32(pos)? as i64;
        let vt = pos as i64 - soff;
        if vt < 0 || vt as u64 >= buf.0.len() as u64 {
            return err(format!("table at {pos} has its vtable outside the buffer"));
        }
        let vt = vt as usize;
        let vt_len = buf.u16(vt)?;
        if vt_len < 4 || vt_len % 2 != 0 {
            return err(format!("table at {pos} has a malformed vtable (length {vt_len})"));
        }
        buf.bytes(vt, vt_len as usize)?;
        Ok(Table { buf, pos, vt, vt_len })
    }

    /// The absolute position of field `slot`, if present.
    fn field(&self, slot: usize) -> FbResult<Option<usize>> {
        let Some(voff) = slot.checked_mul(2).and_then(|s| s.checked_add(4)) else {
            return Ok(None);
        };
        if voff + 2 > self.vt_len as usize {
            return Ok(None);
        }
        let off = self.buf.u16(self.vt + voff)? as usize;
        if off == 0 {
            return Ok(None);
        }
        Ok(Some(self.pos + off))
    }

    pub fn u8(&self, slot: usize, default: u8) -> FbResult<u8> {
        self.field(slot)?.map_or(Ok(default), |p| self.buf.u8(p))
    }
    pub fn i8(&self, slot: usize, default: i8) -> FbResult<i8> {
        Ok(self.u8(slot, default as u8)? as i8)
    }
    pub fn bool(&self, slot: usize, default: bool) -> FbResult<bool> {
        Ok(self.u8(slot, default as u8)? != 0)
    }
    pub fn i32(&self, slot: usize, default: i32) -> FbResult<i32> {
        self.field(slot)?.map_or(Ok(default), |p| self.buf.i32(p))
    }
    pub fn u32(&self, slot: usize, default: u32) -> FbResult<u32> {
        self.field(slot)?.map_or(Ok(default), |p| self.buf.u32(p))
    }
    pub fn u64(&self, slot: usize, default: u64) -> FbResult<u64> {
        self.field(slot)?.map_or(Ok(default), |p| self.buf.u64(p))
    }
    pub fn f32(&self, slot: usize, default: f32) -> FbResult<f32> {
        Ok(f32::from_bits(self.u32(slot, default.to_bits())?))
    }

    /// A sub-table field.
    pub fn table(&self, slot: usize) -> FbResult<Option<Table<'a>>> {
        match self.field(slot)? {
            None => Ok(None),
            Some(p) => Ok(Some(Table::at(self.buf, self.buf.follow(p)?)?)),
        }
    }

    /// A vector field: its element count and the position of its first element.
    fn vector(&self, slot: usize, elem: usize) -> FbResult<Option<(usize, usize)>> {
        let Some(p) = self.field(slot)? else {
            return Ok(None);
        };
        let v = self.buf.follow(p)?;
        let n = self.buf.u32(v)? as usize;
        let start = v + 4;
        let bytes = n.checked_mul(elem);
        match bytes {
            Some(b) => {
                self.buf.bytes(start, b)?;
            }
            None => return err(format!("vector at {v} claims {n} elements")),
        }
        Ok(Some((n, start)))
    }

    /// A string field (bytes; invalid UTF-8 is replaced).
    pub fn str(&self, slot: usize) -> FbResult<Option<String>> {
        Ok(self.bytes(slot)?.map(|b| String::from_utf8_lossy(b).into_owned()))
    }

    /// A `[ubyte]` field, borrowed, or a string's bytes.
    pub fn bytes(&self, slot: usize) -> FbResult<Option<&'a [u8]>> {
        match self.vector(slot, 1)? {
            None => Ok(None),
            Some((n, start)) => Ok(Some(self.buf.bytes(start, n)?)),
        }
    }

    /// The absolute position of a `[ubyte]` field's data and its length.
    pub fn bytes_pos(&self, slot: usize) -> FbResult<Option<(usize, usize)>> {
        self.vector(slot, 1).map(|o| o.map(|(n, s)| (s, n)))
    }

    /// An `[int]` field.
    pub fn i32s(&self, slot: usize) -> FbResult<Vec<i32>> {
        let Some((n, s)) = self.vector(slot, 4)? else {
            return Ok(Vec::new());
        };
        (0..n).map(|i| self.buf.i32(s + 4 * i)).collect()
    }
    /// A `[float]` field.
    pub fn f32s(&self, slot: usize) -> FbResult<Vec<f32>> {
        let Some((n, s)) = self.vector(slot, 4)? else {
            return Ok(Vec::new());
        };
        (0..n).map(|i| self.buf.u32(s + 4 * i).map(f32::from_bits)).collect()
    }
    /// A `[long]` field.
    pub fn i64s(&self, slot: usize) -> FbResult<Vec<i64>> {
        let Some((n, s)) = self.vector(slot, 8)? else {
            return Ok(Vec::new());
        };
        (0..n).map(|i| self.buf.u64(s + 8 * i).map(|v| v as i64)).collect()
    }
    /// A `[ushort]` field.
    pub fn u16s(&self, slot: usize) -> FbResult<Vec<u16>> {
        let Some((n, s)) = self.vector(slot, 2)? else {
            return Ok(Vec::new());
        };
        (0..n).map(|i| self.buf.u16(s + 2 * i)).collect()
    }

    /// A vector of tables; the tables are decoded lazily by [`TableVec::get`].
    pub fn tables(&self, slot: usize) -> FbResult<TableVec<'a>> {
        let Some((n, s)) = self.vector(slot, 4)? else {
            return Ok(TableVec {
                buf: self.buf,
                n: 0,
                start: 0,
            });
        };
        Ok(TableVec {
            buf: self.buf,
            n,
            start: s,
        })
    }
}

/// A vector of tables.
#[derive(Clone, Copy)]
pub struct TableVec<'a> {
    buf: Buf<'a>,
    n: usize,
    start: usize,
}

impl<'a> TableVec<'a> {
    pub fn len(&self) -> usize {
        self.n
    }
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
    /// Table `i`; `Ok(None)` when `i` is out of range.
    pub fn get(&self, i: usize) -> FbResult<Option<Table<'a>>> {
        if i >= self.n {
            return Ok(None);
        }
        let p = self.start + 4 * i;
        Ok(Some(Table::at(self.buf, self.buf.follow(p)?)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-assembled buffer: root table with an int field (slot 0) and a [int] (slot 1).
    fn sample() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&12u32.to_le_bytes()); // root offset -> table at 12
        // vtable at 4: len 8, table len 12, slot0 at +4, slot1 at +8
        b.extend_from_slice(&8u16.to_le_bytes());
        b.extend_from_slice(&12u16.to_le_bytes());
        b.extend_from_slice(&4u16.to_le_bytes());
        b.extend_from_slice(&8u16.to_le_bytes());
        // table at 12: soffset = 12 - 4 = 8
        b.extend_from_slice(&8i32.to_le_bytes());
        b.extend_from_slice(&42i32.to_le_bytes()); // slot 0 at 16
        b.extend_from_slice(&4u32.to_le_bytes()); // slot 1 at 20 -> vector at 24
        b.extend_from_slice(&2u32.to_le_bytes());
        b.extend_from_slice(&7i32.to_le_bytes());
        b.extend_from_slice(&(-3i32).to_le_bytes());
        b
    }

    #[test]
    fn reads_fields() {
        let b = sample();
        let t = Buf(&b).root().unwrap();
        assert_eq!(t.i32(0, 0).unwrap(), 42);
        assert_eq!(t.i32s(1).unwrap(), vec![7, -3]);
        assert_eq!(t.i32(5, 9).unwrap(), 9);
    }

    #[test]
    fn truncation_is_an_error() {
        let b = sample();
        for cut in 0..b.len() {
            let buf = Buf(&b[..cut]);
            let r = buf.root().and_then(|t| Ok((t.i32(0, 0)?, t.i32s(1)?)));
            assert!(r.is_err(), "cut at {cut} decoded");
        }
    }

    #[test]
    fn huge_vector_length_is_an_error() {
        let mut b = sample();
        b[24..28].copy_from_slice(&u32::MAX.to_le_bytes());
        let t = Buf(&b).root().unwrap();
        assert!(t.i32s(1).is_err());
    }
}
