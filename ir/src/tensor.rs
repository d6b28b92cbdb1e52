//! Constant tensors. Data is stored once and borrowed: a [`Bytes`] is a shared, sliceable view
//! that may point into a memory-mapped model file, so importing a multi-gigabyte model does not
//! copy its weights.

use crate::dtype::DType;
use crate::quant::QuantParams;
use std::fmt;
use std::sync::Arc;

/// A shared, immutable, cheaply cloned byte range. The owner may be a `Vec<u8>`, a memory map or
/// anything else that derefs to bytes; cloning or slicing never copies the data.
#[derive(Clone)]
pub struct Bytes {
    owner: Arc<dyn AsRef<[u8]> + Send + Sync>,
    start: usize,
    len: usize,
}

impl Bytes {
    /// Takes ownership of a vector.
    pub fn from_vec(v: Vec<u8>) -> Bytes {
        let len = v.len();
        Bytes {
            owner: Arc::new(v),
            start: 0,
            len,
        }
    }
    /// Shares a range of an owner such as a memory map. Returns `None` when out of bounds.
    pub fn from_owner(owner: Arc<dyn AsRef<[u8]> + Send + Sync>, start: usize, len: usize) -> Option<Bytes> {
        let total = (*owner).as_ref().len();
        let end = start.checked_add(len)?;
        (end <= total).then_some(Bytes { owner, start, len })
    }
    /// After the data has been written out: lets the kernel drop this range's pages from the
    /// process when it lives in a memory-mapped file (see [`crate::mapped`]). The view stays
    /// valid; reading it again faults the pages back in. A no-op for data held in memory.
    pub fn release_pages(&self) {
        crate::mapped::release(self);
    }
    /// A view of fewer than [`Bytes::SMALL`] bytes copied into its own memory; a larger one as
    /// it is. Importers keep small constants (norm scales, biases, shape vectors) off the model
    /// map: passes read those often, and each read of a mapped file maps a whole block of pages
    /// around it, so a scan over small constants scattered between the weights would make the
    /// whole file resident.
    pub fn own_if_small(self) -> Bytes {
        if self.len < Self::SMALL {
            Bytes::from_vec(self.to_vec())
        } else {
            self
        }
    }
    /// The size under which [`Bytes::own_if_small`] copies.
    pub const SMALL: usize = 64 << 10;
    /// A sub-range of this view, or `None` when out of bounds.
    pub fn slice(&self, start: usize, len: usize) -> Option<Bytes> {
        let end = start.checked_add(len)?;
        (end <= self.len).then(|| Bytes {
            owner: self.owner.clone(),
            start: self.start + start,
            len,
        })
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// True when both views share the same owner (no copy was made between them).
    pub fn shares_owner(&self, other: &Bytes) -> bool {
        Arc::ptr_eq(&self.owner, &other.owner)
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &(*self.owner).as_ref()[self.start..self.start + self.len]
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bytes({} B)", self.len)
    }
}

impl PartialEq for Bytes {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

/// The element data of a tensor.
#[derive(Clone, Debug, PartialEq)]
pub enum TensorData {
    /// Fixed-width little-endian elements in row-major order (packed for sub-byte types).
    Raw(Bytes),
    /// Strings, one per element.
    Strings(Arc<Vec<Vec<u8>>>),
    /// Another tensor's bytes with its axes permuted, made when first read (see
    /// [`crate::lazy`]); [`Tensor::raw`] gives the bytes like `Raw`'s.
    Permuted(Arc<crate::lazy::Permuted>),
}

/// A constant tensor: dtype, shape, data and optional quantization parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub data: TensorData,
    pub quant: Option<QuantParams>,
}

/// Why a tensor could not be built.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TensorError {
    #[error("shape {shape:?} has more elements than can be addressed")]
    TooLarge { shape: Vec<usize> },
    #[error("{dtype} tensor of shape {shape:?} needs {expected} bytes, data has {actual}")]
    SizeMismatch {
        dtype: DType,
        shape: Vec<usize>,
        expected: usize,
        actual: usize,
    },
    #[error("string tensor of shape {shape:?} needs {expected} strings, data has {actual}")]
    StringCount { shape: Vec<usize>, expected: usize, actual: usize },
}

impl Default for Tensor {
    fn default() -> Self {
        Tensor {
            dtype: DType::F32,
            shape: vec![],
            data: TensorData::Raw(Bytes::from_vec(0f32.to_le_bytes().to_vec())),
            quant: None,
        }
    }
}

/// Element count of a shape, or an error when it overflows.
pub fn checked_numel(shape: &[usize]) -> Result<usize, TensorError> {
    shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| TensorError::TooLarge { shape: shape.to_vec() })
}

impl Tensor {
    /// A tensor over raw bytes, checking that the byte length matches dtype and shape.
    pub fn from_bytes(dtype: DType, shape: Vec<usize>, data: Bytes) -> Result<Tensor, TensorError> {
        let n = checked_numel(&shape)?;
        if dtype == DType::String {
            return Err(TensorError::StringCount {
                shape,
                expected: n,
                actual: 0,
            });
        }
        let expected = dtype.byte_len(n).ok_or_else(|| TensorError::TooLarge { shape: shape.clone() })?;
        if expected != data.len() {
            return Err(TensorError::SizeMismatch {
                dtype,
                shape,
                expected,
                actual: data.len(),
            });
        }
        Ok(Tensor {
            dtype,
            shape,
            data: TensorData::Raw(data),
            quant: None,
        })
    }

    /// A string tensor.
    pub fn from_strings(shape: Vec<usize>, strings: Vec<Vec<u8>>) -> Result<Tensor, TensorError> {
        let n = checked_numel(&shape)?;
        if n != strings.len() {
            return Err(TensorError::StringCount {
                shape,
                expected: n,
                actual: strings.len(),
            });
        }
        Ok(Tensor {
            dtype: DType::String,
            shape,
            data: TensorData::Strings(Arc::new(strings)),
            quant: None,
        })
    }

    /// An f32 tensor from values (copies them once into little-endian bytes).
    pub fn from_f32(shape: Vec<usize>, values: &[f32]) -> Result<Tensor, TensorError> {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Tensor::from_bytes(DType::F32, shape, Bytes::from_vec(bytes))
    }

    /// An i64 tensor from values.
    pub fn from_i64(shape: Vec<usize>, values: &[i64]) -> Result<Tensor, TensorError> {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Tensor::from_bytes(DType::I64, shape, Bytes::from_vec(bytes))
    }

    /// A scalar i64.
    pub fn scalar_i64(v: i64) -> Tensor {
        Tensor::from_i64(vec![], &[v]).expect("scalar")
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// The raw bytes, if this is not a string tensor.
    pub fn raw(&self) -> Option<&Bytes> {
        match &self.data {
            TensorData::Raw(b) => Some(b),
            TensorData::Strings(_) => None,
            TensorData::Permuted(p) => Some(p.bytes()),
        }
    }

    /// This tensor with its axes permuted (`out.shape[i] = shape[perm[i]]`), without moving any
    /// byte now: the result reads this tensor's bytes through the permutation when it is
    /// written or read (see [`crate::lazy`]). Quantization parameters are kept as they are (a
    /// per-axis axis is the caller's to renumber). String tensors are permuted in memory.
    pub fn permuted(&self, perm: &[usize]) -> Result<Tensor, crate::permute::PermuteError> {
        let elem = self.dtype.bits() / 8;
        let (src, elem, src_shape, perm): (Bytes, usize, Vec<usize>, Vec<usize>) = match &self.data {
            TensorData::Permuted(p) if p.shape() == self.shape.as_slice() => {
                // Compose: output axis i is this tensor's axis perm[i], which is source axis
                // p.perm[perm[i]].
                let (src, e, sshape, pp) = p.parts();
                crate::permute::check(p.len(), e, &self.shape, perm)?;
                (src.clone(), e, sshape.to_vec(), perm.iter().map(|&i| pp[i]).collect())
            }
            // Reshaped since it was permuted: permute the made bytes.
            TensorData::Permuted(p) => (p.bytes().clone(), elem, self.shape.clone(), perm.to_vec()),
            TensorData::Raw(b) if self.dtype.bits().is_multiple_of(8) => (b.clone(), elem, self.shape.clone(), perm.to_vec()),
            TensorData::Strings(s) => {
                // The element order, permuted as 8-byte indices.
                let idx: Vec<u8> = (0..s.len() as u64).flat_map(u64::to_le_bytes).collect();
                let shape = crate::permute::check(idx.len(), 8, &self.shape, perm)?;
                let order = crate::permute::permute_bytes(&idx, 8, &self.shape, perm)?;
                let strings = order
                    .chunks_exact(8)
                    .filter_map(|c| s.get(u64::from_le_bytes(c.try_into().ok()?) as usize).cloned())
                    .collect();
                return Ok(Tensor {
                    dtype: self.dtype,
                    shape,
                    data: TensorData::Strings(Arc::new(strings)),
                    quant: self.quant.clone(),
                });
            }
            // Sub-byte elements cannot be moved as bytes.
            TensorData::Raw(b) => {
                return Err(crate::permute::PermuteError::BadLength {
                    shape: self.shape.clone(),
                    elem: 0,
                    len: b.len(),
                });
            }
        };
        let (p, shape) = crate::lazy::Permuted::new(src, elem, src_shape, perm)?;
        Ok(Tensor {
            dtype: self.dtype,
            shape,
            data: TensorData::Permuted(Arc::new(p)),
            quant: self.quant.clone(),
        })
    }

    /// Writes the raw bytes (a permuted tensor streams its permutation; mapped sources give
    /// their pages back as they are written). String tensors write nothing.
    pub fn write_raw(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        match &self.data {
            TensorData::Raw(b) => crate::mapped::write_all(w, b),
            TensorData::Permuted(p) => p.write_to(w),
            TensorData::Strings(_) => Ok(()),
        }
    }

    /// Bytes of storage (string tensors count their string bytes).
    pub fn nbytes(&self) -> usize {
        match &self.data {
            TensorData::Raw(b) => b.len(),
            TensorData::Permuted(p) => p.len(),
            TensorData::Strings(s) => s.iter().map(Vec::len).sum(),
        }
    }

    /// The values as i64, for integer tensors of up to 64 bits (used for shapes and axes).
    pub fn to_i64_vec(&self) -> Option<Vec<i64>> {
        let b = self.raw()?;
        let v = match self.dtype {
            DType::I64 => b.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect(),
            DType::I32 => b
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes(c.try_into().unwrap()) as i64)
                .collect(),
            DType::I16 => b
                .chunks_exact(2)
                .map(|c| i16::from_le_bytes(c.try_into().unwrap()) as i64)
                .collect(),
            DType::I8 => b.iter().map(|&x| x as i8 as i64).collect(),
            DType::U8 | DType::Bool => b.iter().map(|&x| x as i64).collect(),
            DType::U16 => b
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes(c.try_into().unwrap()) as i64)
                .collect(),
            DType::U32 => b
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes(c.try_into().unwrap()) as i64)
                .collect(),
            DType::U64 => b
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap()) as i64)
                .collect(),
            _ => return None,
        };
        Some(v)
    }

    /// The values of an f32 tensor, borrowed when its bytes are aligned f32s (a weight read in
    /// place), decoded otherwise; `None` for other types.
    pub fn f32_values(&self) -> Option<std::borrow::Cow<'_, [f32]>> {
        if self.dtype != DType::F32 {
            return None;
        }
        let b: &[u8] = self.raw()?;
        if b.len() != self.numel().checked_mul(4)? {
            return None;
        }
        Some(match bytemuck::try_cast_slice::<u8, f32>(b) {
            Ok(xs) if cfg!(target_endian = "little") => xs.into(),
            _ => b
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect::<Vec<f32>>()
                .into(),
        })
    }

    /// The values as f64, for float and integer tensors of standard widths.
    pub fn to_f64_vec(&self) -> Option<Vec<f64>> {
        let b = self.raw()?;
        let v = match self.dtype {
            DType::F32 => b
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
                .collect(),
            DType::F64 => b.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect(),
            DType::F16 => b
                .chunks_exact(2)
                .map(|c| half::f16::from_bits(u16::from_le_bytes(c.try_into().unwrap())).to_f64())
                .collect(),
            DType::BF16 => b
                .chunks_exact(2)
                .map(|c| half::bf16::from_bits(u16::from_le_bytes(c.try_into().unwrap())).to_f64())
                .collect(),
            _ => {
                return self.to_i64_vec().map(|v| v.into_iter().map(|x| x as f64).collect());
            }
        };
        Some(v)
    }
}
