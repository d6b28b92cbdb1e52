//! SavedModel import: picks the MetaGraph tagged `serve`, the requested signature, binds its
//! inputs (ordered by key, as TensorFlow's signature functions take them) to graph inputs, and
//! resolves variables: a VarHandleOp passed as a captured input of a concrete function is
//! bound, through the SavedObjectGraph's `bound_inputs`, to an object node whose checkpoint key
//! (from the bundle's TrackableObjectGraph) names the tensor in `variables/`.

use crate::bundle::Bundle;
use crate::decode::{self, Attr, RawMetaGraph};
use crate::error::Error;
use crate::import::{Fail, Importer, Scope, Variables, placeholder_type};
use crate::{TfImportOptions, display_path, map_file, nodes_error};
use edgeport_ir::{Graph, Tensor};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Variables of a SavedModel, read lazily from its bundle.
struct SavedVariables {
    prefix: PathBuf,
    /// Set once opening the bundle failed (reported for the first variable only).
    broken: bool,
    bundle: Option<Bundle>,
    keys: Option<Vec<Option<(String, String)>>>,
    /// VarHandleOp node name → object-graph node id.
    objects: HashMap<String, usize>,
}

impl SavedVariables {
    fn bundle(&mut self) -> Result<&mut Bundle, Fail> {
        if self.broken {
            return Err(Fail::Reported);
        }
        if self.bundle.is_none() {
            let opened = Bundle::open(&self.prefix).and_then(|mut b| b.object_keys().map(|k| (b, k)));
            match opened {
                Ok((b, k)) => {
                    self.keys = Some(k);
                    self.bundle = Some(b);
                }
                Err(e) => {
                    self.broken = true;
                    return Err(Fail::Msg(format!("{e} (no variable can be read)")));
                }
            }
        }
        self.bundle.as_mut().ok_or_else(|| Fail::Msg("no bundle".into()))
    }
}

impl Variables for SavedVariables {
    fn read(&mut self, node: &str, shared_name: &str) -> Result<Tensor, Fail> {
        self.bundle()?;
        let keys = self.keys.as_ref().ok_or_else(|| Fail::Msg("no object graph".into()))?;
        let key = match self.objects.get(node) {
            Some(&id) => keys
                .get(id)
                .and_then(|k| k.as_ref())
                .map(|(_, k)| k.clone())
                .ok_or_else(|| format!("object {id} of the checkpoint's object graph is not a variable"))?,
            None => keys
                .iter()
                .flatten()
                .find(|(full, _)| full == shared_name)
                .map(|(_, k)| k.clone())
                .ok_or_else(|| format!("variable '{shared_name}' is not bound to any checkpoint value"))?,
        };
        let b = self.bundle()?;
        b.tensor(&key).map_err(|e| {
            // A missing data shard fails every variable: report it once.
            if matches!(&e, Error::Variables { msg, .. } if msg.contains("cannot be opened")) {
                self.broken = true;
            }
            Fail::Msg(e.to_string())
        })
    }
}

/// Imports a SavedModel folder.
pub fn import_dir(dir: &Path, opts: &TfImportOptions) -> Result<Graph, Error> {
    let pb = dir.join("saved_model.pb");
    let file = display_path(&pb);
    let buf = map_file(&pb)?;
    let metas = decode::decode_saved_model(buf, &file)?;
    let meta = pick_meta(metas, &opts.tags, &file)?;
    let sig_name = opts.signature.clone().unwrap_or_else(|| "serving_default".to_string());
    let Some((inputs, outputs)) = meta.signatures.get(&sig_name) else {
        let names: Vec<&str> = meta
            .signatures
            .keys()
            .map(|s| s.as_str())
            .filter(|s| !s.starts_with("__"))
            .collect();
        return Err(Error::Model {
            file,
            msg: format!("no signature '{sig_name}' (the model has: {})", names.join(", ")),
        });
    };
    let graph = &meta.graph;
    let index: HashMap<&str, usize> = graph.nodes.iter().enumerate().map(|(i, n)| (n.name.as_str(), i)).collect();

    // Variables passed to concrete functions as captured inputs.
    let mut objects = HashMap::new();
    for n in &graph.nodes {
        if !matches!(n.op.as_str(), "StatefulPartitionedCall" | "PartitionedCall") {
            continue;
        }
        let Some(Attr::Func(f, _)) = n.attrs.get("f") else { continue };
        let Some(bound) = meta.bound_inputs.get(f) else { continue };
        let data: Vec<&String> = n.inputs.iter().filter(|i| !i.starts_with('^')).collect();
        let Some(first) = data.len().checked_sub(bound.len()) else {
            continue;
        };
        for (inp, &id) in data[first..].iter().zip(bound) {
            let src = inp.split(':').next().unwrap_or(inp);
            if let (Some(&k), Ok(id)) = (index.get(src), usize::try_from(id))
                && graph.nodes[k].op == "VarHandleOp"
            {
                objects.insert(src.to_string(), id);
            }
        }
    }
    let mut vars = SavedVariables {
        prefix: dir.join("variables").join("variables"),
        broken: false,
        bundle: None,
        keys: None,
        objects,
    };
    let mut imp = Importer::new(&graph.functions, &mut vars, &sig_name);
    // Inputs, in signature order, named by their keys.
    for s in inputs.iter().chain(outputs) {
        imp.names.fresh(&s.key);
    }
    let mut bound = HashMap::new();
    for s in inputs {
        let node_name = s.name.split(':').next().unwrap_or(&s.name);
        let Some(&k) = index.get(node_name) else {
            return Err(Error::Model {
                file,
                msg: format!("signature input '{}' names tensor '{}', which is not in the graph", s.key, s.name),
            });
        };
        let ty = placeholder_type(&graph.nodes[k], &s.key);
        let v = imp.g.add_input(s.key.clone(), ty);
        bound.insert(node_name.to_string(), vec![v]);
    }
    let scope = Scope {
        nodes: &graph.nodes,
        bound,
        prefix: String::new(),
        in_function: false,
    };
    let targets: Vec<String> = outputs.iter().map(|s| s.name.clone()).collect();
    let values = match imp.run(&scope, &targets) {
        Ok(v) => v,
        Err(Fail::Reported) => return Err(nodes_error(&file, imp.issues)),
        Err(Fail::Msg(m)) => return Err(Error::Model { file, msg: m }),
    };
    for (s, v) in outputs.iter().zip(values) {
        imp.output(&s.key, v).map_err(|m| Error::Model {
            file: file.clone(),
            msg: m,
        })?;
    }
    imp.g
        .metadata
        .push(("source".into(), format!("TensorFlow SavedModel, signature {sig_name}")));
    Ok(imp.g)
}

fn pick_meta(metas: Vec<RawMetaGraph>, tags: &[String], file: &str) -> Result<RawMetaGraph, Error> {
    let want: Vec<String> = if tags.is_empty() { vec!["serve".into()] } else { tags.to_vec() };
    let n = metas.len();
    let mut metas = metas;
    if let Some(p) = metas.iter().position(|m| want.iter().all(|t| m.tags.contains(t))) {
        return Ok(metas.swap_remove(p));
    }
    if n == 1 && tags.is_empty() {
        return metas.pop().ok_or_else(|| Error::Model {
            file: file.to_string(),
            msg: "no MetaGraph".into(),
        });
    }
    Err(Error::Model {
        file: file.to_string(),
        msg: format!("no MetaGraph with tags {want:?} among {n}"),
    })
}
