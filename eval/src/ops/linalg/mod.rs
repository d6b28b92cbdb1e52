//! linalg ops (see ops/mod.rs for the grouping): matrix products, `Einsum`, `Det`, `TopK`,
//! cumulative ops, softmaxes, losses, signal ops, and the reduction and quantization families.
//!
//! | file | ops |
//! |---|---|
//! | `matmul.rs` | `MatMul`, `MatMulInteger`, `QLinearMatMul` |
//! | `gemm.rs` | `Gemm` |
//! | `einsum.rs`, `einsum_fast.rs` | `Einsum` (general loop; two-operand matmul path) |
//! | `det.rs` | `Det` |
//! | `topk.rs` | `TopK` |
//! | `cumulative.rs` | `CumSum`, `CumProd` |
//! | `softmax.rs` | `Softmax`, `LogSoftmax`, `Hardmax` |
//! | `loss.rs` | `NegativeLogLikelihoodLoss`, `SoftmaxCrossEntropyLoss` |
//! | `signal.rs` | `DFT`, `STFT` |
//! | `window.rs` | `BlackmanWindow`, `HammingWindow`, `HannWindow`, `MelWeightMatrix` |
//! | `reduce.rs` | `ArgMax`, `ArgMin`, `Reduce*` |
//! | `quantize.rs` | `QuantizeLinear`, `DequantizeLinear`, `DynamicQuantizeLinear` |
//! | `num.rs` | shared numeric helpers |

mod cumulative;
mod det;
mod einsum;
mod einsum_fast;
mod gemm;
mod loss;
mod matmul;
mod num;
mod quantize;
mod reduce;
pub mod sgemm;
mod signal;
mod softmax;
#[cfg(test)]
mod tests;
mod topk;
mod window;

use super::OpResult;
use crate::interp::NodeCtx;
use edgeport_ir::Op;
use reduce::Kind as R;
use softmax::Kind as S;

/// Runs the op if it belongs to this group.
pub fn run(op: &Op, cx: &mut NodeCtx<'_>) -> Option<OpResult> {
    let cx = &*cx;
    Some(match op {
        Op::ArgMax(o) => reduce::arg(cx, true, o.axis, o.keepdims, o.select_last_index),
        Op::ArgMin(o) => reduce::arg(cx, false, o.axis, o.keepdims, o.select_last_index),
        Op::ReduceL1(o) => reduce::reduce(cx, R::L1, o.keepdims, o.noop_with_empty_axes),
        Op::ReduceL2(o) => reduce::reduce(cx, R::L2, o.keepdims, o.noop_with_empty_axes),
        Op::ReduceLogSum(o) => reduce::reduce(cx, R::LogSum, o.keepdims, o.noop_with_empty_axes),
        Op::ReduceLogSumExp(o) => reduce::reduce(cx, R::LogSumExp, o.keepdims, o.noop_with_empty_axes),
        Op::ReduceMax(o) => reduce::reduce(cx, R::Max, o.keepdims, o.noop_with_empty_axes),
        Op::ReduceMin(o) => reduce::reduce(cx, R::Min, o.keepdims, o.noop_with_empty_axes),
        Op::ReduceMean(o) => reduce::reduce(cx, R::Mean, o.keepdims, o.noop_with_empty_axes),
        Op::ReduceProd(o) => reduce::reduce(cx, R::Prod, o.keepdims, o.noop_with_empty_axes),
        Op::ReduceSum(o) => reduce::reduce(cx, R::Sum, o.keepdims, o.noop_with_empty_axes),
        Op::ReduceSumSquare(o) => reduce::reduce(cx, R::SumSquare, o.keepdims, o.noop_with_empty_axes),
        Op::Softmax(o) => softmax::run(cx, S::Soft, o.axis),
        Op::LogSoftmax(o) => softmax::run(cx, S::LogSoft, o.axis),
        Op::Hardmax(o) => softmax::run(cx, S::Hard, o.axis),
        Op::CumSum(o) => cumulative::run(cx, false, o.exclusive, o.reverse),
        Op::CumProd(o) => cumulative::run(cx, true, o.exclusive, o.reverse),
        Op::TopK(o) => topk::run(cx, o.axis, o.largest),
        Op::MatMul(_) => matmul::matmul(cx),
        Op::MatMulInteger(_) => matmul::matmul_integer(cx),
        Op::QLinearMatMul(_) => matmul::qlinear_matmul(cx),
        Op::Gemm(o) => gemm::gemm(cx, o.alpha, o.beta, o.transA, o.transB),
        Op::QuantizeLinear(o) => quantize::quantize_linear(cx, o.axis, o.block_size, o.output_dtype, o.saturate, o.precision),
        Op::DequantizeLinear(o) => quantize::dequantize_linear(cx, o.axis, o.block_size, o.output_dtype),
        Op::DynamicQuantizeLinear(_) => quantize::dynamic_quantize_linear(cx),
        Op::Einsum(o) => einsum::einsum(cx, &o.equation),
        Op::Det(_) => det::run(cx),
        Op::NegativeLogLikelihoodLoss(o) => loss::nll_loss(cx, o.ignore_index, &o.reduction),
        Op::SoftmaxCrossEntropyLoss(o) => loss::softmax_ce_loss(cx, o.ignore_index, &o.reduction),
        Op::DFT(o) => signal::dft(cx, o.inverse, o.onesided),
        Op::STFT(o) => signal::stft(cx, o.onesided),
        Op::BlackmanWindow(o) => window::window(cx, window::Kind::Blackman, o.output_datatype, o.periodic),
        Op::HammingWindow(o) => window::window(cx, window::Kind::Hamming, o.output_datatype, o.periodic),
        Op::HannWindow(o) => window::window(cx, window::Kind::Hann, o.output_datatype, o.periodic),
        Op::MelWeightMatrix(o) => window::mel(cx, o.output_datatype),
        _ => return None,
    })
}
