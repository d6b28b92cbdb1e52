//! # edgeport-eval — the reference evaluator
//!
//! Runs any IR graph with the ONNX semantics of its ops: broadcasting, negative axes, rounding,
//! integer wrap-around and NaN handling as the ONNX spec says. It is the oracle of the ONNX
//! conformance suite, the engine of constant folding, and what `edgeport run`/`verify` use.
//!
//! - [`Tensor`] holds typed n-d arrays (ndarray) of every IR dtype; sub-byte and 8-bit float
//!   types are held unpacked as their bit codes.
//! - [`Value`] is a tensor, a sequence of tensors, or an optional value.
//! - [`run_graph`] executes a graph in topological order, dropping each value after its last use.
//! - `ops/<family>.rs` implement the ops of one IR op family each; [`ops::run`] dispatches by
//!   family. Heavy kernels (matmul, conv) use candle-core's gemm.

pub mod error;
pub mod interp;
pub mod ops;
pub mod profile;
pub mod tensor;
pub mod value;

pub use error::{EvalError, OpError};
pub use interp::{ConstCache, EvalOptions, NodeCtx, Observer, run_graph, run_graph_with};
pub use ops::linalg::sgemm::single_threaded as single_threaded_products;
pub use tensor::Tensor;
pub use value::Value;
