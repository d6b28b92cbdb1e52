//! AVERAGE_POOL_2D, MAX_POOL_2D, L2_POOL_2D → AveragePool / MaxPool / sqrt(AveragePool(x²)) with
//! `ChannelsLast` layout. TFLite's SAME average pool excludes padding (count_include_pad = 0).

use super::{R, auto_pad};
use crate::codes::BuiltinOperator as B;
use crate::import::cx::OpCx;
use crate::import::irops::{AveragePool, Layout, MaxPool, Mul, Sqrt};
use edgeport_ir::{Graph, Op};

pub fn convert(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> Option<R> {
    let kind = cx.code.builtin;
    if !matches!(kind, B::AVERAGE_POOL_2D | B::MAX_POOL_2D | B::L2_POOL_2D) {
        return None;
    }
    Some(pool(cx, g, kind))
}

fn pool(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph, kind: crate::codes::BuiltinOperator) -> R {
    let o = cx.opts();
    let pad = auto_pad(o.i8(0, 0)?)?;
    let strides = vec![i64::from(o.i32(2, 1)?.max(1)), i64::from(o.i32(1, 1)?.max(1))];
    let kernel_shape = vec![i64::from(o.i32(4, 1)?.max(1)), i64::from(o.i32(3, 1)?.max(1))];
    let act = o.i8(5, 0)?;
    let x = cx.input(g, 0)?;
    let op = match kind {
        B::AVERAGE_POOL_2D => Op::AveragePool(AveragePool {
            auto_pad: pad,
            kernel_shape,
            strides,
            layout: Layout::ChannelsLast,
            ..Default::default()
        }),
        B::MAX_POOL_2D => Op::MaxPool(MaxPool {
            auto_pad: pad,
            kernel_shape,
            strides,
            layout: Layout::ChannelsLast,
            ..Default::default()
        }),
        _ => {
            // TFLite's L2 pool is sqrt(mean(x²)) over the window.
            let sq = cx.node1(g, "square", Op::Mul(Mul {}), &[Some(x), Some(x)])?;
            let avg = Op::AveragePool(AveragePool {
                auto_pad: pad,
                kernel_shape,
                strides,
                layout: Layout::ChannelsLast,
                ..Default::default()
            });
            let m = cx.node1(g, "mean_square", avg, &[Some(sq)])?;
            let y = cx.node1(g, "sqrt", Op::Sqrt(Sqrt {}), &[Some(m)])?;
            cx.output_act(g, 0, y, act)?;
            return Ok(());
        }
    };
    let y = cx.node1(g, "pool", op, &[Some(x)])?;
    cx.output_act(g, 0, y, act)?;
    Ok(())
}
