//! Turns a pickled tensor view (storage, offset, sizes, strides) into an IR tensor. The storage's
//! declared size is checked against the bytes present, every element the view can reach is
//! checked to lie inside the storage, and contiguous views stay zero-copy slices of the file;
//! only strided views are gathered into a new buffer.

use crate::error::{Error, Result};
use crate::pickle::TensorRef;
use edgeport_ir::{Bytes, DType, Tensor};

/// Bytes per element of a dtype torch can store (None for sub-byte or string types).
pub fn elem_size(dt: DType) -> Option<usize> {
    let bits = dt.bits();
    (bits >= 8 && bits.is_multiple_of(8) && dt != DType::String).then_some(bits / 8)
}

/// Builds the tensor `t` over `storage` (the whole storage record). `file` and `name` label errors.
pub fn materialize(file: &str, name: &str, t: &TensorRef, storage: &Bytes) -> Result<Tensor> {
    let err = |msg: String| Error::Tensor {
        file: file.to_string(),
        tensor: name.to_string(),
        msg,
    };
    let st_es = elem_size(t.storage.dtype).ok_or_else(|| err(format!("storage dtype {} is not supported", t.storage.dtype)))?;
    let es = elem_size(t.dtype).ok_or_else(|| err(format!("dtype {} is not supported", t.dtype)))?;
    let declared = t
        .storage
        .numel
        .checked_mul(st_es as u64)
        .ok_or_else(|| err("storage size overflows".into()))?;
    if declared > storage.len() as u64 {
        return Err(err(format!(
            "storage '{}' declares {} elements ({declared} bytes) but the file holds only {} bytes for it",
            t.storage.key,
            t.storage.numel,
            storage.len()
        )));
    }
    let declared = declared as usize;
    let shape: Vec<usize> = t
        .sizes
        .iter()
        .map(|&s| usize::try_from(s).map_err(|_| err(format!("size {s} too large"))))
        .collect::<Result<_>>()?;
    let numel = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| err(format!("shape {shape:?} overflows")))?;
    let mk = |data: Bytes| Tensor::from_bytes(t.dtype, shape.clone(), data).map_err(|e| err(e.to_string()));
    if numel == 0 {
        return mk(Bytes::from_vec(Vec::new()));
    }
    let off = usize::try_from(t.offset).map_err(|_| err("storage offset too large".into()))?;
    // Highest element index the view reaches (strides must be non-negative).
    let mut reach = off;
    for (i, (&s, &st)) in shape.iter().zip(&t.strides).enumerate() {
        if st < 0 {
            return Err(err(format!("negative stride {st} in dimension {i}")));
        }
        let add = (s - 1)
            .checked_mul(st as usize)
            .ok_or_else(|| err("view extent overflows".into()))?;
        reach = reach.checked_add(add).ok_or_else(|| err("view extent overflows".into()))?;
    }
    let end_byte = reach
        .checked_add(1)
        .and_then(|n| n.checked_mul(es))
        .ok_or_else(|| err("view extent overflows".into()))?;
    if end_byte > declared {
        return Err(err(format!(
            "view (offset {off}, sizes {shape:?}, strides {:?}) reaches byte {end_byte}, past the {declared}-byte storage '{}'",
            t.strides, t.storage.key
        )));
    }
    // Contiguous when strides are the row-major ones (dims of size 1 may have any stride).
    let mut expect = 1usize;
    let mut contiguous = true;
    for (&s, &st) in shape.iter().zip(&t.strides).rev() {
        if s != 1 && st as usize != expect {
            contiguous = false;
            break;
        }
        expect = expect.saturating_mul(s);
    }
    if contiguous {
        let data = storage
            .slice(off * es, numel * es)
            .ok_or_else(|| err("view outside its storage".into()))?;
        return mk(data);
    }
    let mut out = Vec::with_capacity(numel * es);
    let mut idx = vec![0usize; shape.len()];
    let src: &[u8] = storage;
    for _ in 0..numel {
        let e = off + idx.iter().zip(&t.strides).map(|(&i, &s)| i * s as usize).sum::<usize>();
        let b = src
            .get(e * es..(e + 1) * es)
            .ok_or_else(|| err("view outside its storage".into()))?;
        out.extend_from_slice(b);
        for d in (0..shape.len()).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    mk(Bytes::from_vec(out))
}
