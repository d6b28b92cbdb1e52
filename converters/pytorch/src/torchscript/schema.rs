//! Positional argument names of the ATen ops the TorchScript importer maps, as in ATen's
//! `native_functions.yaml` schemas (TorchScript source passes arguments by position; the shared
//! op rules read them by name). Keyword-only arguments (`alpha`, `rounding_mode`, `scale`, …)
//! arrive by name in the source and need no entry. Also the c10 ScalarType numbering that
//! TorchScript source uses for dtypes, and its conversion to the serde numbering of
//! [`crate::export_program::schema::dtype`].

use edgeport_ir::DType;

/// Positional parameter names of `op` (an overload is told apart by argument count where the
/// names differ: see [`names_for`]).
fn names(op: &str) -> Option<&'static [&'static str]> {
    Some(match op {
        "_convolution" | "convolution" => &[
            "input",
            "weight",
            "bias",
            "stride",
            "padding",
            "dilation",
            "transposed",
            "output_padding",
            "groups",
            "benchmark",
            "deterministic",
            "cudnn_enabled",
            "allow_tf32",
        ],
        "conv1d" | "conv2d" | "conv3d" => &["input", "weight", "bias", "stride", "padding", "dilation", "groups"],
        "conv_transpose1d" | "conv_transpose2d" | "conv_transpose3d" => &[
            "input",
            "weight",
            "bias",
            "stride",
            "padding",
            "output_padding",
            "groups",
            "dilation",
        ],
        "batch_norm" => &[
            "input",
            "weight",
            "bias",
            "running_mean",
            "running_var",
            "training",
            "momentum",
            "eps",
            "cudnn_enabled",
        ],
        "layer_norm" => &["input", "normalized_shape", "weight", "bias", "eps", "cudnn_enable"],
        "group_norm" => &["input", "num_groups", "weight", "bias", "eps", "cudnn_enabled"],
        "linear" => &["input", "weight", "bias"],
        "addmm" => &["self", "mat1", "mat2"],
        "mm" | "bmm" => &["self", "mat2"],
        "matmul" => &["self", "other"],
        "add" | "add_" | "sub" | "sub_" | "rsub" => &["self", "other", "alpha"],
        "mul" | "mul_" | "div" | "div_" | "maximum" | "minimum" | "fmod" | "remainder" | "eq" | "ne" | "lt" | "le" | "gt" | "ge"
        | "logical_and" | "logical_or" | "logical_xor" | "bitwise_and" | "bitwise_or" | "__and__" | "__or__" | "floor_divide" => {
            &["self", "other"]
        }
        "pow" => &["self", "exponent"],
        "where" => &["condition", "self", "other"],
        "masked_fill" | "masked_fill_" => &["self", "mask", "value"],
        "gelu" => &["self", "approximate"],
        "hardtanh" | "hardtanh_" => &["self", "min_val", "max_val"],
        "clamp" | "clamp_" | "clip" => &["self", "min", "max"],
        "clamp_min" => &["self", "min"],
        "clamp_max" => &["self", "max"],
        "leaky_relu" | "leaky_relu_" => &["self", "negative_slope"],
        "elu" | "elu_" => &["self", "alpha", "scale", "input_scale"],
        "softmax" | "log_softmax" => &["self", "dim", "dtype"],
        "_softmax" | "_log_softmax" => &["self", "dim", "half_to_float"],
        "max_pool1d" | "max_pool2d" | "max_pool3d" | "max_pool2d_with_indices" => {
            &["self", "kernel_size", "stride", "padding", "dilation", "ceil_mode"]
        }
        "avg_pool1d" | "avg_pool2d" | "avg_pool3d" => &[
            "self",
            "kernel_size",
            "stride",
            "padding",
            "ceil_mode",
            "count_include_pad",
            "divisor_override",
        ],
        "adaptive_avg_pool1d" | "adaptive_avg_pool2d" | "adaptive_avg_pool3d" => &["self", "output_size"],
        "mean" | "sum" => &["self", "dim", "keepdim", "dtype"],
        "amax" | "amin" => &["self", "dim", "keepdim"],
        "scaled_dot_product_attention" => &[
            "query",
            "key",
            "value",
            "attn_mask",
            "dropout_p",
            "is_causal",
            "scale",
            "enable_gqa",
        ],
        "embedding" => &["weight", "indices", "padding_idx", "scale_grad_by_freq", "sparse"],
        "dropout" | "dropout_" | "feature_dropout" | "alpha_dropout" => &["input", "p", "train"],
        "view" | "expand" => &["self", "size", "implicit"],
        "reshape" => &["self", "shape"],
        "flatten" => &["self", "start_dim", "end_dim"],
        "unflatten" => &["self", "dim", "sizes"],
        "view_as" | "reshape_as" | "expand_as" | "type_as" => &["self", "other"],
        "permute" => &["self", "dims"],
        "transpose" | "swapaxes" => &["self", "dim0", "dim1"],
        "unsqueeze" | "unsqueeze_" | "squeeze" | "squeeze_" | "unbind" => &["self", "dim"],
        "cat" | "concat" | "concatenate" => &["tensors", "dim"],
        "slice" => &["self", "dim", "start", "end", "step"],
        "select" => &["self", "dim", "index"],
        "split" => &["self", "split_size", "dim"],
        "split_with_sizes" => &["self", "split_sizes", "dim"],
        "chunk" => &["self", "chunks", "dim"],
        "contiguous" | "clone" => &["self", "memory_format"],
        "gather" => &["self", "dim", "index", "sparse_grad"],
        "index_select" => &["self", "dim", "index"],
        "t" | "detach" | "detach_" | "relu" | "relu_" | "relu6" | "exp" | "log" | "sqrt" | "rsqrt" | "neg" | "abs" | "erf" | "sin"
        | "cos" | "tan" | "reciprocal" | "floor" | "ceil" | "round" | "sign" | "sigmoid" | "sigmoid_" | "tanh" | "tanh_"
        | "logical_not" | "bitwise_not" | "hardswish" | "hardswish_" | "hardsigmoid" | "silu" | "silu_" | "numpy_T" | "alias" => &["self"],
        "zeros_like" | "ones_like" => &["self", "dtype", "layout", "device", "pin_memory", "memory_format"],
        "full_like" => &["self", "fill_value", "dtype", "layout", "device", "pin_memory", "memory_format"],
        "zeros" | "ones" => &["size", "dtype", "layout", "device", "pin_memory"],
        "full" => &["size", "fill_value", "dtype", "layout", "device", "pin_memory"],
        _ => return None,
    })
}

/// Positional parameter names of `op` called with `n` positional arguments.
pub fn names_for(op: &str, n: usize) -> Option<&'static [&'static str]> {
    if op == "arange" {
        return Some(match n {
            0..=5 => &["end", "dtype", "layout", "device", "pin_memory"],
            6 => &["start", "end", "dtype", "layout", "device", "pin_memory"],
            _ => &["start", "end", "step", "dtype", "layout", "device", "pin_memory"],
        });
    }
    if op == "squeeze" && n == 1 {
        return Some(&["self"]);
    }
    names(op)
}

/// c10's ScalarType numbering (what TorchScript source writes for a dtype).
pub fn c10_dtype(code: i64) -> Option<DType> {
    Some(match code {
        0 => DType::U8,
        1 => DType::I8,
        2 => DType::I16,
        3 => DType::I32,
        4 => DType::I64,
        5 => DType::F16,
        6 => DType::F32,
        7 => DType::F64,
        9 => DType::C64,
        10 => DType::C128,
        11 => DType::Bool,
        15 => DType::BF16,
        23 => DType::F8E5M2,
        24 => DType::F8E4M3FN,
        _ => return None,
    })
}

/// The c10 code of a dtype (for `ops.prim.dtype`).
pub fn c10_code(dt: DType) -> Option<i64> {
    (0..32).find(|&c| c10_dtype(c) == Some(dt))
}

/// The serde (ExportedProgram) code of a dtype, as the shared op rules read `dtype` arguments.
pub fn serde_code(dt: DType) -> Option<i64> {
    (0..64).find(|&c| crate::export_program::schema::dtype(c) == Some(dt))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtype_codes_round_trip() {
        assert_eq!(c10_dtype(6), Some(DType::F32));
        assert_eq!(c10_code(DType::I64), Some(4));
        assert_eq!(serde_code(DType::F32), Some(7));
        assert_eq!(names_for("arange", 7).map(|n| n[2]), Some("step"));
    }
}
