//! The evaluator's tensor: one n-d array per dtype.
//!
//! Standard types are held as `ArrayD<T>`. The 8-bit float, 4-bit float and sub-byte integer
//! types are held unpacked, one element per byte, as their *bit code* in [`Tensor::Bits`]; use
//! [`bits_to_f32`]/[`f32_to_bits`] (and [`Tensor::cast`]) to compute with them.

use edgeport_ir::tensor::{Bytes, TensorData};
use edgeport_ir::{DType, Tensor as IrTensor};
use half::{bf16, f16};
use ndarray::{ArrayD, IxDyn};

use crate::error::OpError;

/// A typed n-d array.
#[derive(Debug, Clone, PartialEq)]
pub enum Tensor {
    F32(ArrayD<f32>),
    F64(ArrayD<f64>),
    F16(ArrayD<f16>),
    BF16(ArrayD<bf16>),
    I8(ArrayD<i8>),
    I16(ArrayD<i16>),
    I32(ArrayD<i32>),
    I64(ArrayD<i64>),
    U8(ArrayD<u8>),
    U16(ArrayD<u16>),
    U32(ArrayD<u32>),
    U64(ArrayD<u64>),
    Bool(ArrayD<bool>),
    Str(ArrayD<String>),
    /// f8*/f4e2m1/i4/u4/i2/u2 elements as their bit codes, one per byte (low bits).
    Bits(DType, ArrayD<u8>),
}

/// Applies `$body` to the array inside any variant, binding it as `$a`. The body must produce a
/// value of one type for every variant (e.g. a shape).
#[macro_export]
macro_rules! with_array {
    ($t:expr, $a:ident => $body:expr) => {
        match $t {
            $crate::Tensor::F32($a) => $body,
            $crate::Tensor::F64($a) => $body,
            $crate::Tensor::F16($a) => $body,
            $crate::Tensor::BF16($a) => $body,
            $crate::Tensor::I8($a) => $body,
            $crate::Tensor::I16($a) => $body,
            $crate::Tensor::I32($a) => $body,
            $crate::Tensor::I64($a) => $body,
            $crate::Tensor::U8($a) => $body,
            $crate::Tensor::U16($a) => $body,
            $crate::Tensor::U32($a) => $body,
            $crate::Tensor::U64($a) => $body,
            $crate::Tensor::Bool($a) => $body,
            $crate::Tensor::Str($a) => $body,
            $crate::Tensor::Bits(_, $a) => $body,
        }
    };
}

/// Maps the array inside any variant to an array of the same element type, keeping the variant
/// (and, for `Bits`, the dtype). Use for layout ops: transpose, slice, reshape, gather, concat….
#[macro_export]
macro_rules! map_array {
    ($t:expr, $a:ident => $body:expr) => {
        match $t {
            $crate::Tensor::F32($a) => $crate::Tensor::F32($body),
            $crate::Tensor::F64($a) => $crate::Tensor::F64($body),
            $crate::Tensor::F16($a) => $crate::Tensor::F16($body),
            $crate::Tensor::BF16($a) => $crate::Tensor::BF16($body),
            $crate::Tensor::I8($a) => $crate::Tensor::I8($body),
            $crate::Tensor::I16($a) => $crate::Tensor::I16($body),
            $crate::Tensor::I32($a) => $crate::Tensor::I32($body),
            $crate::Tensor::I64($a) => $crate::Tensor::I64($body),
            $crate::Tensor::U8($a) => $crate::Tensor::U8($body),
            $crate::Tensor::U16($a) => $crate::Tensor::U16($body),
            $crate::Tensor::U32($a) => $crate::Tensor::U32($body),
            $crate::Tensor::U64($a) => $crate::Tensor::U64($body),
            $crate::Tensor::Bool($a) => $crate::Tensor::Bool($body),
            $crate::Tensor::Str($a) => $crate::Tensor::Str($body),
            $crate::Tensor::Bits(d, $a) => $crate::Tensor::Bits(*d, $body),
        }
    };
}

/// Like [`map_array!`] but `Result`-returning bodies: `$body` yields `Result<ArrayD<T>, E>`.
#[macro_export]
macro_rules! try_map_array {
    ($t:expr, $a:ident => $body:expr) => {
        Ok::<$crate::Tensor, $crate::OpError>(match $t {
            $crate::Tensor::F32($a) => $crate::Tensor::F32($body?),
            $crate::Tensor::F64($a) => $crate::Tensor::F64($body?),
            $crate::Tensor::F16($a) => $crate::Tensor::F16($body?),
            $crate::Tensor::BF16($a) => $crate::Tensor::BF16($body?),
            $crate::Tensor::I8($a) => $crate::Tensor::I8($body?),
            $crate::Tensor::I16($a) => $crate::Tensor::I16($body?),
            $crate::Tensor::I32($a) => $crate::Tensor::I32($body?),
            $crate::Tensor::I64($a) => $crate::Tensor::I64($body?),
            $crate::Tensor::U8($a) => $crate::Tensor::U8($body?),
            $crate::Tensor::U16($a) => $crate::Tensor::U16($body?),
            $crate::Tensor::U32($a) => $crate::Tensor::U32($body?),
            $crate::Tensor::U64($a) => $crate::Tensor::U64($body?),
            $crate::Tensor::Bool($a) => $crate::Tensor::Bool($body?),
            $crate::Tensor::Str($a) => $crate::Tensor::Str($body?),
            $crate::Tensor::Bits(d, $a) => $crate::Tensor::Bits(*d, $body?),
        })
    };
}

impl Tensor {
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            Tensor::F32(_) => DType::F32,
            Tensor::F64(_) => DType::F64,
            Tensor::F16(_) => DType::F16,
            Tensor::BF16(_) => DType::BF16,
            Tensor::I8(_) => DType::I8,
            Tensor::I16(_) => DType::I16,
            Tensor::I32(_) => DType::I32,
            Tensor::I64(_) => DType::I64,
            Tensor::U8(_) => DType::U8,
            Tensor::U16(_) => DType::U16,
            Tensor::U32(_) => DType::U32,
            Tensor::U64(_) => DType::U64,
            Tensor::Bool(_) => DType::Bool,
            Tensor::Str(_) => DType::String,
            Tensor::Bits(d, _) => *d,
        }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        with_array!(self, a => a.shape())
    }

    pub fn rank(&self) -> usize {
        self.shape().len()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        with_array!(self, a => a.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A tensor of zeros (false, "", code 0) of a dtype and shape.
    pub fn zeros(dtype: DType, shape: &[usize]) -> Result<Tensor, OpError> {
        let s = IxDyn(shape);
        Ok(match dtype {
            DType::F32 => Tensor::F32(ArrayD::zeros(s)),
            DType::F64 => Tensor::F64(ArrayD::zeros(s)),
            DType::F16 => Tensor::F16(ArrayD::from_elem(s, f16::ZERO)),
            DType::BF16 => Tensor::BF16(ArrayD::from_elem(s, bf16::ZERO)),
            DType::I8 => Tensor::I8(ArrayD::zeros(s)),
            DType::I16 => Tensor::I16(ArrayD::zeros(s)),
            DType::I32 => Tensor::I32(ArrayD::zeros(s)),
            DType::I64 => Tensor::I64(ArrayD::zeros(s)),
            DType::U8 => Tensor::U8(ArrayD::zeros(s)),
            DType::U16 => Tensor::U16(ArrayD::zeros(s)),
            DType::U32 => Tensor::U32(ArrayD::zeros(s)),
            DType::U64 => Tensor::U64(ArrayD::zeros(s)),
            DType::Bool => Tensor::Bool(ArrayD::from_elem(s, false)),
            DType::String => Tensor::Str(ArrayD::from_elem(s, String::new())),
            d if is_bits(d) => Tensor::Bits(d, ArrayD::zeros(s)),
            d => return Err(OpError::DType(d.to_string())),
        })
    }

    /// Reads an IR constant (copies its data into an array).
    pub fn from_ir(t: &IrTensor) -> Result<Tensor, OpError> {
        let b: &[u8] = match &t.data {
            TensorData::Strings(s) => {
                let v = s.iter().map(|x| String::from_utf8_lossy(x).into_owned()).collect();
                return ArrayD::from_shape_vec(IxDyn(&t.shape), v)
                    .map(Tensor::Str)
                    .map_err(|e| OpError::invalid(format!("tensor data does not fit shape {:?}: {e}", t.shape)));
            }
            TensorData::Raw(b) => b,
            TensorData::Permuted(p) => p.bytes(),
        };
        Tensor::from_le_bytes(t.dtype, &t.shape, b)
    }

    /// A tensor of `dtype` and `shape` from its row-major little-endian bytes (sub-byte types
    /// packed), copied into an array.
    pub fn from_le_bytes(dtype: DType, shape_v: &[usize], b: &[u8]) -> Result<Tensor, OpError> {
        let shape = IxDyn(shape_v);
        let n: usize = shape_v.iter().product();
        let bad = |e: ndarray::ShapeError| OpError::invalid(format!("tensor data does not fit shape {shape_v:?}: {e}"));
        // Little-endian hosts whose bytes are aligned for the element type copy them in one
        // memcpy; otherwise each element is decoded.
        macro_rules! le {
            ($t:ty, $n:literal, $v:ident) => {{
                let v: Vec<$t> = match bytemuck::try_cast_slice::<u8, $t>(b) {
                    Ok(xs) if cfg!(target_endian = "little") => xs.to_vec(),
                    _ => b
                        .chunks_exact($n)
                        .map(|c| <$t>::from_le_bytes(c.try_into().unwrap()))
                        .collect(),
                };
                Tensor::$v(ArrayD::from_shape_vec(shape, v).map_err(bad)?)
            }};
        }
        Ok(match dtype {
            DType::F32 => le!(f32, 4, F32),
            DType::F64 => le!(f64, 8, F64),
            DType::I16 => le!(i16, 2, I16),
            DType::I32 => le!(i32, 4, I32),
            DType::I64 => le!(i64, 8, I64),
            DType::U16 => le!(u16, 2, U16),
            DType::U32 => le!(u32, 4, U32),
            DType::U64 => le!(u64, 8, U64),
            DType::F16 => Tensor::F16(
                ArrayD::from_shape_vec(shape, b.chunks_exact(2).map(|c| f16::from_le_bytes([c[0], c[1]])).collect()).map_err(bad)?,
            ),
            DType::BF16 => Tensor::BF16(
                ArrayD::from_shape_vec(shape, b.chunks_exact(2).map(|c| bf16::from_le_bytes([c[0], c[1]])).collect()).map_err(bad)?,
            ),
            DType::I8 => Tensor::I8(ArrayD::from_shape_vec(shape, b.iter().map(|&x| x as i8).collect()).map_err(bad)?),
            DType::U8 => Tensor::U8(ArrayD::from_shape_vec(shape, b.to_vec()).map_err(bad)?),
            DType::Bool => Tensor::Bool(ArrayD::from_shape_vec(shape, b.iter().map(|&x| x != 0).collect()).map_err(bad)?),
            d if is_bits(d) => {
                let codes = unpack_bits(d, b, n);
                Tensor::Bits(d, ArrayD::from_shape_vec(shape, codes).map_err(bad)?)
            }
            d => return Err(OpError::DType(d.to_string())),
        })
    }

    /// Writes an IR constant (row-major little-endian, packed for sub-byte types).
    pub fn to_ir(&self) -> IrTensor {
        let shape = self.shape().to_vec();
        let std = |v: Vec<u8>| IrTensor::from_bytes(self.dtype(), shape.clone(), Bytes::from_vec(v)).expect("consistent");
        macro_rules! le {
            ($a:expr) => {
                std($a.iter().flat_map(|x| x.to_le_bytes()).collect())
            };
        }
        match self {
            Tensor::F32(a) => le!(a),
            Tensor::F64(a) => le!(a),
            Tensor::F16(a) => le!(a),
            Tensor::BF16(a) => le!(a),
            Tensor::I8(a) => le!(a),
            Tensor::I16(a) => le!(a),
            Tensor::I32(a) => le!(a),
            Tensor::I64(a) => le!(a),
            Tensor::U8(a) => le!(a),
            Tensor::U16(a) => le!(a),
            Tensor::U32(a) => le!(a),
            Tensor::U64(a) => le!(a),
            Tensor::Bool(a) => std(a.iter().map(|&x| x as u8).collect()),
            Tensor::Str(a) => IrTensor::from_strings(shape.clone(), a.iter().map(|s| s.as_bytes().to_vec()).collect()).expect("consistent"),
            Tensor::Bits(d, a) => std(pack_bits(*d, &a.iter().copied().collect::<Vec<_>>())),
        }
    }

    /// All elements as f64 in row-major order (numeric types; bit types decoded).
    pub fn to_f64_vec(&self) -> Result<Vec<f64>, OpError> {
        Ok(match self {
            Tensor::F32(a) => a.iter().map(|&x| x as f64).collect(),
            Tensor::F64(a) => a.iter().copied().collect(),
            Tensor::F16(a) => a.iter().map(|x| x.to_f64()).collect(),
            Tensor::BF16(a) => a.iter().map(|x| x.to_f64()).collect(),
            Tensor::I8(a) => a.iter().map(|&x| x as f64).collect(),
            Tensor::I16(a) => a.iter().map(|&x| x as f64).collect(),
            Tensor::I32(a) => a.iter().map(|&x| x as f64).collect(),
            Tensor::I64(a) => a.iter().map(|&x| x as f64).collect(),
            Tensor::U8(a) => a.iter().map(|&x| x as f64).collect(),
            Tensor::U16(a) => a.iter().map(|&x| x as f64).collect(),
            Tensor::U32(a) => a.iter().map(|&x| x as f64).collect(),
            Tensor::U64(a) => a.iter().map(|&x| x as f64).collect(),
            Tensor::Bool(a) => a.iter().map(|&x| x as u8 as f64).collect(),
            Tensor::Bits(d, a) => a.iter().map(|&c| bits_to_f32(*d, c) as f64).collect(),
            Tensor::Str(_) => return Err(OpError::DType("string".into())),
        })
    }

    /// All elements as i64 (integer and bool types; floats truncated). For shape/axis inputs.
    pub fn to_i64_vec(&self) -> Result<Vec<i64>, OpError> {
        Ok(match self {
            Tensor::I8(a) => a.iter().map(|&x| x as i64).collect(),
            Tensor::I16(a) => a.iter().map(|&x| x as i64).collect(),
            Tensor::I32(a) => a.iter().map(|&x| x as i64).collect(),
            Tensor::I64(a) => a.iter().copied().collect(),
            Tensor::U8(a) => a.iter().map(|&x| x as i64).collect(),
            Tensor::U16(a) => a.iter().map(|&x| x as i64).collect(),
            Tensor::U32(a) => a.iter().map(|&x| x as i64).collect(),
            Tensor::U64(a) => a.iter().map(|&x| x as i64).collect(),
            Tensor::Bool(a) => a.iter().map(|&x| x as i64).collect(),
            other => other.to_f64_vec()?.into_iter().map(|x| x as i64).collect(),
        })
    }

    /// An f32 array view of the data (converting other numeric types).
    pub fn to_f32_array(&self) -> Result<ArrayD<f32>, OpError> {
        match self {
            Tensor::F32(a) => Ok(a.clone()),
            t => {
                let v = t.to_f64_vec()?.into_iter().map(|x| x as f32).collect();
                Ok(ArrayD::from_shape_vec(IxDyn(t.shape()), v).expect("same shape"))
            }
        }
    }

    /// An f64 array of the data.
    pub fn to_f64_array(&self) -> Result<ArrayD<f64>, OpError> {
        match self {
            Tensor::F64(a) => Ok(a.clone()),
            t => Ok(ArrayD::from_shape_vec(IxDyn(t.shape()), t.to_f64_vec()?).expect("same shape")),
        }
    }

    /// Builds a tensor of `dtype` from f64 values (rounding/wrapping as `as` casts do; bit types
    /// encoded with saturation).
    pub fn from_f64(dtype: DType, shape: &[usize], v: Vec<f64>) -> Result<Tensor, OpError> {
        let s = IxDyn(shape);
        let bad = |e: ndarray::ShapeError| OpError::invalid(format!("{e}"));
        macro_rules! conv {
            ($var:ident, $f:expr) => {
                Tensor::$var(ArrayD::from_shape_vec(s, v.into_iter().map($f).collect()).map_err(bad)?)
            };
        }
        Ok(match dtype {
            DType::F32 => conv!(F32, |x| x as f32),
            DType::F64 => conv!(F64, |x| x),
            DType::F16 => conv!(F16, f16::from_f64),
            DType::BF16 => conv!(BF16, bf16::from_f64),
            DType::I8 => conv!(I8, |x| x as i64 as i8),
            DType::I16 => conv!(I16, |x| x as i64 as i16),
            DType::I32 => conv!(I32, |x| x as i64 as i32),
            DType::I64 => conv!(I64, |x| x as i64),
            DType::U8 => conv!(U8, |x| x as i64 as u8),
            DType::U16 => conv!(U16, |x| x as i64 as u16),
            DType::U32 => conv!(U32, |x| x as i64 as u32),
            DType::U64 => conv!(U64, |x| if x < 0.0 { x as i64 as u64 } else { x as u64 }),
            DType::Bool => conv!(Bool, |x| x != 0.0),
            d if is_bits(d) => Tensor::Bits(
                d,
                ArrayD::from_shape_vec(s, v.into_iter().map(|x| f32_to_bits(d, x as f32, true)).collect()).map_err(bad)?,
            ),
            d => return Err(OpError::DType(d.to_string())),
        })
    }

    /// Builds an integer (or bool) tensor from wide integers, wrapping as `as` casts do; other
    /// dtypes go through f64.
    pub fn from_i128(dtype: DType, shape: &[usize], v: Vec<i128>) -> Result<Tensor, OpError> {
        let s = IxDyn(shape);
        let bad = |e: ndarray::ShapeError| OpError::invalid(format!("{e}"));
        macro_rules! w {
            ($var:ident, $ty:ty) => {
                Tensor::$var(ArrayD::from_shape_vec(s, v.into_iter().map(|x| x as $ty).collect()).map_err(bad)?)
            };
        }
        Ok(match dtype {
            DType::I8 => w!(I8, i8),
            DType::I16 => w!(I16, i16),
            DType::I32 => w!(I32, i32),
            DType::I64 => w!(I64, i64),
            DType::U8 => w!(U8, u8),
            DType::U16 => w!(U16, u16),
            DType::U32 => w!(U32, u32),
            DType::U64 => w!(U64, u64),
            DType::Bool => Tensor::Bool(ArrayD::from_shape_vec(s, v.into_iter().map(|x| x != 0).collect()).map_err(bad)?),
            d => Tensor::from_f64(d, shape, v.into_iter().map(|x| x as f64).collect())?,
        })
    }

    /// A scalar f32.
    pub fn scalar_f32(x: f32) -> Tensor {
        Tensor::F32(ArrayD::from_elem(IxDyn(&[]), x))
    }
    /// A scalar i64.
    pub fn scalar_i64(x: i64) -> Tensor {
        Tensor::I64(ArrayD::from_elem(IxDyn(&[]), x))
    }
    /// A 1-d i64 tensor.
    pub fn vec_i64(v: Vec<i64>) -> Tensor {
        let n = v.len();
        Tensor::I64(ArrayD::from_shape_vec(IxDyn(&[n]), v).expect("1-d"))
    }
    /// A 1-d f32 tensor.
    pub fn vec_f32(v: Vec<f32>) -> Tensor {
        let n = v.len();
        Tensor::F32(ArrayD::from_shape_vec(IxDyn(&[n]), v).expect("1-d"))
    }

    /// Reshapes (row-major) to `shape`, which must have the same element count.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor, OpError> {
        let n: usize = shape.iter().product();
        if n != self.len() {
            return Err(OpError::invalid(format!("cannot reshape {:?} to {:?}", self.shape(), shape)));
        }
        Ok(map_array!(self, a => {
            let v: Vec<_> = a.iter().cloned().collect();
            ArrayD::from_shape_vec(IxDyn(shape), v).expect("count checked")
        }))
    }

    /// Casts to another dtype with ONNX `Cast` semantics for the common cases (float→int
    /// truncates toward zero, int→int wraps, to bool is `!= 0`, strings parse/print numbers).
    pub fn cast(&self, to: DType) -> Result<Tensor, OpError> {
        if self.dtype() == to {
            return Ok(self.clone());
        }
        crate::ops::cast::cast(self, to, true)
    }
}

/// True for the dtypes held as bit codes in [`Tensor::Bits`].
pub fn is_bits(d: DType) -> bool {
    matches!(
        d,
        DType::F8E4M3FN
            | DType::F8E4M3FNUZ
            | DType::F8E5M2
            | DType::F8E5M2FNUZ
            | DType::F8E8M0
            | DType::F4E2M1
            | DType::I4
            | DType::U4
            | DType::I2
            | DType::U2
    )
}

/// Unpacks `n` elements of a bit dtype into one code per byte.
pub fn unpack_bits(d: DType, b: &[u8], n: usize) -> Vec<u8> {
    match d.bits() {
        8 => b[..n.min(b.len())].to_vec(),
        4 => (0..n).map(|i| (b[i / 2] >> ((i % 2) * 4)) & 0xF).collect(),
        2 => (0..n).map(|i| (b[i / 4] >> ((i % 4) * 2)) & 0x3).collect(),
        _ => Vec::new(),
    }
}

/// Packs one code per byte into the dtype's storage form.
pub fn pack_bits(d: DType, codes: &[u8]) -> Vec<u8> {
    match d.bits() {
        8 => codes.to_vec(),
        4 => codes
            .chunks(2)
            .map(|c| (c[0] & 0xF) | (c.get(1).copied().unwrap_or(0) << 4))
            .collect(),
        2 => codes
            .chunks(4)
            .map(|c| c.iter().enumerate().fold(0u8, |acc, (i, &x)| acc | ((x & 3) << (2 * i))))
            .collect(),
        _ => Vec::new(),
    }
}

/// Decodes one bit code of a bit dtype to f32 (integers give their value).
pub fn bits_to_f32(d: DType, c: u8) -> f32 {
    crate::ops::cast::bits_to_f32(d, c)
}

/// Encodes an f32 into a bit code of a bit dtype (`saturate` as ONNX Cast's attribute).
pub fn f32_to_bits(d: DType, x: f32, saturate: bool) -> u8 {
    crate::ops::cast::f32_to_bits(d, x, saturate)
}
