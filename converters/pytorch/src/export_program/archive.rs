//! Finding the program and its weights in a `.pt2` archive, whatever generation wrote it:
//!
//! 1. torch 2.1–2.7: `serialized_exported_program.json`, `serialized_state_dict.pt`,
//!    `serialized_constants.pt` (nested torch.save zips), no root folder;
//! 2. torch 2.8 PT2 archive: `<root>/models/<name>.json` and a pickled state dict
//!    `<root>/data/weights/<name>.pt` (constants in `data/constants/<name>.pt`);
//! 3. torch ≥ 2.9 (verified with 2.15): raw storages `<root>/data/weights/weight_<i>` described by
//!    `<root>/data/weights/<name>_weights_config.json` (constants likewise under `data/constants/`).
//!
//! The root folder is discovered from the entries, never assumed.

use super::schema;
use crate::error::{Error, Result};
use crate::pickle::{self, StorageRef, TensorRef};
use crate::storage::{elem_size, materialize};
use crate::torch_save::tensors_from_zip;
use crate::zip::Archive;
use edgeport_ir::{Bytes, Tensor};
use serde_json::Value as J;
use std::collections::HashMap;

/// A program read from an archive.
pub struct Program {
    pub json: J,
    /// Parameters and buffers by fully qualified name.
    pub weights: HashMap<String, Tensor>,
    /// Lifted tensor constants by name.
    pub constants: HashMap<String, Tensor>,
    /// Which layout the archive had (1, 2 or 3), for reports.
    pub generation: u8,
}

fn fmt(file: &str, msg: impl Into<String>) -> Error {
    Error::Format {
        file: file.to_string(),
        msg: msg.into(),
    }
}

fn parse_json(file: &str, entry: &str, text: &str) -> Result<J> {
    serde_json::from_str(text).map_err(|e| fmt(file, format!("{entry}: bad JSON: {e}")))
}

/// Loads a nested torch.save zip stored as an entry (zero-copy for stored entries).
fn nested_state_dict(ar: &Archive, entry: &str) -> Result<HashMap<String, Tensor>> {
    let b = ar.read(entry)?;
    let inner = Archive::parse(&format!("{}:{entry}", ar.file()), b)?;
    Ok(tensors_from_zip(&inner, &pickle::Options::default())?.into_iter().collect())
}

/// Loads raw-storage payloads described by a `{"config": {fqn: PayloadMeta}}` file.
fn raw_payloads(ar: &Archive, dir: &str, config_entry: &str) -> Result<HashMap<String, Tensor>> {
    let file = ar.file();
    let cfg = parse_json(file, config_entry, &ar.read_text(config_entry)?)?;
    let items = cfg
        .get("config")
        .and_then(J::as_object)
        .ok_or_else(|| fmt(file, format!("{config_entry}: no \"config\" object")))?;
    let mut out = HashMap::with_capacity(items.len());
    let mut cache: HashMap<String, Bytes> = HashMap::new();
    for (fqn, p) in items {
        let bad = |m: &str| Error::Tensor {
            file: file.to_string(),
            tensor: fqn.clone(),
            msg: m.to_string(),
        };
        let path = p
            .get("path_name")
            .and_then(J::as_str)
            .ok_or_else(|| bad("payload has no path_name"))?;
        if p.get("use_pickle").and_then(J::as_bool).unwrap_or(false) {
            return Err(bad("pickled payloads (tensor subclasses, script objects) are not supported"));
        }
        let tm = p.get("tensor_meta").ok_or_else(|| bad("payload has no tensor_meta"))?;
        let m = schema::meta(tm).ok_or_else(|| bad("unreadable tensor_meta (dtype or sizes)"))?;
        let sizes = m.known().ok_or_else(|| bad("weight with symbolic sizes"))?;
        let (strides, off) = schema::strides_offset(tm).ok_or_else(|| bad("unreadable strides/storage_offset"))?;
        let es = elem_size(m.dtype).ok_or_else(|| bad("unsupported dtype"))?;
        let entry = format!("{dir}{path}");
        let data = match cache.get(&entry) {
            Some(b) => b.clone(),
            None => {
                let b = ar.read(&entry)?;
                cache.insert(entry.clone(), b.clone());
                b
            }
        };
        let shape: Vec<usize> = sizes.iter().map(|&s| s.max(0) as usize).collect();
        let t = if data.is_empty() {
            // An empty record stands for an empty or fake tensor: zero-filled.
            let n = shape
                .iter()
                .try_fold(1usize, |a, &d| a.checked_mul(d))
                .and_then(|n| n.checked_mul(es))
                .filter(|&n| n <= 1 << 32)
                .ok_or_else(|| bad("empty record for a huge tensor"))?;
            Tensor::from_bytes(m.dtype, shape, Bytes::from_vec(vec![0; n])).map_err(|e| bad(&e.to_string()))?
        } else {
            let tr = TensorRef {
                storage: StorageRef {
                    key: path.to_string(),
                    dtype: m.dtype,
                    numel: (data.len() / es) as u64,
                },
                dtype: m.dtype,
                offset: off.max(0) as u64,
                sizes: sizes.iter().map(|&s| s.max(0) as u64).collect(),
                strides,
            };
            if off < 0 || sizes.iter().any(|&s| s < 0) {
                return Err(bad("negative size or storage offset"));
            }
            materialize(file, fqn, &tr, &data)?
        };
        out.insert(fqn.clone(), t);
    }
    Ok(out)
}

/// Reads the program JSON and every weight of a `.pt2` archive.
pub fn read(ar: &Archive) -> Result<Program> {
    let file = ar.file().to_string();
    // Generation 1: fixed names at the top (or under one folder).
    let root = ar.root();
    for r in [String::new(), root.clone()] {
        let j = format!("{r}serialized_exported_program.json");
        if ar.contains(&j) {
            let json = parse_json(&file, &j, &ar.read_text(&j)?)?;
            let sd = format!("{r}serialized_state_dict.pt");
            let weights = if ar.contains(&sd) {
                nested_state_dict(ar, &sd)?
            } else {
                HashMap::new()
            };
            let cs = format!("{r}serialized_constants.pt");
            let constants = if ar.contains(&cs) {
                nested_state_dict(ar, &cs)?
            } else {
                HashMap::new()
            };
            return Ok(Program {
                json,
                weights,
                constants,
                generation: 1,
            });
        }
    }
    // Generations 2 and 3: find `<root>models/<name>.json`.
    let mut models: Vec<(&str, &str)> = ar
        .entries()
        .iter()
        .filter_map(|e| {
            let (dir, base) = e.name.rsplit_once("models/")?;
            let name = base.strip_suffix(".json")?;
            (!name.contains('/') && (dir.is_empty() || dir.ends_with('/'))).then_some((dir, name))
        })
        .collect();
    models.sort_by_key(|(d, n)| (d.len(), *n != "model", *n));
    let Some(&(root, name)) = models.first() else {
        return Err(fmt(
            &file,
            "not a torch.export archive: no serialized_exported_program.json and no models/<name>.json",
        ));
    };
    let jentry = format!("{root}models/{name}.json");
    let json = parse_json(&file, &jentry, &ar.read_text(&jentry)?)?;
    let wdir = format!("{root}data/weights/");
    let cdir = format!("{root}data/constants/");
    let wcfg = format!("{wdir}{name}_weights_config.json");
    let ccfg = format!("{cdir}{name}_constants_config.json");
    let legacy_w = format!("{wdir}{name}.pt");
    let legacy_c = format!("{cdir}{name}.pt");
    let (weights, generation) = if ar.contains(&wcfg) {
        (raw_payloads(ar, &wdir, &wcfg)?, 3)
    } else if ar.contains(&legacy_w) {
        (nested_state_dict(ar, &legacy_w)?, 2)
    } else {
        (HashMap::new(), 3)
    };
    let constants = if ar.contains(&ccfg) {
        raw_payloads(ar, &cdir, &ccfg)?
    } else if ar.contains(&legacy_c) {
        nested_state_dict(ar, &legacy_c)?
    } else {
        HashMap::new()
    };
    Ok(Program {
        json,
        weights,
        constants,
        generation,
    })
}
