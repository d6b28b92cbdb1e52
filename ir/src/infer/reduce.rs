//! Shapes of reductions (axes from a constant input; `keepdims`, `noop_with_empty_axes`) and of
//! ArgMax/ArgMin.

use super::{Cx, Rule, axis, one};
use crate::ops::Op;
use crate::shape::{Dim, Shape};

fn reduce(cx: &Cx<'_>, keepdims: i64, noop: i64) -> Result<Option<Shape>, String> {
    let Some(d) = cx.dims(0) else { return Ok(None) };
    let axes: Vec<i64> = match cx.const_ints(1) {
        Some(a) => a,
        None if cx.present(1) => return Ok(None),
        None => vec![],
    };
    if axes.is_empty() && noop != 0 {
        return Ok(Some(Shape(d.to_vec())));
    }
    let axes: Vec<usize> = if axes.is_empty() {
        (0..d.len()).collect()
    } else {
        axes.iter().map(|&a| axis(a, d.len())).collect::<Result<_, _>>()?
    };
    Ok(Some(Shape(
        d.iter()
            .enumerate()
            .filter_map(|(i, x)| match (axes.contains(&i), keepdims != 0) {
                (false, _) => Some(x.clone()),
                (true, true) => Some(Dim::Known(1)),
                (true, false) => None,
            })
            .collect(),
    )))
}

fn arg(cx: &Cx<'_>, ax: i64, keepdims: i64) -> Result<Option<Shape>, String> {
    let Some(d) = cx.dims(0) else { return Ok(None) };
    let a = axis(ax, d.len())?;
    let mut out = d.to_vec();
    if keepdims != 0 {
        out[a] = Dim::Known(1);
    } else {
        out.remove(a);
    }
    Ok(Some(Shape(out)))
}

pub(crate) fn infer(cx: &Cx<'_>) -> Rule {
    match cx.op {
        Op::ReduceL1(r) => one(reduce(cx, r.keepdims, r.noop_with_empty_axes)?),
        Op::ReduceL2(r) => one(reduce(cx, r.keepdims, r.noop_with_empty_axes)?),
        Op::ReduceLogSum(r) => one(reduce(cx, r.keepdims, r.noop_with_empty_axes)?),
        Op::ReduceLogSumExp(r) => one(reduce(cx, r.keepdims, r.noop_with_empty_axes)?),
        Op::ReduceMax(r) => one(reduce(cx, r.keepdims, r.noop_with_empty_axes)?),
        Op::ReduceMean(r) => one(reduce(cx, r.keepdims, r.noop_with_empty_axes)?),
        Op::ReduceMin(r) => one(reduce(cx, r.keepdims, r.noop_with_empty_axes)?),
        Op::ReduceProd(r) => one(reduce(cx, r.keepdims, r.noop_with_empty_axes)?),
        Op::ReduceSum(r) => one(reduce(cx, r.keepdims, r.noop_with_empty_axes)?),
        Op::ReduceSumSquare(r) => one(reduce(cx, r.keepdims, r.noop_with_empty_axes)?),
        Op::ArgMax(a) => one(arg(cx, a.axis, a.keepdims)?),
        Op::ArgMin(a) => one(arg(cx, a.axis, a.keepdims)?),
        _ => Ok(None),
    }
}
