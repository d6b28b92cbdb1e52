//! [`crate::model`] → IR. Builds one IR graph per ONNX graph, resolving names to values,
//! capturing outer-scope values for subgraphs, normalizing older opsets' forms (see `ops`), and
//! collecting every unsupported node before failing.

pub mod attrs;
pub mod functions;
pub mod ops;
mod order;

use crate::error::{Error, NodeIssue};
use crate::model::*;
use edgeport_ir::{Graph, Op, OpKind, Value, ValueId, ValueType};
use std::collections::{HashMap, HashSet};

/// Import settings derived from the model.
pub(crate) struct Env<'a> {
    pub file: &'a str,
    pub model: &'a RawModel,
    pub issues: Vec<NodeIssue>,
    /// While a function body is inlined: its own opset imports (innermost last).
    pub opset_stack: Vec<Vec<(String, i64)>>,
    /// Functions being inlined, as (domain, name, overload): the recursion guard.
    pub call_stack: Vec<(String, String, String)>,
    /// Counter for unique names of inlined values.
    pub uid: usize,
    /// Nodes added by inlining so far (bounded by `functions::MAX_INLINED_NODES`).
    pub inlined: usize,
}

impl Env<'_> {
    pub fn opset(&self, domain: &str) -> i64 {
        if let Some(top) = self.opset_stack.last()
            && let Some((_, v)) = top.iter().find(|(d, _)| edgeport_ir::ops::same_domain(d, domain))
        {
            return *v;
        }
        self.model.opset(domain).unwrap_or(0)
    }
}

/// How a node is named in messages: its name, or its first output when it has none.
pub(crate) fn node_label(node: &RawNode) -> String {
    if !node.name.is_empty() {
        return node.name.clone();
    }
    match node.outputs.iter().find(|o| !o.is_empty()) {
        Some(o) => format!("<unnamed, output '{o}'>"),
        None => "<unnamed>".to_string(),
    }
}

/// Name resolution for one graph level; `parent` resolves names of the enclosing graph.
pub(crate) struct Scope<'p> {
    pub names: HashMap<String, ValueId>,
    /// Names captured from outside, in order of first use.
    pub captured: Vec<String>,
    pub parent: Option<&'p Scope<'p>>,
    pub types: HashMap<String, ValueType>,
    /// Outputs of nodes that could not be imported: their users are skipped silently, so one
    /// unsupported op is reported once, not once per downstream node.
    pub failed: HashSet<String>,
}

impl<'p> Scope<'p> {
    fn new(parent: Option<&'p Scope<'p>>) -> Self {
        Scope {
            names: HashMap::new(),
            captured: Vec::new(),
            parent,
            types: HashMap::new(),
            failed: HashSet::new(),
        }
    }
    fn is_failed(&self, name: &str) -> bool {
        if self.failed.contains(name) {
            return true;
        }
        let mut p = self.parent;
        while let Some(s) = p {
            if s.failed.contains(name) {
                return true;
            }
            p = s.parent;
        }
        false
    }
    fn visible_outside(&self, name: &str) -> bool {
        let mut p = self.parent;
        while let Some(s) = p {
            if s.names.contains_key(name) {
                return true;
            }
            p = s.parent;
        }
        false
    }
}

/// Imports the model's main graph.
pub(crate) fn import_model(model: &RawModel, file: &str) -> Result<Graph, Error> {
    let mut env = Env {
        file,
        model,
        issues: Vec::new(),
        opset_stack: Vec::new(),
        call_stack: Vec::new(),
        uid: 0,
        inlined: 0,
    };
    let mut scope = Scope::new(None);
    let g = import_graph(&model.graph, &mut env, &mut scope, true)?;
    if !env.issues.is_empty() {
        return Err(Error::Nodes {
            file: file.to_string(),
            issues: env.issues,
        });
    }
    let mut g = g;
    g.metadata.push(("onnx.ir_version".into(), model.ir_version.to_string()));
    for (d, v) in &model.opsets {
        g.metadata
            .push((format!("onnx.opset.{}", if d.is_empty() { "ai.onnx" } else { d }), v.to_string()));
    }
    if !model.producer_name.is_empty() {
        g.metadata.push((
            "producer".into(),
            format!("{} {}", model.producer_name, model.producer_version).trim().to_string(),
        ));
    }
    for (k, v) in &model.metadata {
        g.metadata.push((format!("meta.{k}"), v.clone()));
    }
    Ok(g)
}

/// Imports one graph. For the main graph, initializers become constants and the remaining
/// declared inputs become graph inputs; for subgraphs, declared inputs are the formal inputs.
pub(crate) fn import_graph(raw: &RawGraph, env: &mut Env<'_>, scope: &mut Scope<'_>, main: bool) -> Result<Graph, Error> {
    let mut g = Graph::new(raw.name.clone());
    if !raw.doc_string.is_empty() {
        g.metadata.push(("doc".into(), raw.doc_string.clone()));
    }
    for vi in raw.value_info.iter().chain(&raw.inputs).chain(&raw.outputs) {
        if let Some(t) = &vi.ty {
            scope.types.insert(vi.name.clone(), t.clone());
        }
    }
    let init_names: std::collections::HashSet<&str> = raw.initializer_names.iter().map(|s| s.as_str()).collect();
    for vi in &raw.inputs {
        if main && init_names.contains(vi.name.as_str()) {
            continue; // an initializer listed as input (IR < 4): a weight, not a user input
        }
        if scope.names.contains_key(&vi.name) {
            return Err(Error::Graph {
                file: env.file.into(),
                msg: format!("graph '{}': input '{}' is declared twice", raw.name, vi.name),
            });
        }
        let v = g.add_input(vi.name.clone(), vi.ty.clone());
        scope.names.insert(vi.name.clone(), v);
    }
    for (name, t) in raw.initializer_names.iter().zip(&raw.initializers) {
        let v = g.add_constant(name.clone(), t.clone());
        scope.names.insert(name.clone(), v);
    }
    let order = order::topo_order(raw, env.file)?;
    for i in order {
        let overload = raw.node_overloads.get(i).map(String::as_str).unwrap_or("");
        import_node(&raw.nodes[i], overload, env, scope, &mut g)?;
    }
    let mut outs = Vec::new();
    let mut seen_out = HashSet::new();
    for vi in &raw.outputs {
        if !seen_out.insert(vi.name.as_str()) {
            return Err(Error::Graph {
                file: env.file.into(),
                msg: format!("graph '{}' lists output '{}' twice", raw.name, vi.name),
            });
        }
        if scope.is_failed(&vi.name) {
            continue;
        }
        match resolve(&vi.name, scope, &mut g) {
            Some(v) => {
                if let (Some(t), Some(val)) = (&vi.ty, g.value_mut(v))
                    && val.ty.is_none()
                {
                    val.ty = Some(t.clone());
                }
                outs.push((vi.name.clone(), v));
            }
            None => env.issues.push(NodeIssue {
                node: vi.name.clone(),
                op: "graph output".into(),
                domain: String::new(),
                opset: env.opset(""),
                reason: format!("graph '{}' output '{}' is never produced", raw.name, vi.name),
            }),
        }
    }
    g.set_outputs(outs).map_err(|e| Error::Graph {
        file: env.file.into(),
        msg: e.to_string(),
    })?;
    Ok(g)
}

/// Finds a value by name: locally, else captured from an enclosing graph.
pub(crate) fn resolve(name: &str, scope: &mut Scope<'_>, g: &mut Graph) -> Option<ValueId> {
    if let Some(v) = scope.names.get(name) {
        return Some(*v);
    }
    if scope.visible_outside(name) {
        let ty = scope.types.get(name).cloned();
        let v = g.add_capture(name.to_string(), ty);
        scope.names.insert(name.to_string(), v);
        scope.captured.push(name.to_string());
        return Some(v);
    }
    None
}

pub(crate) fn import_node(node: &RawNode, overload: &str, env: &mut Env<'_>, scope: &mut Scope<'_>, g: &mut Graph) -> Result<(), Error> {
    let opset = env.opset(&node.domain);
    let issue = |reason: String| NodeIssue {
        node: node_label(node),
        op: node.op_type.clone(),
        domain: node.domain.clone(),
        opset,
        reason,
    };
    let fail = |scope: &mut Scope<'_>| {
        for o in &node.outputs {
            if !o.is_empty() {
                scope.failed.insert(o.clone());
            }
        }
    };
    // A call of a model-local function: inline its body.
    if let Some(f) = functions::find(env.model, &node.domain, &node.op_type, overload) {
        return match functions::inline(node, f, env, scope, g)? {
            Ok(()) => Ok(()),
            Err(reason) => {
                env.issues.push(issue(reason));
                fail(scope);
                Ok(())
            }
        };
    }
    // Inputs.
    let mut inputs = Vec::with_capacity(node.inputs.len());
    for name in &node.inputs {
        if name.is_empty() {
            inputs.push(None);
            continue;
        }
        match resolve(name, scope, g) {
            Some(v) => inputs.push(Some(v)),
            None => {
                if !scope.is_failed(name) {
                    env.issues.push(issue(format!("input '{name}' is used but never produced")));
                }
                fail(scope);
                return Ok(());
            }
        }
    }
    // Attributes (subgraphs imported here, with their captures).
    let mut sub_captures: Vec<Vec<String>> = Vec::new();
    let mut attrs = Vec::with_capacity(node.attrs.len());
    let mut subgraphs_failed = false;
    for a in &node.attrs {
        match attrs::convert_attr(a, env, scope, g, &mut sub_captures) {
            Ok(v) => attrs.push((a.name.clone(), v)),
            Err(attrs::AttrFail::Issue(reason)) => {
                env.issues.push(issue(reason));
                subgraphs_failed = true;
            }
            Err(attrs::AttrFail::Quiet) => subgraphs_failed = true,
            Err(attrs::AttrFail::Fatal(e)) => return Err(e),
        }
    }
    if subgraphs_failed {
        fail(scope);
        return Ok(());
    }
    let cx = ops::NodeIn {
        raw: node,
        opset,
        inputs,
        attrs,
        file: env.file,
    };
    let built = match ops::convert(cx, env, g) {
        Ok(b) => b,
        Err(reason) => {
            env.issues.push(issue(reason));
            fail(scope);
            return Ok(());
        }
    };
    // Outputs: bind names.
    let mut outputs = built.outputs;
    outputs.truncate(node.outputs.len());
    for (name, v) in node.outputs.iter().zip(&outputs) {
        if name.is_empty() {
            continue;
        }
        if scope.names.contains_key(name) {
            return Err(Error::Graph {
                file: env.file.into(),
                msg: format!("node '{}' ({}): value '{name}' is produced twice", node_label(node), node.op_type),
            });
        }
        if let Some(val) = g.value_mut(*v) {
            val.name = name.clone();
            if val.ty.is_none() {
                val.ty = scope.types.get(name).cloned();
            }
        }
        scope.names.insert(name.clone(), *v);
    }
    // Captures: align every subgraph's capture list with the union, then bind slots.
    if let Some(node_id) = built.node
        && !sub_captures.is_empty()
    {
        let mut union: Vec<String> = Vec::new();
        for c in &sub_captures {
            for n in c {
                if !union.contains(n) {
                    union.push(n.clone());
                }
            }
        }
        if !union.is_empty() {
            align_captures(g, node_id, &union);
            for name in &union {
                let v = resolve(name, scope, g);
                g.push_input(node_id, v, true).map_err(|e| Error::Graph {
                    file: env.file.into(),
                    msg: e.to_string(),
                })?;
            }
        }
    }
    Ok(())
}

/// Rewrites each subgraph of `node` so that its captures follow `union` exactly.
fn align_captures(g: &mut Graph, node: edgeport_ir::NodeId, union: &[String]) {
    let n = g.node_mut(node);
    for sub in n.op.subgraphs_mut() {
        let by_name: HashMap<String, edgeport_ir::NodeId> =
            sub.captures().iter().map(|&c| (sub.node(c).outputs[0].name.clone(), c)).collect();
        let mut list = Vec::with_capacity(union.len());
        for name in union {
            match by_name.get(name) {
                Some(&c) => list.push(c),
                None => {
                    let v = sub.add_capture(name.clone(), None);
                    list.push(v.node);
                }
            }
        }
        sub.set_captures(list).expect("capture nodes exist");
    }
}

/// What converting one node produced.
pub(crate) struct Built {
    /// The node that holds the op's subgraphs (if any).
    pub node: Option<edgeport_ir::NodeId>,
    /// The values bound to the ONNX node's outputs, in order.
    pub outputs: Vec<ValueId>,
}

/// Adds a node with unnamed outputs (names are bound by the caller) and returns its outputs.
pub(crate) fn emit(g: &mut Graph, name: &str, op: Op, inputs: &[Option<ValueId>], n_outputs: usize) -> Result<Built, String> {
    let outs: Vec<Value> = (0..n_outputs).map(|_| Value::named("")).collect();
    let id = g.add_node(name.to_string(), op, 0, outs);
    for v in inputs {
        g.push_input(id, *v, false).map_err(|e| e.to_string())?;
    }
    Ok(Built {
        node: Some(id),
        outputs: (0..n_outputs).map(|p| id.out(p)).collect(),
    })
}

/// The modelled op kind of a node, if any.
pub(crate) fn kind_of(node: &RawNode) -> Option<OpKind> {
    OpKind::from_name(&node.domain, &node.op_type)
}
