//! The optional family: `Optional`, `OptionalHasElement`, `OptionalGetElement`.

use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use crate::tensor::Tensor;
use crate::value::Value;
use edgeport_ir::ops::optional::Optional;

pub fn optional(op: &Optional, cx: &NodeCtx<'_>) -> OpResult {
    Ok(vec![match cx.input(0) {
        Some(v) => Value::Optional(Some(Box::new(v.clone())), op.r#type.clone()),
        None => {
            if op.r#type.is_none() {
                return Err(OpError::invalid("optional: an empty optional needs the type attribute"));
            }
            Value::Optional(None, op.r#type.clone())
        }
    }])
}

pub fn optional_has_element(cx: &NodeCtx<'_>) -> OpResult {
    let has = match cx.input(0) {
        None | Some(Value::Optional(None, _)) => false,
        Some(_) => true,
    };
    Ok(vec![Value::Tensor(Tensor::Bool(ndarray::ArrayD::from_elem(
        ndarray::IxDyn(&[]),
        has,
    )))])
}

pub fn optional_get_element(cx: &NodeCtx<'_>) -> OpResult {
    match cx.input(0) {
        Some(Value::Optional(Some(v), _)) => Ok(vec![(**v).clone()]),
        Some(Value::Optional(None, _)) => Err(OpError::invalid("optional_get_element: the optional is empty")),
        Some(v) => Ok(vec![v.clone()]),
        None => Err(OpError::invalid("optional_get_element: input is missing")),
    }
}
