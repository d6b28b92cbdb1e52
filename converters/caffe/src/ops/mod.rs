//! Layer rules: one file per family, each mapping Caffe layer types to IR ops (real ops or
//! faithful decompositions). [`rule`] is the registration table.
//!
//! | file | layer types |
//! |---|---|
//! | `conv.rs` | Convolution, Deconvolution |
//! | `pool.rs` | Pooling (MAX/AVE, Caffe's ceil rounding and AVE divisor, global) |
//! | `dense.rs` | InnerProduct |
//! | `activation.rs` | ReLU, PReLU, ELU, Sigmoid, TanH, AbsVal, Power, Exp, Log, BNLL, Threshold, Clip, Dropout, Split |
//! | `norm.rs` | BatchNorm, Scale, Bias, LRN, Normalize |
//! | `tensor.rs` | Eltwise, Concat, Slice, Flatten, Reshape, Softmax, Permute, Crop, ArgMax |
//! | `resize.rs` | Upsample, Interp |
//! | `ssd.rs` | PriorBox, DetectionOutput |

mod activation;
mod conv;
mod dense;
mod norm;
mod pool;
mod resize;
mod ssd;
mod tensor;

use crate::build::Ctx;
use crate::decode::{Blob, LayerParameter};
use edgeport_ir::ValueId;

/// What a rule sees of one layer.
pub struct Layer<'a> {
    pub p: &'a LayerParameter,
    pub ty: &'a str,
    /// The values of the bottom blobs, in order.
    pub ins: &'a [ValueId],
    /// The layer's weight blobs (from the caffemodel, else from the prototxt).
    pub blobs: &'a [Blob],
}

impl Layer<'_> {
    /// Bottom `i`.
    pub fn input(&self, i: usize) -> Result<ValueId, String> {
        self.ins
            .get(i)
            .copied()
            .ok_or_else(|| format!("needs at least {} bottom blob(s), has {}", i + 1, self.ins.len()))
    }
    /// Weight blob `i`.
    pub fn blob(&self, i: usize) -> Result<&Blob, String> {
        self.blobs.get(i).ok_or_else(|| {
            format!(
                "needs weight blob {i} but the model has {} blob(s) for this layer",
                self.blobs.len()
            )
        })
    }
    /// The number of tops.
    pub fn n_tops(&self) -> usize {
        self.p.top.len()
    }
}

/// A rule: builds the layer's ops and returns one value per top.
pub type Rule = fn(&mut Ctx, &Layer<'_>) -> Result<Vec<ValueId>, String>;

/// The rule for a layer type.
pub fn rule(ty: &str) -> Option<Rule> {
    Some(match ty {
        "Convolution" | "Deconvolution" | "DepthwiseConvolution" | "ConvolutionDepthwise" => conv::conv,
        "Pooling" => pool::pooling,
        "InnerProduct" => dense::inner_product,
        "ReLU" => activation::relu,
        "PReLU" => activation::prelu,
        "ELU" => activation::elu,
        "Sigmoid" | "TanH" | "AbsVal" | "BNLL" => activation::unary,
        "Power" => activation::power,
        "Exp" => activation::exp,
        "Log" => activation::log,
        "Threshold" => activation::threshold,
        "Clip" => activation::clip,
        "Dropout" | "Split" => activation::identity,
        "BatchNorm" => norm::batch_norm,
        "Scale" => norm::scale,
        "Bias" => norm::bias,
        "LRN" => norm::lrn,
        "Normalize" => norm::normalize,
        "Eltwise" => tensor::eltwise,
        "Concat" => tensor::concat,
        "Slice" => tensor::slice,
        "Flatten" => tensor::flatten,
        "Reshape" => tensor::reshape,
        "Softmax" => tensor::softmax,
        "Permute" => tensor::permute,
        "Crop" => tensor::crop,
        "ArgMax" => tensor::argmax,
        "Upsample" => resize::upsample,
        "Interp" => resize::interp,
        "PriorBox" => ssd::prior_box,
        "DetectionOutput" => ssd::detection_output,
        _ => return None,
    })
}

/// Every layer type with a rule (for support listings).
pub const SUPPORTED: &[&str] = &[
    "Input",
    "Data",
    "Convolution",
    "Deconvolution",
    "DepthwiseConvolution",
    "ConvolutionDepthwise",
    "Pooling",
    "InnerProduct",
    "ReLU",
    "PReLU",
    "ELU",
    "Sigmoid",
    "TanH",
    "AbsVal",
    "BNLL",
    "Power",
    "Exp",
    "Log",
    "Threshold",
    "Clip",
    "Dropout",
    "Split",
    "BatchNorm",
    "Scale",
    "Bias",
    "LRN",
    "Normalize",
    "Eltwise",
    "Concat",
    "Slice",
    "Flatten",
    "Reshape",
    "Softmax",
    "Permute",
    "Crop",
    "ArgMax",
    "Upsample",
    "Interp",
    "PriorBox",
    "DetectionOutput",
];

/// Picks `(h, w)` from a repeated field (0, 1 or 2 values) or the `_h`/`_w` pair.
pub(crate) fn hw(rep: &[u32], h: Option<u32>, w: Option<u32>, default: u32, what: &str) -> Result<(i64, i64), String> {
    if h.is_some() || w.is_some() {
        let (Some(h), Some(w)) = (h, w) else {
            return Err(format!("{what}_h and {what}_w must be given together"));
        };
        return Ok((h.into(), w.into()));
    }
    match rep {
        [] => Ok((default.into(), default.into())),
        [v] => Ok(((*v).into(), (*v).into())),
        [a, b] => Ok(((*a).into(), (*b).into())),
        _ => Err(format!("{what} has {} values; only 2-D layers are supported", rep.len())),
    }
}
