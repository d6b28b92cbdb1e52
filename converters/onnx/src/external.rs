//! External tensor data: `data_location = EXTERNAL` tensors read from files beside the model,
//! memory-mapped, with paths confined to the model's folder.

use crate::decode::Ctx;
use crate::error::Error;
use edgeport_ir::MappedFile;
use edgeport_ir::{DType, Tensor};
use edgeport_proto::onnx as pb;
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// Resolves `location` against `base`, refusing absolute paths, `..`, and symlinks that lead
/// out of `base`.
pub fn confine(base: &Path, location: &str) -> Result<PathBuf, String> {
    let rel = Path::new(location);
    if location.is_empty() {
        return Err("empty external data location".into());
    }
    for c in rel.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            _ => {
                return Err(format!(
                    "external data path '{location}' must be relative and stay inside the model's folder"
                ));
            }
        }
    }
    let joined = base.join(rel);
    let real_base = base.canonicalize().map_err(|e| format!("{}: {e}", base.display()))?;
    let real = joined
        .canonicalize()
        .map_err(|e| format!("external data file '{}': {e}", joined.display()))?;
    if !real.starts_with(&real_base) {
        return Err(format!("external data path '{location}' resolves outside the model's folder"));
    }
    Ok(real)
}

type MapCache = Mutex<HashMap<PathBuf, Arc<MappedFile>>>;

fn cache() -> &'static MapCache {
    static C: OnceLock<MapCache> = OnceLock::new();
    C.get_or_init(|| Mutex::new(HashMap::new()))
}

fn map_file(path: &Path) -> Result<Arc<MappedFile>, String> {
    let mut c = cache().lock().map_err(|_| "external data cache poisoned".to_string())?;
    if let Some(m) = c.get(path) {
        return Ok(m.clone());
    }
    let m = MappedFile::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    c.insert(path.to_path_buf(), m.clone());
    Ok(m)
}

/// Forgets cached maps (between imports of different models).
pub fn clear_cache() {
    if let Ok(mut c) = cache().lock() {
        c.clear();
    }
}

pub(crate) fn read_external(t: &pb::TensorProto, dtype: DType, shape: Vec<usize>, n: usize, cx: &Ctx<'_>) -> Result<Tensor, Error> {
    let terr = |msg: String| Error::Tensor {
        file: cx.file.to_string(),
        tensor: t.name.clone(),
        msg,
    };
    let mut location = None;
    let mut offset = 0usize;
    let mut length = None;
    for kv in &t.external_data {
        match kv.key.as_str() {
            "location" => location = Some(kv.value.clone()),
            "offset" => offset = kv.value.parse().map_err(|_| terr(format!("bad external offset '{}'", kv.value)))?,
            "length" => {
                length = Some(
                    kv.value
                        .parse::<usize>()
                        .map_err(|_| terr(format!("bad external length '{}'", kv.value)))?,
                )
            }
            _ => {}
        }
    }
    let location = location.ok_or_else(|| terr("external data without a location".into()))?;
    let base = cx
        .ext
        .base
        .as_ref()
        .ok_or_else(|| terr("external data needs the model's folder (import from a path)".into()))?;
    let path = confine(base, &location).map_err(terr)?;
    if dtype == DType::String {
        return Err(terr("string tensors cannot use external data".into()));
    }
    let need = dtype.byte_len(n).ok_or_else(|| terr("size overflows".into()))?;
    if let Some(l) = length
        && l != need
    {
        return Err(terr(format!(
            "external length {l} does not match {dtype} dims {shape:?} ({need} bytes)"
        )));
    }
    let map = map_file(&path).map_err(terr)?;
    let bytes = map.bytes(offset, need).ok_or_else(|| {
        terr(format!(
            "external data {}[{offset}..+{need}] is past the end of the file",
            path.display()
        ))
    })?;
    Tensor::from_bytes(dtype, shape, bytes).map_err(|e| terr(e.to_string()))
}
