//! Ops: a closed enum of typed attribute structs, defined from one list (`defs/mod.rs`), plus
//! `Op::Input` for graph inputs and `Op::Custom` for anything not modelled.
//!
//! Each op's reference semantics is the ONNX operator of the same name at the opset noted in its
//! doc (see `OpSchema::since`). The schema of every op records its formal inputs and outputs
//! (`"B?:T"` optional, `"inputs...:T"` variadic) and type constraints, used by the validator and
//! by dtype inference.

pub mod defs;
mod macros;
mod schema;

pub use defs::*;
pub use schema::{OpSchema, Param, ParamKind, field_name as field_name_of};

use crate::attr::{AttrError, AttrType, AttrValue};
use crate::graph::Graph;

/// What the op files need in scope.
pub mod prelude {
    pub use super::Layout;
    pub use crate::graph::Graph;
    pub use crate::shape::ValueType;
    pub use crate::tensor::Tensor;
}

/// Where the channel axis of a layout-sensitive op is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Layout {
    /// N, C, spatial… (ONNX's layout).
    #[default]
    ChannelsFirst,
    /// N, spatial…, C (TensorFlow's and TFLite's).
    ChannelsLast,
}

impl AttrType for Layout {
    const KIND: &'static str = "layout string";
    fn to_attr(&self) -> AttrValue {
        AttrValue::String(
            match self {
                Layout::ChannelsFirst => "channels_first",
                Layout::ChannelsLast => "channels_last",
            }
            .to_string(),
        )
    }
    fn from_attr(v: AttrValue) -> Option<Self> {
        match v {
            AttrValue::String(s) if s == "channels_first" => Some(Layout::ChannelsFirst),
            AttrValue::String(s) if s == "channels_last" => Some(Layout::ChannelsLast),
            _ => None,
        }
    }
}

/// A graph input (IR-only op with no inputs and one output).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Input {}

/// An op that the IR does not model: kept with its domain, name and attributes so that it
/// survives import and can be re-emitted or reported.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Custom {
    pub domain: String,
    pub name: String,
    pub attrs: Vec<(String, AttrValue)>,
}

/// Typed attribute structs convert to and from generic attributes.
pub trait OpAttrs: Sized {
    /// Builds the struct; unknown, missing required or ill-typed attributes are errors.
    fn from_attrs(attrs: Vec<(String, AttrValue)>) -> Result<Self, AttrError>;
    /// Every attribute that has a value.
    fn to_attrs(&self) -> Vec<(&'static str, AttrValue)>;
    /// Attributes that are required or differ from their default (what the text form prints).
    fn non_default_attrs(&self) -> Vec<(&'static str, AttrValue)>;
}

/// The ONNX domain that an IR op with this `domain` belongs to ("" is ai.onnx).
pub fn same_domain(a: &str, b: &str) -> bool {
    fn norm(d: &str) -> &str {
        if d == "ai.onnx" { "" } else { d }
    }
    norm(a) == norm(b)
}

impl Op {
    /// Subgraphs held in this op's attributes (If branches, Loop/Scan bodies, …).
    pub fn subgraphs(&self) -> Vec<&Graph> {
        let mut out = Vec::new();
        self.collect_subgraphs(&mut out);
        out
    }
    /// Mutable access to the subgraphs.
    pub fn subgraphs_mut(&mut self) -> Vec<&mut Graph> {
        let mut out = Vec::new();
        self.collect_subgraphs_mut(&mut out);
        out
    }
    /// Is this a constant?
    pub fn is_constant(&self) -> bool {
        matches!(self, Op::Constant(_))
    }
}
