//! Reductions: MEAN, SUM, REDUCE_PROD/MAX/MIN/ANY/ALL → Reduce* (axes as an int64 input,
//! empty axes = no reduction as in TF); ARG_MAX/ARG_MIN → ArgMax/ArgMin + Cast to the output
//! index type; CUMSUM (exclusive, reverse) → CumSum.

use super::R;
use crate::codes::BuiltinOperator as B;
use crate::import::cx::OpCx;
use crate::import::irops::{ArgMax, ArgMin, CumSum, ReduceMax, ReduceMean, ReduceMin, ReduceProd, ReduceSum};
use edgeport_ir::{DType, Graph, Op};

pub fn convert(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> Option<R> {
    Some(match cx.code.builtin {
        B::MEAN | B::SUM | B::REDUCE_PROD | B::REDUCE_MAX | B::REDUCE_MIN | B::REDUCE_ANY | B::REDUCE_ALL => reduce(cx, g),
        B::ARG_MAX => arg(cx, g, true),
        B::ARG_MIN => arg(cx, g, false),
        B::CUMSUM => cumsum(cx, g),
        _ => return None,
    })
}

fn reduce(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let kind = cx.code.builtin;
    let keepdims = i64::from(cx.opts().bool(0, false)?);
    let noop = 1;
    let mut x = cx.input(g, 0)?;
    let axes = cx.i64_input(g, 1)?;
    let boolean = matches!(kind, B::REDUCE_ANY | B::REDUCE_ALL);
    if boolean {
        x = cx.cast(g, x, DType::F32)?;
    }
    let op = match kind {
        B::MEAN => Op::ReduceMean(ReduceMean {
            keepdims,
            noop_with_empty_axes: noop,
        }),
        B::SUM => Op::ReduceSum(ReduceSum {
            keepdims,
            noop_with_empty_axes: noop,
        }),
        B::REDUCE_PROD => Op::ReduceProd(ReduceProd {
            keepdims,
            noop_with_empty_axes: noop,
        }),
        B::REDUCE_MAX | B::REDUCE_ANY => Op::ReduceMax(ReduceMax {
            keepdims,
            noop_with_empty_axes: noop,
        }),
        _ => Op::ReduceMin(ReduceMin {
            keepdims,
            noop_with_empty_axes: noop,
        }),
    };
    let mut y = cx.node1(g, "", op, &[Some(x), Some(axes)])?;
    if boolean {
        y = cx.cast(g, y, DType::Bool)?;
    }
    cx.output(g, 0, y)?;
    Ok(())
}

fn arg(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph, max: bool) -> R {
    let axis = *cx.ints(1)?.first().ok_or("axis input is empty")?;
    let x = cx.input(g, 0)?;
    let op = if max {
        Op::ArgMax(ArgMax {
            axis,
            keepdims: 0,
            select_last_index: 0,
        })
    } else {
        Op::ArgMin(ArgMin {
            axis,
            keepdims: 0,
            select_last_index: 0,
        })
    };
    let mut y = cx.node1(g, "", op, &[Some(x)])?;
    let dt = cx.out_dtype(0)?;
    if dt != DType::I64 {
        y = cx.cast(g, y, dt)?;
    }
    cx.output(g, 0, y)?;
    Ok(())
}

fn cumsum(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let o = cx.opts();
    let (exclusive, reverse) = (i64::from(o.bool(0, false)?), i64::from(o.bool(1, false)?));
    let x = cx.input(g, 0)?;
    let axis = cx.raw_input(g, 1)?;
    let y = cx.node1(g, "", Op::CumSum(CumSum { exclusive, reverse }), &[Some(x), Some(axis)])?;
    cx.output(g, 0, y)?;
    Ok(())
}
