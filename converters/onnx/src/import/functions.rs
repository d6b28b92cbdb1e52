//! Model-local functions (`ModelProto.functions`): a call is inlined into the calling graph.
//!
//! A call matches a function by (domain, name, overload). Formal inputs and outputs are bound
//! to the call's actual names (a missing optional input stays omitted); every other value in
//! the body, subgraphs included, is renamed with a prefix unique to the call. Attributes that
//! refer to a function attribute (`ref_attr_name`) take the call's value, else the function's
//! default, else are left out. Body nodes use the function's own opset imports. Calls may nest;
//! a function that (directly or indirectly) calls itself is refused.

use super::{Env, Scope, import_node, node_label};
use crate::error::Error;
use crate::model::{RawAttr, RawAttrValue, RawFunction, RawGraph, RawModel, RawNode, RawValueInfo};
use edgeport_ir::Graph;
use edgeport_ir::ops::same_domain;
use std::collections::HashMap;

/// How deeply function calls may nest.
pub const MAX_CALL_DEPTH: usize = 32;

/// How many nodes inlining may add to one model in total (a function calling another twice,
/// nested, would otherwise grow exponentially).
pub const MAX_INLINED_NODES: usize = 200_000;

/// The model-local function a node calls, if any.
pub(crate) fn find<'m>(model: &'m RawModel, domain: &str, name: &str, overload: &str) -> Option<&'m RawFunction> {
    model
        .functions
        .iter()
        .find(|f| f.name == name && same_domain(&f.domain, domain) && f.overload == overload)
}

struct Renamer<'a> {
    /// Formal name → actual name.
    bound: HashMap<&'a str, String>,
    prefix: String,
    /// The call's attributes, then the function's defaults.
    call_attrs: &'a [RawAttr],
    defaults: &'a [(String, Option<RawAttrValue>)],
}

impl Renamer<'_> {
    fn name(&self, n: &str) -> String {
        if n.is_empty() {
            return String::new();
        }
        match self.bound.get(n) {
            Some(a) => a.clone(),
            None => format!("{}{n}", self.prefix),
        }
    }

    fn attr(&self, a: &RawAttr) -> Option<RawAttr> {
        if let Some(r) = &a.ref_attr_name {
            let value = match self.call_attrs.iter().find(|c| &c.name == r) {
                Some(c) => c.value.clone(),
                None => self.defaults.iter().find(|(n, _)| n == r).and_then(|(_, d)| d.clone())?,
            };
            return Some(RawAttr {
                name: a.name.clone(),
                ref_attr_name: None,
                value,
            });
        }
        let value = match &a.value {
            RawAttrValue::Graph(g) => RawAttrValue::Graph(self.graph(g)),
            RawAttrValue::Graphs(gs) => RawAttrValue::Graphs(gs.iter().map(|g| self.graph(g)).collect()),
            v => v.clone(),
        };
        Some(RawAttr {
            name: a.name.clone(),
            ref_attr_name: None,
            value,
        })
    }

    fn node(&self, n: &RawNode) -> RawNode {
        RawNode {
            name: if n.name.is_empty() {
                String::new()
            } else {
                format!("{}{}", self.prefix, n.name)
            },
            op_type: n.op_type.clone(),
            domain: n.domain.clone(),
            inputs: n.inputs.iter().map(|i| self.name(i)).collect(),
            outputs: n.outputs.iter().map(|o| self.name(o)).collect(),
            attrs: n.attrs.iter().filter_map(|a| self.attr(a)).collect(),
        }
    }

    fn vi(&self, v: &RawValueInfo) -> RawValueInfo {
        RawValueInfo {
            name: self.name(&v.name),
            ty: v.ty.clone(),
        }
    }

    fn graph(&self, g: &RawGraph) -> RawGraph {
        RawGraph {
            name: g.name.clone(),
            nodes: g.nodes.iter().map(|n| self.node(n)).collect(),
            initializers: g.initializers.clone(),
            initializer_names: g.initializer_names.iter().map(|n| self.name(n)).collect(),
            inputs: g.inputs.iter().map(|v| self.vi(v)).collect(),
            outputs: g.outputs.iter().map(|v| self.vi(v)).collect(),
            value_info: g.value_info.iter().map(|v| self.vi(v)).collect(),
            doc_string: g.doc_string.clone(),
            node_overloads: g.node_overloads.clone(),
        }
    }
}

/// How many nodes fully inlining `f` gives (saturating; recursion counted as one node, it is
/// refused when reached).
fn expanded_size<'m>(model: &'m RawModel, f: &'m RawFunction, memo: &mut HashMap<*const RawFunction, u64>, depth: usize) -> u64 {
    if let Some(&s) = memo.get(&(f as *const _)) {
        return s;
    }
    if depth > MAX_CALL_DEPTH {
        return 1;
    }
    memo.insert(f as *const _, 1); // provisional: breaks cycles
    let mut total = 0u64;
    for (i, n) in f.nodes.iter().enumerate() {
        let overload = f.node_overloads.get(i).map(String::as_str).unwrap_or("");
        total = total.saturating_add(match find(model, &n.domain, &n.op_type, overload) {
            Some(callee) => expanded_size(model, callee, memo, depth + 1),
            None => 1,
        });
    }
    memo.insert(f as *const _, total);
    total
}

/// Inlines the call `node` of `f`. The inner `Result` is a node issue (recorded by the caller).
pub(crate) fn inline(
    node: &RawNode,
    f: &RawFunction,
    env: &mut Env<'_>,
    scope: &mut Scope<'_>,
    g: &mut Graph,
) -> Result<Result<(), String>, Error> {
    let key = (f.domain.clone(), f.name.clone(), f.overload.clone());
    if env.call_stack.contains(&key) {
        let chain: Vec<String> = env.call_stack.iter().map(|(_, n, _)| n.clone()).collect();
        return Ok(Err(format!(
            "function '{}' calls itself (call chain: {} → {})",
            f.name,
            chain.join(" → "),
            f.name
        )));
    }
    if env.call_stack.len() >= MAX_CALL_DEPTH {
        return Ok(Err(format!("function calls nested deeper than {MAX_CALL_DEPTH}")));
    }
    if node.inputs.len() > f.inputs.len() {
        return Ok(Err(format!(
            "function '{}' takes {} inputs, the call passes {}",
            f.name,
            f.inputs.len(),
            node.inputs.len()
        )));
    }
    if node.outputs.len() > f.outputs.len() {
        return Ok(Err(format!(
            "function '{}' has {} outputs, the call binds {}",
            f.name,
            f.outputs.len(),
            node.outputs.len()
        )));
    }
    if env.call_stack.is_empty() {
        // Outermost call: bound the whole expansion before doing any of it.
        let mut memo = HashMap::new();
        let size = expanded_size(env.model, f, &mut memo, 0);
        if size > MAX_INLINED_NODES as u64 {
            return Ok(Err(format!(
                "inlining function '{}' would add more than {MAX_INLINED_NODES} nodes",
                f.name
            )));
        }
    }
    env.inlined += f.nodes.len();
    if env.inlined > MAX_INLINED_NODES {
        return Ok(Err(format!("inlining functions would add more than {MAX_INLINED_NODES} nodes")));
    }
    env.uid += 1;
    let prefix = format!("{}#{}/", f.name, env.uid);
    let mut bound: HashMap<&str, String> = HashMap::new();
    for (i, formal) in f.inputs.iter().enumerate() {
        bound.insert(formal.as_str(), node.inputs.get(i).cloned().unwrap_or_default());
    }
    // Outputs that are also inputs are passed through with an Identity below.
    let mut passthrough = Vec::new();
    for (i, formal) in f.outputs.iter().enumerate() {
        let actual = node
            .outputs
            .get(i)
            .filter(|o| !o.is_empty())
            .cloned()
            .unwrap_or_else(|| format!("{prefix}{formal}"));
        if bound.contains_key(formal.as_str()) {
            passthrough.push((bound[formal.as_str()].clone(), actual));
        } else {
            bound.insert(formal.as_str(), actual);
        }
    }
    let r = Renamer {
        bound,
        prefix,
        call_attrs: &node.attrs,
        defaults: &f.attrs,
    };
    let body = RawGraph {
        name: f.name.clone(),
        nodes: f.nodes.iter().map(|n| r.node(n)).collect(),
        node_overloads: f.node_overloads.clone(),
        ..Default::default()
    };
    let order = super::order::topo_order(&body, env.file)?;
    env.opset_stack.push(if f.opsets.is_empty() {
        env.model.opsets.clone()
    } else {
        f.opsets.clone()
    });
    env.call_stack.push(key);
    let mut result = Ok(());
    for i in order {
        let overload = body.node_overloads.get(i).map(String::as_str).unwrap_or("");
        if let Err(e) = import_node(&body.nodes[i], overload, env, scope, g) {
            result = Err(e);
            break;
        }
    }
    env.call_stack.pop();
    env.opset_stack.pop();
    result?;
    for (src, dst) in passthrough {
        let id = RawNode {
            name: format!("{}/passthrough", node_label(node)),
            op_type: "Identity".into(),
            domain: String::new(),
            inputs: vec![src],
            outputs: vec![dst],
            attrs: Vec::new(),
        };
        import_node(&id, "", env, scope, g)?;
    }
    Ok(Ok(()))
}
