//! Runtime values: tensors, sequences and optionals.

use crate::tensor::Tensor;
use edgeport_ir::{DType, ValueType};

/// A runtime value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Tensor(Tensor),
    /// A sequence of tensors with its element dtype (kept for empty sequences).
    Sequence(Vec<Tensor>, DType),
    /// An optional value; `None` keeps the declared type.
    Optional(Option<Box<Value>>, Option<ValueType>),
}

impl Value {
    /// The tensor, if this is one.
    pub fn as_tensor(&self) -> Option<&Tensor> {
        match self {
            Value::Tensor(t) => Some(t),
            _ => None,
        }
    }
    pub fn into_tensor(self) -> Option<Tensor> {
        match self {
            Value::Tensor(t) => Some(t),
            _ => None,
        }
    }
    /// A short description for errors.
    pub fn describe(&self) -> String {
        match self {
            Value::Tensor(t) => format!("{}{:?}", t.dtype(), t.shape()),
            Value::Sequence(s, d) => format!("seq<{d}> of {}", s.len()),
            Value::Optional(Some(v), _) => format!("opt<{}>", v.describe()),
            Value::Optional(None, _) => "opt<none>".into(),
        }
    }
}

impl From<Tensor> for Value {
    fn from(t: Tensor) -> Value {
        Value::Tensor(t)
    }
}
