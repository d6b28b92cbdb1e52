//! What a TorchScript archive (`torch.jit.save`) holds, read as data:
//!
//! - `code/__torch__/<module path>.py`: the serialized source, parsed into classes indexed by
//!   qualified name (`__torch__.torch.nn.modules.conv.Conv2d`) and free functions;
//! - `data.pkl`: the module tree (`__torch__.*` objects whose state holds submodules, tensors
//!   and plain attributes), tensors in `data/<key>`;
//! - `constants.pkl`: the tuple behind `CONSTANTS.c<i>`, tensors in `constants/<key>`;
//! - `traced_inputs.pkl` (torch ≥ 2.1, traced modules): the example inputs' sizes and dtypes,
//!   which give the graph its input shapes.

use super::ast::{Class, Def, File};
use super::parser;
use crate::error::{Error, Result};
use crate::pickle::{self, TensorRef, Value};
use crate::storage::materialize;
use crate::torch_save::pickle_root;
use crate::zip::Archive;
use edgeport_ir::{Bytes, DType, Tensor};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Largest source file parsed (bytes).
const MAX_SOURCE: u64 = 16 << 20;

/// A parsed class and the code file it came from.
pub struct ClassSrc {
    pub class: Rc<Class>,
    pub entry: Rc<str>,
}

/// A parsed free function and its code file.
pub struct FnSrc {
    pub def: Rc<Def>,
    pub entry: Rc<str>,
}

/// An example input recorded by `torch.jit.trace`.
#[derive(Clone, Debug, PartialEq)]
pub struct TracedInput {
    pub dtype: DType,
    pub shape: Vec<usize>,
}

/// A loaded TorchScript archive.
pub struct Script {
    pub ar: Archive,
    /// `<root>/` of the records.
    pub root: String,
    pub classes: HashMap<String, ClassSrc>,
    pub functions: HashMap<String, FnSrc>,
    /// The root module object from `data.pkl`.
    pub module: Value,
    /// `constants.pkl` items.
    pub constants: Vec<Value>,
    /// Example inputs of `forward` from `traced_inputs.pkl` (empty when absent).
    pub traced_inputs: Vec<TracedInput>,
    storages: RefCell<HashMap<String, Bytes>>,
}

/// True when the archive looks like TorchScript: `code/` beside `data.pkl` or `constants.pkl`.
pub fn is_torchscript(ar: &Archive) -> bool {
    let Some(root) = pickle_root(ar, "data.pkl").or_else(|| pickle_root(ar, "constants.pkl")) else {
        return false;
    };
    let code = format!("{root}code/");
    ar.entries().iter().any(|e| e.name.starts_with(&code))
}

fn fmt(file: &str, msg: impl Into<String>) -> Error {
    Error::Format {
        file: file.to_string(),
        msg: msg.into(),
    }
}

impl Script {
    /// Reads the archive's code, module tree, constants and traced inputs.
    pub fn load(ar: Archive) -> Result<Script> {
        Script::load_with_sources(ar, &[])
    }

    /// Like [`Script::load`], with the source of some `code/` files replaced: each pair is a
    /// path under `code/` (`__torch__.py`) and the text to use instead of the archive's.
    /// (For fuzzing the parser and interpreter with real module trees.)
    pub fn load_with_sources(ar: Archive, sources: &[(String, String)]) -> Result<Script> {
        let file = ar.file().to_string();
        let root = pickle_root(&ar, "data.pkl").ok_or_else(|| fmt(&file, "no data.pkl: not a TorchScript archive"))?;
        let opts = pickle::Options {
            script_classes: true,
            ..Default::default()
        };
        let data = ar.read(&format!("{root}data.pkl"))?;
        let module = pickle::load(&format!("{file}:{root}data.pkl"), &data, &opts)?;
        let constants = match ar.contains(&format!("{root}constants.pkl")) {
            true => {
                let b = ar.read(&format!("{root}constants.pkl"))?;
                match pickle::load(&format!("{file}:{root}constants.pkl"), &b, &opts)? {
                    Value::Tuple(t) | Value::List(t) => t.to_vec(),
                    other => return Err(fmt(&file, format!("constants.pkl holds a {}, expected a tuple", other.kind()))),
                }
            }
            false => Vec::new(),
        };
        let traced_inputs = traced_inputs(&ar, &root, &opts)?;
        let mut s = Script {
            ar,
            root,
            classes: HashMap::new(),
            functions: HashMap::new(),
            module,
            constants,
            traced_inputs,
            storages: RefCell::new(HashMap::new()),
        };
        s.parse_code(sources)?;
        Ok(s)
    }

    pub fn file(&self) -> &str {
        self.ar.file()
    }

    fn parse_code(&mut self, sources: &[(String, String)]) -> Result<()> {
        let code = format!("{}code/", self.root);
        let names: Vec<(String, u64)> = self
            .ar
            .entries()
            .iter()
            .filter(|e| e.name.starts_with(&code) && e.name.ends_with(".py"))
            .map(|e| (e.name.clone(), e.size))
            .collect();
        for (entry, size) in names {
            if size > MAX_SOURCE {
                return Err(fmt(self.file(), format!("{entry}: source of {size} bytes is too large")));
            }
            let rel = entry.strip_prefix(&code).unwrap_or(&entry);
            let src = match sources.iter().find(|(p, _)| p == rel) {
                Some((_, text)) => text.clone(),
                None => self.ar.read_text(&entry)?,
            };
            let parsed: File = parser::parse(&src).map_err(|e| Error::Script {
                file: self.file().to_string(),
                entry: entry.clone(),
                line: e.line,
                msg: e.msg,
            })?;
            // code/__torch__/a/b.py → module `__torch__.a.b`
            let rel = entry.strip_prefix(&code).unwrap_or(&entry);
            let module = rel.trim_end_matches(".py").replace('/', ".");
            let entry: Rc<str> = Rc::from(entry.as_str());
            for c in parsed.classes {
                let q = format!("{module}.{}", c.name);
                self.classes.insert(
                    q,
                    ClassSrc {
                        class: Rc::new(c),
                        entry: entry.clone(),
                    },
                );
            }
            for f in parsed.functions {
                let q = format!("{module}.{}", f.name);
                self.functions.insert(
                    q,
                    FnSrc {
                        def: Rc::new(f),
                        entry: entry.clone(),
                    },
                );
            }
        }
        Ok(())
    }

    /// Materializes a tensor of `data.pkl` (`folder` = "data") or `constants.pkl` ("constants").
    pub fn tensor(&self, folder: &str, name: &str, t: &TensorRef) -> Result<Tensor> {
        let key = format!("{}{folder}/{}", self.root, t.storage.key);
        let cached = self.storages.borrow().get(&key).cloned();
        let st = match cached {
            Some(b) => b,
            None => {
                let b = self.ar.read(&key).map_err(|e| Error::Tensor {
                    file: self.file().to_string(),
                    tensor: name.to_string(),
                    msg: format!("its storage record: {e}"),
                })?;
                self.storages.borrow_mut().insert(key, b.clone());
                b
            }
        };
        materialize(self.file(), name, t, &st)
    }
}

/// `traced_inputs.pkl`: `{"forward": [tensor, …]}` (tensors without data; only sizes matter).
fn traced_inputs(ar: &Archive, root: &str, opts: &pickle::Options) -> Result<Vec<TracedInput>> {
    let name = format!("{root}traced_inputs.pkl");
    if !ar.contains(&name) {
        return Ok(Vec::new());
    }
    let b = ar.read(&name)?;
    let v = pickle::load(&format!("{}:{name}", ar.file()), &b, opts)?;
    let Value::Dict(d) = v else {
        return Ok(Vec::new());
    };
    let Some((_, list)) = d.iter().find(|(k, _)| k.as_str() == Some("forward")) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for x in list.as_seq().unwrap_or(&[]) {
        let Value::Tensor(t) = x else {
            // A non-tensor example input: shapes of later inputs cannot be matched by position.
            return Ok(Vec::new());
        };
        let shape = t
            .sizes
            .iter()
            .map(|&s| usize::try_from(s).map_err(|_| fmt(ar.file(), format!("traced input size {s} is too large"))))
            .collect::<Result<Vec<_>>>()?;
        out.push(TracedInput { dtype: t.dtype, shape });
    }
    Ok(out)
}
