//! `torch.save` files: the zip form (`<root>/data.pkl` + `<root>/data/<key>` storages, also the
//! weights inside TorchScript archives, named by module attribute path) and the legacy pre-1.6 form (a magic-number pickle, then
//! protocol, sys_info, the object, the storage key list and the raw storages).

use crate::error::{Error, Result};
use crate::pickle::{self, StorageRef, TensorRef, Value};
use crate::storage::{elem_size, materialize};
use crate::zip::{Archive, is_zip};
use edgeport_ir::{Bytes, Tensor};
use std::collections::HashMap;

/// The magic number legacy torch.save writes first (as a pickled int).
const LEGACY_MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
/// Most tensors one walk collects (a hostile pickle can share subtrees exponentially).
const MAX_VISITS: usize = 10_000_000;

/// True when the bytes begin like a legacy (non-zip) torch.save file.
pub fn is_legacy(head: &[u8]) -> bool {
    head.len() >= 14 && head[0] == 0x80 && head[2] == 0x8a && head[3] == 10 && head[4..14] == LEGACY_MAGIC
}

/// Every tensor in a pickled object, named by its path of dict keys / attributes (`a.b.0.c`).
pub fn collect_tensors(v: &Value, out: &mut Vec<(String, TensorRef)>) -> std::result::Result<(), String> {
    let mut visits = 0usize;
    walk(v, "", out, &mut visits)
}

fn join(prefix: &str, k: &str) -> String {
    if prefix.is_empty() {
        k.to_string()
    } else {
        format!("{prefix}.{k}")
    }
}

fn walk(v: &Value, prefix: &str, out: &mut Vec<(String, TensorRef)>, visits: &mut usize) -> std::result::Result<(), String> {
    *visits += 1;
    if *visits > MAX_VISITS {
        return Err(format!("more than {MAX_VISITS} values to walk (shared subtrees?)"));
    }
    match v {
        Value::Tensor(t) => out.push((prefix.to_string(), (**t).clone())),
        Value::Dict(d) => {
            for (k, x) in d.iter() {
                let key = match k {
                    Value::Str(s) => s.to_string(),
                    Value::Int(i) => i.to_string(),
                    _ => continue,
                };
                walk(x, &join(prefix, &key), out, visits)?;
            }
        }
        Value::Tuple(l) | Value::List(l) => {
            for (i, x) in l.iter().enumerate() {
                walk(x, &join(prefix, &i.to_string()), out, visits)?;
            }
        }
        Value::Object { state, .. } => walk(state, prefix, out, visits)?,
        _ => {}
    }
    Ok(())
}

/// The folder holding `data.pkl` inside a torch.save / TorchScript zip (with trailing `/`).
pub fn pickle_root(ar: &Archive, pkl: &str) -> Option<String> {
    let root = ar.root();
    if ar.contains(&format!("{root}{pkl}")) {
        return Some(root);
    }
    ar.entries()
        .iter()
        .filter_map(|e| e.name.strip_suffix(pkl).filter(|r| r.is_empty() || r.ends_with('/')))
        .min_by_key(|r| r.len())
        .map(str::to_string)
}

/// Loads the tensors of a torch.save zip already parsed.
pub fn tensors_from_zip(ar: &Archive, opts: &pickle::Options) -> Result<Vec<(String, Tensor)>> {
    let file = ar.file().to_string();
    let root = pickle_root(ar, "data.pkl").ok_or_else(|| Error::Format {
        file: file.clone(),
        msg: "no data.pkl in the archive (not a torch.save or TorchScript file)".into(),
    })?;
    let pkl = ar.read(&format!("{root}data.pkl"))?;
    let value = pickle::load(&format!("{file}:{root}data.pkl"), &pkl, opts)?;
    let mut refs = Vec::new();
    collect_tensors(&value, &mut refs).map_err(|msg| Error::Format { file: file.clone(), msg })?;
    let mut cache: HashMap<String, Bytes> = HashMap::new();
    let mut out = Vec::with_capacity(refs.len());
    for (name, t) in refs {
        let st = match cache.get(&t.storage.key) {
            Some(b) => b.clone(),
            None => {
                let key = format!("{root}data/{}", t.storage.key);
                let b = ar.read(&key).map_err(|e| Error::Tensor {
                    file: file.clone(),
                    tensor: name.clone(),
                    msg: format!("its storage record: {e}"),
                })?;
                cache.insert(t.storage.key.clone(), b.clone());
                b
            }
        };
        out.push((name.clone(), materialize(&file, &name, &t, &st)?));
    }
    Ok(out)
}

/// Loads the tensors of a torch.save file (zip or legacy) held in `data`.
pub fn load_tensors(file: &str, data: Bytes) -> Result<Vec<(String, Tensor)>> {
    if is_zip(&data) {
        let ar = Archive::parse(file, data)?;
        // A TorchScript archive (code/ beside data.pkl) pickles its modules as `__torch__.*`
        // objects: allowed as plain attribute holders, never called.
        let root = pickle_root(&ar, "data.pkl").unwrap_or_default();
        let script = ar.entries().iter().any(|e| e.name.starts_with(&format!("{root}code/")));
        let opts = pickle::Options {
            script_classes: script,
            ..Default::default()
        };
        return tensors_from_zip(&ar, &opts);
    }
    if is_legacy(&data) {
        return legacy_tensors(file, data);
    }
    Err(Error::Format {
        file: file.to_string(),
        msg: "not a torch.save file (neither a zip nor a legacy torch.save pickle)".into(),
    })
}

fn legacy_tensors(file: &str, data: Bytes) -> Result<Vec<(String, Tensor)>> {
    let opts = pickle::Options::default();
    let fmt = |msg: String| Error::Format {
        file: file.to_string(),
        msg,
    };
    let (_magic, p) = pickle::load_at(file, &data, 0, &opts)?;
    let (proto, p) = pickle::load_at(file, &data, p, &opts)?;
    if proto.as_int() != Some(1001) {
        return Err(fmt(format!("legacy torch.save protocol is {proto:?}, expected 1001")));
    }
    let (_sys_info, p) = pickle::load_at(file, &data, p, &opts)?;
    let (value, p) = pickle::load_at(file, &data, p, &opts)?;
    let (keys, mut p) = pickle::load_at(file, &data, p, &opts)?;
    let keys = keys.as_seq().ok_or_else(|| fmt("legacy storage key list is not a list".into()))?;
    let mut refs = Vec::new();
    collect_tensors(&value, &mut refs).map_err(fmt)?;
    let dtypes: HashMap<&str, &StorageRef> = refs.iter().map(|(_, t)| (t.storage.key.as_str(), &t.storage)).collect();
    let mut storages: HashMap<String, Bytes> = HashMap::new();
    for k in keys {
        let key = match k {
            Value::Str(s) => s.to_string(),
            Value::Int(i) => i.to_string(),
            o => return Err(fmt(format!("legacy storage key is a {}", o.kind()))),
        };
        let head = data
            .get(p..p + 8)
            .ok_or_else(|| fmt(format!("storage '{key}': file ends before its size")))?;
        let mut a = [0u8; 8];
        a.copy_from_slice(head);
        let numel = u64::from_le_bytes(a);
        p += 8;
        let es = dtypes
            .get(key.as_str())
            .and_then(|s| elem_size(s.dtype))
            .ok_or_else(|| fmt(format!("storage '{key}' is not used by any tensor, its element size is unknown")))?;
        let len = numel
            .checked_mul(es as u64)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| fmt(format!("storage '{key}' size overflows")))?;
        let b = data.slice(p, len).ok_or_else(|| {
            fmt(format!(
                "storage '{key}' declares {numel} elements ({len} bytes) but the file ends first"
            ))
        })?;
        p += len;
        storages.insert(key, b);
    }
    let mut out = Vec::with_capacity(refs.len());
    for (name, t) in &refs {
        let st = storages
            .get(&t.storage.key)
            .ok_or_else(|| fmt(format!("tensor '{name}': storage '{}' is missing", t.storage.key)))?;
        out.push((name.clone(), materialize(file, name, t, st)?));
    }
    Ok(out)
}
