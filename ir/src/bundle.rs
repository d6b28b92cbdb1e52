//! The IR bundle: the documented exchange format between edgeport and plugins written in any
//! language.
//!
//! A bundle is a folder `<name>.epir/` holding:
//!
//! - `graph.txt`: the graph in the text form ([`crate::text`]), with every constant tensor of
//!   more than [`INLINE_LIMIT`] elements written as `dtype[shape] @"key"`;
//! - `weights.safetensors`: those tensors, by key, in the [safetensors] format (little-endian
//!   row-major data after a JSON header). Tensors whose dtype safetensors cannot express
//!   (strings, complex128, packed 4- and 2-bit types, f4e2m1) stay inline in `graph.txt`.
//!
//! Writing is deterministic (same graph, same bytes) and atomic: the folder is written under a
//! temporary name beside the target and renamed into place. Reading memory-maps the weights
//! file, so constants borrow it ([`Bytes::from_owner`]) instead of copying.
//!
//! [safetensors]: https://github.com/huggingface/safetensors

use crate::dtype::DType;
use crate::graph::Graph;
use crate::tensor::{Tensor, TensorData};
use crate::text::{ParseError, PrintOptions, parse_graph_with_weights, print_graph_split};
use safetensors::tensor::{Dtype as StDtype, SafeTensors, View};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Tensors with more elements than this go to `weights.safetensors`.
pub const INLINE_LIMIT: usize = 16;
/// The graph file inside a bundle.
pub const GRAPH_FILE: &str = "graph.txt";
/// The weights file inside a bundle.
pub const WEIGHTS_FILE: &str = "weights.safetensors";

/// Why a bundle could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Parse { path: PathBuf, source: ParseError },
    #[error("{path}: safetensors: {msg}")]
    Weights { path: PathBuf, msg: String },
    #[error("{path}: tensor '{key}' has dtype {dtype}, which this reader does not know")]
    UnknownDType { path: PathBuf, key: String, dtype: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BundleError + '_ {
    move |source| BundleError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The safetensors dtype of an IR dtype, when it has one.
pub fn safetensors_dtype(d: DType) -> Option<StDtype> {
    Some(match d {
        DType::F32 => StDtype::F32,
        DType::F64 => StDtype::F64,
        DType::F16 => StDtype::F16,
        DType::BF16 => StDtype::BF16,
        DType::I8 => StDtype::I8,
        DType::I16 => StDtype::I16,
        DType::I32 => StDtype::I32,
        DType::I64 => StDtype::I64,
        DType::U8 => StDtype::U8,
        DType::U16 => StDtype::U16,
        DType::U32 => StDtype::U32,
        DType::U64 => StDtype::U64,
        DType::Bool => StDtype::BOOL,
        DType::C64 => StDtype::C64,
        DType::F8E4M3FN => StDtype::F8_E4M3,
        DType::F8E5M2 => StDtype::F8_E5M2,
        DType::F8E4M3FNUZ => StDtype::F8_E4M3FNUZ,
        DType::F8E5M2FNUZ => StDtype::F8_E5M2FNUZ,
        DType::F8E8M0 => StDtype::F8_E8M0,
        DType::String | DType::C128 | DType::F4E2M1 | DType::I4 | DType::U4 | DType::I2 | DType::U2 => return None,
    })
}

fn from_safetensors_dtype(d: StDtype) -> Option<DType> {
    DType::ALL.iter().copied().find(|x| safetensors_dtype(*x) == Some(d))
}

/// A tensor seen as a safetensors view (borrowing its bytes).
struct TensorView<'a>(&'a Tensor, StDtype);

impl View for TensorView<'_> {
    fn dtype(&self) -> StDtype {
        self.1
    }
    fn shape(&self) -> &[usize] {
        &self.0.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        match &self.0.data {
            TensorData::Raw(b) => Cow::Borrowed(&b[..]),
            TensorData::Permuted(p) => Cow::Borrowed(&p.bytes()[..]),
            TensorData::Strings(_) => Cow::Borrowed(&[]),
        }
    }
    fn data_len(&self) -> usize {
        self.0.raw().map(|b| b.len()).unwrap_or(0)
    }
}

/// Prints `g` as bundle text and returns the tensors that go to the weights file.
pub fn split(g: &Graph) -> (String, Vec<(String, Tensor)>) {
    let external = |t: &Tensor| safetensors_dtype(t.dtype).is_some() && t.raw().is_some();
    print_graph_split(
        g,
        &PrintOptions {
            inline_limit: INLINE_LIMIT,
        },
        &external,
    )
}

/// Writes `g` as a bundle folder at `dir` (replacing an existing bundle there).
pub fn write_bundle(g: &Graph, dir: &Path) -> Result<(), BundleError> {
    let (text, weights) = split(g);
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let base = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "bundle".into());
    let tmp = parent.join(format!(".{base}.tmp-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let result = (|| {
        let gp = tmp.join(GRAPH_FILE);
        std::fs::write(&gp, text.as_bytes()).map_err(io(&gp))?;
        let wp = tmp.join(WEIGHTS_FILE);
        let views: Vec<(String, TensorView<'_>)> = weights
            .iter()
            .filter_map(|(k, t)| safetensors_dtype(t.dtype).map(|d| (k.clone(), TensorView(t, d))))
            .collect();
        let info = HashMap::from([("format".to_string(), "edgeport-ir-bundle/1".to_string())]);
        safetensors::tensor::serialize_to_file(views, Some(info), &wp).map_err(|e| BundleError::Weights {
            path: wp.clone(),
            msg: e.to_string(),
        })?;
        // Replace an existing bundle: move it aside, move the new one in, drop the old one.
        if dir.exists() {
            let old = parent.join(format!(".{base}.old-{}", std::process::id()));
            std::fs::rename(dir, &old).map_err(io(dir))?;
            std::fs::rename(&tmp, dir).map_err(io(dir))?;
            std::fs::remove_dir_all(&old).map_err(io(&old))?;
        } else {
            std::fs::rename(&tmp, dir).map_err(io(dir))?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

/// A memory map shared by the constants that point into it.
/// Reads the weights file of a bundle: every tensor borrows the memory map.
pub fn read_weights(path: &Path) -> Result<HashMap<String, Tensor>, BundleError> {
    let map = crate::mapped::MappedFile::open(path).map_err(io(path))?;
    let werr = |msg: String| BundleError::Weights {
        path: path.to_path_buf(),
        msg,
    };
    let st = SafeTensors::deserialize((*map).as_ref()).map_err(|e| werr(e.to_string()))?;
    let mut out = HashMap::new();
    for (key, view) in st.iter() {
        let dtype = from_safetensors_dtype(view.dtype()).ok_or_else(|| BundleError::UnknownDType {
            path: path.to_path_buf(),
            key: key.to_string(),
            dtype: format!("{:?}", view.dtype()),
        })?;
        let bytes = map
            .view_of(view.data())
            .ok_or_else(|| werr(format!("tensor '{key}' lies outside the file")))?;
        let t = Tensor::from_bytes(dtype, view.shape().to_vec(), bytes).map_err(|e| werr(format!("tensor '{key}': {e}")))?;
        out.insert(key.to_string(), t);
    }
    Ok(out)
}

/// Reads a bundle folder.
pub fn read_bundle(dir: &Path) -> Result<Graph, BundleError> {
    let gp = dir.join(GRAPH_FILE);
    let text = std::fs::read_to_string(&gp).map_err(io(&gp))?;
    let wp = dir.join(WEIGHTS_FILE);
    let weights = if wp.exists() { read_weights(&wp)? } else { HashMap::new() };
    parse_graph_with_weights(&text, &weights).map_err(|source| BundleError::Parse { path: gp, source })
}
