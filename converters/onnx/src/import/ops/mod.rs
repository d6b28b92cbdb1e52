//! Per-op import rules. Most ONNX ops map one-to-one onto the IR op of the same name with the
//! same attributes; the files here hold the exceptions, one op family per file: older opsets'
//! attribute forms turned into the newest form's inputs, `Constant`'s many value attributes,
//! renamed or removed ops (Upsample → Resize, Scatter → ScatterElements). Helpers for emitting
//! the extra nodes a rule needs live in `build.rs`.

mod build;
mod constant;
mod math;
mod nn;
mod reduce;
mod resize;
mod tensor;

use super::{Built, Env, emit, kind_of};
use crate::model::RawNode;
use edgeport_ir::{AttrValue, Graph, Op, ValueId};

pub(crate) use build::B;

/// One ONNX node, with its inputs resolved and attributes converted.
pub(crate) struct NodeIn<'a> {
    pub raw: &'a RawNode,
    /// The opset version imported for the node's domain.
    pub opset: i64,
    pub inputs: Vec<Option<ValueId>>,
    pub attrs: Vec<(String, AttrValue)>,
    #[allow(dead_code)]
    pub file: &'a str,
}

impl NodeIn<'_> {
    /// Removes and returns an attribute.
    pub fn take_attr(&mut self, name: &str) -> Option<AttrValue> {
        let i = self.attrs.iter().position(|(k, _)| k == name)?;
        Some(self.attrs.remove(i).1)
    }
    /// Removes an int attribute (errors when it has another kind).
    pub fn take_int(&mut self, name: &str) -> Result<Option<i64>, String> {
        match self.take_attr(name) {
            None => Ok(None),
            Some(AttrValue::Int(i)) => Ok(Some(i)),
            Some(v) => Err(format!("attribute '{name}' should be an int, found {}", v.kind())),
        }
    }
    /// Removes a float attribute (an int is accepted, as old files sometimes store one).
    pub fn take_float(&mut self, name: &str) -> Result<Option<f32>, String> {
        match self.take_attr(name) {
            None => Ok(None),
            Some(AttrValue::Float(f)) => Ok(Some(f)),
            Some(AttrValue::Int(i)) => Ok(Some(i as f32)),
            Some(v) => Err(format!("attribute '{name}' should be a float, found {}", v.kind())),
        }
    }
    /// Removes an ints attribute.
    pub fn take_ints(&mut self, name: &str) -> Result<Option<Vec<i64>>, String> {
        match self.take_attr(name) {
            None => Ok(None),
            Some(AttrValue::Ints(v)) => Ok(Some(v)),
            Some(AttrValue::Int(i)) => Ok(Some(vec![i])),
            Some(v) => Err(format!("attribute '{name}' should be ints, found {}", v.kind())),
        }
    }
    /// Removes a floats attribute.
    pub fn take_floats(&mut self, name: &str) -> Result<Option<Vec<f32>>, String> {
        match self.take_attr(name) {
            None => Ok(None),
            Some(AttrValue::Floats(v)) => Ok(Some(v)),
            Some(AttrValue::Float(f)) => Ok(Some(vec![f])),
            Some(AttrValue::Ints(v)) => Ok(Some(v.into_iter().map(|x| x as f32).collect())),
            Some(v) => Err(format!("attribute '{name}' should be floats, found {}", v.kind())),
        }
    }
    /// Sets (or replaces) an attribute.
    pub fn set_attr(&mut self, name: &str, v: AttrValue) {
        self.take_attr(name);
        self.attrs.push((name.to_string(), v));
    }
    /// Input `i`, if connected.
    pub fn input(&self, i: usize) -> Option<ValueId> {
        self.inputs.get(i).copied().flatten()
    }
    /// Input `i`, required.
    pub fn req(&self, i: usize) -> Result<ValueId, String> {
        self.input(i).ok_or_else(|| format!("input {i} is required"))
    }
    /// How many of the node's outputs are bound to a name.
    pub fn used_outputs(&self) -> usize {
        self.raw.outputs.iter().filter(|o| !o.is_empty()).count()
    }
}

/// A rule for one op: returns `None` when it does not apply (opset or form), so the generic
/// mapping runs.
pub(crate) type Rule = fn(&mut NodeIn<'_>, &mut Graph) -> Option<Result<Built, String>>;

/// The registry: ONNX op type → rule. Each family lists its ops.
fn rule_for(op_type: &str) -> Option<Rule> {
    constant::rule(op_type)
        .or_else(|| reduce::rule(op_type))
        .or_else(|| tensor::rule(op_type))
        .or_else(|| math::rule(op_type))
        .or_else(|| nn::rule(op_type))
        .or_else(|| resize::rule(op_type))
}

/// Builds the node's own op (its ONNX op type, or `as_op` for renamed ops) from the remaining
/// attributes, with the given inputs, bound to the node's outputs.
pub(crate) fn rebuild(n: &mut NodeIn<'_>, g: &mut Graph, as_op: Option<&str>, inputs: &[Option<ValueId>]) -> Result<Built, String> {
    let name = as_op.unwrap_or(&n.raw.op_type);
    let kind = edgeport_ir::OpKind::from_name("", name).ok_or_else(|| format!("no IR op '{name}'"))?;
    let op = Op::from_kind(kind, std::mem::take(&mut n.attrs)).map_err(|e| e.to_string())?;
    emit(g, &n.raw.name, op, inputs, n.raw.outputs.len())
}

/// Converts one node into IR nodes.
pub(crate) fn convert(mut n: NodeIn<'_>, env: &mut Env<'_>, g: &mut Graph) -> Result<Built, String> {
    let _ = &env;
    let std_domain = n.raw.domain.is_empty() || n.raw.domain == "ai.onnx";
    if std_domain && n.opset < 7 {
        // A legacy attribute of many opset-1 ops, with no meaning for inference.
        n.take_attr("consumed_inputs");
    }
    if std_domain
        && let Some(rule) = rule_for(&n.raw.op_type)
        && let Some(r) = rule(&mut n, g)
    {
        return r;
    }
    match kind_of(n.raw) {
        Some(kind) => {
            let op = Op::from_kind(kind, std::mem::take(&mut n.attrs)).map_err(|e| e.to_string())?;
            emit(g, &n.raw.name, op, &n.inputs, n.raw.outputs.len())
        }
        None if std_domain => Err(format!("unknown ai.onnx op '{}'", n.raw.op_type)),
        None => {
            let op = Op::Custom(edgeport_ir::ops::Custom {
                domain: n.raw.domain.clone(),
                name: n.raw.op_type.clone(),
                attrs: std::mem::take(&mut n.attrs),
            });
            emit(g, &n.raw.name, op, &n.inputs, n.raw.outputs.len())
        }
    }
}
