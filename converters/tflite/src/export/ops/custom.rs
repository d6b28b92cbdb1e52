//! `Op::Custom { domain: "tflite" }` (a CUSTOM operator kept by the importer: one it cannot
//! lower, such as a vendor kernel or an unknown MediaPipe op) → a CUSTOM operator again: the same
//! custom_code, operator version and custom_options bytes, inputs and outputs in their stored
//! (identity) order. A TFLite → TFLite round trip therefore keeps ops that edgeport cannot lower.
//! Other domains have no TFLite form.

use crate::codes::BuiltinOperator as B;
use crate::export::lower::{LResult, Lower, err};
use crate::export::model::{TCustom, TOp};
use edgeport_ir::ops::Custom;
use edgeport_ir::{AttrValue, DType, NodeId, ValueId};

pub(crate) fn custom(cx: &mut Lower, id: NodeId, c: &Custom, n_inputs: usize, n_outputs: usize) -> LResult<()> {
    if c.domain != "tflite" {
        return err(format!("custom op {}::{} has no TFLite form", c.domain, c.name));
    }
    if c.name.is_empty() {
        return err("custom op without a name");
    }
    let mut version = 1;
    let mut options = None;
    for (k, v) in &c.attrs {
        match (k.as_str(), v) {
            ("version", AttrValue::Int(x)) => {
                let Ok(x) = i32::try_from(*x) else {
                    return err(format!("custom op version {x} out of range"));
                };
                version = x;
            }
            ("custom_options", AttrValue::Tensor(t)) => {
                if t.dtype != DType::U8 {
                    return err(format!("custom_options of dtype {} (expected uint8)", t.dtype.name()));
                }
                let Some(b) = t.raw() else {
                    return err("custom_options holds strings");
                };
                options = Some(b.to_vec());
            }
            _ => return err(format!("custom op attribute '{k}' has no TFLite form")),
        }
    }
    let mut inputs = Vec::with_capacity(n_inputs);
    for slot in 0..n_inputs {
        inputs.push(match cx.opt_input(id, slot) {
            Some(v) => cx.get_id(v)?,
            None => -1,
        });
    }
    let mut outputs = Vec::with_capacity(n_outputs);
    for port in 0..n_outputs {
        outputs.push(cx.out_id(ValueId { node: id, port })?);
    }
    cx.m.add_op(TOp {
        code: B::CUSTOM,
        inputs,
        outputs,
        options: None,
        custom: Some(TCustom {
            name: c.name.clone(),
            version,
            options,
        }),
    });
    Ok(())
}
