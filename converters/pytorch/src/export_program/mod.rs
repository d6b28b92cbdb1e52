//! `torch.export` programs (`.pt2`) into the IR.
//!
//! The archive ([`archive`]) gives the ExportedProgram JSON and the weights. The graph
//! signature decides what each graph input is: parameters, buffers and lifted constants become
//! IR constants named by their fully qualified name (`conv.weight`, as ONNX initializers are),
//! user inputs become graph inputs (symbolic sizes as named dims). Each node's ATen target is
//! translated by a rule of its op family in [`ops`]; every unsupported target is reported at
//! once. Both op sets are covered: the higher-level ATen that `export()` leaves and Core ATen
//! after `run_decompositions()`.

pub mod archive;
pub mod ctx;
pub(crate) mod ops;
pub mod schema;

use crate::error::{Error, Result};
use crate::file;
use crate::zip::Archive;
use ctx::{Ctx, N};
use edgeport_ir::{Graph, ValueType};
use schema::{Arg, meta};
use serde_json::Value as J;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// Schema majors this importer knows.
const SCHEMA_MAJORS: [i64; 1] = [8];

/// Imports a `.pt2` file.
pub fn import_pt2(path: &Path) -> Result<Graph> {
    let name = file::display(path);
    let data = file::map(path)?;
    let ar = Archive::parse(&name, data)?;
    import_archive(&ar)
}

/// Imports a parsed `.pt2` archive.
pub fn import_archive(ar: &Archive) -> Result<Graph> {
    let prog = archive::read(ar)?;
    build(ar.file(), &prog)
}

fn fmt(file: &str, msg: impl Into<String>) -> Error {
    Error::Format {
        file: file.to_string(),
        msg: msg.into(),
    }
}

/// The name an input/output spec refers to: `{"arg": {"name": …}}` or `{"arg": {"as_tensor": {"name": …}}}`.
fn spec_arg_name(spec: &J) -> Option<String> {
    let a = spec.get("arg")?;
    a.get("name")
        .or_else(|| a.get("as_tensor").and_then(|t| t.get("name")))
        .and_then(J::as_str)
        .map(str::to_string)
}

fn parse_node(n: &J) -> N {
    let args = n
        .get("inputs")
        .and_then(J::as_array)
        .map(|v| {
            v.iter()
                .map(|a| {
                    (
                        a.get("name").and_then(J::as_str).unwrap_or("").to_string(),
                        a.get("arg").map(schema::arg).unwrap_or(Arg::None),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let mut outs = Vec::new();
    for o in n.get("outputs").and_then(J::as_array).map(Vec::as_slice).unwrap_or(&[]) {
        match schema::arg(o) {
            Arg::Tensor(t) => outs.push(t),
            Arg::Tensors(ts) => outs.extend(ts),
            Arg::SymInt(schema::SymInt::Expr(e)) => outs.push(e),
            _ => outs.push(String::new()),
        }
    }
    N {
        name: n.get("name").and_then(J::as_str).unwrap_or("").to_string(),
        target: n.get("target").and_then(J::as_str).unwrap_or("").to_string(),
        args,
        outs,
    }
}

fn build(file: &str, prog: &archive::Program) -> Result<Graph> {
    let j = &prog.json;
    if let Some(maj) = j.get("schema_version").and_then(|s| s.get("major")).and_then(J::as_i64)
        && !SCHEMA_MAJORS.contains(&maj)
    {
        return Err(fmt(
            file,
            format!("ExportedProgram schema major {maj} is not supported (known: {SCHEMA_MAJORS:?})"),
        ));
    }
    let gm = j
        .get("graph_module")
        .ok_or_else(|| fmt(file, "no graph_module in the program JSON"))?;
    let graph = gm.get("graph").ok_or_else(|| fmt(file, "no graph in graph_module"))?;
    let sig = gm.get("signature").ok_or_else(|| fmt(file, "no graph signature"))?;
    let mut metas = HashMap::new();
    if let Some(tv) = graph.get("tensor_values").and_then(J::as_object) {
        for (k, v) in tv {
            if let Some(m) = meta(v) {
                metas.insert(k.clone(), m);
            }
        }
    }
    let mut cx = Ctx::new("torch_export", metas);
    cx.g.metadata.extend(range_constraints(j));
    let nodes: Vec<N> = graph
        .get("nodes")
        .and_then(J::as_array)
        .map(|v| v.iter().map(parse_node).collect())
        .unwrap_or_default();

    // All unsupported targets at once, before building anything.
    let mut unsupported = BTreeSet::new();
    for n in &nodes {
        if !ops::supported(&n.target) {
            unsupported.insert(format!("{} (node {})", n.target, n.name));
        }
    }
    if !unsupported.is_empty() {
        return Err(Error::Unsupported {
            file: file.to_string(),
            nodes: unsupported.into_iter().collect(),
        });
    }

    // Inputs, following the signature.
    let specs = sig
        .get("input_specs")
        .and_then(J::as_array)
        .ok_or_else(|| fmt(file, "graph signature has no input_specs"))?;
    for spec in specs {
        let (kind, body) = spec
            .as_object()
            .and_then(|o| o.iter().next())
            .ok_or_else(|| fmt(file, "empty input spec"))?;
        let arg = spec_arg_name(body).ok_or_else(|| fmt(file, format!("{kind} input spec without an argument name")))?;
        let from = |key: &str, table: &HashMap<String, edgeport_ir::Tensor>, what: &str| -> Result<edgeport_ir::Tensor> {
            let fqn = body
                .get(key)
                .and_then(J::as_str)
                .ok_or_else(|| fmt(file, format!("{what} input '{arg}' has no {key}")))?;
            table
                .get(fqn)
                .cloned()
                .ok_or_else(|| fmt(file, format!("{what} '{fqn}' (input '{arg}') has no data in the archive")))
        };
        let v = match kind.as_str() {
            "parameter" => {
                let t = from("parameter_name", &prog.weights, "parameter")?;
                let fqn = body.get("parameter_name").and_then(J::as_str).unwrap_or(&arg).to_string();
                cx.g.add_constant(fqn, t)
            }
            "buffer" => {
                let t = from("buffer_name", &prog.weights, "buffer").or_else(|_| from("buffer_name", &prog.constants, "buffer"))?;
                let fqn = body.get("buffer_name").and_then(J::as_str).unwrap_or(&arg).to_string();
                cx.g.add_constant(fqn, t)
            }
            "tensor_constant" => {
                let t = from("tensor_constant_name", &prog.constants, "constant")
                    .or_else(|_| from("tensor_constant_name", &prog.weights, "constant"))?;
                let fqn = body.get("tensor_constant_name").and_then(J::as_str).unwrap_or(&arg).to_string();
                cx.g.add_constant(fqn, t)
            }
            "user_input" => {
                let m = cx.metas.get(&arg).cloned().ok_or_else(|| {
                    fmt(
                        file,
                        format!("user input '{arg}' is not a tensor (non-tensor inputs are not supported)"),
                    )
                })?;
                cx.g.add_input(
                    arg.clone(),
                    Some(ValueType::tensor(m.dtype, Some(edgeport_ir::Shape(m.shape.clone())))),
                )
            }
            other => return Err(fmt(file, format!("input spec kind '{other}' (input '{arg}') is not supported"))),
        };
        cx.env.insert(arg, v);
    }

    for n in &nodes {
        let outs = ops::convert(&mut cx, n).map_err(|msg| Error::Node {
            file: file.to_string(),
            node: n.name.clone(),
            target: n.target.clone(),
            msg,
        })?;
        bind_outputs(&mut cx, n, outs);
    }

    // Outputs, following the signature.
    let out_specs = sig
        .get("output_specs")
        .and_then(J::as_array)
        .ok_or_else(|| fmt(file, "graph signature has no output_specs"))?;
    for spec in out_specs {
        let (kind, body) = spec
            .as_object()
            .and_then(|o| o.iter().next())
            .ok_or_else(|| fmt(file, "empty output spec"))?;
        if kind != "user_output" {
            if kind == "buffer_mutation" || kind == "user_input_mutation" {
                continue;
            }
            return Err(fmt(file, format!("output spec kind '{kind}' is not supported")));
        }
        let name =
            spec_arg_name(body).ok_or_else(|| fmt(file, "user output that is not a tensor (non-tensor outputs are not supported)"))?;
        let v = cx.value(&name).map_err(|m| fmt(file, format!("output '{name}': {m}")))?;
        cx.g.add_output(name.clone(), v).map_err(|e| Error::Graph {
            file: file.to_string(),
            msg: e.to_string(),
        })?;
    }
    let mut g = cx.g;
    let _ = edgeport_ir::infer::infer_types(&mut g);
    Ok(g)
}

/// Largest bound torch writes for an unbounded symbol (`int_oo`) is about 2^63; anything this
/// large is printed as unbounded.
const UNBOUNDED: i64 = 1 << 62;

/// The program's `range_constraints` (`{"s77": {"min_val": 1, "max_val": 8}}`) as graph
/// metadata `meta.dim_range.<symbol>` = `[min, max]` (`inf` when unbounded), in symbol order.
/// The `meta.` prefix makes the ONNX exporter keep them as model metadata.
pub fn range_constraints(j: &J) -> Vec<(String, String)> {
    let Some(rc) = j.get("range_constraints").and_then(J::as_object) else {
        return Vec::new();
    };
    let bound = |v: Option<&J>, missing: &str| match v.and_then(J::as_i64) {
        Some(x) if x.unsigned_abs() < UNBOUNDED as u64 => x.to_string(),
        Some(x) if x < 0 => "-inf".to_string(),
        Some(_) => "inf".to_string(),
        None => missing.to_string(),
    };
    let mut out: Vec<(String, String)> = rc
        .iter()
        .map(|(sym, r)| {
            let (lo, hi) = (bound(r.get("min_val"), "0"), bound(r.get("max_val"), "inf"));
            (format!("meta.dim_range.{sym}"), format!("[{lo}, {hi}]"))
        })
        .collect();
    out.sort();
    out
}

fn bind_outputs(cx: &mut Ctx, n: &N, outs: ops::Out) {
    match outs {
        ops::Out::Values(vs) => {
            for (name, v) in n.outs.iter().zip(vs) {
                if !name.is_empty() {
                    cx.env.insert(name.clone(), v);
                }
            }
        }
        ops::Out::List(vs) => {
            for (name, v) in n.outs.iter().zip(vs.iter()) {
                if !name.is_empty() {
                    cx.env.insert(name.clone(), *v);
                }
            }
            cx.lists.insert(n.name.clone(), vs);
        }
    }
}
