//! Per-op import rules. Most ONNX ops map one-to-one onto the IR op of the same name with the
//! same attributes; the files here hold the exceptions, one op family per file: older opsets'
//! attribute forms turned into the newest form's inputs, `Constant`'s many value attributes,
//! renamed or removed ops (Upsample → Resize, Scatter → ScatterElements).

mod constant;

use super::{Built, Env, emit, kind_of};
use crate::model::RawNode;
use edgeport_ir::{AttrValue, Graph, Op, ValueId};

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
    #[allow(dead_code)]
    pub fn take_attr(&mut self, name: &str) -> Option<AttrValue> {
        let i = self.attrs.iter().position(|(k, _)| k == name)?;
        Some(self.attrs.remove(i).1)
    }
}

/// A rule for one op: returns `None` when it does not apply (opset or form), so the generic
/// mapping runs.
pub(crate) type Rule = fn(&mut NodeIn<'_>, &mut Graph) -> Option<Result<Built, String>>;

/// The registry: ONNX op type → rule. Families register their rules here.
fn rule_for(op_type: &str) -> Option<Rule> {
    constant::rule(op_type)
}

/// Converts one node into IR nodes.
pub(crate) fn convert(mut n: NodeIn<'_>, env: &mut Env<'_>, g: &mut Graph) -> Result<Built, String> {
    let _ = &env;
    let std_domain = n.raw.domain.is_empty() || n.raw.domain == "ai.onnx";
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
