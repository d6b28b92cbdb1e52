//! The combined parameter file (`.pdiparams`, written by Paddle's `save_combine`): tensors stored
//! one after another, unnamed, in sorted order of the persistable parameter names. Per tensor:
//!
//! ```text
//! u32 version (0) | u64 lod_level, per level: u64 nbytes + nbytes of u64 offsets
//! u32 tensor version (0) | i32 desc_size | desc_size bytes of VarType.TensorDesc {data_type, dims}
//! raw data: numel × sizeof(dtype), little-endian, row-major
//! ```
//!
//! The reader is zero-copy: each tensor's data is a [`Bytes`] view into the caller's buffer
//! (normally a memory map). Every size is checked against the bytes present before use.

use crate::program::dtype_from_code;
use edgeport_ir::{Bytes, Tensor};
use edgeport_proto::paddle::var_type::TensorDesc;
use edgeport_proto::prost::Message;

/// Why one record could not be read (the caller adds file and parameter names).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordError {
    /// Index of the record in the file.
    pub index: usize,
    pub msg: String,
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize, what: &str) -> Result<&[u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.b.len()).ok_or_else(|| {
            format!(
                "truncated: {what} needs {n} bytes at offset {}, the file has {}",
                self.pos,
                self.b.len().saturating_sub(self.pos)
            )
        })?;
        let s = self.b.get(self.pos..end).ok_or_else(|| format!("truncated {what}"))?;
        self.pos = end;
        Ok(s)
    }
    fn u32(&mut self, what: &str) -> Result<u32, String> {
        let s = self.take(4, what)?;
        Ok(u32::from_le_bytes(s.try_into().map_err(|_| format!("truncated {what}"))?))
    }
    fn u64(&mut self, what: &str) -> Result<u64, String> {
        let s = self.take(8, what)?;
        Ok(u64::from_le_bytes(s.try_into().map_err(|_| format!("truncated {what}"))?))
    }
}

/// Reads `count` tensors from a combined parameter buffer. Fails when the buffer holds fewer
/// tensors than `count`, when a record is malformed, or when bytes are left over after the last
/// one (a params file of another program).
pub fn read_combined(buf: &Bytes, count: usize) -> Result<Vec<Tensor>, RecordError> {
    let mut cur = Cursor { b: buf, pos: 0 };
    let mut out = Vec::with_capacity(count.min(buf.len() / 16 + 1));
    for index in 0..count {
        if cur.pos >= buf.len() {
            return Err(RecordError {
                index,
                msg: format!("the file ends after {index} tensor(s), the program needs {count}"),
            });
        }
        let t = read_record(&mut cur, buf).map_err(|msg| RecordError { index, msg })?;
        out.push(t);
    }
    if cur.pos != buf.len() {
        return Err(RecordError {
            index: count,
            msg: format!(
                "{} byte(s) left after the {count} tensor(s) the program needs: the file belongs to another program",
                buf.len() - cur.pos
            ),
        });
    }
    Ok(out)
}

fn read_record(cur: &mut Cursor<'_>, buf: &Bytes) -> Result<Tensor, String> {
    let version = cur.u32("version")?;
    if version != 0 {
        return Err(format!("unsupported tensor record version {version} (expected 0)"));
    }
    let lod_level = cur.u64("LoD level")?;
    if lod_level > 32 {
        return Err(format!("implausible LoD level {lod_level}"));
    }
    for _ in 0..lod_level {
        let n = cur.u64("LoD size")?;
        let n = usize::try_from(n).map_err(|_| format!("LoD size {n} too large"))?;
        cur.take(n, "LoD data")?;
    }
    let tversion = cur.u32("tensor version")?;
    if tversion != 0 {
        return Err(format!("unsupported tensor version {tversion} (expected 0)"));
    }
    let desc_size = cur.u32("TensorDesc size")?;
    let desc_size = i32::try_from(desc_size).map_err(|_| "negative TensorDesc size".to_string())?;
    let desc = cur.take(desc_size as usize, "TensorDesc")?;
    let desc = TensorDesc::decode(desc).map_err(|e| format!("bad TensorDesc: {e}"))?;
    let dtype = dtype_from_code(i64::from(desc.data_type)).ok_or_else(|| format!("unsupported data type code {}", desc.data_type))?;
    let mut shape = Vec::with_capacity(desc.dims.len().min(16));
    if desc.dims.len() > 16 {
        return Err(format!("rank {} is too large", desc.dims.len()));
    }
    for &d in &desc.dims {
        shape.push(usize::try_from(d).map_err(|_| format!("negative dimension {d} in {:?}", desc.dims))?);
    }
    let numel = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| format!("shape {shape:?} overflows"))?;
    let nbytes = dtype.byte_len(numel).ok_or_else(|| format!("shape {shape:?} overflows"))?;
    let start = cur.pos;
    cur.take(nbytes, &format!("data of a {} {shape:?} tensor", dtype.name()))?;
    let data = buf.slice(start, nbytes).ok_or_else(|| "data out of range".to_string())?;
    Tensor::from_bytes(dtype, shape, data).map_err(|e| e.to_string())
}

/// Writes tensors in the combined format (used by tests to build hostile files and by tools
/// that re-save parameters).
pub fn write_combined(tensors: &[(edgeport_ir::DType, Vec<i64>, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (dtype, dims, data) in tensors {
        let code = match dtype {
            edgeport_ir::DType::Bool => 0,
            edgeport_ir::DType::I16 => 1,
            edgeport_ir::DType::I32 => 2,
            edgeport_ir::DType::I64 => 3,
            edgeport_ir::DType::F16 => 4,
            edgeport_ir::DType::F64 => 6,
            edgeport_ir::DType::U8 => 20,
            edgeport_ir::DType::I8 => 21,
            edgeport_ir::DType::BF16 => 22,
            _ => 5,
        };
        let desc = TensorDesc {
            data_type: code,
            dims: dims.clone(),
        }
        .encode_to_vec();
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(desc.len() as i32).to_le_bytes());
        out.extend_from_slice(&desc);
        out.extend_from_slice(data);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgeport_ir::DType;

    fn two() -> Vec<u8> {
        write_combined(&[
            (DType::F32, vec![2], [1f32, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect()),
            (DType::I64, vec![1, 1], 7i64.to_le_bytes().to_vec()),
        ])
    }

    #[test]
    fn reads_records_zero_copy() {
        let buf = Bytes::from_vec(two());
        let t = read_combined(&buf, 2).unwrap();
        assert_eq!(t[0].shape, vec![2]);
        assert_eq!(t[0].to_f64_vec().unwrap(), vec![1.0, 2.0]);
        assert_eq!(t[1].dtype, DType::I64);
        assert_eq!(t[1].to_i64_vec().unwrap(), vec![7]);
        assert!(t[1].raw().unwrap().shares_owner(&buf));
    }

    #[test]
    fn too_few_tensors() {
        let buf = Bytes::from_vec(two());
        let e = read_combined(&buf, 3).unwrap_err();
        assert_eq!(e.index, 2);
        assert!(e.msg.contains("ends after 2 tensor(s), the program needs 3"), "{}", e.msg);
    }

    #[test]
    fn leftover_bytes() {
        let buf = Bytes::from_vec(two());
        let e = read_combined(&buf, 1).unwrap_err();
        assert!(e.msg.contains("left after the 1 tensor(s)"), "{}", e.msg);
    }

    #[test]
    fn truncated_every_length() {
        let full = two();
        for n in 0..full.len() {
            let buf = Bytes::from_vec(full[..n].to_vec());
            let e = read_combined(&buf, 2).unwrap_err();
            assert!(
                e.msg.contains("truncated") || e.msg.contains("ends after") || e.msg.contains("TensorDesc"),
                "{n}: {}",
                e.msg
            );
        }
    }

    #[test]
    fn huge_declared_sizes() {
        let mut b = Vec::new();
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&1u64.to_le_bytes());
        b.extend_from_slice(&u64::MAX.to_le_bytes());
        let e = read_combined(&Bytes::from_vec(b), 1).unwrap_err();
        assert!(e.msg.contains("LoD"), "{}", e.msg);
        let desc = TensorDesc {
            data_type: 5,
            dims: vec![i64::MAX, i64::MAX],
        }
        .encode_to_vec();
        let mut b = Vec::new();
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&0u64.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&(desc.len() as i32).to_le_bytes());
        b.extend_from_slice(&desc);
        let e = read_combined(&Bytes::from_vec(b), 1).unwrap_err();
        assert!(e.msg.contains("overflows"), "{}", e.msg);
    }
}
