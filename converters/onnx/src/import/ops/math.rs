//! Math-family ops whose older forms differ: binary ops' `broadcast`/`axis` (< 7), Gemm's
//! `broadcast` (< 7), Clip's min/max attributes (< 11), TopK's `k` (< 10), the 2-D coercion
//! of Softmax/LogSoftmax/Hardmax (< 13), and DFT's `axis` attribute (< 20).

use super::build::rank;
use super::{B, NodeIn, Rule, rebuild};
use crate::import::Built;
use edgeport_ir::{AttrValue, Graph};

/// The largest rank a rule will build helper shapes for.
const MAX_RANK: i64 = 64;

pub(crate) fn rule(op_type: &str) -> Option<Rule> {
    match op_type {
        "Add" | "Sub" | "Mul" | "Div" | "Pow" | "And" | "Or" | "Xor" | "Equal" | "Greater" | "Less" => Some(binary),
        "Gemm" => Some(gemm),
        "Clip" => Some(clip),
        "TopK" => Some(topk),
        "Softmax" | "LogSoftmax" | "Hardmax" => Some(softmax),
        "DFT" => Some(dft),
        _ => None,
    }
}

/// Before opset 7, broadcasting was opt-in (`broadcast=1`) and `axis` aligned B's dims with
/// A's starting at that axis; numpy broadcasting needs B's trailing dims padded with 1s.
fn binary(n: &mut NodeIn<'_>, g: &mut Graph) -> Option<Result<Built, String>> {
    (n.opset < 7).then(|| {
        let broadcast = n.take_int("broadcast")?.unwrap_or(0);
        let axis = n.take_int("axis")?;
        let a = n.req(0)?;
        let mut b = n.req(1)?;
        if broadcast != 0
            && let Some(axis) = axis
        {
            let rb = rank(g, b).ok_or("old-style broadcast with 'axis' needs B of known rank")?;
            // Checked: `axis` comes from the file and may be anything.
            let trailing = if axis >= 0 {
                let ra = rank(g, a).ok_or("old-style broadcast with 'axis' needs A of known rank")?;
                (ra as i64).checked_sub(axis).and_then(|v| v.checked_sub(rb as i64))
            } else {
                axis.checked_neg().and_then(|v| v.checked_sub(rb as i64))
            };
            let trailing = match trailing {
                Some(t) if (0..=MAX_RANK).contains(&t) => t,
                _ => return Err(format!("broadcast axis {axis} does not fit B of rank {rb}")),
            };
            if trailing > 0 {
                let axes: Vec<i64> = (rb as i64..rb as i64 + trailing).collect();
                let mut bb = B::new(n, g);
                let ax = bb.ints("b_axes", &axes)?;
                b = bb.op("b_unsqueezed", "Unsqueeze", vec![], &[Some(b), Some(ax)])?;
            }
        }
        rebuild(n, g, None, &[Some(a), Some(b)])
    })
}

fn gemm(n: &mut NodeIn<'_>, g: &mut Graph) -> Option<Result<Built, String>> {
    (n.opset < 7).then(|| {
        n.take_attr("broadcast");
        let inputs = n.inputs.clone();
        rebuild(n, g, None, &inputs)
    })
}

fn clip(n: &mut NodeIn<'_>, g: &mut Graph) -> Option<Result<Built, String>> {
    (n.opset < 11).then(|| {
        let x = n.req(0)?;
        let min = n.take_float("min")?;
        let max = n.take_float("max")?;
        let mut b = B::new(n, g);
        let min = min.map(|v| b.floats_like("min", vec![], &[v as f64], x)).transpose()?;
        let max = max.map(|v| b.floats_like("max", vec![], &[v as f64], x)).transpose()?;
        let mut inputs = vec![Some(x), min, max];
        while inputs.last() == Some(&None) {
            inputs.pop();
        }
        rebuild(n, g, None, &inputs)
    })
}

fn topk(n: &mut NodeIn<'_>, g: &mut Graph) -> Option<Result<Built, String>> {
    (n.opset < 10).then(|| {
        let x = n.req(0)?;
        let k = n.take_int("k")?.ok_or("TopK-1 needs 'k'")?;
        let k = B::new(n, g).ints("k", &[k])?;
        rebuild(n, g, None, &[Some(x), Some(k)])
    })
}

/// Before opset 13 these ops flattened the input to 2-D at `axis` (default 1) and worked on
/// the second dimension: Flatten → op(axis=1) → Reshape back to the input's shape. When the
/// axis is the last one, that is the same as the new form.
fn softmax(n: &mut NodeIn<'_>, g: &mut Graph) -> Option<Result<Built, String>> {
    (n.opset < 13).then(|| {
        let x = n.req(0)?;
        let axis = n.take_int("axis")?.unwrap_or(1);
        if let Some(r) = rank(g, x) {
            let norm = if axis < 0 { axis + r as i64 } else { axis };
            if norm == r as i64 - 1 {
                n.set_attr("axis", AttrValue::Int(-1));
                return rebuild(n, g, None, &[Some(x)]);
            }
        }
        let mut b = B::new(n, g);
        let shape = b.op("shape", "Shape", vec![], &[Some(x)])?;
        let flat = b.op("flat", "Flatten", vec![("axis".into(), AttrValue::Int(axis))], &[Some(x)])?;
        let op = n.raw.op_type.clone();
        let mut b = B::new(n, g);
        let y = b.op("2d", &op, vec![("axis".into(), AttrValue::Int(1))], &[Some(flat)])?;
        n.attrs.clear();
        rebuild(n, g, Some("Reshape"), &[Some(y), Some(shape)])
    })
}

/// DFT-17: `axis` attribute (default 1) became the third input (default -2) in opset 20.
fn dft(n: &mut NodeIn<'_>, g: &mut Graph) -> Option<Result<Built, String>> {
    (n.opset < 20).then(|| {
        let x = n.req(0)?;
        let len = n.input(1);
        let axis = n.take_int("axis")?.unwrap_or(1);
        let axis = B::new(n, g).i64s("axis", vec![], &[axis])?;
        rebuild(n, g, None, &[Some(x), len, Some(axis)])
    })
}
