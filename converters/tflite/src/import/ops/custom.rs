//! CUSTOM operators → `Op::Custom { domain: "tflite", name: custom_code }` with the raw custom
//! options (a u8 tensor attribute `custom_options`), the options format and the operator
//! version; inputs are passed in their stored types and outputs typed from the tensors.

use super::R;
use crate::codes::BuiltinOperator as B;
use crate::import::cx::OpCx;
use edgeport_ir::ops::Custom;
use edgeport_ir::{AttrValue, Bytes, DType, Graph, Op, Tensor};

pub fn convert(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> Option<R> {
    if cx.code.builtin != B::CUSTOM {
        return None;
    }
    Some(custom(cx, g))
}

fn custom(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let name = cx.code.custom.clone().unwrap_or_default();
    if name.is_empty() {
        return Err("CUSTOM operator without a custom_code".into());
    }
    let mut attrs = vec![("version".to_string(), AttrValue::Int(i64::from(cx.code.version)))];
    if let Some(r) = cx.op.custom_options {
        let b = cx
            .env
            .data
            .slice(r.pos, r.len)
            .ok_or("custom options are past the end of the file")?;
        let t = Tensor::from_bytes(DType::U8, vec![r.len], Bytes::clone(&b)).map_err(|e| e.to_string())?;
        attrs.push(("custom_options".to_string(), AttrValue::Tensor(t)));
    }
    let mut ins = Vec::new();
    for i in 0..cx.n_inputs() {
        ins.push(if cx.has_input(i) { Some(cx.raw_input(g, i)?) } else { None });
    }
    let n = cx.op.outputs.len();
    let op = Op::Custom(Custom {
        domain: "tflite".into(),
        name,
        attrs,
    });
    let ys = cx.node(g, "", op, &ins, n)?;
    for (j, y) in ys.into_iter().enumerate() {
        cx.output_raw(g, j, y)?;
    }
    Ok(())
}
