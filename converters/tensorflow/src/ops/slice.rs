//! Slicing and gathering: Slice, StridedSlice (begin/end/ellipsis/new-axis/shrink masks),
//! Gather/GatherV2/GatherNd and Pad/PadV2/MirrorPad.

use super::{Cx, Rule};
use edgeport_ir::ops::logical::Equal;
use edgeport_ir::ops::math::Add;
use edgeport_ir::ops::tensor::{Gather, GatherND, Pad, Reshape, Slice, Squeeze, Unsqueeze, Where};
use edgeport_ir::{Op, ValueId};

pub const OPS: &[&str] = &[
    "Slice",
    "StridedSlice",
    "Gather",
    "GatherV2",
    "ResourceGather",
    "GatherNd",
    "Pad",
    "PadV2",
    "MirrorPad",
];

pub fn rule(op: &str) -> Option<Rule> {
    Some(match op {
        "Slice" => slice,
        "StridedSlice" => strided_slice,
        "Gather" | "GatherV2" | "ResourceGather" => gather,
        "GatherNd" => gather_nd,
        "Pad" | "PadV2" | "MirrorPad" => pad,
        _ => return None,
    })
}

fn slice(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let x = cx.input(0)?;
    if let (Some(b), Some(s)) = (cx.const_ints_opt(1), cx.const_ints_opt(2)) {
        if b.len() != s.len() {
            return Err(format!("begin has {} values, size {}", b.len(), s.len()));
        }
        let e: Vec<i64> = b
            .iter()
            .zip(&s)
            .map(|(&b, &s)| if s == -1 { i64::MAX } else { b.saturating_add(s) })
            .collect();
        let axes: Vec<i64> = (0..b.len() as i64).collect();
        let (bv, ev, av) = (
            cx.const_i64("starts", &b, false)?,
            cx.const_i64("ends", &e, false)?,
            cx.const_i64("axes", &axes, false)?,
        );
        return cx.op1("", Op::Slice(Slice {}), &[x, bv, ev, av]).map(|v| vec![v]);
    }
    let (b, s) = (cx.input(1)?, cx.input(2)?);
    let b = cx.to_i64(b, "begin64")?;
    let s = cx.to_i64(s, "size64")?;
    let sum = cx.op1("end_sum", Op::Add(Add {}), &[b, s])?;
    let m1 = cx.const_i64("minus1", &[-1], true)?;
    let max = cx.const_i64("max", &[i64::MAX], true)?;
    let is_all = cx.op1("to_end", Op::Equal(Equal {}), &[s, m1])?;
    let e = cx.op1("ends", Op::Where(Where {}), &[is_all, max, sum])?;
    cx.op1("", Op::Slice(Slice {}), &[x, b, e]).map(|v| vec![v])
}

fn bit(mask: i64, i: usize) -> bool {
    i < 63 && (mask >> i) & 1 == 1
}

fn strided_slice(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let x = cx.input(0)?;
    let begin = cx.const_ints(1)?;
    let end = cx.const_ints(2)?;
    let strides = cx.const_ints(3)?;
    let n = begin.len();
    if end.len() != n || strides.len() != n {
        return Err(format!("begin/end/strides lengths differ ({n}, {}, {})", end.len(), strides.len()));
    }
    let m = |k: &str| cx.attr_i(k).unwrap_or(0);
    let (bm, em, elm, nam, sam) = (
        m("begin_mask"),
        m("end_mask"),
        m("ellipsis_mask"),
        m("new_axis_mask"),
        m("shrink_axis_mask"),
    );
    let rank = if elm != 0 {
        Some(cx.rank(x).ok_or("StridedSlice with an ellipsis needs the input's rank")?)
    } else {
        None
    };
    // Input dims consumed by entries that are neither the ellipsis nor new axes.
    let consumed = (0..n).filter(|&i| !bit(elm, i) && !bit(nam, i)).count();
    let (mut starts, mut ends, mut axes, mut steps) = (vec![], vec![], vec![], vec![]);
    let (mut squeeze, mut new_axes) = (vec![], vec![]);
    let (mut in_axis, mut out_pos) = (0i64, 0i64);
    let mut seen_ellipsis = false;
    for i in 0..n {
        if bit(elm, i) {
            if seen_ellipsis {
                return Err("more than one ellipsis".into());
            }
            seen_ellipsis = true;
            let r = rank.unwrap_or(consumed);
            let cover = r.checked_sub(consumed).ok_or("slice spec has more entries than the input's rank")? as i64;
            in_axis += cover;
            out_pos += cover;
            continue;
        }
        if bit(nam, i) {
            new_axes.push(out_pos);
            out_pos += 1;
            continue;
        }
        let s = strides[i];
        if s == 0 {
            return Err("stride 0".into());
        }
        if bit(sam, i) {
            let b = begin[i];
            starts.push(b);
            ends.push(if b == -1 { i64::MAX } else { b.saturating_add(1) });
            axes.push(in_axis);
            steps.push(1);
            squeeze.push(in_axis);
            in_axis += 1;
            continue;
        }
        let b = if bit(bm, i) { if s > 0 { 0 } else { i64::MAX } } else { begin[i] };
        let e = if bit(em, i) {
            if s > 0 { i64::MAX } else { i64::MIN }
        } else {
            end[i]
        };
        if !(b == 0 && e == i64::MAX && s == 1) {
            starts.push(b);
            ends.push(e);
            axes.push(in_axis);
            steps.push(s);
        }
        in_axis += 1;
        out_pos += 1;
    }
    let mut y = x;
    if !starts.is_empty() {
        let sv = cx.const_i64("starts", &starts, false)?;
        let ev = cx.const_i64("ends", &ends, false)?;
        let av = cx.const_i64("axes", &axes, false)?;
        let tv = cx.const_i64("steps", &steps, false)?;
        let last = squeeze.is_empty() && new_axes.is_empty();
        y = cx.op1(if last { "" } else { "slice" }, Op::Slice(Slice {}), &[y, sv, ev, av, tv])?;
    }
    if !squeeze.is_empty() {
        let a = cx.const_i64("squeeze_axes", &squeeze, false)?;
        y = cx.op1(if new_axes.is_empty() { "" } else { "squeeze" }, Op::Squeeze(Squeeze {}), &[y, a])?;
    }
    if !new_axes.is_empty() {
        let a = cx.const_i64("new_axes", &new_axes, false)?;
        y = cx.op1("", Op::Unsqueeze(Unsqueeze {}), &[y, a])?;
    }
    if y == x {
        // A full slice: an identity reshape keeps a distinct value.
        let s = cx.op1("shape", Op::Shape(Default::default()), &[x])?;
        y = cx.op1("", Op::Reshape(Reshape::default()), &[x, s])?;
    }
    Ok(vec![y])
}

fn gather(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let (p, i) = (cx.input(0)?, cx.input(1)?);
    if cx.attr_i("batch_dims").unwrap_or(0) != 0 {
        return Err("batch_dims != 0 is not supported".into());
    }
    let axis = if cx.node.op == "GatherV2" {
        match cx.const_ints(2)?[..] {
            [a] => a,
            ref v => return Err(format!("axis must be one constant, got {v:?}")),
        }
    } else {
        0
    };
    cx.op1("", Op::Gather(Gather { axis }), &[p, i]).map(|v| vec![v])
}

fn gather_nd(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let (p, i) = (cx.input(0)?, cx.input(1)?);
    let i = cx.to_i64(i, "indices64")?;
    cx.op1("", Op::GatherND(GatherND { batch_dims: 0 }), &[p, i]).map(|v| vec![v])
}

fn pad(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let x = cx.input(0)?;
    let mode = if cx.node.op == "MirrorPad" {
        match cx.attr_s("mode").as_deref() {
            Some("REFLECT") => "reflect",
            Some(m) => return Err(format!("MirrorPad mode {m} has no ONNX equivalent")),
            None => return Err("MirrorPad without a mode".into()),
        }
    } else {
        "constant"
    };
    let pads = if let Some(p) = cx.const_ints_opt(1) {
        if p.len() % 2 != 0 {
            return Err(format!("paddings has {} values", p.len()));
        }
        let mut v: Vec<i64> = p.iter().step_by(2).copied().collect();
        v.extend(p.iter().skip(1).step_by(2));
        cx.const_i64("pads", &v, false)?
    } else {
        let p = cx.input(1)?;
        let p = cx.to_i64(p, "paddings64")?;
        let t = cx.transpose(p, &[1, 0], "paddings_t")?;
        let flat = cx.const_i64("flat", &[-1], false)?;
        cx.op1("pads", Op::Reshape(Reshape::default()), &[t, flat])?
    };
    let value = if cx.node.op == "PadV2" { Some(cx.input(2)?) } else { None };
    cx.op("", Op::Pad(Pad { mode: mode.into() }), &[Some(x), Some(pads), value, None], 1)
}
