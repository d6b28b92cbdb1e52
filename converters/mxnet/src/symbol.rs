//! The `*-symbol.json` graph: `nodes` (op, name, string attributes, inputs as `[node, output,
//! version]`), `arg_nodes`, `heads`. Attributes come from `attrs` (MXNet ≥ 0.9) or the old
//! `param` (op parameters) and `attr` (user attributes) keys; all values are strings. Every node
//! index is checked: inputs must point to earlier nodes, heads to existing ones.

use serde_json::Value as Json;
use std::collections::BTreeMap;

/// One node of the symbol graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub op: String,
    pub name: String,
    pub attrs: BTreeMap<String, String>,
    /// `(node index, output index)` of each input.
    pub inputs: Vec<(usize, usize)>,
}

/// A parsed symbol file.
#[derive(Clone, Debug, PartialEq)]
pub struct Symbol {
    pub nodes: Vec<Node>,
    pub heads: Vec<(usize, usize)>,
    /// `mxnet_version` from the top-level attrs, when present (e.g. 10901).
    pub version: Option<i64>,
}

fn entry(v: &Json, what: &str) -> Result<(usize, usize), String> {
    let a = v.as_array().ok_or_else(|| format!("{what} is not an array"))?;
    let idx = |i: usize| -> Result<usize, String> {
        let x = a.get(i).ok_or_else(|| format!("{what} has {} items, needs at least 2", a.len()))?;
        x.as_u64()
            .and_then(|v| usize::try_from(v).ok())
            .ok_or_else(|| format!("{what}: {x} is not a node index"))
    };
    Ok((idx(0)?, if a.len() > 1 { idx(1)? } else { 0 }))
}

fn string_map(v: Option<&Json>, into: &mut BTreeMap<String, String>) {
    if let Some(Json::Object(m)) = v {
        for (k, v) in m {
            let s = match v {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            into.insert(k.clone(), s);
        }
    }
}

/// Parses symbol JSON text.
pub fn parse_symbol(text: &[u8]) -> Result<Symbol, String> {
    let j: Json = serde_json::from_slice(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let nodes_j = j.get("nodes").and_then(Json::as_array).ok_or("no 'nodes' array")?;
    let mut nodes = Vec::with_capacity(nodes_j.len());
    for (i, n) in nodes_j.iter().enumerate() {
        let op = n
            .get("op")
            .and_then(Json::as_str)
            .ok_or_else(|| format!("node {i} has no 'op'"))?
            .to_string();
        let name = n.get("name").and_then(Json::as_str).unwrap_or_default().to_string();
        let mut attrs = BTreeMap::new();
        // Old files: `param` holds op parameters and `attr` user attributes.
        string_map(n.get("attr"), &mut attrs);
        string_map(n.get("param"), &mut attrs);
        string_map(n.get("attrs"), &mut attrs);
        let mut inputs = Vec::new();
        if let Some(ins) = n.get("inputs") {
            let ins = ins
                .as_array()
                .ok_or_else(|| format!("node {i} ('{name}'): 'inputs' is not an array"))?;
            for (k, e) in ins.iter().enumerate() {
                let (src, port) = entry(e, &format!("node {i} ('{name}') input {k}"))?;
                if src >= i {
                    return Err(format!(
                        "node {i} ('{name}') input {k} refers to node {src}, which does not come before it ({} nodes)",
                        nodes_j.len()
                    ));
                }
                inputs.push((src, port));
            }
        }
        nodes.push(Node { op, name, attrs, inputs });
    }
    let heads_j = j.get("heads").and_then(Json::as_array).ok_or("no 'heads' array")?;
    let mut heads = Vec::new();
    for (k, h) in heads_j.iter().enumerate() {
        let (src, port) = entry(h, &format!("head {k}"))?;
        if src >= nodes.len() {
            return Err(format!("head {k} refers to node {src}, but there are {} nodes", nodes.len()));
        }
        heads.push((src, port));
    }
    if heads.is_empty() {
        return Err("the symbol has no heads (outputs)".into());
    }
    let version = j
        .get("attrs")
        .and_then(|a| a.get("mxnet_version"))
        .and_then(Json::as_array)
        .and_then(|a| a.get(1))
        .and_then(Json::as_i64);
    Ok(Symbol { nodes, heads, version })
}

// ---- attribute values ("(3, 3)", "True", "None", "1e-05") ----

/// A tuple attribute: `(1, 2)`, `[1, 2]`, `(1,)` or a bare `3`.
pub fn parse_ints(s: &str) -> Result<Vec<i64>, String> {
    let t = s.trim().trim_start_matches(['(', '[']).trim_end_matches([')', ']']);
    t.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| {
            let x = x.trim_end_matches('L');
            if x == "None" {
                Ok(i64::MIN)
            } else {
                x.parse::<i64>().map_err(|_| format!("'{s}' is not a tuple of integers"))
            }
        })
        .collect()
}

pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim() {
        "True" | "true" | "1" => Ok(true),
        "False" | "false" | "0" => Ok(false),
        _ => Err(format!("'{s}' is not a boolean")),
    }
}

pub fn parse_float(s: &str) -> Result<f64, String> {
    match s.trim() {
        "inf" | "Inf" | "infinity" => Ok(f64::INFINITY),
        "-inf" | "-Inf" | "-infinity" => Ok(f64::NEG_INFINITY),
        t => t.parse::<f64>().map_err(|_| format!("'{s}' is not a number")),
    }
}
