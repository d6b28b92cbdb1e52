//! The ONNX backend: a validated IR graph → an ONNX model file at a chosen opset.
//!
//! Phases, one file each: `lower` (IR → [`crate::model::RawModel`], names and captures),
//! `ops/<family>.rs` (each op in the form valid at the target opset), `opsets` (the schema
//! table every emitted node is checked against), `write` (temp file + rename, external data),
//! and `crate::encode` (the only export code touching protobuf types). Every problem is
//! collected by [`check`] before anything is written.

mod lower;
mod names;
mod ops;
mod quant_note;
#[rustfmt::skip]
pub mod opsets;
mod write;

use crate::error::Error;
use crate::model::RawModel;
use edgeport_ir::validate::Validated;
use edgeport_ir::{DType, Graph};
use std::path::Path;

pub use write::{export_bytes, export_path};

/// The oldest and newest ai.onnx opsets the exporter writes.
pub const MIN_OPSET: i64 = 7;
pub const MAX_OPSET: i64 = 27;

/// When tensors go to a `<stem>.data` file beside the model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExternalDataPolicy {
    /// External when the model would not fit protobuf's 2 GiB limit, or when its weights
    /// exceed [`AUTO_EXTERNAL_BYTES`].
    #[default]
    Auto,
    /// Every tensor of 1 KiB or more goes external.
    Always,
    /// Never; models over 2 GiB are refused.
    Never,
}

/// Weights above this size go external under [`ExternalDataPolicy::Auto`] (1.75 GiB: leaves
/// room for the graph under the 2 GiB protobuf limit).
pub const AUTO_EXTERNAL_BYTES: u64 = 1792 << 20;
/// Tensors at least this large go to the external data file.
pub const EXTERNAL_THRESHOLD: usize = 1024;

/// Export settings.
#[derive(Clone, Debug)]
pub struct ExportOptions {
    /// Target ai.onnx opset (7..=27).
    pub opset: i64,
    pub external_data: ExternalDataPolicy,
    /// `producer_name` written into the model.
    pub producer: String,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            opset: 17,
            external_data: ExternalDataPolicy::Auto,
            producer: "edgeport".into(),
        }
    }
}

/// Every op, attribute or dtype of `g` that cannot be expressed at `opts.opset` (empty =
/// exportable).
pub fn check(g: &Graph, opts: &ExportOptions) -> Vec<String> {
    match lower_model(g, opts) {
        Ok(_) => Vec::new(),
        Err(p) => p,
    }
}

/// The minimum IR version for an ai.onnx opset (onnx's `VERSION_TABLE`).
pub fn ir_version_for_opset(opset: i64) -> i64 {
    match opset {
        ..=8 => 3,
        9 => 4,
        10 => 5,
        11 => 6,
        12..=14 => 7,
        15..=18 => 8,
        19..=20 => 9,
        21..=22 => 10,
        23 => 11,
        24 => 12,
        _ => 13,
    }
}

fn ir_version_for_dtype(d: DType) -> i64 {
    match d {
        DType::BF16 => 4,
        DType::F8E4M3FN | DType::F8E4M3FNUZ | DType::F8E5M2 | DType::F8E5M2FNUZ => 9,
        DType::I4 | DType::U4 => 10,
        DType::F4E2M1 => 11,
        DType::F8E8M0 => 12,
        DType::I2 | DType::U2 => 13,
        _ => 3,
    }
}

fn graph_dtypes(g: &Graph, out: &mut std::collections::BTreeSet<DType>) {
    for id in g.node_ids() {
        let n = g.node(id);
        for v in &n.outputs {
            if let Some(t) = v.ty.as_ref().and_then(|t| t.as_tensor()) {
                out.insert(t.dtype);
            }
        }
        if let edgeport_ir::Op::Constant(c) = &n.op {
            out.insert(c.value.dtype);
        }
        for s in n.op.subgraphs() {
            graph_dtypes(s, out);
        }
    }
}

/// Lowers the graph to the plain model, or returns every problem.
pub(crate) fn lower_model(g: &Graph, opts: &ExportOptions) -> Result<RawModel, Vec<String>> {
    if !(MIN_OPSET..=MAX_OPSET).contains(&opts.opset) {
        return Err(vec![format!(
            "opset {} is outside the supported range {MIN_OPSET}..={MAX_OPSET}",
            opts.opset
        )]);
    }
    let mut lw = lower::Lower::new(opts.opset, g);
    let graph = lw.graph(g, true, &[]);
    if !lw.problems.is_empty() {
        return Err(lw.problems);
    }
    let mut ir = ir_version_for_opset(opts.opset);
    let mut dts = std::collections::BTreeSet::new();
    graph_dtypes(g, &mut dts);
    for d in dts {
        ir = ir.max(ir_version_for_dtype(d));
    }
    let mut opsets = vec![(String::new(), opts.opset)];
    for (d, v) in &lw.domains {
        ir = ir.max(match (d.as_str(), *v) {
            ("ai.onnx.ml", 1) => 3,
            ("ai.onnx.ml", 2) => 6,
            ("ai.onnx.ml", 3) => 8,
            ("ai.onnx.ml", 4) => 9,
            ("ai.onnx.ml", _) => 10,
            ("ai.onnx.preview.training", _) => 7,
            _ => 3,
        });
        opsets.push((d.clone(), *v));
    }
    let metadata = g
        .metadata
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("meta.").map(|k| (k.to_string(), v.clone())))
        .collect();
    let doc = g
        .metadata
        .iter()
        .find(|(k, _)| k == "doc")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let mut graph = graph;
    graph.doc_string = doc;
    Ok(RawModel {
        ir_version: ir,
        opsets,
        producer_name: opts.producer.clone(),
        producer_version: env!("CARGO_PKG_VERSION").to_string(),
        doc_string: String::new(),
        metadata,
        graph,
        functions: Vec::new(),
    })
}

/// Lowers a validated graph or returns [`Error::Export`] listing every problem.
pub(crate) fn lower_validated(g: &Validated<'_>, opts: &ExportOptions, file: &str) -> Result<RawModel, Error> {
    lower_model(g.graph(), opts).map_err(|problems| Error::Export {
        file: file.to_string(),
        problems,
    })
}

/// The ONNX [`edgeport_ir::traits::Backend`].
#[derive(Clone, Debug, Default)]
pub struct OnnxBackend {
    pub opts: ExportOptions,
}

impl edgeport_ir::traits::Backend for OnnxBackend {
    fn name(&self) -> &'static str {
        "onnx"
    }
    fn extensions(&self) -> &'static [&'static str] {
        &["onnx"]
    }
    fn check(&self, graph: &Graph) -> Vec<String> {
        check(graph, &self.opts)
    }
    fn export(&self, graph: &Validated<'_>, path: &Path) -> Result<(), edgeport_ir::traits::PluginError> {
        export_path(graph, path, &self.opts).map_err(|e| Box::new(e) as _)
    }
}
