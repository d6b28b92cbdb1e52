//! A small, bounds-checked FlexBuffers reader for MediaPipe custom-op options (the attention ops
//! store their parameters as a FlexBuffers map: ints, floats and int vectors).
//!
//! Layout as read here: the last byte of the buffer is the root's byte width, the byte before it
//! the root's packed type (`type << 2 | log2(bit width / 8)`), and the root value sits in the
//! `width` bytes before those two. Scalars (null, int, uint, float, bool) are stored inline at
//! their parent's width; everything else is an unsigned offset, at the parent's width, counted
//! backwards from the slot that holds it. A vector's elements start at the target, its length is
//! stored just before (one element width), and an untyped vector or map is followed by one packed
//! type byte per element. A map additionally stores, before its length, the keys vector's offset
//! and byte width; keys are offsets to NUL-terminated strings. Typed vectors (int, uint, float,
//! key, bool) hold one element type; fixed typed vectors of 2, 3 or 4 elements carry no length.
//! Every read checks the bounds, and nesting is limited, so hostile bytes give an error.

/// A decoded FlexBuffers value.
#[derive(Debug, Clone, PartialEq)]
pub enum Flex {
    Null,
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool(bool),
    Str(String),
    Vector(Vec<Flex>),
    Map(Vec<(String, Flex)>),
}

impl Flex {
    /// The value as an integer (floats only when integral), if it is numeric.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Flex::Int(v) => Some(v),
            Flex::UInt(v) => i64::try_from(v).ok(),
            Flex::Bool(b) => Some(i64::from(b)),
            Flex::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(f as i64),
            _ => None,
        }
    }
    /// The value as a float, if it is numeric.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Flex::Int(v) => Some(v as f64),
            Flex::UInt(v) => Some(v as f64),
            Flex::Float(f) => Some(f),
            _ => None,
        }
    }
    /// The entry `key` of a map.
    pub fn get(&self, key: &str) -> Option<&Flex> {
        match self {
            Flex::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

const MAX_DEPTH: usize = 16;

// FlexBuffers type codes.
const T_NULL: u8 = 0;
const T_INT: u8 = 1;
const T_UINT: u8 = 2;
const T_FLOAT: u8 = 3;
const T_KEY: u8 = 4;
const T_STRING: u8 = 5;
const T_INDIRECT_INT: u8 = 6;
const T_INDIRECT_UINT: u8 = 7;
const T_INDIRECT_FLOAT: u8 = 8;
const T_MAP: u8 = 9;
const T_VECTOR: u8 = 10;
const T_VECTOR_INT: u8 = 11;
const T_VECTOR_UINT: u8 = 12;
const T_VECTOR_FLOAT: u8 = 13;
const T_VECTOR_STRING_DEPRECATED: u8 = 15;
const T_VECTOR_INT2: u8 = 16;
const T_VECTOR_FLOAT4: u8 = 24;
const T_BLOB: u8 = 25;
const T_BOOL: u8 = 26;
const T_VECTOR_BOOL: u8 = 36;

/// Parses a whole FlexBuffers buffer.
pub fn parse(buf: &[u8]) -> Result<Flex, String> {
    let n = buf.len();
    if n < 3 {
        return Err(format!("flexbuffer of {n} bytes is too short"));
    }
    let r = Reader(buf);
    let width = usize::from(r.u8(n - 1)?);
    if !matches!(width, 1 | 2 | 4 | 8) {
        return Err(format!("flexbuffer root width {width} is not 1, 2, 4 or 8"));
    }
    let packed = r.u8(n - 2)?;
    let pos = (n - 2)
        .checked_sub(width)
        .ok_or_else(|| format!("flexbuffer of {n} bytes is too short for a root of width {width}"))?;
    r.value(pos, width, packed, 0)
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn bytes(&self, pos: usize, n: usize) -> Result<&[u8], String> {
        pos.checked_add(n)
            .and_then(|e| self.0.get(pos..e))
            .ok_or_else(|| format!("flexbuffer read of {n} bytes at {pos} is past the end ({} bytes)", self.0.len()))
    }
    fn u8(&self, pos: usize) -> Result<u8, String> {
        Ok(self.bytes(pos, 1)?[0])
    }
    fn uint(&self, pos: usize, w: usize) -> Result<u64, String> {
        let b = self.bytes(pos, w)?;
        let mut a = [0u8; 8];
        a.get_mut(..w).ok_or("bad width")?.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn int(&self, pos: usize, w: usize) -> Result<i64, String> {
        let u = self.uint(pos, w)?;
        let shift = 64 - 8 * w as u32;
        Ok(((u << shift) as i64) >> shift)
    }
    fn float(&self, pos: usize, w: usize) -> Result<f64, String> {
        match w {
            4 => Ok(f64::from(f32::from_bits(self.uint(pos, 4)? as u32))),
            8 => Ok(f64::from_bits(self.uint(pos, 8)?)),
            w => Err(format!("flexbuffer float of width {w} is not supported")),
        }
    }
    /// The target of the offset stored at `pos` (width `w`).
    fn target(&self, pos: usize, w: usize) -> Result<usize, String> {
        let off = self.uint(pos, w)?;
        usize::try_from(off)
            .ok()
            .and_then(|o| pos.checked_sub(o))
            .ok_or_else(|| format!("flexbuffer offset {off} at {pos} points before the start"))
    }
    /// A length-prefixed vector's element count, checked against the buffer size.
    fn len_at(&self, target: usize, w: usize, per: usize) -> Result<usize, String> {
        let at = target.checked_sub(w).ok_or("flexbuffer vector length is before the start")?;
        let n = self.uint(at, w)?;
        let n = usize::try_from(n).map_err(|_| format!("flexbuffer vector length {n} is too large"))?;
        let need = n.checked_mul(per).and_then(|b| b.checked_add(target));
        if need.is_none_or(|e| e > self.0.len()) {
            return Err(format!("flexbuffer vector of {n} elements at {target} is past the end"));
        }
        Ok(n)
    }
    fn key(&self, pos: usize) -> Result<String, String> {
        let rest = self.0.get(pos..).ok_or("flexbuffer key is past the end")?;
        let end = rest.iter().position(|&c| c == 0).ok_or("flexbuffer key is not NUL-terminated")?;
        Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
    }

    /// The value in the slot at `pos` (parent width `pw`) with packed type `packed`.
    fn value(&self, pos: usize, pw: usize, packed: u8, depth: usize) -> Result<Flex, String> {
        if depth > MAX_DEPTH {
            return Err("flexbuffer nesting is too deep".into());
        }
        let ty = packed >> 2;
        let cw = 1usize << (packed & 3);
        Ok(match ty {
            T_NULL => Flex::Null,
            T_INT => Flex::Int(self.int(pos, pw)?),
            T_UINT => Flex::UInt(self.uint(pos, pw)?),
            T_FLOAT => Flex::Float(self.float(pos, pw)?),
            T_BOOL => Flex::Bool(self.uint(pos, pw)? != 0),
            T_INDIRECT_INT => Flex::Int(self.int(self.target(pos, pw)?, cw)?),
            T_INDIRECT_UINT => Flex::UInt(self.uint(self.target(pos, pw)?, cw)?),
            T_INDIRECT_FLOAT => Flex::Float(self.float(self.target(pos, pw)?, cw)?),
            T_KEY => Flex::Str(self.key(self.target(pos, pw)?)?),
            T_STRING | T_BLOB => {
                let t = self.target(pos, pw)?;
                let n = self.len_at(t, cw, 1)?;
                Flex::Str(String::from_utf8_lossy(self.bytes(t, n)?).into_owned())
            }
            T_VECTOR => {
                let t = self.target(pos, pw)?;
                Flex::Vector(self.untyped(t, cw, depth)?)
            }
            T_MAP => {
                let t = self.target(pos, pw)?;
                let vals = self.untyped(t, cw, depth)?;
                let kpos = t.checked_sub(3 * cw).ok_or("flexbuffer map keys are before the start")?;
                let kw = usize::try_from(self.uint(kpos + cw, cw)?).map_err(|_| "bad flexbuffer key width")?;
                if !matches!(kw, 1 | 2 | 4 | 8) {
                    return Err(format!("flexbuffer map key width {kw} is not 1, 2, 4 or 8"));
                }
                let kt = self.target(kpos, cw)?;
                let nk = self.len_at(kt, kw, kw)?;
                if nk != vals.len() {
                    return Err(format!("flexbuffer map has {nk} keys for {} values", vals.len()));
                }
                let mut m = Vec::with_capacity(nk);
                for (i, v) in vals.into_iter().enumerate() {
                    let k = self.key(self.target(kt + i * kw, kw)?)?;
                    m.push((k, v));
                }
                Flex::Map(m)
            }
            T_VECTOR_INT..=T_VECTOR_STRING_DEPRECATED | T_VECTOR_BOOL => {
                let t = self.target(pos, pw)?;
                let n = self.len_at(t, cw, cw)?;
                let elem = match ty {
                    T_VECTOR_INT => T_INT,
                    T_VECTOR_UINT => T_UINT,
                    T_VECTOR_FLOAT => T_FLOAT,
                    T_VECTOR_BOOL => T_BOOL,
                    _ => T_KEY, // key vectors (and the deprecated string vectors)
                };
                self.typed(t, cw, n, elem, depth)?
            }
            T_VECTOR_INT2..=T_VECTOR_FLOAT4 => {
                let t = self.target(pos, pw)?;
                let k = ty - T_VECTOR_INT2;
                let (n, elem) = (usize::from(k / 3) + 2, [T_INT, T_UINT, T_FLOAT][usize::from(k % 3)]);
                self.bytes(t, n * cw)?;
                self.typed(t, cw, n, elem, depth)?
            }
            t => return Err(format!("flexbuffer type {t} is not supported")),
        })
    }

    fn typed(&self, t: usize, w: usize, n: usize, elem: u8, depth: usize) -> Result<Flex, String> {
        let mut v = Vec::with_capacity(n);
        for i in 0..n {
            v.push(self.value(t + i * w, w, elem << 2, depth + 1)?);
        }
        Ok(Flex::Vector(v))
    }

    fn untyped(&self, t: usize, w: usize, depth: usize) -> Result<Vec<Flex>, String> {
        // n values of width w, then n type bytes.
        let n = self.len_at(t, w, w + 1)?;
        let types = t + n * w;
        let mut v = Vec::with_capacity(n);
        for i in 0..n {
            let packed = self.u8(types + i)?;
            v.push(self.value(t + i * w, w, packed, depth + 1)?);
        }
        Ok(v)
    }
}
