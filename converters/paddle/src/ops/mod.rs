//! Op rules: one file per op family, each with a registration table from Paddle (legacy) op
//! types to rule functions. PIR ops are renamed to these types by `pir.rs` first.
//!
//! A rule reads the op's slots and attributes through [`Ctx`] and adds IR nodes; it returns a
//! message when the op cannot be expressed (the builder names the op).

mod activation;
mod conv;
mod elementwise;
mod interp;
mod matmul;
mod norm;
mod pool;
mod reduce;
mod shape;
mod slice;
mod tensor;

use crate::build::{Ctx, RuleResult};
use crate::program::OpDesc;

/// A rule: builds the IR for one op.
pub type Rule = fn(&mut Ctx<'_>, &OpDesc) -> RuleResult;

/// Every family's table.
pub const RULES: &[&[(&str, Rule)]] = &[
    activation::RULES,
    conv::RULES,
    elementwise::RULES,
    interp::RULES,
    matmul::RULES,
    norm::RULES,
    pool::RULES,
    reduce::RULES,
    shape::RULES,
    slice::RULES,
    tensor::RULES,
];

/// The rule for a (legacy) op type.
pub fn rule(ty: &str) -> Option<Rule> {
    RULES.iter().flat_map(|t| t.iter()).find(|(n, _)| *n == ty).map(|(_, r)| *r)
}

/// Every supported (legacy) op type, sorted.
pub fn supported() -> Vec<&'static str> {
    let mut v: Vec<&str> = RULES.iter().flat_map(|t| t.iter()).map(|(n, _)| *n).collect();
    v.sort_unstable();
    v
}

/// Paddle's 2-D paddings → ONNX `pads` [top, left, bottom, right]. Paddle gives either
/// `[ph, pw]` (symmetric) or `[top, bottom, left, right]`.
pub(crate) fn onnx_pads_2d(p: &[i64]) -> Result<Vec<i64>, String> {
    match *p {
        [] => Ok(vec![0, 0, 0, 0]),
        [h, w] => Ok(vec![h, w, h, w]),
        [t, b, l, r] => Ok(vec![t, l, b, r]),
        _ => Err(format!("paddings {p:?} have neither 2 nor 4 entries")),
    }
}

/// `padding_algorithm`: EXPLICIT → None, SAME → "SAME_UPPER", VALID → "VALID".
pub(crate) fn auto_pad(op: &OpDesc) -> Result<Option<&'static str>, String> {
    use crate::build::Attrs;
    match op.string("padding_algorithm", "EXPLICIT").as_str() {
        "EXPLICIT" | "" => Ok(None),
        "SAME" => Ok(Some("SAME_UPPER")),
        "VALID" => Ok(Some("VALID")),
        o => Err(format!("padding_algorithm '{o}' is not supported")),
    }
}

/// Checks the data layout attribute: NCHW (or AnyLayout) only.
pub(crate) fn check_nchw(op: &OpDesc) -> RuleResult {
    use crate::build::Attrs;
    for a in ["data_format", "data_layout"] {
        let f = op.string(a, "NCHW");
        if !matches!(f.as_str(), "NCHW" | "AnyLayout" | "NCDHW" | "NCL") {
            return Err(format!("{a} '{f}' is not supported (NCHW only)"));
        }
    }
    Ok(())
}
