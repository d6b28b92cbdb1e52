//! PAD, PADV2, MIRROR_PAD → Pad. TFLite paddings are `[rank, 2]` (before, after) pairs; ONNX
//! wants `[all befores, all afters]` as int64 (converted at import for constants, through
//! Transpose + Reshape + Cast otherwise). MIRROR_PAD REFLECT → "reflect"; SYMMETRIC has no
//! ONNX Pad mode and is rejected.

use super::R;
use crate::codes::BuiltinOperator as B;
use crate::import::cx::OpCx;
use crate::import::irops::{Pad, Reshape, Transpose};
use edgeport_ir::{DType, Graph, Op};

pub fn convert(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> Option<R> {
    Some(match cx.code.builtin {
        B::PAD | B::PADV2 => pad(cx, g, "constant"),
        B::MIRROR_PAD => match cx.opts().i8(0, 0) {
            Ok(0) => pad(cx, g, "reflect"),
            Ok(m) => Err(format!("MIRROR_PAD mode {m} (SYMMETRIC) has no IR equivalent").into()),
            Err(e) => Err(e.into()),
        },
        _ => return None,
    })
}

fn pad(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph, mode: &str) -> R {
    let x = cx.input(g, 0)?;
    let pads = match cx.konst(1)?.and_then(|t| t.to_i64_vec()) {
        Some(p) => {
            if p.len() % 2 != 0 {
                return Err("paddings must have shape [rank, 2]".into());
            }
            let before: Vec<i64> = p.iter().step_by(2).copied().collect();
            let after: Vec<i64> = p.iter().skip(1).step_by(2).copied().collect();
            let all: Vec<i64> = before.into_iter().chain(after).collect();
            cx.const_i64(g, "pads", &all)?
        }
        None => {
            let p = cx.raw_input(g, 1)?;
            let t = cx.node1(g, "pads_t", Op::Transpose(Transpose { perm: vec![1, 0] }), &[Some(p)])?;
            let flat = cx.const_i64(g, "flat", &[-1])?;
            let r = cx.node1(g, "pads_flat", Op::Reshape(Reshape { allowzero: 0 }), &[Some(t), Some(flat)])?;
            cx.cast(g, r, DType::I64)?
        }
    };
    let value = if cx.code.builtin == B::PADV2 && cx.has_input(2) {
        Some(cx.input(g, 2)?)
    } else if cx.in_quantized(0) {
        // Quantized PAD pads with the zero point, i.e. real 0 — the float default.
        None
    } else {
        None
    };
    let y = cx.node1(g, "", Op::Pad(Pad { mode: mode.into() }), &[Some(x), Some(pads), value])?;
    cx.output(g, 0, y)?;
    Ok(())
}
