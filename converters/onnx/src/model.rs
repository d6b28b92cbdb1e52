//! The ONNX model as plain Rust data: what `decode` produces from the protobuf and what the
//! importer turns into IR (and the exporter's `encode` writes). No generated type appears here.

use edgeport_ir::{Tensor, ValueType};

/// A decoded ONNX model.
#[derive(Debug, Clone, Default)]
pub struct RawModel {
    pub ir_version: i64,
    /// (domain, version); "" is ai.onnx.
    pub opsets: Vec<(String, i64)>,
    pub producer_name: String,
    pub producer_version: String,
    pub doc_string: String,
    pub metadata: Vec<(String, String)>,
    pub graph: RawGraph,
    pub functions: Vec<RawFunction>,
}

impl RawModel {
    /// The imported version of a domain's opset, if imported.
    pub fn opset(&self, domain: &str) -> Option<i64> {
        let norm = |d: &str| {
            if d == "ai.onnx" { String::new() } else { d.to_string() }
        };
        self.opsets.iter().find(|(d, _)| norm(d) == norm(domain)).map(|(_, v)| *v)
    }
}

/// A graph (the main graph or a subgraph attribute).
#[derive(Debug, Clone, Default)]
pub struct RawGraph {
    pub name: String,
    pub nodes: Vec<RawNode>,
    pub initializers: Vec<Tensor>,
    /// Initializer names, parallel to `initializers`.
    pub initializer_names: Vec<String>,
    pub inputs: Vec<RawValueInfo>,
    pub outputs: Vec<RawValueInfo>,
    pub value_info: Vec<RawValueInfo>,
    pub doc_string: String,
    /// Each node's `overload` (for calls of model-local functions), parallel to `nodes`, or
    /// empty when no node has one.
    pub node_overloads: Vec<String>,
}

/// A value's declared name and type.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawValueInfo {
    pub name: String,
    pub ty: Option<ValueType>,
}

/// A node.
#[derive(Debug, Clone, Default)]
pub struct RawNode {
    pub name: String,
    pub op_type: String,
    pub domain: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attrs: Vec<RawAttr>,
}

/// An attribute.
#[derive(Debug, Clone)]
pub struct RawAttr {
    pub name: String,
    /// Inside a function body: the name of the function attribute this refers to.
    pub ref_attr_name: Option<String>,
    pub value: RawAttrValue,
}

/// An attribute's value.
#[derive(Debug, Clone)]
pub enum RawAttrValue {
    Float(f32),
    Int(i64),
    String(Vec<u8>),
    Tensor(Tensor),
    Graph(RawGraph),
    Floats(Vec<f32>),
    Ints(Vec<i64>),
    Strings(Vec<Vec<u8>>),
    Tensors(Vec<Tensor>),
    Graphs(Vec<RawGraph>),
    Type(ValueType),
    Types(Vec<ValueType>),
    /// Only meaningful with `ref_attr_name`.
    Undefined,
}

/// A model-local function.
#[derive(Debug, Clone, Default)]
pub struct RawFunction {
    pub name: String,
    pub domain: String,
    pub overload: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    /// Attribute names, with defaults where given.
    pub attrs: Vec<(String, Option<RawAttrValue>)>,
    pub nodes: Vec<RawNode>,
    pub opsets: Vec<(String, i64)>,
    /// Body nodes' overloads, parallel to `nodes`, or empty when none has one.
    pub node_overloads: Vec<String>,
}
