//! NumPy `.npy` files (format versions 1–3): little-endian numeric and bool arrays, C order.
//! Declared sizes are checked against the bytes present before anything is allocated.

use edgeport_eval::Tensor;
use edgeport_ir::DType;
use ndarray_shim::from_f64_like;

/// An npy error.
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    #[error("not an .npy file (bad magic)")]
    Magic,
    #[error("bad .npy header: {0}")]
    Header(String),
    #[error("unsupported .npy dtype '{0}'")]
    DType(String),
    #[error(".npy data has {have} bytes, header says {need}")]
    Size { have: usize, need: usize },
    #[error("cannot write {0} arrays to .npy")]
    Unwritable(String),
}

mod ndarray_shim {
    use edgeport_eval::Tensor;
    use edgeport_ir::tensor::Bytes;
    use edgeport_ir::{DType, Tensor as IrTensor};

    /// Builds an evaluator tensor from little-endian bytes of `dtype`.
    pub fn from_f64_like(dtype: DType, shape: Vec<usize>, bytes: Vec<u8>) -> Result<Tensor, String> {
        let t = IrTensor::from_bytes(dtype, shape, Bytes::from_vec(bytes)).map_err(|e| e.to_string())?;
        Tensor::from_ir(&t).map_err(|e| e.to_string())
    }
}

fn descr_dtype(d: &str) -> Option<(DType, bool)> {
    // (dtype, big-endian?)
    let (end, code) = d.split_at(1);
    let big = end == ">";
    let dt = match code {
        "f4" => DType::F32,
        "f8" => DType::F64,
        "f2" => DType::F16,
        "i1" => DType::I8,
        "i2" => DType::I16,
        "i4" => DType::I32,
        "i8" => DType::I64,
        "u1" => DType::U8,
        "u2" => DType::U16,
        "u4" => DType::U32,
        "u8" => DType::U64,
        "b1" => DType::Bool,
        _ => return None,
    };
    Some((dt, big))
}

fn dtype_descr(d: DType) -> Option<&'static str> {
    Some(match d {
        DType::F32 => "<f4",
        DType::F64 => "<f8",
        DType::F16 => "<f2",
        DType::I8 => "|i1",
        DType::I16 => "<i2",
        DType::I32 => "<i4",
        DType::I64 => "<i8",
        DType::U8 => "|u1",
        DType::U16 => "<u2",
        DType::U32 => "<u4",
        DType::U64 => "<u8",
        DType::Bool => "|b1",
        _ => return None,
    })
}

fn header_value<'a>(h: &'a str, key: &str) -> Option<&'a str> {
    let k = format!("'{key}':");
    let i = h.find(&k)? + k.len();
    Some(h[i..].trim_start())
}

/// Parses an `.npy` file.
pub fn read(buf: &[u8]) -> Result<Tensor, NpyError> {
    if buf.len() < 10 || &buf[..6] != b"\x93NUMPY" {
        return Err(NpyError::Magic);
    }
    let major = buf[6];
    let (hlen, start): (usize, usize) = match major {
        1 => (u16::from_le_bytes([buf[8], buf[9]]) as usize, 10),
        2 | 3 => {
            if buf.len() < 12 {
                return Err(NpyError::Header("truncated".into()));
            }
            (u32::from_le_bytes([buf[8], buf[9], buf[10], buf[11]]) as usize, 12)
        }
        v => return Err(NpyError::Header(format!("version {v}"))),
    };
    let end = start
        .checked_add(hlen)
        .filter(|&e| e <= buf.len())
        .ok_or_else(|| NpyError::Header("truncated".into()))?;
    let h = std::str::from_utf8(&buf[start..end]).map_err(|_| NpyError::Header("not text".into()))?;
    let descr = header_value(h, "descr")
        .and_then(|v| v.strip_prefix('\''))
        .and_then(|v| v.split('\'').next())
        .ok_or_else(|| NpyError::Header("no descr".into()))?;
    if header_value(h, "fortran_order").is_some_and(|v| v.starts_with("True")) {
        return Err(NpyError::Header("Fortran-ordered arrays are not supported".into()));
    }
    let shape_txt = header_value(h, "shape")
        .and_then(|v| v.strip_prefix('('))
        .and_then(|v| v.split(')').next())
        .ok_or_else(|| NpyError::Header("no shape".into()))?;
    let mut shape = Vec::new();
    for part in shape_txt.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        shape.push(part.parse::<usize>().map_err(|_| NpyError::Header(format!("bad dim '{part}'")))?);
    }
    let (dtype, big) = descr_dtype(descr).ok_or_else(|| NpyError::DType(descr.to_string()))?;
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| NpyError::Header("shape overflows".into()))?;
    let need = dtype.byte_len(n).ok_or_else(|| NpyError::Header("size overflows".into()))?;
    let data = &buf[end..];
    if data.len() < need {
        return Err(NpyError::Size { have: data.len(), need });
    }
    if !big {
        // Little-endian data is read straight out of the buffer (one copy).
        return Tensor::from_le_bytes(dtype, &shape, &data[..need]).map_err(|e| NpyError::Header(e.to_string()));
    }
    let mut bytes = data[..need].to_vec();
    if big {
        let w = dtype.bits() / 8;
        if w > 1 {
            for c in bytes.chunks_mut(w) {
                c.reverse();
            }
        }
    }
    from_f64_like(dtype, shape, bytes).map_err(NpyError::Header)
}

/// Serializes a tensor as `.npy` (version 1.0).
pub fn write(t: &Tensor) -> Result<Vec<u8>, NpyError> {
    let descr = dtype_descr(t.dtype()).ok_or_else(|| NpyError::Unwritable(t.dtype().to_string()))?;
    let shape = t.shape();
    let shape_txt = match shape.len() {
        0 => "()".to_string(),
        1 => format!("({},)", shape[0]),
        _ => format!("({})", shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
    };
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_txt}, }}");
    let total = 10 + h.len() + 1;
    h.push_str(&" ".repeat((64 - total % 64) % 64));
    h.push('\n');
    let mut out = Vec::with_capacity(10 + h.len() + t.len() * 8);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(h.len() as u16).to_le_bytes());
    out.extend_from_slice(h.as_bytes());
    let ir = t.to_ir();
    out.extend_from_slice(ir.raw().map(|b| &b[..]).unwrap_or(&[]));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let t = Tensor::vec_f32(vec![1.0, -2.5, 3.0]);
        let b = write(&t).unwrap();
        assert_eq!((b.len() - 12) % 64, 0, "header padded to 64 bytes");
        assert_eq!(read(&b).unwrap(), t);
        assert!(read(b"garbage!!!!!").is_err());
        let mut short = b.clone();
        short.truncate(b.len() - 1);
        assert!(matches!(read(&short), Err(NpyError::Size { .. })));
    }
}
