//! Converting ONNX attributes to IR attribute values (subgraphs imported recursively).

use super::{Env, Scope, import_graph};
use crate::error::Error;
use crate::model::{RawAttr, RawAttrValue};
use edgeport_ir::{AttrValue, Graph};

pub(crate) enum AttrFail {
    /// Recorded as a node issue; import continues to collect more.
    Issue(String),
    /// Already reported (a subgraph's own nodes failed).
    Quiet,
    Fatal(Error),
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub(crate) fn convert_attr(
    a: &RawAttr,
    env: &mut Env<'_>,
    scope: &mut Scope<'_>,
    g: &mut Graph,
    captures: &mut Vec<Vec<String>>,
) -> Result<AttrValue, AttrFail> {
    let _ = g;
    if let Some(r) = &a.ref_attr_name {
        return Err(AttrFail::Issue(format!(
            "attribute '{}' refers to function attribute '{r}' outside a function",
            a.name
        )));
    }
    Ok(match &a.value {
        RawAttrValue::Float(f) => AttrValue::Float(*f),
        RawAttrValue::Int(i) => AttrValue::Int(*i),
        RawAttrValue::String(s) => AttrValue::String(text(s)),
        RawAttrValue::Floats(v) => AttrValue::Floats(v.clone()),
        RawAttrValue::Ints(v) => AttrValue::Ints(v.clone()),
        RawAttrValue::Strings(v) => AttrValue::Strings(v.iter().map(|s| text(s)).collect()),
        RawAttrValue::Tensor(t) => AttrValue::Tensor(t.clone()),
        RawAttrValue::Tensors(t) => AttrValue::Tensors(t.clone()),
        RawAttrValue::Type(t) => AttrValue::Type(t.clone()),
        RawAttrValue::Types(_) => {
            return Err(AttrFail::Issue(format!("attribute '{}': lists of types are not supported", a.name)));
        }
        RawAttrValue::Graph(rg) => {
            let (sub, caps) = import_sub(rg, env, scope)?;
            captures.push(caps);
            AttrValue::Graph(Box::new(sub))
        }
        RawAttrValue::Graphs(rgs) => {
            let mut out = Vec::new();
            for rg in rgs {
                let (sub, caps) = import_sub(rg, env, scope)?;
                captures.push(caps);
                out.push(sub);
            }
            AttrValue::Graphs(out)
        }
        RawAttrValue::Undefined => {
            return Err(AttrFail::Issue(format!("attribute '{}' has no value", a.name)));
        }
    })
}

fn import_sub(rg: &crate::model::RawGraph, env: &mut Env<'_>, scope: &mut Scope<'_>) -> Result<(Graph, Vec<String>), AttrFail> {
    // The subgraph sees the current scope as its parent (read-only).
    let parent: &Scope<'_> = scope;
    let mut child = Scope {
        names: Default::default(),
        captured: Vec::new(),
        parent: Some(as_parent(parent)),
        types: parent.types.clone(),
        failed: Default::default(),
    };
    let before = env.issues.len();
    let sub = import_graph(rg, env, &mut child, false).map_err(AttrFail::Fatal)?;
    if env.issues.len() > before {
        return Err(AttrFail::Quiet);
    }
    Ok((sub, child.captured))
}

/// Shortens the parent scope's lifetime parameter for the child scope.
fn as_parent<'a>(p: &'a Scope<'_>) -> &'a Scope<'a> {
    // Scope is covariant in its lifetime, so this is a plain subtyping coercion.
    p
}
