//! Op implementations, in groups of IR op families. [`run`] asks each group in turn; a group's
//! `run` matches its own ops and returns `None` for the rest.
//!
//! | group | ops |
//! |---|---|
//! | `elementwise` | math unary/binary/variadic arithmetic and activations, `Expand`, the logical family, `Cast`, `CastLike`, `IsInf`, `IsNaN`, `BitCast`, `Where` |
//! | `linalg` | `MatMul`, `Gemm`, `Einsum`, integer/quantized matmuls, `Det`, `TopK`, `CumSum`/`CumProd`, softmaxes, losses, signal ops (DFT, STFT, windows, mel), the reduction and quantization families |
//! | `layout` | the rest of the tensor family (shape, index, gather/scatter, pad, …), the generator, sequence and optional families |
//! | `nn` | the nn family, `Resize`, `GridSample`, `AffineGrid`, detection and image ops |
//! | `control` | `If`/`Loop`/`Scan`, recurrent nets, text, ai.onnx.ml and training ops |

pub mod cast;
pub mod contrib;
pub mod control;
pub mod elementwise;
pub mod layout;
pub mod linalg;
pub mod nn;
pub mod util;

use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::value::Value;
use edgeport_ir::Op;

/// The result of one op: its output values, in port order.
pub type OpResult = Result<Vec<Value>, OpError>;

/// Runs one op.
pub fn run(op: &Op, cx: &mut NodeCtx<'_>) -> OpResult {
    if let Op::Constant(c) = op {
        return crate::Tensor::from_ir(&c.value).map(|t| vec![Value::Tensor(t)]);
    }
    let groups: [fn(&Op, &mut NodeCtx<'_>) -> Option<OpResult>; 5] = [elementwise::run, linalg::run, layout::run, nn::run, control::run];
    for g in groups {
        if let Some(r) = g(op, cx) {
            return r;
        }
    }
    if let Op::Custom(c) = op
        && let Some(r) = contrib::run(c, cx)
    {
        return r;
    }
    match op {
        Op::Custom(c) => Err(OpError::unsupported(format!("custom op {}::{}", c.domain, c.name))),
        _ => Err(OpError::unsupported(format!(
            "op {} is not implemented by the evaluator",
            op.name()
        ))),
    }
}
