//! # edgeport-caffe — Caffe import
//!
//! Same shape as every converter crate: [`Options`]/[`Error`], [`import_path`] (a prototxt, a
//! caffemodel or a folder holding one of each) and [`import_files`], a [`decode`] step that is
//! the only code decoding the generated protobuf types, and layer rules in `ops/<family>.rs`.
//!
//! - The prototxt is protobuf **text format**, read by our own parser ([`text`]) driven by the
//!   schema's descriptor; errors show line and column.
//! - The caffemodel is binary `NetParameter`; weight blobs are matched to layers by name and
//!   borrowed zero-copy from the memory-mapped file (packed floats), checked against the shapes
//!   that the prototxt's parameters imply.
//! - Both the V2 `layer` and legacy V1 `layers` forms; BlobProto in both shape encodings.
//! - In-place layers (`top == bottom`) get SSA renaming; the outputs are the blobs that no later
//!   layer reads. Unsupported layers are all reported together.

pub mod build;
pub mod decode;
pub mod error;
pub mod frontend;
pub mod model;
pub mod ops;
pub mod text;

pub use error::{Error, LayerIssue};
pub use frontend::CaffeFrontend;

use edgeport_ir::Graph;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Import settings.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The caffemodel to read weights from (else found beside the prototxt).
    pub weights: Option<PathBuf>,
    /// Shapes for inputs that the net does not size (Data layers), by blob name.
    pub input_shapes: Vec<(String, Vec<usize>)>,
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

struct MapBytes(Arc<edgeport_ir::MappedFile>);
impl AsRef<[u8]> for MapBytes {
    fn as_ref(&self) -> &[u8] {
        (*self.0).as_ref()
    }
}

/// Memory-maps a file (registered, so exporters can release its pages; empty files give empty
/// bytes).
fn map_file(path: &Path) -> Result<edgeport_proto::bytes::Bytes, Error> {
    let map = edgeport_ir::MappedFile::open(path).map_err(io(path))?;
    Ok(edgeport_proto::bytes::Bytes::from_owner(MapBytes(map)))
}

/// Finds the prototxt and caffemodel for a path: a folder with one of each, a prototxt (with
/// `weights` or a single caffemodel beside it) or a caffemodel alone (its own layers are used).
pub fn companions(path: &Path, weights: Option<&Path>) -> Result<(Option<PathBuf>, Option<PathBuf>), Error> {
    let list = |dir: &Path, exts: &[&str]| -> Result<Vec<PathBuf>, Error> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io(dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| exts.iter().any(|e| x.eq_ignore_ascii_case(e))))
            .collect();
        v.sort();
        Ok(v)
    };
    let one = |v: Vec<PathBuf>, what: &str, dir: &Path| -> Result<Option<PathBuf>, Error> {
        match v.len() {
            0 => Ok(None),
            1 => Ok(v.into_iter().next()),
            n => Err(Error::Net {
                file: display(dir),
                msg: format!("{n} {what} files; pass the one to use"),
            }),
        }
    };
    if path.is_dir() {
        let proto = one(list(path, &["prototxt"])?, ".prototxt", path)?;
        let model = match weights {
            Some(w) => Some(w.to_path_buf()),
            None => one(list(path, &["caffemodel"])?, ".caffemodel", path)?,
        };
        if proto.is_none() && model.is_none() {
            return Err(Error::Net {
                file: display(path),
                msg: "no .prototxt or .caffemodel in the folder".into(),
            });
        }
        return Ok((proto, model));
    }
    let is_model = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("caffemodel"));
    if is_model && weights.is_none() {
        // A caffemodel alone, or with the single prototxt beside it.
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let proto = list(dir, &["prototxt"])?;
        let proto = if proto.len() == 1 { proto.into_iter().next() } else { None };
        return Ok((proto, Some(path.to_path_buf())));
    }
    let model = match weights {
        Some(w) => Some(w.to_path_buf()),
        None => {
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let models = list(dir, &["caffemodel"])?;
            // Prefer `<stem>.caffemodel`, else the only caffemodel of the folder.
            let same = dir.join(format!("{stem}.caffemodel"));
            if same.is_file() {
                Some(same)
            } else if models.len() == 1 {
                models.into_iter().next()
            } else {
                None
            }
        }
    };
    Ok((Some(path.to_path_buf()), model))
}

/// Imports a Caffe model from a prototxt, a caffemodel or a folder (see [`companions`]).
pub fn import_path(path: &Path, opts: &Options) -> Result<Graph, Error> {
    let (proto, model) = companions(path, opts.weights.as_deref())?;
    import_files(proto.as_deref(), model.as_deref(), opts)
}

/// Imports from an explicit prototxt and/or caffemodel.
pub fn import_files(proto: Option<&Path>, model: Option<&Path>, opts: &Options) -> Result<Graph, Error> {
    let weights_buf = model.map(map_file).transpose()?;
    let weights = match (&weights_buf, model) {
        (Some(b), Some(m)) => decode::read_weights(b, &display(m))?,
        _ => Default::default(),
    };
    let (net, file) = match (proto, &weights_buf, model) {
        (Some(p), _, _) => {
            let src = std::fs::read(p).map_err(io(p))?;
            (decode::parse_prototxt(&src, &display(p))?, display(p))
        }
        (None, Some(b), Some(m)) => (decode::parse_caffemodel(b, &display(m))?, display(m)),
        _ => {
            return Err(Error::Net {
                file: "caffe".into(),
                msg: "needs a prototxt or a caffemodel".into(),
            });
        }
    };
    let g = model::build(&net, &weights, &file, &opts.input_shapes)?;
    Ok(with_types(g))
}

/// Imports from in-memory prototxt text and caffemodel bytes (names are used in errors).
pub fn import_bytes(prototxt: &[u8], caffemodel: Option<Vec<u8>>, name: &str, opts: &Options) -> Result<Graph, Error> {
    let weights = match caffemodel {
        Some(b) => decode::read_weights(&edgeport_proto::bytes::Bytes::from(b), name)?,
        None => Default::default(),
    };
    let net = decode::parse_prototxt(prototxt, name)?;
    let g = model::build(&net, &weights, name, &opts.input_shapes)?;
    Ok(with_types(g))
}

fn with_types(mut g: Graph) -> Graph {
    let _ = edgeport_ir::infer::infer_types(&mut g);
    g
}
