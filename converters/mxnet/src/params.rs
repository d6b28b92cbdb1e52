//! The `.params` / `nd.save` file: a list of NDArrays with optional names (`arg:`/`aux:`
//! prefixes from `save_checkpoint`/`export`). All numbers little-endian:
//!
//! ```text
//! u64 0x112, u64 reserved, u64 count
//! count × NDArray:
//!   u32 magic: 0xF993FAC9 (V2: + i32 storage type) | 0xF993FACA (V3, numpy shapes) |
//!              0xF993FAC8 (V1) | anything else: legacy, the value is ndim and dims are u32
//!   shape: i32 ndim, i64 dims (V2: ndim 0 = empty array, nothing follows; V3: -1 = none)
//!   context: i32 dev_type, i32 dev_id;  i32 dtype code;  raw data (elemsize × numel)
//! u64 name count (0 = unnamed list), then per name: u64 length, bytes
//! ```
//!
//! Data is borrowed from the memory-mapped file, never copied; every size is checked against the
//! bytes that remain before use. Sparse arrays (row_sparse, csr) are refused.

use edgeport_ir::{Bytes, DType};

const LIST_MAGIC: u64 = 0x112;
const V1_MAGIC: u32 = 0xF993_FAC8;
const V2_MAGIC: u32 = 0xF993_FAC9;
const V3_MAGIC: u32 = 0xF993_FACA;
/// More dims than any real array has; rejects garbage before allocating.
const MAX_NDIM: usize = 32;

/// One array of the file.
#[derive(Clone, Debug)]
pub struct NdArray {
    pub name: String,
    pub dtype: DType,
    pub shape: Vec<usize>,
    /// Raw little-endian data; `None` for an empty (shapeless) array.
    pub data: Option<Bytes>,
}

/// A params file read error (the caller adds the file name).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("at byte {offset}: {msg}")]
pub struct ParamsError {
    pub offset: usize,
    pub msg: String,
}

struct Reader {
    buf: Bytes,
    pos: usize,
}

impl Reader {
    fn err(&self, msg: impl Into<String>) -> ParamsError {
        ParamsError {
            offset: self.pos,
            msg: msg.into(),
        }
    }
    fn take(&mut self, n: usize, what: &str) -> Result<&[u8], ParamsError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(self.err(format!(
                "file ends inside {what} ({n} bytes needed, {} left)",
                self.buf.len() - self.pos
            ))),
        }
    }
    fn u64(&mut self, what: &str) -> Result<u64, ParamsError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn u32(&mut self, what: &str) -> Result<u32, ParamsError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i32(&mut self, what: &str) -> Result<i32, ParamsError> {
        self.u32(what).map(|v| v as i32)
    }
    fn i64(&mut self, what: &str) -> Result<i64, ParamsError> {
        self.u64(what).map(|v| v as i64)
    }
    fn left(&self) -> usize {
        self.buf.len() - self.pos
    }
}

fn dtype(code: i32) -> Option<DType> {
    Some(match code {
        0 => DType::F32,
        1 => DType::F64,
        2 => DType::F16,
        3 => DType::U8,
        4 => DType::I32,
        5 => DType::I8,
        6 => DType::I64,
        7 => DType::Bool,
        8 => DType::I16,
        9 => DType::U16,
        10 => DType::U32,
        11 => DType::U64,
        12 => DType::BF16,
        _ => return None,
    })
}

fn elem_size(d: DType) -> usize {
    match d {
        DType::F64 | DType::I64 | DType::U64 => 8,
        DType::F32 | DType::I32 | DType::U32 => 4,
        DType::F16 | DType::BF16 | DType::I16 | DType::U16 => 2,
        _ => 1,
    }
}

/// Reads a whole params file.
pub fn read_params(buf: Bytes) -> Result<Vec<NdArray>, ParamsError> {
    let mut r = Reader { buf, pos: 0 };
    let magic = r.u64("the header")?;
    if magic != LIST_MAGIC {
        return Err(ParamsError {
            offset: 0,
            msg: format!("wrong magic 0x{magic:x} (an MXNet NDArray list starts with 0x112)"),
        });
    }
    r.u64("the header")?;
    let count = r.u64("the array count")?;
    // Each array takes at least 4 bytes: a count beyond that is garbage.
    if count > (r.left() / 4) as u64 {
        return Err(r.err(format!("{count} arrays cannot fit in the {} bytes left", r.left())));
    }
    let mut arrays = Vec::with_capacity(count as usize);
    for i in 0..count as usize {
        let a = read_array(&mut r).map_err(|e| ParamsError {
            offset: e.offset,
            msg: format!("array {i}: {}", e.msg),
        })?;
        arrays.push(a);
    }
    if r.left() == 0 {
        // Some writers omit the name list altogether.
        return Ok(arrays);
    }
    let n = r.u64("the name count")?;
    if n != 0 && n != count {
        return Err(r.err(format!("{n} names for {count} arrays")));
    }
    for a in arrays.iter_mut().take(n as usize) {
        let len = r.u64("a name length")?;
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l <= r.left())
            .ok_or_else(|| r.err(format!("name length {len} runs past the end of the file")))?;
        let b = r.take(len, "a name")?;
        a.name = String::from_utf8_lossy(b).into_owned();
    }
    Ok(arrays)
}

fn read_shape(r: &mut Reader, legacy_ndim: Option<u32>) -> Result<Option<Vec<usize>>, ParamsError> {
    let (ndim, wide) = match legacy_ndim {
        Some(n) => (i64::from(n), false),
        None => (i64::from(r.i32("the shape rank")?), true),
    };
    if ndim < 0 {
        return Ok(None);
    }
    let ndim = ndim as usize;
    if ndim > MAX_NDIM {
        return Err(r.err(format!("rank {ndim} is not a plausible array rank")));
    }
    let mut dims = Vec::with_capacity(ndim);
    for _ in 0..ndim {
        let d = if wide {
            r.i64("a dimension")?
        } else {
            i64::from(r.u32("a dimension")?)
        };
        let d = usize::try_from(d).map_err(|_| r.err(format!("negative dimension {d}")))?;
        dims.push(d);
    }
    Ok(Some(dims))
}

fn read_array(r: &mut Reader) -> Result<NdArray, ParamsError> {
    let magic = r.u32("an array header")?;
    let shape = match magic {
        V2_MAGIC | V3_MAGIC => {
            let stype = r.i32("the storage type")?;
            if stype != 0 {
                return Err(r.err(format!("sparse storage type {stype} is not supported")));
            }
            let s = read_shape(r, None)?;
            // V2: rank 0 means an empty array; V3: rank -1 (None) does.
            match (magic, s) {
                (V2_MAGIC, Some(s)) if s.is_empty() => None,
                (_, s) => s,
            }
        }
        V1_MAGIC => read_shape(r, None)?.filter(|s| !s.is_empty()),
        n => read_shape(r, Some(n))?.filter(|s| !s.is_empty()),
    };
    let Some(shape) = shape else {
        return Ok(NdArray {
            name: String::new(),
            dtype: DType::F32,
            shape: vec![],
            data: None,
        });
    };
    let _dev_type = r.i32("the context")?;
    let _dev_id = r.i32("the context")?;
    let code = r.i32("the dtype")?;
    let dt = dtype(code).ok_or_else(|| r.err(format!("unknown dtype code {code}")))?;
    let numel = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let nbytes = numel.and_then(|n| n.checked_mul(elem_size(dt)));
    let nbytes = nbytes.filter(|&n| n <= r.left()).ok_or_else(|| {
        r.err(format!(
            "shape {shape:?} of {dt:?} needs more bytes than the {} left (truncated file?)",
            r.left()
        ))
    })?;
    let data = r.buf.slice(r.pos, nbytes).ok_or_else(|| r.err("data out of range"))?;
    r.pos += nbytes;
    Ok(NdArray {
        name: String::new(),
        dtype: dt,
        shape,
        data: Some(data),
    })
}
