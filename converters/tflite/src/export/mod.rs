//! TFLite export (IR → `.tflite` flatbuffer).
//!
//! `lower` walks the graph in topological order and builds a [`model::TModel`] with one rule per
//! op family (`ops/`), keeping channels-last tensors channels-last across the graph (see
//! `lower.rs`). Reshapes, transposes and scalar gathers with static shapes are held as factor
//! views of the tensor they read (`view.rs`) and cost nothing until a consumer needs an order;
//! attention head splits and merges around constant-weight matrix products are absorbed into
//! per-head BATCH_MATMUL weights (`ops/heads.rs`), so a torch TransformerEncoderLayer exports
//! with no TRANSPOSE. `write` serializes the model with the flatbuffers builder (identifier
//! `TFL3`, schema version 3, buffers 16-byte aligned and streamed into the file rather than
//! copied into the builder, a `serving_default` signature, the buffer offset scheme past 2 GB)
//! into a temporary file renamed at the end. [`TfliteBackend::check`] runs the same lowering and
//! lists every problem before anything is written. Before writing, mostly-zero weights (pruned
//! ones) are stored as TFLite sparse tensors behind DENSIFY ops (`sparse.rs`; a smaller file,
//! no faster kernels) unless [`TfliteExportOptions::dense_weights`] is set.

mod lower;
mod model;
mod ops;
mod sparse;
mod util;
mod view;
mod write;

use crate::error::TfliteError;
use edgeport_ir::Graph;
use edgeport_ir::traits::{Backend, PluginError};
use edgeport_ir::validate::Validated;
use std::path::Path;

/// Export options.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TfliteExportOptions {
    /// Make rank-4 graph inputs and outputs channels-last (NHWC) instead of keeping the source's
    /// layout (which costs one transpose at each boundary of a channels-first CNN).
    pub nhwc_io: bool,
    /// Store float32 constants as float16, each followed by a DEQUANTIZE op.
    pub f16_weights: bool,
    /// Use the buffer offset scheme (data after the flatbuffer) even below 2 GB.
    pub external_buffers: bool,
    /// Integer graph I/O for quantized graphs: an input read only by a QuantizeLinear becomes
    /// that integer tensor, an output written by a DequantizeLinear its integer input (for
    /// full-integer targets: NNAPI, Edge TPU, microcontrollers).
    pub int8_io: bool,
    /// Write every constant dense. By default a float32 weight of a convolution, fully-connected
    /// or matrix product, an int8 weight of an integer convolution, or a float16/int8 weight read
    /// by DEQUANTIZE, that is mostly zeros (the exact rules: `sparse.rs`) is stored as
    /// a TFLite sparse tensor read through a DENSIFY op when that saves at least a fifth of its
    /// bytes: the file shrinks; LiteRT densifies it once when preparing the model, so inference
    /// is not faster.
    pub dense_weights: bool,
}

/// The least share of a weight's bytes its sparse form must save to be used.
pub const SPARSE_MIN_SAVING: f64 = sparse::MIN_SAVING;

/// What an export wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct ExportSummary {
    pub tensors: usize,
    pub operators: usize,
    /// Operator counts by builtin name, sorted by name.
    pub op_counts: Vec<(String, usize)>,
}

fn lower_graph(g: &Graph, opts: &TfliteExportOptions) -> Result<model::TModel, Vec<String>> {
    let mut cx = lower::Lower::new(g, opts);
    cx.run();
    if !cx.issues.is_empty() {
        return Err(cx.issues);
    }
    let mut m = cx.m;
    m.compact();
    Ok(m)
}

/// The model to write: lowered, then mostly-zero weights stored sparse unless asked not to.
fn lower_for_write(g: &Graph, opts: &TfliteExportOptions) -> Result<model::TModel, Vec<String>> {
    let mut m = lower_graph(g, opts)?;
    if !opts.dense_weights {
        sparse::sparsify(&mut m);
    }
    Ok(m)
}

/// Everything in `g` that the exporter cannot express (empty = exportable).
pub fn check(g: &Graph, opts: &TfliteExportOptions) -> Vec<String> {
    match lower_graph(g, opts) {
        Ok(_) => Vec::new(),
        Err(e) => e,
    }
}

/// Exports a validated graph to `path` (temporary file + rename; nothing is written when the
/// graph cannot be expressed).
pub fn export_path(g: &Validated<'_>, path: &Path, opts: &TfliteExportOptions) -> Result<ExportSummary, TfliteError> {
    let file = path.display().to_string();
    let m = lower_for_write(g.graph(), opts).map_err(|problems| TfliteError::Export {
        file: file.clone(),
        problems,
    })?;
    write::write_file(&m, path, opts.external_buffers).map_err(|e| match e {
        write::WriteError::Io(source) => TfliteError::Io {
            path: path.to_path_buf(),
            source,
        },
        other => TfliteError::Export {
            file,
            problems: vec![other.to_string()],
        },
    })?;
    Ok(summary(&m))
}

/// Exports to bytes in memory (the offset scheme is not used).
pub fn export_bytes(g: &Validated<'_>, opts: &TfliteExportOptions) -> Result<Vec<u8>, TfliteError> {
    let m = lower_for_write(g.graph(), opts).map_err(|problems| TfliteError::Export {
        file: "<memory>".into(),
        problems,
    })?;
    let mut out = Vec::new();
    write::write_model(&m, &mut out, opts.external_buffers).map_err(|e| TfliteError::Export {
        file: "<memory>".into(),
        problems: vec![e.to_string()],
    })?;
    Ok(out)
}

fn summary(m: &model::TModel) -> ExportSummary {
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for op in &m.ops {
        *counts.entry(format!("{:?}", op.code)).or_default() += 1;
    }
    ExportSummary {
        tensors: m.tensors.len(),
        operators: m.ops.len(),
        op_counts: counts.into_iter().collect(),
    }
}

/// The TFLite backend (`.tflite`).
#[derive(Clone, Debug, Default)]
pub struct TfliteBackend {
    pub opts: TfliteExportOptions,
}

impl Backend for TfliteBackend {
    fn name(&self) -> &'static str {
        "tflite"
    }
    fn extensions(&self) -> &'static [&'static str] {
        &["tflite"]
    }
    fn check(&self, graph: &Graph) -> Vec<String> {
        check(graph, &self.opts)
    }
    fn export(&self, graph: &Validated<'_>, path: &Path) -> Result<(), PluginError> {
        export_path(graph, path, &self.opts)
            .map(|_| ())
            .map_err(|e| Box::new(e) as PluginError)
    }
}
