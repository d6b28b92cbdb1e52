//! Op rules: TFLite builtin operators → IR ops, one file per op family. Each family's
//! `convert` returns `None` for operators it does not handle. Quantized inputs are read as
//! float (DequantizeLinear) and quantized outputs re-quantized (QuantizeLinear) by the helpers
//! in `cx`, so most rules only deal with float semantics.

pub mod activation;
pub mod control;
pub mod conv;
pub mod custom;
pub mod elementwise;
pub mod gather;
pub mod matmul;
pub mod mediapipe;
pub mod mediapipe_attention;
pub mod mediapipe_flex;
pub mod mediapipe_pooling;
pub mod norm;
pub mod pad;
pub mod pool;
pub mod quant;
pub mod reduce;
pub mod resize;
pub mod shape;
pub mod slice;

use super::cx::OpCx;
use crate::error::TfliteError;
use edgeport_ir::Graph;

/// Why an operator could not be converted.
pub enum Fail {
    /// Recorded as an issue for this operator; import continues to collect more.
    Issue(String),
    /// Aborts the import (structural problems such as a subgraph cycle).
    Fatal(TfliteError),
}

impl From<String> for Fail {
    fn from(s: String) -> Self {
        Fail::Issue(s)
    }
}

impl From<&str> for Fail {
    fn from(s: &str) -> Self {
        Fail::Issue(s.to_string())
    }
}

/// The result of an op rule.
pub type R = Result<(), Fail>;

type Family = fn(&mut OpCx<'_, '_, '_, '_>, &mut Graph) -> Option<R>;

const FAMILIES: &[Family] = &[
    conv::convert,
    pool::convert,
    activation::convert,
    elementwise::convert,
    reduce::convert,
    shape::convert,
    slice::convert,
    gather::convert,
    pad::convert,
    resize::convert,
    matmul::convert,
    norm::convert,
    quant::convert,
    control::convert,
    mediapipe::convert,
    custom::convert,
];

/// Converts one operator.
pub fn convert(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    for f in FAMILIES {
        if let Some(r) = f(cx, g) {
            return r;
        }
    }
    let c = cx.code.builtin;
    Err(Fail::Issue(match c.name() {
        Some(n) => format!("builtin operator {n} ({}) is not supported", c.0),
        None => format!("unknown builtin operator code {}", c.0),
    }))
}

/// Padding enum → ONNX auto_pad.
pub fn auto_pad(padding: i8) -> Result<String, String> {
    match padding {
        0 => Ok("SAME_UPPER".into()),
        1 => Ok("VALID".into()),
        p => Err(format!("unknown padding {p}")),
    }
}
