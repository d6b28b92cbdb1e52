//! Attribute values and the conversions between typed attribute fields and the generic
//! [`AttrValue`] form that importers, exporters and the text form share.

use crate::graph::Graph;
use crate::shape::ValueType;
use crate::tensor::Tensor;

/// A generic attribute value (the union of what any format's attributes can hold).
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    Int(i64),
    Float(f32),
    String(String),
    Ints(Vec<i64>),
    Floats(Vec<f32>),
    Strings(Vec<String>),
    Tensor(Tensor),
    Tensors(Vec<Tensor>),
    Graph(Box<Graph>),
    Graphs(Vec<Graph>),
    Type(ValueType),
}

impl AttrValue {
    /// A short name of the value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            AttrValue::Int(_) => "int",
            AttrValue::Float(_) => "float",
            AttrValue::String(_) => "string",
            AttrValue::Ints(_) => "ints",
            AttrValue::Floats(_) => "floats",
            AttrValue::Strings(_) => "strings",
            AttrValue::Tensor(_) => "tensor",
            AttrValue::Tensors(_) => "tensors",
            AttrValue::Graph(_) => "graph",
            AttrValue::Graphs(_) => "graphs",
            AttrValue::Type(_) => "type",
        }
    }
}

/// Why attributes could not be turned into an op.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AttrError {
    #[error("op {op}: missing required attribute '{attr}'")]
    Missing { op: &'static str, attr: &'static str },
    #[error("op {op}: unknown attribute '{attr}'")]
    Unknown { op: &'static str, attr: String },
    #[error("op {op}: attribute '{attr}' should be {expected}, found {found}")]
    WrongKind {
        op: &'static str,
        attr: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("op {op}: attribute '{attr}': {reason}")]
    Invalid { op: &'static str, attr: String, reason: String },
}

/// A type that can be an attribute's value.
pub trait AttrType: Sized {
    /// The kind name expected, for errors.
    const KIND: &'static str;
    fn to_attr(&self) -> AttrValue;
    /// `None` when the value is of the wrong kind.
    fn from_attr(v: AttrValue) -> Option<Self>;
}

/// A field of an op's attribute struct: a value, or an optional value that may be absent.
pub trait AttrField: Sized {
    const KIND: &'static str;
    /// The attribute to emit, `None` for an absent optional.
    fn emit(&self) -> Option<AttrValue>;
    fn take(v: AttrValue) -> Option<Self>;
    /// Subgraphs held by this field.
    fn graphs<'a>(&'a self, _out: &mut Vec<&'a Graph>) {}
    fn graphs_mut<'a>(&'a mut self, _out: &mut Vec<&'a mut Graph>) {}
}

macro_rules! simple_attr {
    ($t:ty, $variant:ident, $kind:literal) => {
        impl AttrType for $t {
            const KIND: &'static str = $kind;
            fn to_attr(&self) -> AttrValue {
                AttrValue::$variant(self.clone())
            }
            fn from_attr(v: AttrValue) -> Option<Self> {
                match v {
                    AttrValue::$variant(x) => Some(x),
                    _ => None,
                }
            }
        }
    };
}

simple_attr!(i64, Int, "int");
simple_attr!(String, String, "string");
simple_attr!(Vec<i64>, Ints, "ints");
simple_attr!(Vec<String>, Strings, "strings");
simple_attr!(Tensor, Tensor, "tensor");
simple_attr!(Vec<Tensor>, Tensors, "tensors");
simple_attr!(Box<Graph>, Graph, "graph");
simple_attr!(Vec<Graph>, Graphs, "graphs");
simple_attr!(ValueType, Type, "type");

impl AttrType for f32 {
    const KIND: &'static str = "float";
    fn to_attr(&self) -> AttrValue {
        AttrValue::Float(*self)
    }
    fn from_attr(v: AttrValue) -> Option<Self> {
        match v {
            AttrValue::Float(x) => Some(x),
            // Old files sometimes store an integral float as an int.
            AttrValue::Int(i) => Some(i as f32),
            _ => None,
        }
    }
}

impl AttrType for Vec<f32> {
    const KIND: &'static str = "floats";
    fn to_attr(&self) -> AttrValue {
        AttrValue::Floats(self.clone())
    }
    fn from_attr(v: AttrValue) -> Option<Self> {
        match v {
            AttrValue::Floats(x) => Some(x),
            AttrValue::Ints(i) => Some(i.into_iter().map(|x| x as f32).collect()),
            _ => None,
        }
    }
}

impl<T: AttrType + 'static> AttrField for T {
    const KIND: &'static str = T::KIND;
    fn emit(&self) -> Option<AttrValue> {
        Some(self.to_attr())
    }
    fn take(v: AttrValue) -> Option<Self> {
        T::from_attr(v)
    }
    fn graphs<'a>(&'a self, out: &mut Vec<&'a Graph>) {
        graphs_of(self, out)
    }
    fn graphs_mut<'a>(&'a mut self, out: &mut Vec<&'a mut Graph>) {
        graphs_of_mut(self, out)
    }
}

impl<T: AttrType + 'static> AttrField for Option<T> {
    const KIND: &'static str = T::KIND;
    fn emit(&self) -> Option<AttrValue> {
        self.as_ref().map(T::to_attr)
    }
    fn take(v: AttrValue) -> Option<Self> {
        T::from_attr(v).map(Some)
    }
    fn graphs<'a>(&'a self, out: &mut Vec<&'a Graph>) {
        if let Some(x) = self {
            graphs_of(x, out)
        }
    }
    fn graphs_mut<'a>(&'a mut self, out: &mut Vec<&'a mut Graph>) {
        if let Some(x) = self {
            graphs_of_mut(x, out)
        }
    }
}

fn graphs_of<'a, T: 'static>(x: &'a T, out: &mut Vec<&'a Graph>) {
    let any: &dyn std::any::Any = x;
    if let Some(g) = any.downcast_ref::<Box<Graph>>() {
        out.push(g);
    } else if let Some(gs) = any.downcast_ref::<Vec<Graph>>() {
        out.extend(gs.iter());
    }
}

fn graphs_of_mut<'a, T: 'static>(x: &'a mut T, out: &mut Vec<&'a mut Graph>) {
    let any: &mut dyn std::any::Any = x;
    if any.is::<Box<Graph>>() {
        out.push(any.downcast_mut::<Box<Graph>>().expect("checked"));
    } else if let Some(gs) = any.downcast_mut::<Vec<Graph>>() {
        out.extend(gs.iter_mut());
    }
}
