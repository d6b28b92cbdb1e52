//! # edgeport-train — differentiable execution of IR graphs, and knowledge distillation
//!
//! [`Model`] prepares an IR graph for candle-core's autograd: the weights of Conv, Gemm and
//! MatMul (and their bias adds) and BatchNorm/LayerNorm scale and bias become `Var`s, other
//! constants stay frozen, constant-only subexpressions are computed once, and the forward pass
//! runs float ops on candle kernels (`ops/<family>.rs`) so `backward` reaches every weight.
//! Integer work (shape arithmetic, masks) that carries no gradient runs on the evaluator, so the
//! forward pass matches `edgeport_eval::run_graph`. Quantized graphs train through fake
//! quantization with a straight-through estimator. [`Model::check_gradients`] lists every op
//! on the gradient path that has no gradient, before any training starts.
//!
//! [`distill`] (in `trainer.rs`) trains a student graph to mimic a teacher: KL divergence with
//! temperature on logits or MSE on features, optional intermediate matching by node name,
//! SGD with momentum or Adam, constant/cosine/step schedules, seeded shuffling, checkpoints
//! (safetensors) and a stop with a clear error when the loss stops being finite.

pub mod error;
pub mod loss;
pub mod model;
mod ops;
pub mod optim;
pub mod trainer;
pub mod value;

pub use error::{Result, TrainError};
pub use model::{Model, Param};
pub use optim::{Optimizer, OptimizerKind, Schedule};
pub use trainer::{LossKind, Observer, TrainConfig, TrainReport, distill};
pub use value::RtVal;
