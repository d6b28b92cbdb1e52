//! # edgeport-paddle — PaddlePaddle import
//!
//! Reads both forms of a Paddle inference model:
//!
//! - the legacy program `*.pdmodel` (a `ProgramDesc` protobuf, [`decode`]), and
//! - the PIR program `*.json` that Paddle ≥ 3.0 writes by default ([`pir`]),
//!
//! each with its combined parameter file `*.pdiparams` ([`params`]: tensors stored unnamed in
//! sorted order of the parameter names). Both are read into one neutral [`program::Program`];
//! the op rules in `ops/<family>.rs` (registered in [`ops::RULES`]) then build the IR graph.
//! Unsupported ops are all collected into one [`Error::Ops`].
//!
//! Companion discovery: `<stem>.pdiparams` is looked for beside the program;
//! [`PaddleOptions::weights`] overrides it. A folder holding one program is accepted too.

pub mod build;
pub mod decode;
pub mod error;
pub mod frontend;
pub mod ops;
pub mod params;
pub mod pir;
pub mod program;

pub use error::{Error, OpIssue};
pub use frontend::PaddleFrontend;

use edgeport_ir::{Bytes, Graph};
use std::path::{Path, PathBuf};

/// Import settings.
#[derive(Clone, Debug, Default)]
pub struct PaddleOptions {
    /// The `.pdiparams` file; default: the program's stem + `.pdiparams` beside it.
    pub weights: Option<PathBuf>,
}

/// Which program form a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Form {
    /// `ProgramDesc` protobuf (`.pdmodel`).
    Legacy,
    /// PIR JSON (`.json`).
    Pir,
}

/// Does `head` (the first bytes of a file) look like a PIR JSON program?
pub fn looks_like_pir(head: &[u8]) -> bool {
    let s = String::from_utf8_lossy(head);
    s.trim_start().starts_with('{') && s.contains("\"base_code\"")
}

/// Finds the program file for `path` (a program file, or a folder holding exactly one).
pub fn find_program(path: &Path) -> Result<(PathBuf, Form), Error> {
    let file = path.display().to_string();
    if path.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let mut found = Vec::new();
        for e in entries.flatten() {
            let p = e.path();
            match p.extension().and_then(|x| x.to_str()) {
                Some("pdmodel") => found.push((p, Form::Legacy)),
                Some("json") if sniff_file(&p) => found.push((p, Form::Pir)),
                _ => {}
            }
        }
        found.sort();
        return match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(Error::Companion {
                file,
                msg: "the folder holds no .pdmodel or PIR .json program".into(),
            }),
            n => Err(Error::Companion {
                file,
                msg: format!(
                    "the folder holds {n} programs ({}); name one",
                    found.iter().map(|(p, _)| p.display().to_string()).collect::<Vec<_>>().join(", ")
                ),
            }),
        };
    }
    let form = match path.extension().and_then(|x| x.to_str()) {
        Some("json") => Form::Pir,
        Some("pdmodel") => Form::Legacy,
        _ if sniff_file(path) => Form::Pir,
        _ => Form::Legacy,
    };
    Ok((path.to_path_buf(), form))
}

fn sniff_file(p: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 256];
    let n = std::fs::File::open(p).and_then(|mut f| f.read(&mut head)).unwrap_or(0);
    looks_like_pir(head.get(..n).unwrap_or(&[]))
}

/// The `.pdiparams` beside a program: `<stem>.pdiparams`.
pub fn companion_params(program: &Path) -> PathBuf {
    program.with_extension("pdiparams")
}

/// Imports a Paddle model: a `.pdmodel` or PIR `.json` program (or a folder holding one) and
/// its `.pdiparams`.
pub fn import_path(path: &Path, opts: &PaddleOptions) -> Result<Graph, Error> {
    let (prog_path, form) = find_program(path)?;
    let file = prog_path.display().to_string();
    let text = std::fs::read(&prog_path).map_err(|e| Error::Io {
        path: prog_path.clone(),
        source: e,
    })?;
    let prog = match form {
        Form::Legacy => decode::decode_program(&text),
        Form::Pir => pir::read_program(&text),
    }
    .map_err(|msg| Error::Decode { file: file.clone(), msg })?;
    let params_path = opts.weights.clone().unwrap_or_else(|| companion_params(&prog_path));
    let params = if prog.params.is_empty() && !params_path.exists() {
        Bytes::from_vec(Vec::new())
    } else {
        map_file(&params_path).map_err(|e| match e {
            Error::Io { path, source } if source.kind() == std::io::ErrorKind::NotFound => Error::Companion {
                file: file.clone(),
                msg: format!(
                    "the program has {} parameter(s) but their file {} does not exist (pass --weights)",
                    prog.params.len(),
                    path.display()
                ),
            },
            e => e,
        })?
    };
    let name = prog_path.file_stem().and_then(|s| s.to_str()).unwrap_or("paddle").to_string();
    import_program(&prog, &params, &file, &params_path.display().to_string(), &name)
}

/// Imports from in-memory files (`form` tells which program form `program` holds).
pub fn import_bytes(program: &[u8], form: Form, params: Vec<u8>, name: &str) -> Result<Graph, Error> {
    let prog = match form {
        Form::Legacy => decode::decode_program(program),
        Form::Pir => pir::read_program(program),
    }
    .map_err(|msg| Error::Decode {
        file: name.to_string(),
        msg,
    })?;
    import_program(&prog, &Bytes::from_vec(params), name, &format!("{name} (params)"), name)
}

fn import_program(prog: &program::Program, params: &Bytes, file: &str, params_file: &str, name: &str) -> Result<Graph, Error> {
    let tensors = params::read_combined(params, prog.params.len()).map_err(|e| Error::Params {
        file: params_file.to_string(),
        param: prog
            .params
            .get(e.index)
            .map(|p| p.0.clone())
            .unwrap_or_else(|| format!("#{}", e.index)),
        msg: e.msg,
    })?;
    let mut g = build::build_graph(prog, tensors, name).map_err(|issues| Error::Ops {
        file: file.to_string(),
        issues,
    })?;
    g.metadata.push(("producer".into(), format!("paddle {}", prog.version)));
    let _ = edgeport_ir::infer::infer_types(&mut g);
    Ok(g)
}

fn map_file(path: &Path) -> Result<Bytes, Error> {
    let map = edgeport_ir::MappedFile::open(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    Ok(map.all())
}
