//! L2_NORMALIZATION → LpNormalization(p = 2, last axis); LOCAL_RESPONSE_NORMALIZATION → LRN
//! with `ChannelsLast` (TF's alpha is per element: ONNX alpha = alpha · size, size = 2r + 1).

use super::R;
use crate::codes::BuiltinOperator as B;
use crate::import::cx::OpCx;
use crate::import::irops::{LRN, Layout, LpNormalization};
use edgeport_ir::{Graph, Op};

pub fn convert(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> Option<R> {
    Some(match cx.code.builtin {
        B::L2_NORMALIZATION => l2(cx, g),
        B::LOCAL_RESPONSE_NORMALIZATION => lrn(cx, g),
        _ => return None,
    })
}

fn l2(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let act = cx.opts().i8(0, 0)?;
    let x = cx.input(g, 0)?;
    let y = cx.node1(g, "", Op::LpNormalization(LpNormalization { axis: -1, p: 2 }), &[Some(x)])?;
    cx.output_act(g, 0, y, act)?;
    Ok(())
}

fn lrn(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let o = cx.opts();
    let radius = o.i32(0, 0)?;
    let (bias, alpha, beta) = (o.f32(1, 0.0)?, o.f32(2, 0.0)?, o.f32(3, 0.0)?);
    let size = i64::from(radius.max(0)) * 2 + 1;
    let x = cx.input(g, 0)?;
    let op = Op::LRN(LRN {
        alpha: alpha * size as f32,
        beta,
        bias,
        size,
        layout: Layout::ChannelsLast,
    });
    let y = cx.node1(g, "", op, &[Some(x)])?;
    cx.output(g, 0, y)?;
    Ok(())
}
