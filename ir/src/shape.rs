//! Shapes whose dimensions are known numbers or named symbols, and the value types built on them.

use crate::dtype::DType;
use std::fmt;

/// One dimension: a known size or a named symbol such as `batch` or `seq`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Dim {
    Known(u64),
    Sym(String),
}

impl Dim {
    /// The size, when known.
    pub fn known(&self) -> Option<u64> {
        match self {
            Dim::Known(n) => Some(*n),
            Dim::Sym(_) => None,
        }
    }
}

impl From<u64> for Dim {
    fn from(n: u64) -> Self {
        Dim::Known(n)
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Known(n) => write!(f, "{n}"),
            Dim::Sym(s) => write!(f, "{s}"),
        }
    }
}

/// A tensor shape: a list of dimensions (rank 0 for scalars).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct Shape(pub Vec<Dim>);

impl Shape {
    /// A shape of known dimensions.
    pub fn known(dims: &[u64]) -> Shape {
        Shape(dims.iter().map(|&d| Dim::Known(d)).collect())
    }
    pub fn rank(&self) -> usize {
        self.0.len()
    }
    /// All dimensions as numbers, if every one is known.
    pub fn as_known(&self) -> Option<Vec<u64>> {
        self.0.iter().map(Dim::known).collect()
    }
    /// The element count, if every dimension is known and the product does not overflow.
    pub fn numel(&self) -> Option<u64> {
        self.0.iter().try_fold(1u64, |acc, d| acc.checked_mul(d.known()?))
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

/// The type of a tensor value: its dtype and, when known, its shape (`None` = unknown rank).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct TensorType {
    pub dtype: DType,
    pub shape: Option<Shape>,
}

/// The type of any value flowing along an edge.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ValueType {
    Tensor(TensorType),
    Sequence(Box<ValueType>),
    Optional(Box<ValueType>),
    SparseTensor(TensorType),
    Map(DType, Box<ValueType>),
}

impl Default for ValueType {
    fn default() -> Self {
        ValueType::Tensor(TensorType {
            dtype: DType::F32,
            shape: None,
        })
    }
}

impl ValueType {
    /// A tensor type.
    pub fn tensor(dtype: DType, shape: Option<Shape>) -> ValueType {
        ValueType::Tensor(TensorType { dtype, shape })
    }
    /// The tensor type, if this is a plain tensor.
    pub fn as_tensor(&self) -> Option<&TensorType> {
        match self {
            ValueType::Tensor(t) => Some(t),
            _ => None,
        }
    }
}

impl fmt::Display for TensorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.shape {
            Some(s) => write!(f, "{}{}", self.dtype, s),
            None => write!(f, "{}[?]", self.dtype),
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueType::Tensor(t) => write!(f, "{t}"),
            ValueType::Sequence(t) => write!(f, "seq<{t}>"),
            ValueType::Optional(t) => write!(f, "opt<{t}>"),
            ValueType::SparseTensor(t) => write!(f, "sparse<{t}>"),
            ValueType::Map(k, v) => write!(f, "map<{k},{v}>"),
        }
    }
}
