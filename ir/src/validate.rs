//! The validator, separate from construction: integrity first (ports, cycles, arity, outputs,
//! unique input/output names), then types. Backends take a [`Validated`] graph.

use crate::graph::Graph;
use crate::handles::NodeId;
use crate::ops::Op;
use std::collections::HashSet;

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
                    issues.push(issue(
                        g,
                        id,
                        format!("required input {slot} ('{pname}') is not connected"),
                    ));
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
