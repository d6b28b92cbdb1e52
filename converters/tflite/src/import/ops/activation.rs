//! Activations and softmax: RELU, RELU6, RELU_N1_TO_1, RELU_0_TO_1, LOGISTIC, TANH, ELU,
//! HARD_SWISH, GELU (exact/tanh), LEAKY_RELU, PRELU, SOFTMAX (with beta), LOG_SOFTMAX.

use super::R;
use crate::codes::BuiltinOperator as B;
use crate::import::cx::OpCx;
use crate::import::irops::{Clip, Elu, Gelu, HardSwish, LeakyRelu, LogSoftmax, Mul, PRelu, Relu, Sigmoid, Softmax, Tanh};
use edgeport_ir::{Graph, Op};

pub fn convert(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> Option<R> {
    let k = cx.code.builtin;
    let simple = match k {
        B::RELU => Op::Relu(Relu {}),
        B::LOGISTIC => Op::Sigmoid(Sigmoid {}),
        B::TANH => Op::Tanh(Tanh {}),
        B::ELU => Op::Elu(Elu::default()),
        B::HARD_SWISH => Op::HardSwish(HardSwish {}),
        B::RELU6 => return Some(clip(cx, g, 0.0, 6.0)),
        B::RELU_N1_TO_1 => return Some(clip(cx, g, -1.0, 1.0)),
        B::RELU_0_TO_1 => return Some(clip(cx, g, 0.0, 1.0)),
        B::GELU => return Some(gelu(cx, g)),
        B::LEAKY_RELU => return Some(leaky(cx, g)),
        B::PRELU => return Some(prelu(cx, g)),
        B::SOFTMAX => return Some(softmax(cx, g)),
        B::LOG_SOFTMAX => return Some(unary(cx, g, Op::LogSoftmax(LogSoftmax { axis: -1 }))),
        _ => return None,
    };
    Some(unary(cx, g, simple))
}

/// One-input, one-output op on the float view.
pub fn unary(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph, op: Op) -> R {
    let x = cx.input(g, 0)?;
    let y = cx.node1(g, "", op, &[Some(x)])?;
    cx.output(g, 0, y)?;
    Ok(())
}

fn clip(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph, lo: f32, hi: f32) -> R {
    let x = cx.input(g, 0)?;
    let a = cx.const_f32(g, "min", lo)?;
    let b = cx.const_f32(g, "max", hi)?;
    let y = cx.node1(g, "", Op::Clip(Clip {}), &[Some(x), Some(a), Some(b)])?;
    cx.output(g, 0, y)?;
    Ok(())
}

fn gelu(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let approx = cx.opts().bool(0, false)?;
    let op = Op::Gelu(Gelu {
        approximate: if approx { "tanh" } else { "none" }.into(),
    });
    unary(cx, g, op)
}

fn leaky(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let alpha = cx.opts().f32(0, 0.0)?;
    unary(cx, g, Op::LeakyRelu(LeakyRelu { alpha }))
}

fn prelu(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let x = cx.input(g, 0)?;
    let a = cx.input(g, 1)?;
    let y = cx.node1(g, "", Op::PRelu(PRelu {}), &[Some(x), Some(a)])?;
    cx.output(g, 0, y)?;
    Ok(())
}

fn softmax(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let beta = cx.opts().f32(0, 1.0)?;
    let mut x = cx.input(g, 0)?;
    if beta != 1.0 && beta != 0.0 {
        let b = cx.const_f32(g, "beta", beta)?;
        x = cx.node1(g, "scaled", Op::Mul(Mul {}), &[Some(x), Some(b)])?;
    }
    let y = cx.node1(g, "", Op::Softmax(Softmax { axis: -1 }), &[Some(x)])?;
    cx.output(g, 0, y)?;
    Ok(())
}
