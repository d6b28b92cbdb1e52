//! The importer's neutral program model. Both file forms — the legacy `ProgramDesc` protobuf
//! (`decode.rs`) and the PIR JSON program (`pir/`) — are read into this form, so the op rules in
//! `ops/` are written once, against the legacy op names and input/output slot names.
//!
//! Values are named by strings: legacy variable names, or `%<id>` for PIR values.

use edgeport_ir::DType;

/// An attribute value, normalized from either form.
#[derive(Clone, Debug, PartialEq)]
pub enum Attr {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Ints(Vec<i64>),
    Floats(Vec<f64>),
    Bools(Vec<bool>),
    Strs(Vec<String>),
}

/// One op: its (legacy) type, its input and output slots with the value names bound to them,
/// and its attributes.
#[derive(Clone, Debug, Default)]
pub struct OpDesc {
    /// Op type as the rules know it (`conv2d`, `elementwise_add`, …).
    pub ty: String,
    /// Op type as written in the file, for messages.
    pub file_ty: String,
    /// Position in the file's op list.
    pub index: usize,
    pub inputs: Vec<(String, Vec<String>)>,
    pub outputs: Vec<(String, Vec<String>)>,
    pub attrs: Vec<(String, Attr)>,
}

impl OpDesc {
    /// A name for messages and for the IR node: the first output value's name.
    pub fn name(&self) -> String {
        self.outputs
            .iter()
            .flat_map(|(_, v)| v.iter())
            .next()
            .cloned()
            .unwrap_or_else(|| format!("{}_{}", self.ty, self.index))
    }
    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|(n, _)| n == name).map(|(_, a)| a)
    }
    /// The value names bound to an input slot (empty if the slot is absent).
    pub fn input_args(&self, slot: &str) -> &[String] {
        self.inputs
            .iter()
            .find(|(s, _)| s == slot)
            .map(|(_, v)| v.as_slice())
            .unwrap_or(&[])
    }
    pub fn output_args(&self, slot: &str) -> &[String] {
        self.outputs
            .iter()
            .find(|(s, _)| s == slot)
            .map(|(_, v)| v.as_slice())
            .unwrap_or(&[])
    }
}

/// What is known of a value's type from the file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VarInfo {
    pub dtype: Option<DType>,
    /// Dimensions; −1 is unknown. `None` if the file gives no shape.
    pub dims: Option<Vec<i64>>,
}

/// A graph input (`feed` / `pd_op.data`).
#[derive(Clone, Debug)]
pub struct Feed {
    pub col: i64,
    /// The IR input's name.
    pub name: String,
    /// The value it defines.
    pub value: String,
}

/// A graph output (`fetch` / `pd_op.fetch`).
#[derive(Clone, Debug)]
pub struct Fetch {
    pub col: i64,
    pub name: String,
    pub value: String,
}

/// A whole program, ready for the op rules.
#[derive(Clone, Debug, Default)]
pub struct Program {
    pub ops: Vec<OpDesc>,
    /// Known types by value name.
    pub vars: std::collections::HashMap<String, VarInfo>,
    /// Persistable parameters in the order their tensors are stored in `.pdiparams` (sorted by
    /// name): (parameter name, value name it defines).
    pub params: Vec<(String, String)>,
    pub feeds: Vec<Feed>,
    pub fetches: Vec<Fetch>,
    /// Producer version, for messages and metadata.
    pub version: String,
    /// Ops the reader could not even normalize (unknown dialect, control flow, …); reported
    /// together with the rules' issues.
    pub issues: Vec<crate::error::OpIssue>,
}

/// A Paddle `VarType.Type` data-type code → IR dtype.
pub fn dtype_from_code(code: i64) -> Option<DType> {
    Some(match code {
        0 => DType::Bool,
        1 => DType::I16,
        2 => DType::I32,
        3 => DType::I64,
        4 => DType::F16,
        5 => DType::F32,
        6 => DType::F64,
        20 => DType::U8,
        21 => DType::I8,
        22 => DType::BF16,
        23 => DType::C64,
        24 => DType::C128,
        _ => return None,
    })
}

/// A Paddle dtype name (`float32`, PIR's `t_f32` without prefix, …) → IR dtype.
pub fn dtype_from_name(name: &str) -> Option<DType> {
    Some(match name {
        "bool" | "b" => DType::Bool,
        "int8" | "i8" => DType::I8,
        "int16" | "i16" => DType::I16,
        "int32" | "i32" => DType::I32,
        "int64" | "i64" => DType::I64,
        "uint8" | "ui8" => DType::U8,
        "float16" | "f16" => DType::F16,
        "bfloat16" | "bf16" => DType::BF16,
        "float32" | "f32" => DType::F32,
        "float64" | "f64" => DType::F64,
        "complex64" | "c64" => DType::C64,
        "complex128" | "c128" => DType::C128,
        _ => return None,
    })
}
