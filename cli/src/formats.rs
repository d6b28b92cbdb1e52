//! The format registry: which frontends and backends exist, how an input's format is sniffed
//! (magic bytes, extension, folder contents) and how an output's format is chosen (extension or
//! `--to`). External plugins (`edgeport-frontend-<name>` / `edgeport-backend-<name>` executables on
//! PATH) exchange the IR bundle and appear here like built-in formats.

use edgeport_ir::Graph;
use std::path::{Path, PathBuf};

/// A format error.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("{path}: cannot tell the model format ({why}); pass --from FORMAT (known: {known})")]
    Unknown { path: String, why: String, known: String },
    #[error("unknown format '{name}' (known: {known})")]
    NoSuchFormat { name: String, known: String },
    #[error("{0}")]
    Import(String),
    #[error("{0}")]
    Export(String),
    #[error("plugin {plugin}: {msg}")]
    Plugin { plugin: String, msg: String },
}

/// Where a format's code lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provider {
    Builtin,
    /// An external executable.
    Plugin(PathBuf),
}

/// A known format.
#[derive(Debug, Clone)]
pub struct Format {
    pub name: String,
    pub extensions: Vec<String>,
    pub can_import: bool,
    pub can_export: bool,
    pub provider: Provider,
}

/// Export settings shared by backends (the default: the backend's own opset, layouts and
/// weight types as they are).
#[derive(Debug, Clone, Default)]
pub struct ExportSettings {
    pub opset: Option<i64>,
    /// TFLite: make rank-≥3 inputs and outputs channels-last (NHWC).
    pub nhwc_io: bool,
    /// TFLite: store float32 weights as float16 (each read through a DEQUANTIZE op).
    pub f16_weights: bool,
    /// TFLite: write every weight dense (no sparse tensors behind DENSIFY for pruned weights).
    pub dense_weights: bool,
}

/// Every format: built-ins first, then plugins found on PATH.
pub fn formats() -> Vec<Format> {
    let mut v = vec![
        Format {
            name: "onnx".into(),
            extensions: vec!["onnx".into()],
            can_import: true,
            can_export: true,
            provider: Provider::Builtin,
        },
        Format {
            name: "tflite".into(),
            extensions: vec!["tflite".into()],
            can_import: true,
            can_export: true,
            provider: Provider::Builtin,
        },
        Format {
            name: "caffe".into(),
            extensions: vec!["prototxt".into(), "caffemodel".into()],
            can_import: true,
            can_export: false,
            provider: Provider::Builtin,
        },
        Format {
            name: "tf".into(),
            extensions: vec!["pb".into()],
            can_import: true,
            can_export: false,
            provider: Provider::Builtin,
        },
        Format {
            name: "mxnet".into(),
            extensions: vec!["params".into()],
            can_import: true,
            can_export: false,
            provider: Provider::Builtin,
        },
        Format {
            name: "paddle".into(),
            extensions: vec!["pdmodel".into()],
            can_import: true,
            can_export: false,
            provider: Provider::Builtin,
        },
        Format {
            name: "savedmodel".into(),
            extensions: vec![],
            can_import: true,
            can_export: false,
            provider: Provider::Builtin,
        },
        Format {
            name: "epir".into(),
            extensions: vec!["epir".into()],
            can_import: true,
            can_export: true,
            provider: Provider::Builtin,
        },
        Format {
            name: "pt2".into(),
            extensions: vec!["pt2".into()],
            can_import: true,
            can_export: false,
            provider: Provider::Builtin,
        },
        Format {
            name: "torchscript".into(),
            extensions: vec!["pt".into(), "pth".into()],
            can_import: true,
            can_export: false,
            provider: Provider::Builtin,
        },
        Format {
            name: "safetensors".into(),
            extensions: vec!["safetensors".into()],
            can_import: false,
            can_export: true,
            provider: Provider::Builtin,
        },
    ];
    v.extend(crate::plugins::discover());
    v
}

fn known() -> String {
    formats().iter().map(|f| f.name.clone()).collect::<Vec<_>>().join(", ")
}

/// Finds a format by name.
pub fn by_name(name: &str) -> Result<Format, FormatError> {
    formats()
        .into_iter()
        .find(|f| f.name == name)
        .ok_or_else(|| FormatError::NoSuchFormat {
            name: name.into(),
            known: known(),
        })
}

fn ext_of(path: &Path) -> Option<String> {
    path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase())
}

/// Sniffs an input's format: folder contents, magic bytes, then extension.
pub fn sniff(path: &Path) -> Result<Format, FormatError> {
    let unknown = |why: &str| FormatError::Unknown {
        path: path.display().to_string(),
        why: why.into(),
        known: known(),
    };
    if path.is_dir() {
        if path.join("graph.txt").is_file() {
            return by_name("epir");
        }
        if edgeport_tensorflow::frontend::is_saved_model_dir(path) {
            return by_name("savedmodel");
        }
        let onnx: Vec<_> = std::fs::read_dir(path)
            .map(|r| {
                r.filter_map(|e| e.ok())
                    .filter(|e| e.path().extension().is_some_and(|x| x == "onnx"))
                    .collect()
            })
            .unwrap_or_default();
        if onnx.len() == 1 {
            return by_name("onnx");
        }
        if let Ok((Some(_), Some(_))) = edgeport_caffe::companions(path, None) {
            return by_name("caffe");
        }
        if edgeport_mxnet::companions(path, None).is_ok() {
            return by_name("mxnet");
        }
        if edgeport_paddle::find_program(path).is_ok() {
            return by_name("paddle");
        }
        return Err(unknown("a folder without a recognised model"));
    }
    let mut head = [0u8; 256];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .map_err(|e| FormatError::Import(format!("{}: {e}", path.display())))?;
    let head = &head[..n];
    if n == 0 {
        return Err(unknown("the file is empty"));
    }
    // TFLite: a FlatBuffer with the file identifier "TFL3" at offset 4.
    if head.get(4..8) == Some(b"TFL3".as_slice()) {
        return by_name("tflite");
    }
    // A TF GraphDef starts with field 1 (repeated NodeDef, 0x0a) holding a NodeDef name (0x0a).
    if edgeport_tensorflow::frontend::looks_like_graphdef(head) {
        return by_name("tf");
    }
    // MXNet: `prefix-symbol.json`, or an NDArray list (magic 0x112).
    if path.file_name().is_some_and(|f| f.to_string_lossy().ends_with("-symbol.json")) || (n >= 8 && head[..8] == 0x112u64.to_le_bytes()) {
        return by_name("mxnet");
    }
    // A Paddle 3 PIR program is JSON with a "base_code" header.
    if edgeport_paddle::looks_like_pir(head) {
        return by_name("paddle");
    }
    // TorchScript: a zip with `code/` beside `data.pkl` (a state-dict `.pt` has no `code/`).
    if head.starts_with(b"PK\x03\x04") && edgeport_pytorch::is_torchscript_file(path) {
        return by_name("torchscript");
    }
    // ONNX ModelProto usually starts with field 1 (ir_version, varint): 0x08.
    if head[0] == 0x08 && ext_of(path).as_deref() != Some("txt") {
        return by_name("onnx");
    }
    // TFLite: a flatbuffer with file identifier "TFL3" at bytes 4..8.
    if head.get(4..8) == Some(b"TFL3".as_slice()) {
        return by_name("tflite");
    }
    if let Some(e) = ext_of(path) {
        for f in formats() {
            if f.extensions.contains(&e) && f.can_import {
                return Ok(f);
            }
        }
    }
    Err(unknown("no known magic bytes or extension"))
}

/// The output format for a path (by `--to`, else by extension).
pub fn for_output(path: &Path, to: Option<&str>) -> Result<Format, FormatError> {
    if let Some(t) = to {
        return by_name(t);
    }
    let e = ext_of(path).ok_or_else(|| FormatError::Unknown {
        path: path.display().to_string(),
        why: "the output has no extension".into(),
        known: known(),
    })?;
    formats()
        .into_iter()
        .find(|f| f.extensions.contains(&e) && f.can_export)
        .ok_or_else(|| FormatError::Unknown {
            path: path.display().to_string(),
            why: format!("no backend writes '.{e}' files"),
            known: known(),
        })
}

/// Import settings that some formats use: a separate weights file and input shapes.
#[derive(Debug, Clone, Default)]
pub struct ImportSettings {
    /// SavedModel signature (`--signature`).
    pub signature: Option<String>,
    pub weights: Option<PathBuf>,
    pub input_shapes: Vec<(String, Vec<usize>)>,
    /// Input dtypes given as `--input-shape NAME=D0,…:DTYPE` (TorchScript scripted modules).
    pub input_dtypes: Vec<(String, edgeport_ir::DType)>,
}

impl ImportSettings {
    /// From `--weights` and `--input-shape NAME=D0,D1,…[:DTYPE]` values (no dims: a scalar).
    pub fn parse(weights: Option<PathBuf>, shapes: &[String]) -> Result<ImportSettings, FormatError> {
        let mut input_shapes = Vec::new();
        let mut input_dtypes = Vec::new();
        for s in shapes {
            let bad = || FormatError::Import(format!("--input-shape '{s}': expected NAME=D0,D1,…[:DTYPE]"));
            let (name, dims) = s.split_once('=').ok_or_else(bad)?;
            let (dims, dtype) = match dims.split_once(':') {
                Some((d, t)) => (d, Some(edgeport_ir::DType::from_name(t.trim()).ok_or_else(bad)?)),
                None => (dims, None),
            };
            let dims: Vec<usize> = dims
                .split(',')
                .filter(|d| !d.trim().is_empty())
                .map(|d| d.trim().parse::<usize>().map_err(|_| bad()))
                .collect::<Result<_, _>>()?;
            input_shapes.push((name.trim().to_string(), dims));
            if let Some(t) = dtype {
                input_dtypes.push((name.trim().to_string(), t));
            }
        }
        Ok(ImportSettings {
            weights,
            input_shapes,
            input_dtypes,
            signature: None,
        })
    }
}

/// Imports a model with a format.
pub fn import(path: &Path, fmt: &Format) -> Result<Graph, FormatError> {
    import_with(path, fmt, &ImportSettings::default())
}

/// Imports a model with a format and import settings.
pub fn import_with(path: &Path, fmt: &Format, s: &ImportSettings) -> Result<Graph, FormatError> {
    match (&fmt.provider, fmt.name.as_str()) {
        (Provider::Builtin, "tf" | "savedmodel") => {
            let o = edgeport_tensorflow::TfImportOptions {
                signature: s.signature.clone(),
                ..Default::default()
            };
            edgeport_tensorflow::import_path(path, &o).map_err(|e| FormatError::Import(e.to_string()))
        }
        (Provider::Builtin, "caffe") => {
            let o = edgeport_caffe::Options {
                weights: s.weights.clone(),
                input_shapes: s.input_shapes.clone(),
            };
            edgeport_caffe::import_path(path, &o).map_err(|e| FormatError::Import(e.to_string()))
        }
        (Provider::Builtin, "mxnet") => {
            let o = edgeport_mxnet::Options {
                params: s.weights.clone(),
                input_shapes: s.input_shapes.clone(),
            };
            edgeport_mxnet::import_path(path, &o).map_err(|e| FormatError::Import(e.to_string()))
        }
        (Provider::Builtin, "paddle") => {
            let o = edgeport_paddle::PaddleOptions {
                weights: s.weights.clone(),
            };
            edgeport_paddle::import_path(path, &o).map_err(|e| FormatError::Import(e.to_string()))
        }
        (Provider::Builtin, "onnx") => {
            edgeport_onnx::import_path(path, &Default::default()).map_err(|e| FormatError::Import(e.to_string()))
        }
        (Provider::Builtin, "tflite") => edgeport_tflite::import_path(path).map_err(|e| FormatError::Import(e.to_string())),
        (Provider::Builtin, "epir") => {
            edgeport_ir::bundle::read_bundle(path).map_err(|e| FormatError::Import(format!("{}: {e}", path.display())))
        }
        (Provider::Builtin, "pt2") => edgeport_pytorch::import_pt2(path).map_err(|e| FormatError::Import(e.to_string())),
        (Provider::Builtin, "torchscript") => {
            let o = edgeport_pytorch::TsOptions {
                input_shapes: s.input_shapes.clone(),
                input_dtypes: s.input_dtypes.clone(),
            };
            edgeport_pytorch::import_torchscript(path, &o).map_err(|e| FormatError::Import(e.to_string()))
        }
        (Provider::Plugin(exe), _) => crate::plugins::import(exe, path),
        _ => Err(FormatError::Import(format!("format {} cannot import", fmt.name))),
    }
}

/// Lists what a backend cannot express (empty = fine).
pub fn check(g: &Graph, fmt: &Format, s: &ExportSettings) -> Vec<String> {
    match (&fmt.provider, fmt.name.as_str()) {
        (Provider::Builtin, "onnx") => {
            use edgeport_ir::traits::Backend;
            let b = edgeport_onnx::OnnxBackend { opts: onnx_options(s) };
            b.check(g)
        }
        (Provider::Builtin, "tflite") => edgeport_tflite::export::check(g, &tflite_options(s)),
        _ => Vec::new(),
    }
}

fn tflite_options(s: &ExportSettings) -> edgeport_tflite::export::TfliteExportOptions {
    edgeport_tflite::export::TfliteExportOptions {
        nhwc_io: s.nhwc_io,
        f16_weights: s.f16_weights,
        dense_weights: s.dense_weights,
        ..Default::default()
    }
}

fn onnx_options(s: &ExportSettings) -> edgeport_onnx::ExportOptions {
    let mut o = edgeport_onnx::ExportOptions::default();
    if let Some(v) = s.opset {
        o.opset = v;
    }
    o
}

/// Exports a validated graph.
pub fn export(g: &edgeport_ir::validate::Validated<'_>, path: &Path, fmt: &Format, s: &ExportSettings) -> Result<(), FormatError> {
    match (&fmt.provider, fmt.name.as_str()) {
        (Provider::Builtin, "onnx") => {
            edgeport_onnx::export_path(g, path, &onnx_options(s)).map_err(|e| FormatError::Export(e.to_string()))
        }
        (Provider::Builtin, "tflite") => edgeport_tflite::export::export_path(g, path, &tflite_options(s))
            .map(|_| ())
            .map_err(|e| FormatError::Export(e.to_string())),
        (Provider::Builtin, "epir") => {
            edgeport_ir::bundle::write_bundle(g, path).map_err(|e| FormatError::Export(format!("{}: {e}", path.display())))
        }
        (Provider::Builtin, "safetensors") => edgeport_pytorch::export_weights(g, path)
            .map(|_| ())
            .map_err(|e| FormatError::Export(e.to_string())),
        (Provider::Plugin(exe), _) => crate::plugins::export(exe, g, path),
        _ => Err(FormatError::Export(format!("format {} cannot export", fmt.name))),
    }
}
