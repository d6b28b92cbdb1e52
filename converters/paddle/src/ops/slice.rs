//! Indexing: `slice` (with decrease_axis), `strided_slice`, `gather`.

use super::Rule;
use crate::build::{Attrs, Ctx, RuleResult};
use crate::program::OpDesc;
use edgeport_ir::ops::defs::tensor::{Cast, Concat, Gather, Slice, Squeeze};
use edgeport_ir::{Op, ValueId};

pub const RULES: &[(&str, Rule)] = &[("slice", slice), ("strided_slice", slice), ("gather", gather)];

/// starts/ends/strides: the constant tensor input, the list input, or the attribute.
fn bound(cx: &mut Ctx<'_>, op: &OpDesc, attr: &str, slot: &str, out: &str) -> Result<ValueId, String> {
    if let Some(v) = cx.opt_input(op, slot)? {
        return match cx.const_of(v).and_then(|t| t.to_i64_vec()) {
            Some(vals) => Ok(cx.const_i64(&format!("{out}/{attr}"), &vals)),
            None => cx.node(
                &format!("{out}/{attr}"),
                Op::Cast(Cast {
                    to: 7,
                    ..Default::default()
                }),
                &[Some(v)],
            ),
        };
    }
    let list_slot = format!("{slot}List");
    if !op.input_args(&list_slot).is_empty() {
        let parts = cx.inputs(op, &list_slot)?;
        let mut cast = Vec::with_capacity(parts.len());
        for (i, p) in parts.into_iter().enumerate() {
            cast.push(Some(cx.node(
                &format!("{out}/{attr}{i}"),
                Op::Cast(Cast {
                    to: 7,
                    ..Default::default()
                }),
                &[Some(p)],
            )?));
        }
        return cx.node(&format!("{out}/{attr}"), Op::Concat(Concat { axis: 0 }), &cast);
    }
    let vals = op.ints(attr);
    Ok(cx.const_i64(&format!("{out}/{attr}"), &vals))
}

fn slice(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    let x = cx.input(op, "Input")?;
    let out = cx.out_name(op, "Out")?;
    let axes = op.ints("axes");
    let starts = bound(cx, op, "starts", "StartsTensor", &out)?;
    let ends = bound(cx, op, "ends", "EndsTensor", &out)?;
    let axes_v = cx.const_i64(&format!("{out}/axes"), &axes);
    let steps = if op.ty == "strided_slice" {
        Some(bound(cx, op, "strides", "StridesTensor", &out)?)
    } else {
        None
    };
    let decrease = op.ints("decrease_axis");
    if decrease.is_empty() {
        return cx.emit(
            op,
            "Out",
            Op::Slice(Slice::default()),
            &[Some(x), Some(starts), Some(ends), Some(axes_v), steps],
        );
    }
    let s = cx.node(
        &format!("{out}/slice"),
        Op::Slice(Slice::default()),
        &[Some(x), Some(starts), Some(ends), Some(axes_v), steps],
    )?;
    let d = cx.const_i64(&format!("{out}/decrease"), &decrease);
    cx.emit(op, "Out", Op::Squeeze(Squeeze::default()), &[Some(s), Some(d)])
}

fn gather(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    let x = cx.input(op, "X")?;
    let idx = cx.input(op, "Index")?;
    let axis = cx
        .ints_attr_or_input(op, "axis", "Axis")?
        .and_then(|v| v.first().copied())
        .unwrap_or(0);
    cx.emit(op, "Out", Op::Gather(Gather { axis }), &[Some(x), Some(idx)])
}
