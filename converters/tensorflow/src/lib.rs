//! # edgeport-tensorflow — TensorFlow frozen GraphDef and SavedModel import
//!
//! Same shape as every converter crate: [`TfImportOptions`]/[`Error`], [`import_path`] /
//! [`import_graphdef_bytes`], a `decode` module that alone touches the generated protobuf types,
//! and per-family op rules in `ops/`.
//!
//! - **Frozen GraphDef** (`.pb`): Placeholders become graph inputs (in GraphDef order), the
//!   outputs are the nodes nobody consumes (or [`TfImportOptions::outputs`]). Only the nodes the
//!   outputs depend on are converted; control inputs are dropped.
//! - **SavedModel** (a folder with `saved_model.pb` and `variables/`): the MetaGraph tagged
//!   `serve`, one signature (default `serving_default`) whose inputs and outputs keep their keys
//!   as names, ordered by key as TensorFlow's signature functions order them. Called functions
//!   are inlined; variables are read from the tensor bundle (CRC-32C checked, memory-mapped).
//! - NHWC ops become IR ops with `layout: ChannelsLast`; convolution weights are moved into the
//!   IR's ONNX order (OIHW; depthwise `[C*M, 1, H, W]` with `group = C`).
//! - TF2 control flow (If/While and their stateless forms) becomes IR `If`/`Loop` subgraphs;
//!   TF1 Switch/Merge frames are refused with the node named.
//!
//! Every unsupported or invalid node is reported in one [`Error::Nodes`].

pub mod bundle;
pub mod control;
pub mod decode;
pub mod error;
pub mod frontend;
pub mod import;
pub mod ops;
pub mod saved_model;

pub use error::{Error, NodeIssue};
pub use frontend::{SavedModelFrontend, TfFrontend};

use decode::RawGraph;
use edgeport_ir::Graph;
use import::{Fail, Importer, NoVariables, Scope, placeholder_type};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

/// Import settings.
#[derive(Clone, Debug, Default)]
pub struct TfImportOptions {
    /// SavedModel signature (default `serving_default`).
    pub signature: Option<String>,
    /// SavedModel MetaGraph tags (default `serve`).
    pub tags: Vec<String>,
    /// Frozen graph: output tensors (`node` or `node:k`); default: nodes nobody consumes.
    pub outputs: Vec<String>,
}

/// Imports a frozen GraphDef file or a SavedModel folder (or its `saved_model.pb`).
pub fn import_path(path: &Path, opts: &TfImportOptions) -> Result<Graph, Error> {
    let g = import_path_inner(path, opts);
    // Import reads some weights (permuted copies, folded constants): drop those mapped pages;
    // the exporter reads each weight again once, as it writes it.
    edgeport_ir::mapped::release_all();
    g
}

fn import_path_inner(path: &Path, opts: &TfImportOptions) -> Result<Graph, Error> {
    if path.is_dir() {
        return saved_model::import_dir(path, opts).map(with_types);
    }
    if path.file_name().is_some_and(|n| n == "saved_model.pb")
        && let Some(dir) = path.parent().filter(|d| d.join("variables").is_dir())
    {
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        return saved_model::import_dir(dir, opts).map(with_types);
    }
    let file = display_path(path);
    let buf = map_file(path)?;
    import_frozen(buf, &file, opts).map(with_types)
}

/// Imports a frozen GraphDef from bytes.
pub fn import_graphdef_bytes(bytes: Vec<u8>, name: &str, opts: &TfImportOptions) -> Result<Graph, Error> {
    import_frozen(edgeport_proto::bytes::Bytes::from(bytes), name, opts).map(with_types)
}

fn import_frozen(buf: edgeport_proto::bytes::Bytes, file: &str, opts: &TfImportOptions) -> Result<Graph, Error> {
    let raw = decode::decode_graphdef(buf, file)?;
    if raw.nodes.is_empty() {
        return Err(Error::Model {
            file: file.to_string(),
            msg: "the GraphDef has no nodes".into(),
        });
    }
    let outputs = if opts.outputs.is_empty() {
        default_outputs(&raw)
    } else {
        opts.outputs.clone()
    };
    if outputs.is_empty() {
        return Err(Error::Model {
            file: file.to_string(),
            msg: "no output: every node is consumed (give the outputs explicitly)".into(),
        });
    }
    let mut vars = NoVariables;
    let name = Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut imp = Importer::new(&raw.functions, &mut vars, &name);
    let index: HashMap<&str, usize> = raw.nodes.iter().enumerate().map(|(i, n)| (n.name.as_str(), i)).collect();
    let scope0 = Scope {
        nodes: &raw.nodes,
        bound: HashMap::new(),
        prefix: String::new(),
        in_function: false,
    };
    // Placeholders the outputs need, in GraphDef order, become the inputs.
    let order = match imp.order(&scope0, &index, &outputs) {
        Ok(o) => o,
        Err(Fail::Reported) => return Err(nodes_error(file, imp.issues)),
        Err(Fail::Msg(m)) => {
            return Err(Error::Model {
                file: file.to_string(),
                msg: m,
            });
        }
    };
    let mut placeholders: Vec<usize> = order.into_iter().filter(|&i| raw.nodes[i].op == "Placeholder").collect();
    placeholders.sort_unstable();
    for o in &outputs {
        imp.names.fresh(o);
    }
    let mut bound = HashMap::new();
    for &i in &placeholders {
        let n = &raw.nodes[i];
        imp.names.fresh(&n.name);
        let v = imp.g.add_input(n.name.clone(), placeholder_type(n, &n.name));
        bound.insert(n.name.clone(), vec![v]);
    }
    let scope = Scope { bound, ..scope0 };
    let values = match imp.run(&scope, &outputs) {
        Ok(v) => v,
        Err(Fail::Reported) => return Err(nodes_error(file, imp.issues)),
        Err(Fail::Msg(m)) => {
            return Err(Error::Model {
                file: file.to_string(),
                msg: m,
            });
        }
    };
    for (o, v) in outputs.iter().zip(values) {
        let name = o.strip_suffix(":0").unwrap_or(o);
        imp.output(name, v).map_err(|m| Error::Model {
            file: file.to_string(),
            msg: m,
        })?;
    }
    imp.g
        .metadata
        .push(("source".into(), format!("TensorFlow GraphDef (producer {})", raw.producer)));
    Ok(imp.g)
}

/// Nodes whose outputs no node consumes (NoOps, constants, placeholders and stateful
/// bookkeeping ops excluded), in GraphDef order.
fn default_outputs(raw: &RawGraph) -> Vec<String> {
    let mut used: HashSet<&str> = HashSet::new();
    for n in &raw.nodes {
        for i in &n.inputs {
            if !i.starts_with('^') {
                used.insert(i.split(':').next().unwrap_or(i));
            }
        }
    }
    const SKIP: &[&str] = &[
        "NoOp",
        "Const",
        "Placeholder",
        "VarHandleOp",
        "AssignVariableOp",
        "SaveV2",
        "RestoreV2",
        "Assert",
    ];
    raw.nodes
        .iter()
        .filter(|n| !used.contains(n.name.as_str()) && !SKIP.contains(&n.op.as_str()))
        .map(|n| n.name.clone())
        .collect()
}

pub(crate) fn nodes_error(file: &str, issues: Vec<NodeIssue>) -> Error {
    Error::Nodes {
        file: file.to_string(),
        issues,
    }
}

/// A path as shown in messages.
pub fn display_path(p: &Path) -> String {
    p.display().to_string()
}

struct MapBytes(Arc<memmap2::Mmap>);
impl AsRef<[u8]> for MapBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0[..]
    }
}

/// Memory-maps a file (an empty file gives empty bytes).
pub(crate) fn map_file(path: &Path) -> Result<edgeport_proto::bytes::Bytes, Error> {
    let io = |e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let f = std::fs::File::open(path).map_err(io)?;
    let meta = f.metadata().map_err(io)?;
    if meta.is_dir() {
        return Err(Error::Model {
            file: display_path(path),
            msg: "is a folder without saved_model.pb".into(),
        });
    }
    if meta.len() == 0 {
        return Ok(edgeport_proto::bytes::Bytes::new());
    }
    // A registered read-only map: exporters give its pages back as they write the weights.
    let map = edgeport_ir::mapped::map_file(&f).map_err(io)?;
    Ok(edgeport_proto::bytes::Bytes::from_owner(MapBytes(map)))
}

/// Fills in the types inference can derive (best effort; the validator judges the rest).
fn with_types(mut g: Graph) -> Graph {
    let _ = edgeport_ir::infer::infer_types(&mut g);
    g
}
