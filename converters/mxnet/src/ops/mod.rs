//! Op rules: one file per family, mapping MXNet op names to IR ops. [`rule`] is the
//! registration table.
//!
//! | file | ops |
//! |---|---|
//! | `nn.rs` | Convolution, Deconvolution, Pooling, FullyConnected, BatchNorm |
//! | `activation.rs` | Activation, LeakyReLU, relu/sigmoid/tanh/…, clip |
//! | `arith.rs` | elemwise_*, broadcast_*, `_plus`/`_minus`/…, the `_*_scalar` family, add_n |
//! | `tensor.rs` | Concat, Flatten, Reshape, transpose, slice, slice_axis, expand_dims, squeeze, mean/sum, softmax family, Dropout, UpSampling, Embedding |

mod activation;
mod arith;
mod nn;
mod tensor;

use crate::build::Ctx;
use crate::symbol::{Node, parse_bool, parse_float, parse_ints};
use edgeport_ir::ValueId;

/// What a rule sees of one node.
pub struct N<'a> {
    pub node: &'a Node,
    pub ins: &'a [ValueId],
}

impl N<'_> {
    pub fn input(&self, i: usize) -> Result<ValueId, String> {
        self.ins
            .get(i)
            .copied()
            .ok_or_else(|| format!("needs at least {} input(s), has {}", i + 1, self.ins.len()))
    }
    pub fn attr(&self, k: &str) -> Option<&str> {
        self.node.attrs.get(k).map(String::as_str).filter(|s| *s != "None")
    }
    pub fn ints(&self, k: &str) -> Result<Option<Vec<i64>>, String> {
        self.attr(k)
            .map(|s| parse_ints(s).map_err(|e| format!("attribute '{k}': {e}")))
            .transpose()
    }
    pub fn int(&self, k: &str, default: i64) -> Result<i64, String> {
        match self.attr(k) {
            Some(s) => {
                let v = parse_ints(s).map_err(|e| format!("attribute '{k}': {e}"))?;
                match v.as_slice() {
                    [x] => Ok(*x),
                    _ => Err(format!("attribute '{k}': '{s}' is not one integer")),
                }
            }
            None => Ok(default),
        }
    }
    pub fn bool(&self, k: &str, default: bool) -> Result<bool, String> {
        self.attr(k)
            .map_or(Ok(default), |s| parse_bool(s).map_err(|e| format!("attribute '{k}': {e}")))
    }
    pub fn float(&self, k: &str, default: f64) -> Result<f64, String> {
        self.attr(k)
            .map_or(Ok(default), |s| parse_float(s).map_err(|e| format!("attribute '{k}': {e}")))
    }
    pub fn str(&self, k: &str, default: &str) -> String {
        self.attr(k).unwrap_or(default).trim_matches('\'').to_string()
    }
}

/// A rule: builds the node's ops and returns its outputs.
pub type Rule = fn(&mut Ctx, &N<'_>) -> Result<Vec<ValueId>, String>;

/// The rule for an op name.
pub fn rule(op: &str) -> Option<Rule> {
    if let Some(r) = arith::rule(op) {
        return Some(r);
    }
    if let Some(r) = activation::rule(op) {
        return Some(r);
    }
    Some(match op {
        "Convolution" | "Deconvolution" => nn::conv,
        "Pooling" => nn::pooling,
        "FullyConnected" => nn::fully_connected,
        "BatchNorm" => nn::batch_norm,
        "Concat" | "concat" => tensor::concat,
        "Flatten" | "flatten" => tensor::flatten,
        "Reshape" | "reshape" => tensor::reshape,
        "transpose" => tensor::transpose,
        "slice" | "crop" => tensor::slice,
        "slice_axis" => tensor::slice_axis,
        "expand_dims" => tensor::expand_dims,
        "squeeze" => tensor::squeeze,
        "mean" | "sum" | "max" | "min" | "prod" => tensor::reduce,
        "softmax" | "log_softmax" | "SoftmaxOutput" | "SoftmaxActivation" | "Softmax" => tensor::softmax,
        "Dropout" | "BlockGrad" | "stop_gradient" | "identity" | "_copy" => tensor::identity,
        "UpSampling" => tensor::upsampling,
        "Embedding" => tensor::embedding,
        _ => return None,
    })
}
