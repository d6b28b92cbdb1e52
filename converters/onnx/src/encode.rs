//! [`crate::model`] → protobuf bytes: the only export code that touches generated ONNX types.
//!
//! The model is written in pieces, never built as one buffer: the `ModelProto` header fields,
//! then the main graph's length (computed first from each piece's encoded length), its nodes,
//! its initializers (a small `TensorProto` header followed by the weight bytes written straight
//! from the IR's [`Bytes`], which may be a memory map), and its inputs/outputs. Tensors that go
//! to external data are written to the data file at 4096-aligned offsets instead.

use crate::model::*;
use edgeport_ir::tensor::Bytes;
use edgeport_ir::{Dim, Tensor, TensorData, ValueType};
use edgeport_proto::onnx as pb;
use edgeport_proto::prost::Message;
use edgeport_proto::prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint, key_len};
use std::io::{self, Write};

/// Alignment of tensors in the external data file (the spec recommends 4096 for mmap).
pub const EXTERNAL_ALIGN: u64 = 4096;

/// Where tensors at or above `threshold` bytes go when external data is on.
pub struct ExternalSink<'w> {
    pub w: &'w mut dyn Write,
    /// The data file's name, relative to the model (the `location` key).
    pub location: String,
    pub threshold: usize,
    pos: u64,
}

impl<'w> ExternalSink<'w> {
    pub fn new(w: &'w mut dyn Write, location: String, threshold: usize) -> Self {
        ExternalSink {
            w,
            location,
            threshold,
            pos: 0,
        }
    }
    /// Appends a tensor's raw bytes at the next aligned offset; returns that offset.
    fn put(&mut self, t: &Tensor) -> io::Result<u64> {
        let pad = (EXTERNAL_ALIGN - self.pos % EXTERNAL_ALIGN) % EXTERNAL_ALIGN;
        if pad > 0 {
            self.w.write_all(&vec![0u8; pad as usize])?;
            self.pos += pad;
        }
        let at = self.pos;
        t.write_raw(self.w)?;
        self.pos += t.nbytes() as u64;
        Ok(at)
    }
    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.pos
    }
}

/// Lets a shared IR byte view back a `bytes::Bytes` without copying.
struct Shared(Bytes);
impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

fn zero_copy(b: &Bytes) -> edgeport_proto::bytes::Bytes {
    edgeport_proto::bytes::Bytes::from_owner(Shared(b.clone()))
}

/// The encoder state: the optional external-data sink.
pub struct Encoder<'s, 'w> {
    pub ext: Option<&'s mut ExternalSink<'w>>,
}

impl Encoder<'_, '_> {
    /// A tensor's proto. With `stream`, raw data is left out and the tensor returned for the
    /// caller to write its bytes after the header; otherwise they are embedded (zero-copy).
    fn tensor(&mut self, name: &str, t: &Tensor, stream: bool, may_externalize: bool) -> io::Result<(pb::TensorProto, Option<Tensor>)> {
        let mut p = pb::TensorProto {
            dims: t.shape.iter().map(|&d| d as i64).collect(),
            data_type: t.dtype.onnx_code(),
            name: name.to_string(),
            ..Default::default()
        };
        match &t.data {
            TensorData::Strings(s) => {
                p.string_data = s.iter().map(|x| edgeport_proto::bytes::Bytes::from(x.clone())).collect();
                Ok((p, None))
            }
            TensorData::Raw(_) | TensorData::Permuted(_) => {
                let len = t.nbytes();
                if may_externalize
                    && let Some(ext) = self.ext.as_deref_mut()
                    && len >= ext.threshold
                {
                    let at = ext.put(t)?;
                    p.data_location = pb::tensor_proto::DataLocation::External as i32;
                    p.external_data = vec![
                        kv("location", &ext.location),
                        kv("offset", &at.to_string()),
                        kv("length", &len.to_string()),
                    ];
                    return Ok((p, None));
                }
                if stream {
                    Ok((p, (len > 0).then(|| t.clone())))
                } else {
                    if let Some(b) = t.raw() {
                        p.raw_data = zero_copy(b);
                    }
                    Ok((p, None))
                }
            }
        }
    }

    fn graph(&mut self, g: &RawGraph) -> io::Result<pb::GraphProto> {
        let mut init = Vec::with_capacity(g.initializers.len());
        for (t, n) in g.initializers.iter().zip(&g.initializer_names) {
            init.push(self.tensor(n, t, false, true)?.0);
        }
        Ok(pb::GraphProto {
            node: g.nodes.iter().map(|n| self.node(n)).collect::<io::Result<_>>()?,
            name: g.name.clone(),
            initializer: init,
            doc_string: g.doc_string.clone(),
            input: g.inputs.iter().map(value_info).collect(),
            output: g.outputs.iter().map(value_info).collect(),
            value_info: g.value_info.iter().map(value_info).collect(),
            ..Default::default()
        })
    }

    fn node(&mut self, n: &RawNode) -> io::Result<pb::NodeProto> {
        Ok(pb::NodeProto {
            input: n.inputs.clone(),
            output: n.outputs.clone(),
            name: n.name.clone(),
            op_type: n.op_type.clone(),
            domain: n.domain.clone(),
            attribute: n.attrs.iter().map(|a| self.attr(a)).collect::<io::Result<_>>()?,
            ..Default::default()
        })
    }

    fn attr(&mut self, a: &RawAttr) -> io::Result<pb::AttributeProto> {
        use pb::attribute_proto::AttributeType as A;
        let mut p = pb::AttributeProto {
            name: a.name.clone(),
            ..Default::default()
        };
        let ty = match &a.value {
            RawAttrValue::Float(f) => {
                p.f = *f;
                A::Float
            }
            RawAttrValue::Int(i) => {
                p.i = *i;
                A::Int
            }
            RawAttrValue::String(s) => {
                p.s = s.clone().into();
                A::String
            }
            RawAttrValue::Tensor(t) => {
                p.t = Some(self.tensor("", t, false, false)?.0);
                A::Tensor
            }
            RawAttrValue::Graph(g) => {
                p.g = Some(self.graph(g)?);
                A::Graph
            }
            RawAttrValue::Floats(v) => {
                p.floats = v.clone();
                A::Floats
            }
            RawAttrValue::Ints(v) => {
                p.ints = v.clone();
                A::Ints
            }
            RawAttrValue::Strings(v) => {
                p.strings = v.iter().map(|s| s.clone().into()).collect();
                A::Strings
            }
            RawAttrValue::Tensors(ts) => {
                for t in ts {
                    p.tensors.push(self.tensor("", t, false, false)?.0);
                }
                A::Tensors
            }
            RawAttrValue::Graphs(gs) => {
                for g in gs {
                    p.graphs.push(self.graph(g)?);
                }
                A::Graphs
            }
            RawAttrValue::Type(t) => {
                p.tp = Some(type_proto(t));
                A::TypeProto
            }
            RawAttrValue::Types(ts) => {
                p.type_protos = ts.iter().map(type_proto).collect();
                A::TypeProtos
            }
            RawAttrValue::Undefined => A::Undefined,
        };
        p.r#type = ty as i32;
        if let Some(r) = &a.ref_attr_name {
            p.ref_attr_name = r.clone();
        }
        Ok(p)
    }
}

fn kv(k: &str, v: &str) -> pb::StringStringEntryProto {
    pb::StringStringEntryProto {
        key: k.to_string(),
        value: v.to_string(),
    }
}

fn shape_proto(s: &edgeport_ir::Shape) -> pb::TensorShapeProto {
    use pb::tensor_shape_proto::{Dimension, dimension::Value as D};
    pb::TensorShapeProto {
        dim: s
            .0
            .iter()
            .map(|d| Dimension {
                value: match d {
                    Dim::Known(n) => Some(D::DimValue(*n as i64)),
                    // "?" is what the importer names a dimension with neither value nor name.
                    Dim::Sym(s) if s == "?" || s.is_empty() => None,
                    Dim::Sym(s) => Some(D::DimParam(s.clone())),
                },
                ..Default::default()
            })
            .collect(),
    }
}

/// The `TypeProto` of an IR value type.
pub fn type_proto(t: &ValueType) -> pb::TypeProto {
    use pb::type_proto::Value as V;
    let value = match t {
        ValueType::Tensor(tt) => V::TensorType(pb::type_proto::Tensor {
            elem_type: tt.dtype.onnx_code(),
            shape: tt.shape.as_ref().map(shape_proto),
        }),
        ValueType::SparseTensor(tt) => V::SparseTensorType(pb::type_proto::SparseTensor {
            elem_type: tt.dtype.onnx_code(),
            shape: tt.shape.as_ref().map(shape_proto),
        }),
        ValueType::Sequence(e) => V::SequenceType(Box::new(pb::type_proto::Sequence {
            elem_type: Some(Box::new(type_proto(e))),
        })),
        ValueType::Optional(e) => V::OptionalType(Box::new(pb::type_proto::Optional {
            elem_type: Some(Box::new(type_proto(e))),
        })),
        ValueType::Map(k, v) => V::MapType(Box::new(pb::type_proto::Map {
            key_type: k.onnx_code(),
            value_type: Some(Box::new(type_proto(v))),
        })),
    };
    pb::TypeProto {
        value: Some(value),
        ..Default::default()
    }
}

fn value_info(v: &RawValueInfo) -> pb::ValueInfoProto {
    pb::ValueInfoProto {
        name: v.name.clone(),
        r#type: v.ty.as_ref().map(type_proto),
        ..Default::default()
    }
}

/// The model header: everything but the graph.
fn header(m: &RawModel) -> pb::ModelProto {
    pb::ModelProto {
        ir_version: m.ir_version,
        opset_import: m
            .opsets
            .iter()
            .map(|(d, v)| pb::OperatorSetIdProto {
                domain: d.clone(),
                version: *v,
            })
            .collect(),
        producer_name: m.producer_name.clone(),
        producer_version: m.producer_version.clone(),
        doc_string: m.doc_string.clone(),
        metadata_props: m.metadata.iter().map(|(k, v)| kv(k, v)).collect(),
        ..Default::default()
    }
}

/// A main-graph initializer ready to stream: its header and the raw bytes that follow it.
struct Init {
    header: pb::TensorProto,
    raw: Option<Tensor>,
}

impl Init {
    /// Length of the `TensorProto` message body.
    fn body_len(&self) -> usize {
        self.header.encoded_len()
            + self
                .raw
                .as_ref()
                .map(|t| key_len(9) + encoded_len_varint(t.nbytes() as u64) + t.nbytes())
                .unwrap_or(0)
    }
    /// Length as field 5 of `GraphProto`.
    fn field_len(&self) -> usize {
        let b = self.body_len();
        key_len(5) + encoded_len_varint(b as u64) + b
    }
}

/// Encoded size of the model if written with the given sink choice (used to decide whether
/// external data is needed): counts raw bytes without copying them.
pub fn encoded_size_inline(m: &RawModel) -> u64 {
    fn tensor_bytes(g: &RawGraph) -> u64 {
        let mut n: u64 = g.initializers.iter().map(|t| t.nbytes() as u64 + 64).sum();
        for node in &g.nodes {
            for a in &node.attrs {
                match &a.value {
                    RawAttrValue::Graph(s) => n += tensor_bytes(s),
                    RawAttrValue::Graphs(gs) => n += gs.iter().map(tensor_bytes).sum::<u64>(),
                    RawAttrValue::Tensor(t) => n += t.nbytes() as u64 + 64,
                    RawAttrValue::Tensors(ts) => n += ts.iter().map(|t| t.nbytes() as u64 + 64).sum::<u64>(),
                    _ => {}
                }
            }
            n += 256;
        }
        n
    }
    tensor_bytes(&m.graph)
}

fn io_err(e: edgeport_proto::prost::EncodeError) -> io::Error {
    io::Error::other(e.to_string())
}

/// Writes `m` to `w` in pieces (see the module docs). With `ext`, tensors at or above its
/// threshold go to the external data file.
pub fn write_model(m: &RawModel, w: &mut dyn Write, ext: Option<&mut ExternalSink<'_>>) -> io::Result<()> {
    let mut enc = Encoder { ext };
    // Nodes (their subgraphs' external tensors go to the sink first), then initializers.
    let g = &m.graph;
    // The graph's fields 1 (node) and 2 (name), encoded node by node so only one node's proto
    // is alive at a time: the encoded bytes are a fraction of the proto structs' size.
    let mut head_part = Vec::with_capacity(64 * g.nodes.len());
    for n in &g.nodes {
        edgeport_proto::prost::encoding::message::encode(1, &enc.node(n)?, &mut head_part);
    }
    if !g.name.is_empty() {
        edgeport_proto::prost::encoding::string::encode(2, &g.name, &mut head_part);
    }
    let mut inits = Vec::with_capacity(g.initializers.len());
    for (t, n) in g.initializers.iter().zip(&g.initializer_names) {
        let (header, raw) = enc.tensor(n, t, true, true)?;
        inits.push(Init { header, raw });
    }
    let tail_part = pb::GraphProto {
        doc_string: g.doc_string.clone(),
        input: g.inputs.iter().map(value_info).collect(),
        output: g.outputs.iter().map(value_info).collect(),
        value_info: g.value_info.iter().map(value_info).collect(),
        ..Default::default()
    };
    let graph_len = head_part.len() + inits.iter().map(Init::field_len).sum::<usize>() + tail_part.encoded_len();

    let mut small = Vec::with_capacity(4096);
    header(m).encode(&mut small).map_err(io_err)?;
    encode_key(7, WireType::LengthDelimited, &mut small);
    encode_varint(graph_len as u64, &mut small);
    w.write_all(&small)?;
    w.write_all(&head_part)?;
    drop(head_part);
    for i in &inits {
        small.clear();
        encode_key(5, WireType::LengthDelimited, &mut small);
        encode_varint(i.body_len() as u64, &mut small);
        i.header.encode(&mut small).map_err(io_err)?;
        if let Some(t) = &i.raw {
            encode_key(9, WireType::LengthDelimited, &mut small);
            encode_varint(t.nbytes() as u64, &mut small);
            w.write_all(&small)?;
            // A memory-mapped source drops each chunk's pages once written; a permuted
            // constant is streamed through its permutation.
            t.write_raw(w)?;
        } else {
            w.write_all(&small)?;
        }
    }
    small.clear();
    tail_part.encode(&mut small).map_err(io_err)?;
    w.write_all(&small)?;
    Ok(())
}
