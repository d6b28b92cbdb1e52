//! # edgeport-ir — the graph IR every format converts into and out of
//!
//! ## Data model
//!
//! - A [`Graph`] holds **nodes**. A node ([`Node`]) has a name, an [`Op`], a fixed number of
//!   input *slots* and one [`Value`] per output *port*. Handles are typed: [`NodeId`] names a
//!   node, [`ValueId`] `{ node, port }` names one output. Ids stay valid while other nodes are
//!   removed (the graph wraps a petgraph `StableGraph`, which never appears in this API).
//! - **Edges** connect an output port to an input slot. An empty slot is an omitted optional
//!   input. Graph inputs are `Op::Input` nodes; their order, and the order and names of graph
//!   outputs, are kept exactly from source to target.
//! - **Ops** ([`Op`]) form a closed enum, one typed attribute struct per op, generated from the
//!   single list in `ops/defs/mod.rs`. The reference semantics of an op is the ONNX operator of
//!   the same name at the opset its schema names ([`ops::OpSchema::since`]). Layout-sensitive
//!   ops carry a [`ops::Layout`]. `Op::Custom { domain, name, attrs }` keeps anything else.
//! - **Attributes** are typed fields; [`AttrValue`] is their generic form, shared by importers,
//!   exporters and the text form. Subgraphs (If/Loop/Scan bodies) are attributes holding a
//!   [`Graph`]; a subgraph reads outer values through *captures* (see [`graph`]).
//! - **Values** carry an optional [`ValueType`] (tensor dtype + [`Shape`] of known or symbolic
//!   [`Dim`]s, or sequence/optional/map types) and optional [`QuantParams`] (per tensor, per
//!   axis, per block).
//! - **Constants** are `Op::Constant` nodes holding a [`Tensor`] whose bytes are a shared
//!   [`Bytes`] view: it may point into a memory-mapped file, so weights are never copied twice.
//!
//! ## What the validator guarantees
//!
//! [`validate::validate`] checks integrity first (every edge's ports exist, no cycles, every
//! required input slot is connected, arity within the op's schema, graph outputs exist, names
//! of graph inputs/outputs unique), then types (dtypes allowed by the op's constraints, shapes
//! consistent where inferred). Backends take a [`validate::Validated`] graph.
//!
//! ## Text form
//!
//! [`text::print_graph`] prints a stable, human-readable form; [`text::parse_graph`] reads it
//! back. Pass and converter tests are written as text in, text out.

pub mod attr;
pub mod builder;
pub mod bundle;
pub mod dtype;
pub mod graph;
pub mod handles;
pub mod infer;
pub mod lazy;
pub mod mapped;
pub mod ops;
pub mod permute;
pub mod quant;
pub mod shape;
pub mod tensor;
pub mod text;
pub mod traits;
pub mod validate;

pub use attr::{AttrError, AttrValue};
pub use dtype::DType;
pub use graph::{Graph, GraphError, Node, Value};
pub use handles::{NodeId, ValueId};
pub use mapped::MappedFile;
pub use ops::{Op, OpKind};
pub use quant::{QuantGranularity, QuantParams};
pub use shape::{Dim, Shape, TensorType, ValueType};
pub use tensor::{Bytes, Tensor, TensorData, TensorError};
