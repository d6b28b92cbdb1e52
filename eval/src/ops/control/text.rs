//! The text ops: `RegexFullMatch` (RE2 syntax via the `regex` crate), `StringConcat`,
//! `StringNormalizer` and `StringSplit`.

use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use crate::ops::util::zip_broadcast;
use crate::tensor::Tensor;
use crate::value::Value;
use edgeport_ir::ops::defs::text::{RegexFullMatch, StringNormalizer, StringSplit};
use ndarray::{ArrayD, IxDyn};

fn strings<'a>(cx: &NodeCtx<'a>, i: usize) -> Result<&'a ArrayD<String>, OpError> {
    match cx.tensor(i)? {
        Tensor::Str(a) => Ok(a),
        t => Err(OpError::DType(t.dtype().to_string())),
    }
}

fn out(t: Tensor) -> OpResult {
    Ok(vec![Value::Tensor(t)])
}

/// `RegexFullMatch`: true where the whole element matches `pattern`.
pub(super) fn regex_full_match(a: &RegexFullMatch, cx: &mut NodeCtx<'_>) -> OpResult {
    let pat = a
        .pattern
        .as_deref()
        .ok_or_else(|| OpError::invalid("RegexFullMatch needs a pattern"))?;
    let re = regex::Regex::new(&format!("^(?:{pat})$")).map_err(|e| OpError::invalid(format!("bad regular expression '{pat}': {e}")))?;
    let x = strings(cx, 0)?;
    out(Tensor::Bool(x.map(|s| re.is_match(s))))
}

/// `StringConcat`: elementwise concatenation with broadcasting.
pub(super) fn string_concat(cx: &mut NodeCtx<'_>) -> OpResult {
    let (x, y) = (strings(cx, 0)?, strings(cx, 1)?);
    out(Tensor::Str(zip_broadcast(x, y, |a, b| format!("{a}{b}"))?))
}

/// `StringNormalizer`: removes stopwords (whole elements, compared case-insensitively unless
/// `is_case_sensitive`), then changes case. Input `[C]` or `[1, C]`; when every element is
/// removed the output holds one empty string (`[1]` or `[1, 1]`).
pub(super) fn string_normalizer(a: &StringNormalizer, cx: &mut NodeCtx<'_>) -> OpResult {
    let x = strings(cx, 0)?;
    let two_d = match x.shape() {
        [_] => false,
        [1, _] => true,
        s => {
            return Err(OpError::invalid(format!("StringNormalizer input must be [C] or [1, C], got {s:?}")));
        }
    };
    let case: fn(&str) -> String = match a.case_change_action.as_str() {
        "NONE" => |s| s.to_string(),
        "LOWER" => str::to_lowercase,
        "UPPER" => str::to_uppercase,
        c => {
            return Err(OpError::invalid(format!("unknown case_change_action '{c}'")));
        }
    };
    let sensitive = a.is_case_sensitive != 0;
    let stops: Vec<String> = a
        .stopwords
        .iter()
        .map(|w| if sensitive { w.clone() } else { w.to_lowercase() })
        .collect();
    let kept: Vec<String> = x
        .iter()
        .filter(|s| {
            let key = if sensitive { (*s).clone() } else { s.to_lowercase() };
            !stops.contains(&key)
        })
        .map(|s| case(s))
        .collect();
    let kept = if kept.is_empty() { vec![String::new()] } else { kept };
    let n = kept.len();
    let shape: Vec<usize> = if two_d { vec![1, n] } else { vec![n] };
    out(Tensor::Str(
        ArrayD::from_shape_vec(IxDyn(&shape), kept).map_err(|e| OpError::invalid(e.to_string()))?,
    ))
}

/// Python's `str.split()` (no separator): runs of whitespace separate, ends are trimmed; after
/// `maxsplit` splits the rest (left-trimmed) is one piece.
fn split_whitespace(s: &str, maxsplit: Option<usize>) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        if maxsplit.is_some_and(|m| parts.len() >= m) {
            parts.push(rest.to_string());
            break;
        }
        match rest.find(char::is_whitespace) {
            Some(i) => {
                parts.push(rest[..i].to_string());
                rest = rest[i..].trim_start();
            }
            None => {
                parts.push(rest.to_string());
                break;
            }
        }
    }
    parts
}

/// `StringSplit`: splits every element (Python `str.split` semantics) and pads to the longest
/// split with empty strings. Outputs the pieces `[..., max]` and their counts.
pub(super) fn string_split(a: &StringSplit, cx: &mut NodeCtx<'_>) -> OpResult {
    let x = strings(cx, 0)?;
    let maxsplit = a.maxsplit.and_then(|m| usize::try_from(m).ok());
    let delim = a.delimiter.as_deref().filter(|d| !d.is_empty());
    let parts: Vec<Vec<String>> = x
        .iter()
        .map(|s| match delim {
            None => split_whitespace(s, maxsplit),
            Some(d) => match maxsplit {
                Some(m) => s.splitn(m + 1, d).map(str::to_string).collect(),
                None => s.split(d).map(str::to_string).collect(),
            },
        })
        .collect();
    let width = parts.iter().map(Vec::len).max().unwrap_or(0);
    let mut shape = x.shape().to_vec();
    let counts: Vec<i64> = parts.iter().map(|p| p.len() as i64).collect();
    let z = ArrayD::from_shape_vec(IxDyn(&shape), counts).map_err(|e| OpError::invalid(e.to_string()))?;
    shape.push(width);
    let flat: Vec<String> = parts
        .into_iter()
        .flat_map(|mut p| {
            p.resize(width, String::new());
            p
        })
        .collect();
    let y = ArrayD::from_shape_vec(IxDyn(&shape), flat).map_err(|e| OpError::invalid(e.to_string()))?;
    Ok(vec![Value::Tensor(Tensor::Str(y)), Value::Tensor(Tensor::I64(z))])
}
