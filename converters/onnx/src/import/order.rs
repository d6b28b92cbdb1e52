//! Node order: ONNX requires nodes in topological order, but hand-edited files often are not.
//! Nodes are sorted stably (file order wherever the data flow allows); a cycle is an error
//! that names the nodes on it.

use crate::error::Error;
use crate::model::{RawAttrValue, RawGraph, RawNode};
use std::collections::{BTreeSet, HashMap, HashSet};

/// Every name a node reads, including names its subgraphs read from outer scopes.
fn reads(node: &RawNode, out: &mut HashSet<String>) {
    for i in &node.inputs {
        if !i.is_empty() {
            out.insert(i.clone());
        }
    }
    for a in &node.attrs {
        match &a.value {
            RawAttrValue::Graph(g) => graph_reads(g, out),
            RawAttrValue::Graphs(gs) => gs.iter().for_each(|g| graph_reads(g, out)),
            _ => {}
        }
    }
}

/// Names a subgraph reads from enclosing scopes: what it uses minus what it defines.
fn graph_reads(g: &RawGraph, out: &mut HashSet<String>) {
    let mut used = HashSet::new();
    for n in &g.nodes {
        reads(n, &mut used);
    }
    for o in &g.outputs {
        used.insert(o.name.clone());
    }
    let mut defined: HashSet<&str> = HashSet::new();
    defined.extend(g.inputs.iter().map(|v| v.name.as_str()));
    defined.extend(g.initializer_names.iter().map(String::as_str));
    for n in &g.nodes {
        defined.extend(n.outputs.iter().map(String::as_str));
    }
    out.extend(used.into_iter().filter(|u| !defined.contains(u.as_str())));
}

/// The order in which to import `g.nodes` (indices).
pub(crate) fn topo_order(g: &RawGraph, file: &str) -> Result<Vec<usize>, Error> {
    let n = g.nodes.len();
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (i, node) in g.nodes.iter().enumerate() {
        for o in &node.outputs {
            if o.is_empty() {
                continue;
            }
            if let Some(prev) = producer.insert(o.as_str(), i)
                && prev != i
            {
                return Err(Error::Graph {
                    file: file.into(),
                    msg: format!(
                        "graph '{}': value '{o}' is produced by two nodes ('{}' and '{}')",
                        g.name,
                        super::node_label(&g.nodes[prev]),
                        super::node_label(node)
                    ),
                });
            }
        }
    }
    // deps[i]: nodes that must come before node i.
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut indeg = vec![0usize; n];
    let mut in_order = true;
    for (i, node) in g.nodes.iter().enumerate() {
        let mut r = HashSet::new();
        reads(node, &mut r);
        let mut deps: Vec<usize> = r
            .iter()
            .filter_map(|name| producer.get(name.as_str()).copied())
            .filter(|&p| p != i)
            .collect();
        deps.sort_unstable();
        deps.dedup();
        for p in deps {
            if p > i {
                in_order = false;
            }
            users[p].push(i);
            indeg[i] += 1;
        }
        if r.iter().any(|name| producer.get(name.as_str()) == Some(&i)) {
            return Err(Error::Graph {
                file: file.into(),
                msg: format!(
                    "graph '{}': node '{}' ({}) reads its own output (a cycle)",
                    g.name,
                    super::node_label(node),
                    node.op_type
                ),
            });
        }
    }
    if in_order {
        return Ok((0..n).collect());
    }
    let mut ready: BTreeSet<usize> = (0..n).filter(|&i| indeg[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &u in &users[i] {
            indeg[u] -= 1;
            if indeg[u] == 0 {
                ready.insert(u);
            }
        }
    }
    if order.len() != n {
        let stuck: Vec<String> = (0..n)
            .filter(|&i| indeg[i] > 0)
            .take(8)
            .map(|i| format!("'{}' ({})", super::node_label(&g.nodes[i]), g.nodes[i].op_type))
            .collect();
        return Err(Error::Graph {
            file: file.into(),
            msg: format!("graph '{}' has a cycle through nodes {}", g.name, stuck.join(", ")),
        });
    }
    Ok(order)
}
