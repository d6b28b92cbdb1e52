//! # edgeport-mxnet — MXNet import
//!
//! Same shape as every converter crate: [`Options`]/[`Error`], [`import_path`] (a
//! `prefix-symbol.json`, a `prefix-NNNN.params`, or a folder) and [`import_files`], the file
//! readers ([`symbol`] for the JSON graph, [`params`] for the NDArray list, zero-copy from a
//! memory map) and op rules in `ops/<family>.rs`.
//!
//! Companion files are found the way MXNet writes them: `prefix-symbol.json` goes with the
//! newest `prefix-NNNN.params` beside it (highest epoch number); `Options::params` overrides.
//! Graph inputs are the variables that the params file does not hold; their shapes come from
//! `Options::input_shapes` or the variable's `__shape__` attribute.

pub mod build;
pub mod error;
pub mod frontend;
pub mod model;
pub mod ops;
pub mod params;
pub mod symbol;

pub use error::{Error, NodeIssue};
pub use frontend::MxnetFrontend;

use edgeport_ir::Graph;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Import settings.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The params file (else the newest `prefix-NNNN.params` beside the symbol).
    pub params: Option<PathBuf>,
    /// Shapes of the graph inputs by variable name (e.g. `data`).
    pub input_shapes: Vec<(String, Vec<usize>)>,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `(prefix, epoch)` of a `prefix-NNNN.params` file name.
fn params_epoch(name: &str) -> Option<(&str, u64)> {
    let stem = name.strip_suffix(".params")?;
    let (prefix, num) = stem.rsplit_once('-')?;
    (!num.is_empty() && num.bytes().all(|b| b.is_ascii_digit())).then(|| num.parse().ok().map(|n| (prefix, n)))?
}

/// The newest `prefix-NNNN.params` in `dir`.
fn newest_params(dir: &Path, prefix: &str) -> Result<Option<PathBuf>, Error> {
    let mut best: Option<(u64, PathBuf)> = None;
    for e in std::fs::read_dir(dir).map_err(io(dir))?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some((p, n)) = params_epoch(&name)
            && p == prefix
            && best.as_ref().is_none_or(|(b, _)| n > *b)
        {
            best = Some((n, e.path()));
        }
    }
    Ok(best.map(|b| b.1))
}

/// Finds the symbol and params files for a path: a symbol JSON, a params file, or a folder
/// holding one `*-symbol.json`.
pub fn companions(path: &Path, params: Option<&Path>) -> Result<(PathBuf, Option<PathBuf>), Error> {
    let dir_of = |p: &Path| {
        p.parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf()
    };
    let (symbol, dir) = if path.is_dir() {
        let mut syms: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io(path))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().ends_with("-symbol.json")))
            .collect();
        syms.sort();
        match syms.len() {
            1 => (syms.remove(0), path.to_path_buf()),
            0 => {
                return Err(Error::Files {
                    file: path.display().to_string(),
                    msg: "no *-symbol.json in the folder".into(),
                });
            }
            n => {
                return Err(Error::Files {
                    file: path.display().to_string(),
                    msg: format!("{n} *-symbol.json files; pass the one to use"),
                });
            }
        }
    } else if let Some((prefix, _)) = path.file_name().and_then(|n| n.to_str()).and_then(params_epoch) {
        // A params file given: its symbol is `prefix-symbol.json`.
        let dir = dir_of(path);
        let sym = dir.join(format!("{prefix}-symbol.json"));
        return Ok((sym, Some(params.map_or_else(|| path.to_path_buf(), Path::to_path_buf))));
    } else {
        (path.to_path_buf(), dir_of(path))
    };
    if let Some(p) = params {
        return Ok((symbol, Some(p.to_path_buf())));
    }
    let name = symbol.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let found = match name.strip_suffix("-symbol.json") {
        Some(prefix) => newest_params(&dir, prefix)?,
        None => None,
    };
    Ok((symbol, found))
}

/// Imports an MXNet model (see [`companions`] for what `path` may be).
pub fn import_path(path: &Path, opts: &Options) -> Result<Graph, Error> {
    let (symbol, params) = companions(path, opts.params.as_deref())?;
    import_files(&symbol, params.as_deref(), opts)
}

/// Imports from an explicit symbol file and optional params file.
pub fn import_files(symbol: &Path, params: Option<&Path>, opts: &Options) -> Result<Graph, Error> {
    let text = std::fs::read(symbol).map_err(io(symbol))?;
    let arrays = match params {
        Some(p) => {
            let bytes = edgeport_ir::MappedFile::open(p).map_err(io(p))?.all();
            params::read_params(bytes).map_err(|err| Error::Params {
                file: p.display().to_string(),
                err,
            })?
        }
        None => Vec::new(),
    };
    build(&text, arrays, &symbol.display().to_string(), opts)
}

/// Imports from in-memory symbol JSON and params bytes (`name` is used in errors).
pub fn import_bytes(symbol_json: &[u8], params_bytes: Option<Vec<u8>>, name: &str, opts: &Options) -> Result<Graph, Error> {
    let arrays = match params_bytes {
        Some(b) => params::read_params(edgeport_ir::Bytes::from_vec(b)).map_err(|err| Error::Params { file: name.into(), err })?,
        None => Vec::new(),
    };
    build(symbol_json, arrays, name, opts)
}

fn build(text: &[u8], arrays: Vec<params::NdArray>, file: &str, opts: &Options) -> Result<Graph, Error> {
    let sym = symbol::parse_symbol(text).map_err(|msg| Error::Symbol { file: file.into(), msg })?;
    let mut by_name = HashMap::new();
    for a in arrays {
        let bare = a
            .name
            .strip_prefix("arg:")
            .or_else(|| a.name.strip_prefix("aux:"))
            .unwrap_or(&a.name)
            .to_string();
        by_name.insert(bare, a);
    }
    let mut g = model::build(&sym, &by_name, file, &opts.input_shapes)?;
    let _ = edgeport_ir::infer::infer_types(&mut g);
    Ok(g)
}
