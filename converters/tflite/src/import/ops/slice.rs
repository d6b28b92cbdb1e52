//! Slicing and joining: STRIDED_SLICE (begin/end/ellipsis/new-axis/shrink masks, offset) →
//! Slice + Squeeze + Unsqueeze; SLICE; SPLIT/SPLIT_V → Split; PACK → Unsqueeze + Concat;
//! UNPACK → Split + Squeeze; CONCATENATION (fused activation); REVERSE_V2 → Slice step −1.

use super::{Fail, R};
use crate::codes::BuiltinOperator as B;
use crate::import::cx::OpCx;
use crate::import::irops::{Concat, Slice, Split, Squeeze, Unsqueeze};
use edgeport_ir::{Graph, Op};

pub fn convert(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> Option<R> {
    Some(match cx.code.builtin {
        B::STRIDED_SLICE => strided_slice(cx, g),
        B::SLICE => slice(cx, g),
        B::SPLIT => split(cx, g, false),
        B::SPLIT_V => split(cx, g, true),
        B::PACK => pack(cx, g),
        B::UNPACK => unpack(cx, g),
        B::CONCATENATION => concat(cx, g),
        B::REVERSE_V2 => reverse(cx, g),
        _ => return None,
    })
}

fn norm_axis(a: i64, rank: usize) -> Result<usize, Fail> {
    let r = rank as i64;
    let v = if a < 0 { a + r } else { a };
    if v < 0 || v >= r.max(1) {
        return Err(Fail::Issue(format!("axis {a} out of range for rank {rank}")));
    }
    Ok(v as usize)
}

/// One dense dimension of a strided slice.
struct DenseDim {
    start: i64,
    end: i64,
    step: i64,
    shrink: bool,
}

fn strided_slice(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let o = cx.opts();
    let (begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_mask) =
        (o.i32(0, 0)?, o.i32(1, 0)?, o.i32(2, 0)?, o.i32(3, 0)?, o.i32(4, 0)?);
    let offset = o.bool(5, false)?;
    let begin = cx.ints(1)?;
    let end = cx.ints(2)?;
    let strides = if cx.has_input(3) { cx.ints(3)? } else { vec![1; begin.len()] };
    if end.len() != begin.len() || strides.len() != begin.len() || begin.len() > 32 {
        return Err("begin, end and strides differ in length".into());
    }
    let rank = cx.in_rank(0)?;
    let bit = |m: i32, i: usize| (m >> i) & 1 == 1;
    let mut dense: Vec<DenseDim> = Vec::with_capacity(rank);
    // Output layout in terms of dense dims: Some(k) = dense dim k kept, None = new axis.
    let mut layout: Vec<Option<usize>> = Vec::new();
    let full = |d: &mut Vec<DenseDim>, l: &mut Vec<Option<usize>>| {
        l.push(Some(d.len()));
        d.push(DenseDim {
            start: 0,
            end: i64::MAX,
            step: 1,
            shrink: false,
        });
    };
    let n = begin.len();
    let mut seen_ellipsis = false;
    for i in 0..n {
        if bit(ellipsis_mask, i) && !seen_ellipsis {
            seen_ellipsis = true;
            let after = (i + 1..n).filter(|&j| !bit(new_axis_mask, j)).count();
            let fill = rank
                .checked_sub(dense.len() + after)
                .ok_or("strided slice spec has more dims than the input")?;
            for _ in 0..fill {
                full(&mut dense, &mut layout);
            }
            continue;
        }
        if bit(new_axis_mask, i) {
            layout.push(None);
            continue;
        }
        let step = strides[i];
        if step == 0 {
            return Err("stride 0".into());
        }
        let shrink = bit(shrink_mask, i);
        let (start, stop) = if shrink {
            let b = begin[i];
            (b, if b == -1 { i64::MAX } else { b + 1 })
        } else {
            let s = if bit(begin_mask, i) {
                if step > 0 { 0 } else { i64::MAX }
            } else {
                begin[i]
            };
            let e = if bit(end_mask, i) {
                if step > 0 { i64::MAX } else { i64::MIN }
            } else if offset {
                begin[i].saturating_add(end[i])
            } else {
                end[i]
            };
            (s, e)
        };
        if !shrink {
            layout.push(Some(dense.len()));
        }
        dense.push(DenseDim {
            start,
            end: stop,
            step: if shrink { 1 } else { step },
            shrink,
        });
    }
    while dense.len() < rank {
        full(&mut dense, &mut layout);
    }
    if dense.len() != rank {
        return Err(Fail::Issue(format!(
            "strided slice covers {} dims of a rank-{rank} input",
            dense.len()
        )));
    }
    let x = cx.input(g, 0)?;
    let starts: Vec<i64> = dense.iter().map(|d| d.start).collect();
    let ends: Vec<i64> = dense.iter().map(|d| d.end).collect();
    let steps: Vec<i64> = dense.iter().map(|d| d.step).collect();
    let axes: Vec<i64> = (0..rank as i64).collect();
    let s = cx.const_i64(g, "starts", &starts)?;
    let e = cx.const_i64(g, "ends", &ends)?;
    let a = cx.const_i64(g, "axes", &axes)?;
    let st = cx.const_i64(g, "steps", &steps)?;
    let mut y = cx.node1(g, "slice", Op::Slice(Slice {}), &[Some(x), Some(s), Some(e), Some(a), Some(st)])?;
    let shrunk: Vec<i64> = dense.iter().enumerate().filter(|(_, d)| d.shrink).map(|(k, _)| k as i64).collect();
    if !shrunk.is_empty() {
        let ax = cx.const_i64(g, "squeeze_axes", &shrunk)?;
        y = cx.node1(g, "squeeze", Op::Squeeze(Squeeze {}), &[Some(y), Some(ax)])?;
    }
    let new_axes: Vec<i64> = layout
        .iter()
        .enumerate()
        .filter(|(_, l)| l.is_none())
        .map(|(p, _)| p as i64)
        .collect();
    if !new_axes.is_empty() {
        let ax = cx.const_i64(g, "new_axes", &new_axes)?;
        y = cx.node1(g, "unsqueeze", Op::Unsqueeze(Unsqueeze {}), &[Some(y), Some(ax)])?;
    }
    cx.output(g, 0, y)?;
    Ok(())
}

fn slice(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let begin = cx.ints(1)?;
    let size = cx.ints(2)?;
    if begin.len() != size.len() {
        return Err("begin and size differ in length".into());
    }
    let ends: Vec<i64> = begin
        .iter()
        .zip(&size)
        .map(|(&b, &s)| if s < 0 { i64::MAX } else { b.saturating_add(s) })
        .collect();
    let axes: Vec<i64> = (0..begin.len() as i64).collect();
    let x = cx.input(g, 0)?;
    let s = cx.const_i64(g, "starts", &begin)?;
    let e = cx.const_i64(g, "ends", &ends)?;
    let a = cx.const_i64(g, "axes", &axes)?;
    let y = cx.node1(g, "", Op::Slice(Slice {}), &[Some(x), Some(s), Some(e), Some(a)])?;
    cx.output(g, 0, y)?;
    Ok(())
}

fn split(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph, v: bool) -> R {
    let n_out = cx.op.outputs.len();
    let (xi, axis) = if v {
        (0, *cx.ints(2)?.first().ok_or("axis is empty")?)
    } else {
        (1, *cx.ints(0)?.first().ok_or("axis is empty")?)
    };
    let rank = cx.in_rank(xi)?;
    let axis = norm_axis(axis, rank)?;
    let x = cx.input(g, xi)?;
    let sizes = if v {
        let mut s = cx.ints(1)?;
        if let Some(p) = s.iter().position(|&d| d < 0) {
            let dim = *cx.in_shape(0)?.get(axis).ok_or("bad axis")? as i64;
            let known: i64 = s.iter().filter(|&&d| d >= 0).sum();
            s[p] = dim - known;
        }
        Some(cx.const_i64(g, "split", &s)?)
    } else {
        None
    };
    let op = Op::Split(Split {
        axis: axis as i64,
        num_outputs: if v { None } else { Some(n_out as i64) },
    });
    let ys = cx.node(g, "", op, &[Some(x), sizes], n_out)?;
    for (j, y) in ys.into_iter().enumerate() {
        cx.output(g, j, y)?;
    }
    Ok(())
}

fn pack(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let axis = i64::from(cx.opts().i32(1, 0)?);
    let rank = cx.in_rank(0)?;
    let axis = norm_axis(axis, rank + 1)? as i64;
    let ax = cx.const_i64(g, "axes", &[axis])?;
    let mut parts = Vec::new();
    for i in 0..cx.n_inputs() {
        let x = cx.input(g, i)?;
        parts.push(Some(cx.node1(g, "unsqueeze", Op::Unsqueeze(Unsqueeze {}), &[Some(x), Some(ax)])?));
    }
    let y = cx.node1(g, "", Op::Concat(Concat { axis }), &parts)?;
    cx.output(g, 0, y)?;
    Ok(())
}

fn unpack(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let axis = i64::from(cx.opts().i32(1, 0)?);
    let rank = cx.in_rank(0)?;
    let axis = norm_axis(axis, rank)? as i64;
    let n = cx.op.outputs.len();
    let x = cx.input(g, 0)?;
    let op = Op::Split(Split {
        axis,
        num_outputs: Some(n as i64),
    });
    let parts = cx.node(g, "split", op, &[Some(x), None], n)?;
    let ax = cx.const_i64(g, "axes", &[axis])?;
    for (j, p) in parts.into_iter().enumerate() {
        let y = cx.node1(g, "squeeze", Op::Squeeze(Squeeze {}), &[Some(p), Some(ax)])?;
        cx.output(g, j, y)?;
    }
    Ok(())
}

fn concat(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let o = cx.opts();
    let axis = i64::from(o.i32(0, 0)?);
    let act = o.i8(1, 0)?;
    let mut parts = Vec::new();
    for i in 0..cx.n_inputs() {
        parts.push(Some(cx.input(g, i)?));
    }
    let y = cx.node1(g, "", Op::Concat(Concat { axis }), &parts)?;
    cx.output_act(g, 0, y, act)?;
    Ok(())
}

fn reverse(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let axes = cx.ints(1)?;
    let x = cx.input(g, 0)?;
    let n = axes.len();
    let s = cx.const_i64(g, "starts", &vec![-1; n])?;
    let e = cx.const_i64(g, "ends", &vec![i64::MIN; n])?;
    let a = cx.const_i64(g, "axes", &axes)?;
    let st = cx.const_i64(g, "steps", &vec![-1; n])?;
    let y = cx.node1(g, "", Op::Slice(Slice {}), &[Some(x), Some(s), Some(e), Some(a), Some(st)])?;
    cx.output(g, 0, y)?;
    Ok(())
}
