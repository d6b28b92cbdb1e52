//! The parts of torch's serialized ExportedProgram JSON (`torch/_export/serde/schema.py`,
//! schema 8.x) the importer reads: `Argument` unions, `TensorMeta`, `SymInt`, and the serde
//! `ScalarType` numbering (which is not c10's).

use edgeport_ir::{DType, Dim};
use serde_json::Value as J;

/// A symbolic or known integer.
#[derive(Clone, Debug, PartialEq)]
pub enum SymInt {
    Int(i64),
    /// A symbol expression such as `s0` or `2*s0`, or the name of a sym-int value of the graph.
    Expr(String),
}

/// A node argument, one key of the `Argument` union.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    None,
    Tensor(String),
    Tensors(Vec<String>),
    OptTensors(Vec<Option<String>>),
    Int(i64),
    Ints(Vec<i64>),
    Float(f64),
    Floats(Vec<f64>),
    Bool(bool),
    Bools(Vec<bool>),
    Str(String),
    Strs(Vec<String>),
    SymInt(SymInt),
    SymInts(Vec<SymInt>),
    /// A scalar type (serde numbering), as `as_scalar_type`.
    ScalarType(i64),
    MemoryFormat(i64),
    Layout(i64),
    Device(String),
    /// Anything else, by its union key.
    Other(String),
}

impl Arg {
    pub fn describe(&self) -> String {
        format!("{self:?}").chars().take(80).collect()
    }
}

/// The serde ScalarType numbering (`schema.py`), not c10's.
pub fn dtype(code: i64) -> Option<DType> {
    Some(match code {
        1 => DType::U8,
        2 => DType::I8,
        3 => DType::I16,
        4 => DType::I32,
        5 => DType::I64,
        6 => DType::F16,
        7 => DType::F32,
        8 => DType::F64,
        10 => DType::C64,
        11 => DType::C128,
        12 => DType::Bool,
        13 => DType::BF16,
        28 => DType::U16,
        29 => DType::F8E4M3FN,
        30 => DType::F8E5M2,
        31 => DType::F8E4M3FNUZ,
        32 => DType::F8E5M2FNUZ,
        33 => DType::F8E8M0,
        34 => DType::U32,
        35 => DType::U64,
        _ => return None,
    })
}

fn name_of(v: &J) -> Option<String> {
    v.get("name").and_then(J::as_str).map(str::to_string)
}

/// Newer torch writes a bare symbol as its sympy repr, `Symbol('s77', positive=True,
/// integer=True)`; the name is `s77` (as in `range_constraints`). Other expressions are kept.
fn symbol_name(s: &str) -> String {
    if let Some(rest) = s.strip_prefix("Symbol('")
        && let Some((name, _)) = rest.split_once('\'')
    {
        return name.to_string();
    }
    s.to_string()
}

/// Reads a `SymInt` (`{as_int}` / `{as_expr{expr_str}}` / `{as_name}`).
pub fn sym_int(v: &J) -> Option<SymInt> {
    if let Some(i) = v.get("as_int").and_then(J::as_i64) {
        return Some(SymInt::Int(i));
    }
    if let Some(e) = v.get("as_expr") {
        let s = e.get("expr_str").and_then(J::as_str).or_else(|| e.as_str())?;
        return Some(SymInt::Expr(symbol_name(s)));
    }
    v.get("as_name").and_then(J::as_str).map(|s| SymInt::Expr(s.to_string()))
}

fn list<T>(v: &J, f: impl Fn(&J) -> Option<T>) -> Option<Vec<T>> {
    v.as_array()?.iter().map(f).collect()
}

/// A JSON number, or the strings torch writes for non-finite floats.
fn json_float(x: &J) -> Option<f64> {
    match x.as_str() {
        Some("Infinity" | "inf") => Some(f64::INFINITY),
        Some("-Infinity" | "-inf") => Some(f64::NEG_INFINITY),
        Some("NaN" | "nan") => Some(f64::NAN),
        Some(_) => None,
        None => x.as_f64(),
    }
}

/// Parses one `Argument` object.
pub fn arg(v: &J) -> Arg {
    let Some(obj) = v.as_object() else {
        return Arg::Other("not an object".into());
    };
    let Some((k, x)) = obj.iter().next() else {
        return Arg::Other("empty".into());
    };
    let parsed = match k.as_str() {
        "as_none" => Some(Arg::None),
        "as_tensor" | "as_optional_tensor" if x.get("as_none").is_some() => Some(Arg::None),
        "as_tensor" => name_of(x).map(Arg::Tensor),
        "as_optional_tensor" => x.get("as_tensor").and_then(name_of).map(Arg::Tensor),
        "as_tensors" => list(x, name_of).map(Arg::Tensors),
        "as_optional_tensors" => list(x, |e| {
            if e.get("as_none").is_some() {
                Some(None)
            } else {
                e.get("as_tensor").and_then(name_of).map(Some)
            }
        })
        .map(Arg::OptTensors),
        "as_int" => x.as_i64().map(Arg::Int),
        "as_ints" => list(x, J::as_i64).map(Arg::Ints),
        "as_float" => json_float(x).map(Arg::Float),
        "as_floats" => list(x, json_float).map(Arg::Floats),
        "as_bool" => x.as_bool().map(Arg::Bool),
        "as_bools" => list(x, J::as_bool).map(Arg::Bools),
        "as_string" => x.as_str().map(|s| Arg::Str(s.to_string())),
        "as_strings" => list(x, |e| e.as_str().map(str::to_string)).map(Arg::Strs),
        "as_sym_int" => sym_int(x).map(Arg::SymInt),
        "as_sym_ints" => list(x, sym_int).map(Arg::SymInts),
        "as_scalar_type" => x.as_i64().map(Arg::ScalarType),
        "as_memory_format" => x.as_i64().map(Arg::MemoryFormat),
        "as_layout" => x.as_i64().map(Arg::Layout),
        "as_device" => x.get("type").and_then(J::as_str).map(|s| Arg::Device(s.to_string())),
        "as_sym_float" => x.get("as_float").and_then(json_float).map(Arg::Float),
        other => Some(Arg::Other(other.to_string())),
    };
    parsed.unwrap_or_else(|| Arg::Other(format!("malformed {k}")))
}

/// A value's dtype and shape from `tensor_values` (`TensorMeta`).
#[derive(Clone, Debug, PartialEq)]
pub struct Meta {
    pub dtype: DType,
    pub shape: Vec<Dim>,
}

impl Meta {
    pub fn rank(&self) -> usize {
        self.shape.len()
    }
    /// Known dims, when all are known.
    pub fn known(&self) -> Option<Vec<i64>> {
        self.shape.iter().map(|d| d.known().map(|n| n as i64)).collect()
    }
}

/// Parses a `TensorMeta`.
pub fn meta(v: &J) -> Option<Meta> {
    let dt = dtype(v.get("dtype")?.as_i64()?)?;
    let shape = list(v.get("sizes")?, |s| {
        sym_int(s).map(|x| match x {
            SymInt::Int(i) if i >= 0 => Dim::Known(i as u64),
            SymInt::Int(i) => Dim::Sym(i.to_string()),
            SymInt::Expr(e) => Dim::Sym(e),
        })
    })?;
    Some(Meta { dtype: dt, shape })
}

/// Strides and storage offset of a `TensorMeta` (known ints only).
pub fn strides_offset(v: &J) -> Option<(Vec<i64>, i64)> {
    let strides = list(v.get("strides")?, |s| match sym_int(s)? {
        SymInt::Int(i) => Some(i),
        SymInt::Expr(_) => None,
    })?;
    let off = match v.get("storage_offset").map(sym_int) {
        Some(Some(SymInt::Int(i))) => i,
        None => 0,
        _ => return None,
    };
    Some((strides, off))
}
