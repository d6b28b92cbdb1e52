//! QUANTIZE (float → int, or requantize int → int) and DEQUANTIZE (int → float via
//! DequantizeLinear; float16 → float32 via Cast); DENSIFY (sparse constants are densified at
//! import, so it is an Identity).

use super::R;
use crate::codes::BuiltinOperator as B;
use crate::import::cx::OpCx;
use crate::import::irops::Identity;
use edgeport_ir::{DType, Graph, Op};

pub fn convert(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> Option<R> {
    Some(match cx.code.builtin {
        B::QUANTIZE => quantize(cx, g),
        B::DEQUANTIZE => dequantize(cx, g),
        B::DENSIFY => densify(cx, g),
        _ => return None,
    })
}

fn quantize(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    if !crate::import::tensors::is_quantized(cx.out_info(0)?) {
        return Err("QUANTIZE output has no quantization parameters".into());
    }
    // The float view of the input (dequantized first when requantizing), then QuantizeLinear.
    let x = cx.input(g, 0)?;
    cx.output(g, 0, x)?;
    Ok(())
}

fn dequantize(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let mut x = cx.input(g, 0)?;
    let out = cx.out_dtype(0)?;
    if !cx.in_quantized(0) {
        if cx.in_dtype(0)? == out {
            x = cx.node1(g, "", Op::Identity(Identity {}), &[Some(x)])?;
        } else {
            x = cx.cast(g, x, out)?;
        }
    } else if out != DType::F32 {
        x = cx.cast(g, x, out)?;
    }
    cx.output(g, 0, x)?;
    Ok(())
}

fn densify(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let x = cx.raw_input(g, 0)?;
    let y = cx.node1(g, "", Op::Identity(Identity {}), &[Some(x)])?;
    cx.output_raw(g, 0, y)?;
    Ok(())
}
