//! The values the safe pickle reader builds: plain data, plus the few torch objects an
//! allow-listed global can produce (storages, tensor views, TorchScript module objects).
//! Containers are reference-counted so memo reuse never copies, and copy-on-write on mutation.

use edgeport_ir::DType;
use std::rc::Rc;

/// A storage named by a persistent id: `('storage', <type>, key, location, numel)`.
#[derive(Clone, Debug, PartialEq)]
pub struct StorageRef {
    /// The record key (`data/<key>` in the archive).
    pub key: String,
    /// Element type (U8 for `UntypedStorage`, whose numel counts bytes).
    pub dtype: DType,
    /// Declared number of elements of `dtype`.
    pub numel: u64,
}

/// A tensor view of a storage, as `_rebuild_tensor_v2/_v3` describe it.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorRef {
    pub storage: StorageRef,
    pub dtype: DType,
    pub offset: u64,
    pub sizes: Vec<u64>,
    pub strides: Vec<i64>,
}

/// A global the reader allows, resolved to what it stands for.
#[derive(Clone, Debug, PartialEq)]
pub enum Global {
    RebuildTensorV2,
    RebuildTensorV3,
    RebuildParameter,
    RebuildParameterWithState,
    RebuildFromTypeV2,
    OrderedDict,
    TorchSize,
    Set,
    FrozenSet,
    /// `torch.<X>Storage` (legacy typed) or `torch.storage.UntypedStorage` (U8).
    Storage(DType),
    /// `torch.float32` and friends.
    Dtype(DType),
    /// `torch.Tensor`, `torch.nn.parameter.Parameter`: class markers passed to rebuild functions.
    TensorClass(String),
    /// A TorchScript module class `__torch__.<qualname>` (only when reading TorchScript).
    ScriptClass(String),
    /// `torch.jit._pickle.restore_type_tag(value, type_str)`: returns `value` (TorchScript
    /// archives tag containers with their static type).
    RestoreTypeTag,
}

/// A value on the pickle stack.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// An integer wider than 64 bits: little-endian two's complement bytes.
    BigInt(Rc<Vec<u8>>),
    Float(f64),
    Str(Rc<str>),
    Bytes(Rc<Vec<u8>>),
    Tuple(Rc<Vec<Value>>),
    List(Rc<Vec<Value>>),
    Dict(Rc<Vec<(Value, Value)>>),
    Set(Rc<Vec<Value>>),
    Global(Global),
    Storage(StorageRef),
    Tensor(Rc<TensorRef>),
    /// An object of an allowed class, with the state BUILD gave it.
    Object {
        class: String,
        state: Rc<Value>,
    },
    /// The stack marker pushed by MARK (never escapes the reader).
    Mark,
}

impl Value {
    /// A short description for error messages.
    pub fn kind(&self) -> String {
        match self {
            Value::None => "None".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) | Value::BigInt(_) => "int".into(),
            Value::Float(_) => "float".into(),
            Value::Str(_) => "str".into(),
            Value::Bytes(_) => "bytes".into(),
            Value::Tuple(_) => "tuple".into(),
            Value::List(_) => "list".into(),
            Value::Dict(_) => "dict".into(),
            Value::Set(_) => "set".into(),
            Value::Global(g) => format!("global {g:?}"),
            Value::Storage(_) => "storage".into(),
            Value::Tensor(_) => "tensor".into(),
            Value::Object { class, .. } => format!("object {class}"),
            Value::Mark => "mark".into(),
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Items of a tuple or list.
    pub fn as_seq(&self) -> Option<&[Value]> {
        match self {
            Value::Tuple(v) | Value::List(v) => Some(v),
            _ => None,
        }
    }
}
