//! TorchScript archives (`torch.jit.trace` / `torch.jit.script`, saved with `torch.jit.save`)
//! into the IR, without Python and without executing anything from the file.
//!
//! - [`archive`] reads the archive: the serialized source in `code/`, the module tree in
//!   `data.pkl` (through the allow-listing pickle reader), `constants.pkl` and the traced
//!   example inputs.
//! - [`lexer`] and [`parser`] turn the source into the tree of [`ast`]; unknown syntax is an
//!   error naming the code file and line.
//! - [`interp`] runs the root module's `forward` symbolically: submodule calls are inlined,
//!   parameters and buffers become constants named by their attribute path (`layer1.0.conv1.weight`),
//!   sizes are known numbers (the input shapes are fixed: from the traced inputs or
//!   [`TsOptions::input_shapes`]), so traced shape arithmetic folds away and `if`/`for` whose
//!   condition or range is known are resolved at import. [`control`] builds IR `If`/`Loop`
//!   subgraphs for `if`/`while` on tensor values and `for` over `range(int(tensor))`.
//! - [`aten`] maps each ATen call onto the op rules shared with the `.pt2` importer, [`meta`]
//!   supplies the output facts those rules expect, [`fused`] writes out the fused transformer
//!   fast-path ops, [`builtins`] the Python builtins and `prim::` ops, [`fold`] the arithmetic on
//!   known numbers.
//!
//! Unsupported constructs and ops are collected over the whole run and reported together, each
//! with its code file and line.

pub mod archive;
pub mod ast;
mod aten;
mod builtins;
mod control;
mod fold;
mod fused;
mod infer;
pub mod interp;
pub mod lexer;
mod meta;
pub mod parser;
mod schema;
pub mod value;

use crate::error::{Error, Result};
use crate::export_program::ctx::Ctx;
use crate::export_program::schema::Meta;
use crate::file;
use crate::pickle::Value as P;
use crate::zip::Archive;
use archive::Script;
use edgeport_ir::{DType, Dim, Graph, Shape, ValueType};
use interp::Interp;
use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;
use value::{Obj, V};

pub use archive::is_torchscript;

/// Import options.
#[derive(Clone, Debug, Default)]
pub struct TsOptions {
    /// Input shapes by `forward` parameter name; they override the traced example inputs
    /// (needed for scripted modules, which record none).
    pub input_shapes: Vec<(String, Vec<usize>)>,
    /// Input dtypes by `forward` parameter name (default: the traced input's, else float32).
    pub input_dtypes: Vec<(String, DType)>,
}

/// True when `path` is a zip holding TorchScript (`code/` beside `data.pkl`/`constants.pkl`);
/// a plain state-dict `.pt` is not.
pub fn is_torchscript_file(path: &Path) -> bool {
    let Ok(data) = file::map(path) else { return false };
    if !crate::zip::is_zip(&data) {
        return false;
    }
    Archive::parse(&file::display(path), data).is_ok_and(|ar| is_torchscript(&ar))
}

/// Imports a TorchScript `.pt` file.
pub fn import_torchscript(path: &Path, opts: &TsOptions) -> Result<Graph> {
    let name = file::display(path);
    let data = file::map(path)?;
    let ar = Archive::parse(&name, data)?;
    import_archive(ar, opts)
}

/// Imports a parsed TorchScript archive.
pub fn import_archive(ar: Archive, opts: &TsOptions) -> Result<Graph> {
    import_archive_with_sources(ar, &[], opts)
}

/// Imports a parsed TorchScript archive with some `code/` sources replaced (paths under
/// `code/`, see [`Script::load_with_sources`]).
pub fn import_archive_with_sources(ar: Archive, sources: &[(String, String)], opts: &TsOptions) -> Result<Graph> {
    let s = Script::load_with_sources(ar, sources)?;
    let file = s.file().to_string();
    let fmt = |msg: String| Error::Format { file: file.clone(), msg };
    let P::Object { class, state } = &s.module else {
        return Err(fmt(format!("data.pkl holds a {}, expected a module object", s.module.kind())));
    };
    let src = s
        .classes
        .get(class)
        .ok_or_else(|| fmt(format!("the root module's class {class} has no code in the archive")))?;
    let forward = src
        .class
        .methods
        .iter()
        .find(|m| m.name == "forward")
        .ok_or_else(|| fmt(format!("class {class} has no forward method")))?;
    let params: Vec<String> = forward.params.iter().skip(1).cloned().collect();
    let mut it = Interp::new(&s, Ctx::new("torchscript", HashMap::new()));
    let mut inputs = Vec::with_capacity(params.len());
    for (i, p) in params.iter().enumerate() {
        let traced = s.traced_inputs.get(i);
        let given = opts.input_shapes.iter().find(|(n, _)| n == p).map(|(_, d)| d.clone());
        let shape = given.or_else(|| traced.map(|t| t.shape.clone())).ok_or_else(|| {
            fmt(format!(
                "forward input '{p}' has no recorded shape (a scripted module?): give it with --input-shape {p}=D0,D1,…"
            ))
        })?;
        let given_dt = opts.input_dtypes.iter().find(|(n, _)| n == p).map(|(_, d)| *d);
        let dtype = given_dt.or_else(|| traced.map(|t| t.dtype)).unwrap_or(DType::F32);
        let dims: Vec<Dim> = shape.iter().map(|&d| Dim::Known(d as u64)).collect();
        let v = it
            .cx
            .g
            .add_input(p.clone(), Some(ValueType::tensor(dtype, Some(Shape(dims.clone())))));
        it.cx.env.insert(p.clone(), v);
        it.cx.metas.insert(p.clone(), Meta { dtype, shape: dims });
        inputs.push(V::Tensor(Rc::from(p.as_str())));
    }
    let root = Rc::new(Obj {
        class: class.clone(),
        path: String::new(),
        state: (**state).clone(),
    });
    let result = it.call_method(root, "forward", inputs, vec![]);
    if !it.unsupported.is_empty() {
        return Err(Error::ScriptUnsupported {
            file,
            items: std::mem::take(&mut it.unsupported),
        });
    }
    let out = result.map_err(|msg| Error::Script {
        file: file.clone(),
        entry: it.entry.to_string(),
        line: it.line,
        msg,
    })?;
    let mut flat = Vec::new();
    flatten(&out, &mut flat).map_err(fmt)?;
    if flat.is_empty() {
        return Err(fmt("forward returns no tensor".into()));
    }
    for (i, v) in flat.into_iter().enumerate() {
        let id = match v {
            V::Tensor(t) => *it
                .cx
                .env
                .get(&*t)
                .ok_or_else(|| fmt(format!("output {i} ('{t}') is not defined")))?,
            V::Num(n) => {
                let t = match n {
                    value::Num::Int(x) => edgeport_ir::Tensor::scalar_i64(x),
                    other => edgeport_ir::Tensor::from_f32(vec![], &[other.f64() as f32]).map_err(|e| fmt(e.to_string()))?,
                };
                let name = it.cx.fresh("output_const");
                it.cx.g.add_constant(name, t)
            }
            other => return Err(fmt(format!("output {i} is a {}, not a tensor", other.kind()))),
        };
        it.cx.g.add_output(format!("output_{i}"), id).map_err(|e| Error::Graph {
            file: file.clone(),
            msg: e.to_string(),
        })?;
    }
    let mut g = it.cx.g;
    edgeport_ir::infer::infer_types(&mut g).map_err(|e| Error::Graph {
        file: file.clone(),
        msg: format!("shape inference: {e}"),
    })?;
    Ok(g)
}

/// The tensors of a (nested) tuple/list result, in order.
fn flatten(v: &V, out: &mut Vec<V>) -> std::result::Result<(), String> {
    match v {
        V::Tensor(_) | V::Num(_) => out.push(v.clone()),
        V::List(items) | V::Tuple(items) => {
            for x in items.iter() {
                flatten(x, out)?;
            }
        }
        V::None => {}
        other => {
            return Err(format!(
                "forward returns a {} (only tensors and tuples/lists of them are supported)",
                other.kind()
            ));
        }
    }
    Ok(())
}
