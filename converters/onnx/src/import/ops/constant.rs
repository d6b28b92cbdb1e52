//! `Constant`: its value may be given by any of `value`, `value_float(s)`, `value_int(s)`,
//! `value_string(s)` or `sparse_value`; the IR always holds one tensor.

use super::{NodeIn, Rule};
use crate::import::{Built, emit};
use edgeport_ir::ops::defs::generator::Constant;
use edgeport_ir::{AttrValue, Graph, Op, Tensor};

pub(crate) fn rule(op_type: &str) -> Option<Rule> {
    match op_type {
        "Constant" => Some(constant),
        _ => None,
    }
}

fn constant(n: &mut NodeIn<'_>, g: &mut Graph) -> Option<Result<Built, String>> {
    Some(build(n, g))
}

fn build(n: &mut NodeIn<'_>, g: &mut Graph) -> Result<Built, String> {
    if n.attrs.len() != 1 {
        return Err(format!("Constant needs exactly one value attribute, has {}", n.attrs.len()));
    }
    let (name, v) = n.attrs.remove(0);
    let t = match (name.as_str(), v) {
        ("value" | "sparse_value", AttrValue::Tensor(t)) => t,
        ("value_float", AttrValue::Float(f)) => Tensor::from_f32(vec![], &[f]).map_err(|e| e.to_string())?,
        ("value_floats", AttrValue::Floats(f)) => Tensor::from_f32(vec![f.len()], &f).map_err(|e| e.to_string())?,
        ("value_int", AttrValue::Int(i)) => Tensor::scalar_i64(i),
        ("value_ints", AttrValue::Ints(v)) => Tensor::from_i64(vec![v.len()], &v).map_err(|e| e.to_string())?,
        ("value_string", AttrValue::String(s)) => Tensor::from_strings(vec![], vec![s.into_bytes()]).map_err(|e| e.to_string())?,
        ("value_strings", AttrValue::Strings(s)) => {
            Tensor::from_strings(vec![s.len()], s.into_iter().map(String::into_bytes).collect()).map_err(|e| e.to_string())?
        }
        (k, v) => {
            return Err(format!("Constant attribute '{k}' of kind {} is not a value", v.kind()));
        }
    };
    emit(g, &n.raw.name, Op::Constant(Constant { value: t }), &[], 1)
}
