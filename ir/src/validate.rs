//! The validator, separate from construction: integrity first (ports, cycles, arity, outputs,
//! unique input/output names), then types: where a value's type is known, an op's input and
//! output dtypes must be allowed by its schema's type constraints, and the slots that share a
//! type variable must agree. Backends take a [`Validated`] graph.

use crate::graph::Graph;
use crate::handles::NodeId;
use crate::ops::Op;
use crate::ops::ParamKind;
use crate::shape::ValueType;
use std::collections::{HashMap, HashSet};

/// One problem found by the validator.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("node '{node}' ({op}): {msg}")]
pub struct Issue {
    pub node: String,
    pub op: String,
    pub msg: String,
}

/// Every problem found, integrity problems first.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid graph: {}", .0.iter().map(|i| i.to_string()).collect::<Vec<_>>().join("; "))]
pub struct ValidationError(pub Vec<Issue>);

/// Proof that a graph passed validation; backends take this.
#[derive(Debug, Clone, Copy)]
pub struct Validated<'g>(&'g Graph);

impl<'g> Validated<'g> {
    pub fn graph(&self) -> &'g Graph {
        self.0
    }
}

impl std::ops::Deref for Validated<'_> {
    type Target = Graph;
    fn deref(&self) -> &Graph {
        self.0
    }
}

/// Validates a graph (and its subgraphs).
pub fn validate(g: &Graph) -> Result<Validated<'_>, ValidationError> {
    let mut issues = Vec::new();
    check_graph(g, &mut issues, 0);
    if issues.is_empty() {
        Ok(Validated(g))
    } else {
        Err(ValidationError(issues))
    }
}

/// The deepest subgraph nesting accepted.
pub const MAX_DEPTH: usize = 64;

fn issue(g: &Graph, id: NodeId, msg: String) -> Issue {
    let n = g.node(id);
    Issue {
        node: n.name.clone(),
        op: n.op.name().to_string(),
        msg,
    }
}

fn check_graph(g: &Graph, issues: &mut Vec<Issue>, depth: usize) {
    let before = issues.len();
    check_integrity(g, issues, depth);
    if issues.len() == before {
        check_types(g, issues);
    }
}

/// The name a type constraint uses for a value type (`f32`, `seq(f32)`, `opt(seq(i64))`).
fn constraint_name(t: &ValueType) -> Option<String> {
    Some(match t {
        ValueType::Tensor(t) => t.dtype.name().to_string(),
        ValueType::Sequence(e) => format!("seq({})", constraint_name(e)?),
        ValueType::Optional(e) => format!("opt({})", constraint_name(e)?),
        ValueType::SparseTensor(_) | ValueType::Map(..) => return None,
    })
}

fn check_types(g: &Graph, issues: &mut Vec<Issue>) {
    for id in g.node_ids() {
        let n = g.node(id);
        let Some(s) = n.op.kind().schema() else {
            continue;
        };
        let ins = g.inputs_of(id);
        let in_params = s.input_params();
        let out_params = s.output_params();
        let param = |ps: &[crate::ops::Param], i: usize| -> Option<crate::ops::Param> {
            ps.get(i)
                .copied()
                .or_else(|| ps.last().copied().filter(|p| matches!(p.kind, ParamKind::Variadic { .. })))
        };
        // (slot description, param, type) for every typed input and output.
        let mut typed: Vec<(String, crate::ops::Param, ValueType)> = Vec::new();
        for (slot, v) in ins.iter().enumerate().take(n.n_declared_inputs()) {
            if let (Some(p), Some(t)) = (param(&in_params, slot), v.and_then(|v| g.value(v)?.ty.clone())) {
                typed.push((format!("input {slot} ('{}')", p.name), p, t));
            }
        }
        for (k, v) in n.outputs.iter().enumerate() {
            if let (Some(p), Some(t)) = (param(&out_params, k), v.ty.clone()) {
                typed.push((format!("output {k} ('{}')", p.name), p, t));
            }
        }
        let mut bound: HashMap<&str, (String, String)> = HashMap::new();
        for (what, p, t) in &typed {
            let Some(name) = constraint_name(t) else {
                continue;
            };
            if let Some(fixed) = crate::infer::fixed_type(p.ty) {
                if t.as_tensor().map(|x| x.dtype) != Some(fixed) {
                    issues.push(issue(g, id, format!("{what} is {t}, the op requires {fixed}")));
                }
                continue;
            }
            let allowed = s.allowed(p.ty);
            if !allowed.is_empty() && !allowed.contains(&name.as_str()) {
                issues.push(issue(
                    g,
                    id,
                    format!("{what} is {name}, not allowed for {} ({})", p.ty, allowed.join("|")),
                ));
                continue;
            }
            // Heterogeneous variadic slots may each have their own type.
            if matches!(p.kind, ParamKind::Variadic { homogeneous: false }) {
                continue;
            }
            match bound.get(p.ty) {
                Some((first, fname)) if *fname != name => {
                    issues.push(issue(g, id, format!("{what} is {name} but {first} is {fname}; both are {}", p.ty)));
                }
                Some(_) => {}
                None => {
                    bound.insert(p.ty, (what.clone(), name));
                }
            }
        }
    }
}

fn check_integrity(g: &Graph, issues: &mut Vec<Issue>, depth: usize) {
    if depth > MAX_DEPTH {
        issues.push(Issue {
            node: g.name.clone(),
            op: "graph".into(),
            msg: format!("subgraphs nested deeper than {MAX_DEPTH}"),
        });
        return;
    }
    if let Err(e) = g.topo_order() {
        issues.push(Issue {
            node: g.name.clone(),
            op: "graph".into(),
            msg: e.to_string(),
        });
    }
    let mut seen = HashSet::new();
    for &i in g.inputs() {
        match g.get(i) {
            Some(n) if matches!(n.op, Op::Input(_)) => {
                if !seen.insert(n.outputs[0].name.clone()) {
                    issues.push(issue(g, i, "duplicate graph input name".into()));
                }
            }
            Some(_) => issues.push(issue(g, i, "graph input is not an Input node".into())),
            None => issues.push(Issue {
                node: format!("{i}"),
                op: "Input".into(),
                msg: "graph input node was removed".into(),
            }),
        }
    }
    let mut out_names = HashSet::new();
    for (name, v) in g.outputs() {
        if !out_names.insert(name.clone()) {
            issues.push(Issue {
                node: name.clone(),
                op: "output".into(),
                msg: "duplicate graph output name".into(),
            });
        }
        if g.value(*v).is_none() {
            issues.push(Issue {
                node: name.clone(),
                op: "output".into(),
                msg: format!("graph output refers to missing value {v}"),
            });
        }
    }
    for id in g.node_ids() {
        let n = g.node(id);
        let ins = g.inputs_of(id);
        if let Some(s) = n.op.kind().schema() {
            let (min, max) = s.input_arity();
            let decl = n.n_declared_inputs();
            if decl < min || max.is_some_and(|m| decl > m) {
                issues.push(issue(
                    g,
                    id,
                    format!(
                        "has {decl} inputs, the op takes {min}..{}",
                        max.map(|m| m.to_string()).unwrap_or("".into())
                    ),
                ));
            }
            let params = s.input_params();
            for (slot, v) in ins.iter().enumerate().take(decl) {
                let p = params.get(slot).or(params.last());
                let optional = p.is_some_and(|p| p.kind == crate::ops::ParamKind::Optional);
                if v.is_none() && !optional && slot < min {
                    let pname = p.map(|p| p.name).unwrap_or("?");
                    issues.push(issue(g, id, format!("required input {slot} ('{pname}') is not connected")));
                }
            }
            let (omin, omax) = s.output_arity();
            let no = n.outputs.len();
            if no < omin.min(1) || omax.is_some_and(|m| no > m) {
                issues.push(issue(
                    g,
                    id,
                    format!(
                        "has {no} outputs, the op produces {omin}..{}",
                        omax.map(|m| m.to_string()).unwrap_or("".into())
                    ),
                ));
            }
        }
        for sub in n.op.subgraphs() {
            if sub.captures().len() > n.n_captures {
                issues.push(issue(
                    g,
                    id,
                    format!(
                        "subgraph '{}' captures {} values, node has {} capture slots",
                        sub.name,
                        sub.captures().len(),
                        n.n_captures
                    ),
                ));
            }
            check_graph(sub, issues, depth + 1);
        }
    }
}
