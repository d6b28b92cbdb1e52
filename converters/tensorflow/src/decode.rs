//! The only module that touches the generated protobuf types: decodes GraphDef, SavedModel and
//! TrackableObjectGraph bytes into this crate's plain structures ([`RawGraph`], [`RawNode`],
//! [`Attr`]), and TensorProtos into IR tensors (borrowing `tensor_content` without a copy).

use crate::error::Error;
use edgeport_ir::tensor::Bytes;
use edgeport_ir::{DType, Tensor};
use edgeport_proto::prost::Message;
use edgeport_proto::tensorflow as pb;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Largest constant that may be expanded from a short "fill with the last value" TensorProto.
const MAX_FILLED_BYTES: usize = 1 << 28;

/// An attribute value.
#[derive(Clone, Debug)]
pub enum Attr {
    S(Vec<u8>),
    I(i64),
    F(f32),
    B(bool),
    Type(i32),
    /// `None`: unknown rank; a dim of -1 is unknown.
    Shape(Option<Vec<i64>>),
    Tensor(Box<Result<Tensor, String>>),
    Func(String, Box<Attrs>),
    List(Box<ListAttr>),
    Placeholder(String),
}

/// A node's attributes: a short list (a handful per node), smaller than a map for the many
/// nodes of a SavedModel's functions.
#[derive(Clone, Debug, Default)]
pub struct Attrs(Vec<(String, Attr)>);

impl Attrs {
    /// The attribute named `k`.
    pub fn get(&self, k: &str) -> Option<&Attr> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, a)| a)
    }
    /// Every attribute value.
    pub fn values(&self) -> impl Iterator<Item = &Attr> {
        self.0.iter().map(|(_, a)| a)
    }
}

impl FromIterator<(String, Attr)> for Attrs {
    fn from_iter<I: IntoIterator<Item = (String, Attr)>>(it: I) -> Self {
        let mut v: Vec<(String, Attr)> = it.into_iter().collect();
        v.shrink_to_fit();
        Attrs(v)
    }
}

/// A list attribute (only one of the vectors is normally filled).
#[derive(Clone, Debug, Default)]
pub struct ListAttr {
    pub s: Vec<Vec<u8>>,
    pub i: Vec<i64>,
    pub f: Vec<f32>,
    pub b: Vec<bool>,
    pub types: Vec<i32>,
    pub shapes: Vec<Option<Vec<i64>>>,
    pub funcs: Vec<String>,
}

/// A node of a graph or function body.
#[derive(Clone, Debug)]
pub struct RawNode {
    pub name: String,
    pub op: String,
    pub inputs: Vec<String>,
    pub attrs: Attrs,
}

/// One argument of a function signature.
#[derive(Clone, Debug)]
pub struct ArgDef {
    pub name: String,
    pub dtype: i32,
    pub type_attr: String,
    pub number_attr: String,
    pub type_list_attr: String,
}

/// A FunctionDef.
#[derive(Clone, Debug)]
pub struct RawFunction {
    pub name: String,
    pub inputs: Vec<ArgDef>,
    pub outputs: Vec<ArgDef>,
    pub nodes: Vec<RawNode>,
    /// Output arg name → `node:out_arg:index` (or a bare input arg name).
    pub ret: HashMap<String, String>,
}

/// A GraphDef: its nodes and function library.
#[derive(Clone, Debug, Default)]
pub struct RawGraph {
    pub nodes: Vec<RawNode>,
    pub functions: HashMap<String, RawFunction>,
    pub producer: i32,
}

/// A signature's tensor: key → tensor name (`node:0`).
#[derive(Clone, Debug)]
pub struct SigTensor {
    pub key: String,
    pub name: String,
}

/// The parts of a MetaGraphDef the importer uses.
#[derive(Clone, Debug, Default)]
pub struct RawMetaGraph {
    pub tags: Vec<String>,
    pub graph: RawGraph,
    /// Signature name → (inputs, outputs), each sorted by key.
    pub signatures: BTreeMap<String, (Vec<SigTensor>, Vec<SigTensor>)>,
    /// Concrete function name → object-graph node ids of its captured inputs.
    pub bound_inputs: HashMap<String, Vec<i32>>,
    /// Number of nodes in the SavedObjectGraph.
    pub n_objects: usize,
}

fn derr(file: &str, what: &'static str, msg: impl Into<String>) -> Error {
    Error::Decode {
        file: file.to_string(),
        what,
        msg: msg.into(),
    }
}

/// Decodes a serialized GraphDef.
///
/// The top-level fields are read one at a time, so a node's NodeDef is decoded from its own
/// slice and the pages of the nodes already read are given back as the decoder moves on (a
/// frozen graph is mostly its Const nodes' `tensor_content`, which the IR keeps as views into
/// the map, faulted in again when written out).
pub fn decode_graphdef(buf: edgeport_proto::bytes::Bytes, file: &str) -> Result<RawGraph, Error> {
    let bad = |msg: String| derr(file, "GraphDef", msg);
    let mut g = pb::GraphDefLazy::default();
    let mut pos = 0usize;
    let mut released = 0usize;
    while pos < buf.len() {
        let key = varint(&buf, &mut pos).ok_or_else(|| bad(format!("bad field key at byte {pos}")))?;
        let (tag, wire) = (key >> 3, key & 7);
        if wire == 2 {
            let len = varint(&buf, &mut pos).ok_or_else(|| bad(format!("bad length at byte {pos}")))?;
            let end = usize::try_from(len)
                .ok()
                .and_then(|l| pos.checked_add(l))
                .filter(|&e| e <= buf.len())
                .ok_or_else(|| bad(format!("field {tag} at byte {pos} runs past the end of the file")))?;
            let part = buf.slice(pos..end);
            pos = end;
            match tag {
                1 => {
                    let n = pb::NodeDef::decode(part).map_err(|e| bad(format!("node #{}: {e}", g.node.len())))?;
                    g.node.push(n);
                }
                2 => {
                    let lib = pb::FunctionDefLibraryLazy::decode(part).map_err(|e| bad(format!("function library: {e}")))?;
                    g.library.get_or_insert_with(Default::default).function.extend(lib.function);
                }
                4 => g.versions = Some(pb::VersionDef::decode(part).map_err(|e| bad(format!("versions: {e}")))?),
                _ => {}
            }
        } else {
            let v = match wire {
                0 => varint(&buf, &mut pos),
                1 => pos.checked_add(8).filter(|&e| e <= buf.len()).map(|e| {
                    pos = e;
                    0
                }),
                5 => pos.checked_add(4).filter(|&e| e <= buf.len()).map(|e| {
                    pos = e;
                    0
                }),
                _ => None,
            }
            .ok_or_else(|| bad(format!("field {tag} (wire type {wire}) at byte {pos} cannot be read")))?;
            if tag == 3 && wire == 0 {
                g.version = v as i32;
            }
        }
        // Give back the pages of what has been read, a megabyte at a time.
        if pos - released >= 1 << 20 {
            edgeport_ir::mapped::release(&buf[released..pos]);
            released = pos;
        }
    }
    graph(g, file)
}

/// A protobuf varint at `*pos` (at most 10 bytes), advancing `pos`.
fn varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for i in 0..10 {
        let b = *buf.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

/// Decodes a serialized SavedModel into its MetaGraphs.
pub fn decode_saved_model(buf: edgeport_proto::bytes::Bytes, file: &str) -> Result<Vec<RawMetaGraph>, Error> {
    let sm = pb::SavedModelLazy::decode(buf).map_err(|e| derr(file, "SavedModel", e.to_string()))?;
    let mut out = Vec::new();
    for mg in sm.meta_graphs {
        let tags = mg.meta_info_def.map(|m| m.tags).unwrap_or_default();
        let signatures = mg
            .signature_def
            .into_iter()
            .map(|(k, s)| {
                let conv = |m: HashMap<String, pb::TensorInfo>| {
                    let mut v: Vec<SigTensor> = m
                        .into_iter()
                        .map(|(key, t)| SigTensor {
                            key,
                            name: match t.encoding {
                                Some(pb::tensor_info::Encoding::Name(n)) => n,
                                None => String::new(),
                            },
                        })
                        .collect();
                    v.sort_by(|a, b| a.key.cmp(&b.key));
                    v
                };
                (k, (conv(s.inputs), conv(s.outputs)))
            })
            .collect();
        let (bound_inputs, n_objects) = match mg.object_graph_def {
            Some(og) => (
                og.concrete_functions.into_iter().map(|(k, f)| (k, f.bound_inputs)).collect(),
                og.nodes.len(),
            ),
            None => (HashMap::new(), 0),
        };
        out.push(RawMetaGraph {
            tags,
            graph: mg.graph_def.map(|g| graph(g, file)).transpose()?.unwrap_or_default(),
            signatures,
            bound_inputs,
            n_objects,
        });
    }
    Ok(out)
}

/// An object-graph attribute: (name, full name, checkpoint key).
pub type ObjectAttr = (String, String, String);

/// Decodes a TrackableObjectGraph: per object node, its attributes' (name, full name,
/// checkpoint key).
pub fn decode_object_graph(buf: &[u8], file: &str) -> Result<Vec<Vec<ObjectAttr>>, Error> {
    let g = pb::TrackableObjectGraph::decode(buf).map_err(|e| derr(file, "TrackableObjectGraph", e.to_string()))?;
    Ok(g.nodes
        .into_iter()
        .map(|n| n.attributes.into_iter().map(|a| (a.name, a.full_name, a.checkpoint_key)).collect())
        .collect())
}

/// A decoded BundleEntryProto.
#[derive(Clone, Debug)]
pub struct BundleEntry {
    pub dtype: i32,
    pub shape: Option<Vec<i64>>,
    pub shard_id: i32,
    pub offset: i64,
    pub size: i64,
    pub crc32c: u32,
    pub sliced: bool,
}

/// Decodes a BundleHeaderProto: (num_shards, endianness).
pub fn decode_bundle_header(buf: &[u8], file: &str) -> Result<(i32, i32), Error> {
    let h = pb::BundleHeaderProto::decode(buf).map_err(|e| derr(file, "tensor bundle header", e.to_string()))?;
    Ok((h.num_shards, h.endianness))
}

/// Decodes a BundleEntryProto.
pub fn decode_bundle_entry(buf: &[u8], file: &str) -> Result<BundleEntry, Error> {
    let e = pb::BundleEntryProto::decode(buf).map_err(|e| derr(file, "tensor bundle entry", e.to_string()))?;
    Ok(BundleEntry {
        dtype: e.dtype,
        shape: e.shape.as_ref().and_then(shape),
        shard_id: e.shard_id,
        offset: e.offset,
        size: e.size,
        crc32c: e.crc32c,
        sliced: !e.slices.is_empty(),
    })
}

/// Decodes the graph's nodes and, of its function library, only the functions reachable from
/// those nodes (called by op name or named in a `func` attribute, transitively).
fn graph(g: pb::GraphDefLazy, file: &str) -> Result<RawGraph, Error> {
    let nodes: Vec<RawNode> = g.node.into_iter().map(node).collect();
    let mut raw: HashMap<String, edgeport_proto::bytes::Bytes> = HashMap::new();
    for (i, b) in g.library.map(|l| l.function).unwrap_or_default().into_iter().enumerate() {
        let head = pb::FunctionHead::decode(b.clone()).map_err(|e| derr(file, "FunctionDef", format!("library function #{i}: {e}")))?;
        raw.insert(head.signature.map(|s| s.name).unwrap_or_default(), b);
    }
    let mut functions: HashMap<String, RawFunction> = HashMap::new();
    let mut todo: Vec<String> = Vec::new();
    nodes.iter().for_each(|n| callees(n, &mut todo));
    while let Some(name) = todo.pop() {
        if functions.contains_key(&name) {
            continue;
        }
        let Some(b) = raw.remove(&name) else { continue };
        let f = pb::FunctionDef::decode(b).map_err(|e| derr(file, "FunctionDef", format!("function '{name}': {e}")))?;
        let f = function(f);
        f.nodes.iter().for_each(|n| callees(n, &mut todo));
        functions.insert(name, f);
    }
    Ok(RawGraph {
        nodes,
        functions,
        producer: g.versions.map(|v| v.producer).unwrap_or(g.version),
    })
}

/// The function names a node may call: its op (a library function used as an op) and every
/// `func` attribute, nested ones included.
fn callees(n: &RawNode, out: &mut Vec<String>) {
    fn walk(a: &Attr, out: &mut Vec<String>) {
        match a {
            Attr::Func(name, attrs) => {
                out.push(name.clone());
                attrs.values().for_each(|a| walk(a, out));
            }
            Attr::List(l) => out.extend(l.funcs.iter().cloned()),
            _ => {}
        }
    }
    out.push(n.op.clone());
    n.attrs.values().for_each(|a| walk(a, out));
}

fn function(f: pb::FunctionDef) -> RawFunction {
    let sig = f.signature.unwrap_or_default();
    let arg = |a: pb::op_def::ArgDef| ArgDef {
        name: a.name,
        dtype: a.r#type,
        type_attr: a.type_attr,
        number_attr: a.number_attr,
        type_list_attr: a.type_list_attr,
    };
    RawFunction {
        name: sig.name,
        inputs: sig.input_arg.into_iter().map(arg).collect(),
        outputs: sig.output_arg.into_iter().map(arg).collect(),
        nodes: f.node_def.into_iter().map(node).collect(),
        ret: f.ret,
    }
}

fn node(n: pb::NodeDef) -> RawNode {
    RawNode {
        // Attributes named `_…` are TensorFlow's own bookkeeping (`_output_shapes`, `_class`,
        // `_user_specified_name`, …); the importer reads none of them, and in a Keras
        // SavedModel they are most of the decoded attribute memory.
        attrs: n
            .attr
            .into_iter()
            .filter(|(k, _)| !k.starts_with('_'))
            .map(|(k, v)| (k, attr(v, 0)))
            .collect(),
        name: n.name,
        op: n.op,
        inputs: n.input,
    }
}

fn shape(s: &pb::TensorShapeProto) -> Option<Vec<i64>> {
    (!s.unknown_rank).then(|| s.dim.iter().map(|d| d.size).collect())
}

fn attr(a: pb::AttrValue, depth: usize) -> Attr {
    use pb::attr_value::Value as V;
    match a.value {
        None => Attr::List(Box::default()),
        Some(V::S(s)) => Attr::S(s.to_vec()),
        Some(V::I(i)) => Attr::I(i),
        Some(V::F(f)) => Attr::F(f),
        Some(V::B(b)) => Attr::B(b),
        Some(V::Type(t)) => Attr::Type(t),
        Some(V::Shape(s)) => Attr::Shape(shape(&s)),
        Some(V::Tensor(t)) => Attr::Tensor(Box::new(tensor(&t))),
        Some(V::Placeholder(p)) => Attr::Placeholder(p),
        Some(V::Func(f)) => {
            let attrs = if depth < 8 {
                f.attr.into_iter().map(|(k, v)| (k, attr(v, depth + 1))).collect()
            } else {
                Attrs::default()
            };
            Attr::Func(f.name, Box::new(attrs))
        }
        Some(V::List(l)) => Attr::List(Box::new(ListAttr {
            s: l.s.into_iter().map(|s| s.to_vec()).collect(),
            i: l.i,
            f: l.f,
            b: l.b,
            types: l.r#type,
            shapes: l.shape.iter().map(shape).collect(),
            funcs: l.func.into_iter().map(|f| f.name).collect(),
        })),
    }
}

/// The IR dtype of a TensorFlow DataType code (`*_REF` codes are accepted as their value type).
pub fn dtype(code: i32) -> Option<DType> {
    let code = if code > 100 { code - 100 } else { code };
    Some(match code {
        1 => DType::F32,
        2 => DType::F64,
        3 => DType::I32,
        4 => DType::U8,
        5 => DType::I16,
        6 => DType::I8,
        7 => DType::String,
        8 => DType::C64,
        9 => DType::I64,
        10 => DType::Bool,
        14 => DType::BF16,
        17 => DType::U16,
        18 => DType::C128,
        19 => DType::F16,
        22 => DType::U32,
        23 => DType::U64,
        _ => return None,
    })
}

/// Checked dims of a TensorProto shape.
pub fn dims(shape: Option<&[i64]>) -> Result<Vec<usize>, String> {
    let s = shape.ok_or("tensor of unknown rank")?;
    s.iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("bad dimension {d} in shape {s:?}")))
        .collect()
}

fn tensor(t: &pb::TensorProto) -> Result<Tensor, String> {
    let dt = dtype(t.dtype).ok_or_else(|| format!("unsupported tensor dtype code {}", t.dtype))?;
    let sh = t.tensor_shape.as_ref().map(shape).unwrap_or(Some(vec![]));
    let shape = dims(sh.as_deref())?;
    let n = edgeport_ir::tensor::checked_numel(&shape).map_err(|e| e.to_string())?;
    if dt == DType::String {
        if n > t.string_val.len() && n > MAX_FILLED_BYTES / 64 {
            return Err(format!(
                "string constant of shape {shape:?} has {} values; refused",
                t.string_val.len()
            ));
        }
        let v = fill(&t.string_val, n, Vec::new(), |s| s.to_vec())?;
        return Tensor::from_strings(shape, v).map_err(|e| e.to_string());
    }
    let need = dt.byte_len(n).ok_or("tensor size overflows")?;
    if !t.tensor_content.is_empty() {
        if t.tensor_content.len() != need {
            return Err(format!(
                "tensor_content has {} bytes, {dt} shape {shape:?} needs {need}",
                t.tensor_content.len()
            ));
        }
        let owner: Arc<dyn AsRef<[u8]> + Send + Sync> = Arc::new(t.tensor_content.clone());
        let b = Bytes::from_owner(owner, 0, need)
            .ok_or("tensor_content out of range")?
            .own_if_small();
        return Tensor::from_bytes(dt, shape, b).map_err(|e| e.to_string());
    }
    if need > MAX_FILLED_BYTES {
        return Err(format!(
            "constant of shape {shape:?} expands to {need} bytes from {n} stored values; refused"
        ));
    }
    let mut out = Vec::with_capacity(need);
    match dt {
        DType::F32 => fill(&t.float_val, n, 0.0, |v| *v)?.iter().for_each(|v| out.extend(v.to_le_bytes())),
        DType::F64 => fill(&t.double_val, n, 0.0, |v| *v)?
            .iter()
            .for_each(|v| out.extend(v.to_le_bytes())),
        DType::I32 => fill(&t.int_val, n, 0, |v| *v)?.iter().for_each(|v| out.extend(v.to_le_bytes())),
        DType::I16 | DType::U16 | DType::F16 | DType::BF16 => {
            let src = if matches!(dt, DType::F16 | DType::BF16) {
                &t.half_val
            } else {
                &t.int_val
            };
            fill(src, n, 0, |v| *v)?.iter().for_each(|v| out.extend((*v as u16).to_le_bytes()))
        }
        DType::I8 | DType::U8 => fill(&t.int_val, n, 0, |v| *v)?.iter().for_each(|v| out.push(*v as u8)),
        DType::I64 => fill(&t.int64_val, n, 0, |v| *v)?.iter().for_each(|v| out.extend(v.to_le_bytes())),
        DType::Bool => fill(&t.bool_val, n, false, |v| *v)?.iter().for_each(|v| out.push(u8::from(*v))),
        DType::U32 => fill(&t.uint32_val, n, 0, |v| *v)?.iter().for_each(|v| out.extend(v.to_le_bytes())),
        DType::U64 => fill(&t.uint64_val, n, 0, |v| *v)?.iter().for_each(|v| out.extend(v.to_le_bytes())),
        _ => return Err(format!("{dt} constants given by typed values are not supported")),
    }
    Tensor::from_bytes(dt, shape, Bytes::from_vec(out)).map_err(|e| e.to_string())
}

/// TensorFlow's repeated-value rule: fewer values than elements repeat the last one; none
/// means zeros.
fn fill<S, T: Clone>(src: &[S], n: usize, zero: T, f: impl Fn(&S) -> T) -> Result<Vec<T>, String> {
    if src.len() > n {
        return Err(format!("{} values for {n} elements", src.len()));
    }
    let mut v: Vec<T> = src.iter().map(&f).collect();
    let last = v.last().cloned().unwrap_or(zero);
    v.resize(n, last);
    Ok(v)
}
