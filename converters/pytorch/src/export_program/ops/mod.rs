//! ATen targets → IR ops, one file per op family. A target `torch.ops.aten.<op>.<overload>` is
//! looked up by `<op>` (overloads that need different handling are told apart inside the rule).
//!
//! | file | ops |
//! |---|---|
//! | `conv.rs` | conv1d/2d/3d, convolution, conv_transpose |
//! | `norm.rs` | batch_norm, _native_batch_norm_legit_no_training, layer_norm, native_layer_norm, group_norm |
//! | `linear.rs` | linear, addmm, mm, bmm, matmul, t |
//! | `activation.rs` | relu, gelu, hardtanh, clamp, sigmoid, silu, softmax, unary math … |
//! | `elementwise.rs` | add/sub/mul/div (Tensor and Scalar), pow, where, comparisons, masked_fill |
//! | `shape.rs` | view/reshape, permute, transpose, flatten, (un)squeeze, expand, cat, slice, select, split, copies, casts |
//! | `pool.rs` | adaptive_avg_pool2d, max_pool2d(_with_indices), avg_pool2d |
//! | `reduce.rs` | mean, sum, amax, amin |
//! | `attention.rs` | scaled_dot_product_attention, embedding, dropout |
//! | `create.rs` | full, zeros, ones, arange, scalar_tensor, *_like |

mod activation;
mod attention;
mod conv;
mod create;
mod elementwise;
mod linear;
mod norm;
mod pool;
mod reduce;
mod shape;

use super::ctx::{Ctx, N, R};
use edgeport_ir::ValueId;

/// What a rule produced: one value per node output, or a list output (`as_tensors`).
pub enum Out {
    Values(Vec<ValueId>),
    List(Vec<ValueId>),
}

pub type Rule = fn(&mut Ctx, &N) -> R<Out>;

/// `aten` op name of a target (`torch.ops.aten.conv2d.default` → `conv2d`), or the full target.
fn op_name(target: &str) -> &str {
    match target.strip_prefix("torch.ops.aten.") {
        Some(rest) => rest.split('.').next().unwrap_or(rest),
        None => target,
    }
}

fn rule(target: &str) -> Option<Rule> {
    let op = op_name(target);
    conv::rule(op)
        .or_else(|| norm::rule(op))
        .or_else(|| linear::rule(op))
        .or_else(|| activation::rule(op))
        .or_else(|| elementwise::rule(op))
        .or_else(|| shape::rule(op))
        .or_else(|| pool::rule(op))
        .or_else(|| reduce::rule(op))
        .or_else(|| attention::rule(op))
        .or_else(|| create::rule(op))
}

pub fn supported(target: &str) -> bool {
    rule(target).is_some()
}

pub fn convert(cx: &mut Ctx, n: &N) -> R<Out> {
    let r = rule(&n.target).ok_or_else(|| format!("target {} is not supported", n.target))?;
    r(cx, n)
}

/// One output value.
pub fn one(v: ValueId) -> R<Out> {
    Ok(Out::Values(vec![v]))
}
