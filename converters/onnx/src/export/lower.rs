//! IR graph → [`crate::model::RawGraph`]: names, graph inputs/outputs in the IR's exact order
//! and names (Identity nodes where an output's name differs from its value's or a value is
//! output twice), constants as initializers, subgraph captures by outer ONNX name, and each op
//! handed to `ops` for its form at the target opset. Problems are collected, never fatal.

use super::names::Names;
use super::ops::{self, Emit, OnnxNode};
use crate::model::*;
use edgeport_ir::{AttrValue, Graph, Op, Tensor, ValueId, ValueType};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Model-wide lowering state.
pub(crate) struct Lower {
    /// Target ai.onnx opset.
    pub opset: i64,
    /// Versions of other domains (ai.onnx.ml, training, custom) in use.
    pub domains: BTreeMap<String, i64>,
    /// Versions the source model declared, from the graph metadata.
    pub source_opsets: HashMap<String, i64>,
    pub names: Names,
    /// Node names: ONNX refuses two nodes of one name (an unnamed node stays unnamed).
    node_names: Names,
    pub problems: Vec<String>,
}

impl Lower {
    pub fn new(opset: i64, g: &Graph) -> Lower {
        let mut source_opsets = HashMap::new();
        for (k, v) in &g.metadata {
            if let Some(d) = k.strip_prefix("onnx.opset.")
                && let Ok(v) = v.parse::<i64>()
            {
                source_opsets.insert(if d == "ai.onnx" { String::new() } else { d.to_string() }, v);
            }
        }
        Lower {
            opset,
            domains: BTreeMap::new(),
            source_opsets,
            names: Names::default(),
            node_names: Names::default(),
            problems: Vec::new(),
        }
    }

    /// `name`, or `name_N` when another node already has it.
    fn node_name(&mut self, name: &str) -> String {
        if name.is_empty() {
            return String::new();
        }
        self.node_names.claim(name, name)
    }

    /// The version used for a non-ai.onnx domain.
    pub fn domain_version(&mut self, domain: &str) -> i64 {
        if let Some(v) = self.domains.get(domain) {
            return *v;
        }
        let v = match (domain, self.source_opsets.get(domain)) {
            (_, Some(v)) => *v,
            ("ai.onnx.ml", None) => 5,
            _ => 1,
        };
        self.domains.insert(domain.to_string(), v);
        v
    }

    fn problem(&mut self, node: &str, op: &str, msg: impl std::fmt::Display) {
        let node = if node.is_empty() { "<unnamed>" } else { node };
        self.problems.push(format!("node '{node}' ({op}): {msg}"));
    }

    /// Lowers one graph. `captures` are the outer ONNX names bound to the graph's capture
    /// inputs (subgraphs only).
    pub fn graph(&mut self, g: &Graph, main: bool, captures: &[String]) -> RawGraph {
        let mut raw = RawGraph {
            name: g.name.clone(),
            ..Default::default()
        };
        let order = match g.topo_order() {
            Ok(o) => o,
            Err(e) => {
                self.problems.push(format!("graph '{}': {e}", g.name));
                return raw;
            }
        };
        let mut vname: HashMap<ValueId, String> = HashMap::new();
        let mut types: HashMap<String, ValueType> = HashMap::new();
        let out_names: HashSet<&str> = g.outputs().iter().map(|(n, _)| n.as_str()).collect();
        // Graph inputs keep their names exactly; outputs' names are reserved for them.
        for &n in g.inputs() {
            let Some(node) = g.get(n) else { continue };
            let Some(v) = node.outputs.first() else {
                continue;
            };
            let name = if main {
                self.names.reserve(&v.name);
                v.name.clone()
            } else {
                self.names.claim(&v.name, "in")
            };
            if let Some(t) = &v.ty {
                types.insert(name.clone(), t.clone());
            }
            raw.inputs.push(RawValueInfo {
                name: name.clone(),
                ty: v.ty.clone(),
            });
            vname.insert(n.out(0), name);
        }
        if main {
            for (name, _) in g.outputs() {
                self.names.reserve(name);
            }
        }
        for (i, &c) in g.captures().iter().enumerate() {
            match captures.get(i) {
                Some(name) => {
                    vname.insert(c.out(0), name.clone());
                }
                None => self
                    .problems
                    .push(format!("graph '{}': capture {i} is not bound by its parent node", g.name)),
            }
        }
        let mut consts: HashMap<String, Tensor> = HashMap::new();
        let mut nodes: Vec<RawNode> = Vec::new();
        let mut inits: Vec<(String, Tensor)> = Vec::new();
        for id in order {
            let node = g.node(id);
            if matches!(node.op, Op::Input(_)) {
                if !vname.contains_key(&id.out(0)) {
                    self.problem(&node.name, "Input", "input node is neither a graph input nor a capture");
                }
                continue;
            }
            // Output names: a value that is a graph output under its own name keeps it.
            let mut outs = Vec::with_capacity(node.outputs.len());
            for (p, v) in node.outputs.iter().enumerate() {
                let vid = id.out(p);
                let is_out_own = g.outputs().iter().any(|(n, o)| *o == vid && *n == v.name);
                let name = if is_out_own && main {
                    v.name.clone()
                } else if v.name.is_empty() && g.consumers(vid).is_empty() && !g.is_output(vid) {
                    String::new()
                } else if main && out_names.contains(v.name.as_str()) {
                    self.names.claim(&format!("{}_value", v.name), "")
                } else {
                    let fallback = format!("{}_{p}", if node.name.is_empty() { node.op.name() } else { &node.name });
                    self.names.claim(&v.name, &fallback)
                };
                if !name.is_empty() {
                    if let Some(t) = &v.ty {
                        types.insert(name.clone(), t.clone());
                    }
                    vname.insert(vid, name.clone());
                }
                outs.push(name);
            }
            if let Op::Constant(c) = &node.op {
                let name = outs.first().cloned().unwrap_or_default();
                consts.insert(name.clone(), c.value.clone());
                if main && !g.is_output(id.out(0)) {
                    inits.push((name, c.value.clone()));
                } else {
                    nodes.push(RawNode {
                        name: self.node_name(&node.name),
                        op_type: "Constant".into(),
                        outputs: vec![name],
                        attrs: vec![RawAttr {
                            name: "value".into(),
                            ref_attr_name: None,
                            value: RawAttrValue::Tensor(c.value.clone()),
                        }],
                        ..Default::default()
                    });
                }
                if let Some(q) = &c.value.quant
                    && let Err(why) = super::quant_note::carried_by_qdq(g, id.out(0), q)
                {
                    self.problem(&node.name, "Constant", format!("quantization parameters on this constant: {why}"));
                }
                continue;
            }
            let ins = g.inputs_of(id);
            let decl = node.n_declared_inputs().min(ins.len());
            let name_of = |v: &Option<ValueId>| v.and_then(|v| vname.get(&v).cloned()).unwrap_or_default();
            let mut in_names: Vec<String> = ins[..decl].iter().map(name_of).collect();
            while in_names.last().is_some_and(|s| s.is_empty()) {
                in_names.pop();
            }
            let cap_names: Vec<String> = ins[decl..].iter().map(name_of).collect();
            let op_name = node.op.name().to_string();
            let attr_list = match &node.op {
                Op::Custom(c) => c.attrs.clone(),
                op => op.non_default_attrs(),
            };
            let mut attrs = Vec::with_capacity(attr_list.len());
            for (k, v) in attr_list {
                // The IR's own layout attribute (RNNs have an ONNX int `layout`, kept).
                if k == "layout" && matches!(&v, AttrValue::String(_)) {
                    if !matches!(&v, AttrValue::String(s) if s == "channels_first") {
                        self.problem(
                            &node.name,
                            &op_name,
                            "channels-last layout is not expressible in ONNX (run the layout pass to NCHW first)",
                        );
                    }
                    continue;
                }
                let value = self.attr_value(v, &cap_names);
                attrs.push(RawAttr {
                    name: k,
                    ref_attr_name: None,
                    value,
                });
            }
            for (p, v) in node.outputs.iter().enumerate() {
                if let Some(q) = &v.quant
                    && !matches!(node.op, Op::QuantizeLinear(_) | Op::DynamicQuantizeLinear(_))
                    && let Err(why) = super::quant_note::carried_by_qdq(g, id.out(p), q)
                {
                    self.problem(&node.name, &op_name, format!("quantization parameters on output {p}: {why}"));
                }
            }
            let (domain, version) = match &node.op {
                Op::Custom(c) => {
                    let d = c.domain.clone();
                    let v = if d.is_empty() || d == "ai.onnx" {
                        self.opset
                    } else {
                        self.domain_version(&d)
                    };
                    (d, v)
                }
                op => {
                    let d = op.domain().to_string();
                    let v = if d.is_empty() { self.opset } else { self.domain_version(&d) };
                    (d, v)
                }
            };
            let on = OnnxNode {
                name: self.node_name(&node.name),
                op_type: op_name.clone(),
                domain,
                inputs: in_names,
                outputs: outs,
                attrs,
            };
            let mut em = Emit {
                opset: version,
                names: &mut self.names,
                consts: &consts,
                types: &types,
                nodes: Vec::new(),
                inits: Vec::new(),
            };
            let custom = matches!(node.op, Op::Custom(_));
            let res = ops::lower_node(on, custom, &mut em);
            let Emit {
                nodes: new_nodes,
                inits: new_inits,
                ..
            } = em;
            if let Err(msg) = res {
                self.problem(&node.name, &op_name, msg);
                continue;
            }
            for (n, t) in new_inits {
                consts.insert(n.clone(), t.clone());
                if main {
                    inits.push((n, t));
                } else {
                    nodes.push(const_node(&n, t));
                }
            }
            let opset = self.opset;
            let domains = &self.domains;
            let opset_of = |d: &str| -> Option<i64> {
                if d.is_empty() || d == "ai.onnx" {
                    Some(opset)
                } else if d == "ai.onnx.ml" || d == "ai.onnx.preview.training" {
                    domains.get(d).copied()
                } else {
                    None
                }
            };
            let dtype_of = |n: &str| -> Option<edgeport_ir::DType> {
                consts
                    .get(n)
                    .map(|t| t.dtype)
                    .or_else(|| types.get(n).and_then(|t| t.as_tensor()).map(|t| t.dtype))
            };
            let issues = if custom {
                Vec::new()
            } else {
                ops::check_nodes(&new_nodes, &opset_of, &dtype_of)
            };
            for msg in issues {
                self.problem(&node.name, &op_name, msg);
            }
            nodes.extend(new_nodes.into_iter().map(ops::to_raw));
        }
        // Graph outputs, in order, under their exact names.
        let mut emitted: HashSet<ValueId> = HashSet::new();
        for (name, v) in g.outputs() {
            let Some(src) = vname.get(v).cloned() else {
                self.problems.push(format!("graph '{}': output '{name}' has no value", g.name));
                continue;
            };
            let ty = g.value(*v).and_then(|x| x.ty.clone());
            let out = if src == *name && emitted.insert(*v) {
                src
            } else {
                let out = if main { name.clone() } else { self.names.claim(name, "out") };
                nodes.push(RawNode {
                    name: format!("output_{out}"),
                    op_type: "Identity".into(),
                    inputs: vec![src],
                    outputs: vec![out.clone()],
                    ..Default::default()
                });
                out
            };
            raw.outputs.push(RawValueInfo { name: out, ty });
        }
        // Initializers that only fed attributes of converted ops are dropped.
        let used = used_names(&nodes, &raw.outputs);
        for (n, t) in inits {
            if used.contains(&n) {
                raw.initializer_names.push(n);
                raw.initializers.push(t);
            }
        }
        raw.nodes = nodes;
        raw
    }

    fn attr_value(&mut self, v: AttrValue, caps: &[String]) -> RawAttrValue {
        match v {
            AttrValue::Int(i) => RawAttrValue::Int(i),
            AttrValue::Float(f) => RawAttrValue::Float(f),
            AttrValue::String(s) => RawAttrValue::String(s.into_bytes()),
            AttrValue::Ints(v) => RawAttrValue::Ints(v),
            AttrValue::Floats(v) => RawAttrValue::Floats(v),
            AttrValue::Strings(v) => RawAttrValue::Strings(v.into_iter().map(String::into_bytes).collect()),
            AttrValue::Tensor(t) => RawAttrValue::Tensor(t),
            AttrValue::Tensors(t) => RawAttrValue::Tensors(t),
            AttrValue::Graph(g) => RawAttrValue::Graph(self.graph(&g, false, caps)),
            AttrValue::Graphs(gs) => RawAttrValue::Graphs(gs.iter().map(|g| self.graph(g, false, caps)).collect()),
            AttrValue::Type(t) => RawAttrValue::Type(t),
        }
    }
}

fn const_node(name: &str, t: Tensor) -> RawNode {
    RawNode {
        name: name.to_string(),
        op_type: "Constant".into(),
        outputs: vec![name.to_string()],
        attrs: vec![RawAttr {
            name: "value".into(),
            ref_attr_name: None,
            value: RawAttrValue::Tensor(t),
        }],
        ..Default::default()
    }
}

/// Every name read by `nodes` (subgraphs included) or listed as an output.
fn used_names(nodes: &[RawNode], outputs: &[RawValueInfo]) -> HashSet<String> {
    fn walk(nodes: &[RawNode], out: &mut HashSet<String>) {
        for n in nodes {
            out.extend(n.inputs.iter().filter(|s| !s.is_empty()).cloned());
            for a in &n.attrs {
                match &a.value {
                    RawAttrValue::Graph(g) => {
                        walk(&g.nodes, out);
                        out.extend(g.outputs.iter().map(|o| o.name.clone()));
                    }
                    RawAttrValue::Graphs(gs) => {
                        for g in gs {
                            walk(&g.nodes, out);
                            out.extend(g.outputs.iter().map(|o| o.name.clone()));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    let mut out: HashSet<String> = outputs.iter().map(|o| o.name.clone()).collect();
    walk(nodes, &mut out);
    out
}
