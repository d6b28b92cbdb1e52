//! Protobuf → [`crate::model`]: the only import code that touches generated ONNX types.
//!
//! Every size the file declares is checked against the bytes it has before anything is
//! allocated. Tensor `raw_data` is borrowed from the input buffer (which may be a memory map).

use crate::error::Error;
use crate::model::*;
use edgeport_ir::tensor::Bytes;
use edgeport_ir::{DType, Dim, Shape, Tensor, TensorType, ValueType};
use edgeport_proto::onnx as pb;
use edgeport_proto::prost::Message;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The deepest nesting of subgraphs and types accepted (recursion bombs stop here).
pub const MAX_DEPTH: usize = 64;

/// The largest dense size (bytes) a sparse initializer may expand to.
pub const MAX_SPARSE_DENSE_BYTES: usize = 1 << 28;

/// Where external data may be read from.
#[derive(Clone, Debug)]
pub struct ExternalData {
    /// The model's folder; external paths must stay inside it.
    pub base: Option<PathBuf>,
}

/// Decoding context: the file name for errors and the external-data base.
pub struct Ctx<'a> {
    pub file: &'a str,
    pub ext: &'a ExternalData,
}

impl Ctx<'_> {
    fn err(&self, msg: impl Into<String>) -> Error {
        Error::Decode {
            file: self.file.to_string(),
            msg: msg.into(),
        }
    }
    fn terr(&self, tensor: &str, msg: impl Into<String>) -> Error {
        Error::Tensor {
            file: self.file.to_string(),
            tensor: tensor.to_string(),
            msg: msg.into(),
        }
    }
}

/// Decodes a serialized `ModelProto`. `buf` may be a memory map wrapped in `bytes::Bytes`.
pub fn decode_model(buf: edgeport_proto::bytes::Bytes, cx: &Ctx<'_>) -> Result<RawModel, Error> {
    if buf.is_empty() {
        return Err(cx.err("the file is empty"));
    }
    let m = pb::ModelProto::decode(buf).map_err(|e| cx.err(format!("protobuf decode failed: {e}")))?;
    let graph = m
        .graph
        .as_ref()
        .ok_or_else(|| cx.err("the model has no graph (is this an ONNX model?)"))?;
    if m.ir_version <= 0 {
        return Err(cx.err(format!("ir_version {} is not a valid ONNX IR version", m.ir_version)));
    }
    let mut opsets: Vec<(String, i64)> = m.opset_import.iter().map(|o| (o.domain.clone(), o.version)).collect();
    if opsets.is_empty() {
        // IR < 3 files have no opset_import; they mean ai.onnx opset 1.
        opsets.push((String::new(), 1));
    }
    Ok(RawModel {
        ir_version: m.ir_version,
        opsets,
        producer_name: m.producer_name.clone(),
        producer_version: m.producer_version.clone(),
        doc_string: m.doc_string.clone(),
        metadata: m.metadata_props.iter().map(|p| (p.key.clone(), p.value.clone())).collect(),
        graph: decode_graph(graph, cx, 0)?,
        functions: m.functions.iter().map(|f| decode_function(f, cx)).collect::<Result<_, _>>()?,
    })
}

fn decode_graph(g: &pb::GraphProto, cx: &Ctx<'_>, depth: usize) -> Result<RawGraph, Error> {
    if depth > MAX_DEPTH {
        return Err(cx.err(format!("subgraphs nested deeper than {MAX_DEPTH} (graph '{}')", g.name)));
    }
    let mut initializers = Vec::with_capacity(g.initializer.len());
    let mut initializer_names = Vec::with_capacity(g.initializer.len());
    for t in &g.initializer {
        initializers.push(decode_tensor(t, cx)?);
        initializer_names.push(t.name.clone());
    }
    for s in &g.sparse_initializer {
        let t = decode_sparse(s, cx)?;
        initializer_names.push(s.values.as_ref().map(|v| v.name.clone()).unwrap_or_default());
        initializers.push(t);
    }
    Ok(RawGraph {
        name: g.name.clone(),
        nodes: g.node.iter().map(|n| decode_node(n, cx, depth)).collect::<Result<_, _>>()?,
        initializers,
        initializer_names,
        inputs: g.input.iter().map(|v| decode_value_info(v, cx)).collect::<Result<_, _>>()?,
        outputs: g.output.iter().map(|v| decode_value_info(v, cx)).collect::<Result<_, _>>()?,
        value_info: g.value_info.iter().map(|v| decode_value_info(v, cx)).collect::<Result<_, _>>()?,
        doc_string: g.doc_string.clone(),
        node_overloads: if g.node.iter().any(|n| !n.overload.is_empty()) {
            g.node.iter().map(|n| n.overload.clone()).collect()
        } else {
            Vec::new()
        },
    })
}

fn decode_node(n: &pb::NodeProto, cx: &Ctx<'_>, depth: usize) -> Result<RawNode, Error> {
    Ok(RawNode {
        name: n.name.clone(),
        op_type: n.op_type.clone(),
        domain: n.domain.clone(),
        inputs: n.input.clone(),
        outputs: n.output.clone(),
        attrs: n
            .attribute
            .iter()
            .map(|a| decode_attr(a, cx, depth, &n.name))
            .collect::<Result<_, _>>()?,
    })
}

fn decode_function(f: &pb::FunctionProto, cx: &Ctx<'_>) -> Result<RawFunction, Error> {
    let mut attrs: Vec<(String, Option<RawAttrValue>)> = f.attribute.iter().map(|a| (a.clone(), None)).collect();
    for a in &f.attribute_proto {
        attrs.push((a.name.clone(), Some(decode_attr(a, cx, 0, &f.name)?.value)));
    }
    Ok(RawFunction {
        name: f.name.clone(),
        domain: f.domain.clone(),
        overload: f.overload.clone(),
        inputs: f.input.clone(),
        outputs: f.output.clone(),
        attrs,
        nodes: f.node.iter().map(|n| decode_node(n, cx, 0)).collect::<Result<_, _>>()?,
        opsets: f.opset_import.iter().map(|o| (o.domain.clone(), o.version)).collect(),
        node_overloads: if f.node.iter().any(|n| !n.overload.is_empty()) {
            f.node.iter().map(|n| n.overload.clone()).collect()
        } else {
            Vec::new()
        },
    })
}

fn decode_attr(a: &pb::AttributeProto, cx: &Ctx<'_>, depth: usize, node: &str) -> Result<RawAttr, Error> {
    use pb::attribute_proto::AttributeType as A;
    let ty = A::try_from(a.r#type).unwrap_or(A::Undefined);
    let ty = if ty == A::Undefined { infer_attr_type(a) } else { ty };
    let value = match ty {
        A::Float => RawAttrValue::Float(a.f),
        A::Int => RawAttrValue::Int(a.i),
        A::String => RawAttrValue::String(a.s.to_vec()),
        A::Tensor => RawAttrValue::Tensor(decode_tensor(
            a.t.as_ref()
                .ok_or_else(|| cx.err(format!("node '{node}': attribute '{}' has no tensor", a.name)))?,
            cx,
        )?),
        A::Graph => RawAttrValue::Graph(decode_graph(
            a.g.as_ref()
                .ok_or_else(|| cx.err(format!("node '{node}': attribute '{}' has no graph", a.name)))?,
            cx,
            depth + 1,
        )?),
        A::Floats => RawAttrValue::Floats(a.floats.clone()),
        A::Ints => RawAttrValue::Ints(a.ints.clone()),
        A::Strings => RawAttrValue::Strings(a.strings.iter().map(|s| s.to_vec()).collect()),
        A::Tensors => RawAttrValue::Tensors(a.tensors.iter().map(|t| decode_tensor(t, cx)).collect::<Result<_, _>>()?),
        A::Graphs => RawAttrValue::Graphs(a.graphs.iter().map(|g| decode_graph(g, cx, depth + 1)).collect::<Result<_, _>>()?),
        A::SparseTensor => RawAttrValue::Tensor(decode_sparse(
            a.sparse_tensor
                .as_ref()
                .ok_or_else(|| cx.err(format!("node '{node}': attribute '{}' has no sparse tensor", a.name)))?,
            cx,
        )?),
        A::SparseTensors => RawAttrValue::Tensors(a.sparse_tensors.iter().map(|t| decode_sparse(t, cx)).collect::<Result<_, _>>()?),
        A::TypeProto => RawAttrValue::Type(
            decode_type(
                a.tp.as_ref()
                    .ok_or_else(|| cx.err(format!("node '{node}': attribute '{}' has no type", a.name)))?,
                cx,
                0,
            )?
            .ok_or_else(|| cx.err(format!("node '{node}': attribute '{}' has an unsupported type", a.name)))?,
        ),
        A::TypeProtos => RawAttrValue::Types(
            a.type_protos
                .iter()
                .filter_map(|t| decode_type(t, cx, 0).transpose())
                .collect::<Result<_, _>>()?,
        ),
        A::Undefined => RawAttrValue::Undefined,
    };
    Ok(RawAttr {
        name: a.name.clone(),
        ref_attr_name: (!a.ref_attr_name.is_empty()).then(|| a.ref_attr_name.clone()),
        value,
    })
}

/// Very old files leave `type` unset: take it from whichever field holds data.
fn infer_attr_type(a: &pb::AttributeProto) -> pb::attribute_proto::AttributeType {
    use pb::attribute_proto::AttributeType as A;
    if !a.floats.is_empty() {
        A::Floats
    } else if !a.ints.is_empty() {
        A::Ints
    } else if !a.strings.is_empty() {
        A::Strings
    } else if a.t.is_some() {
        A::Tensor
    } else if a.g.is_some() {
        A::Graph
    } else if !a.tensors.is_empty() {
        A::Tensors
    } else if !a.graphs.is_empty() {
        A::Graphs
    } else if !a.s.is_empty() {
        A::String
    } else if a.f != 0.0 {
        A::Float
    } else if a.i != 0 || a.ref_attr_name.is_empty() {
        A::Int
    } else {
        A::Undefined
    }
}

fn decode_value_info(v: &pb::ValueInfoProto, cx: &Ctx<'_>) -> Result<RawValueInfo, Error> {
    Ok(RawValueInfo {
        name: v.name.clone(),
        ty: v.r#type.as_ref().map(|t| decode_type(t, cx, 0)).transpose()?.flatten(),
    })
}

fn decode_shape(s: &pb::TensorShapeProto) -> Shape {
    use pb::tensor_shape_proto::dimension::Value as D;
    Shape(
        s.dim
            .iter()
            .map(|d| match &d.value {
                Some(D::DimValue(v)) if *v >= 0 => Dim::Known(*v as u64),
                Some(D::DimParam(p)) if !p.is_empty() => Dim::Sym(p.clone()),
                _ => Dim::Sym("?".into()),
            })
            .collect(),
    )
}

fn dtype_of(code: i32, cx: &Ctx<'_>, what: &str) -> Result<DType, Error> {
    DType::from_onnx_code(code).ok_or_else(|| cx.err(format!("{what}: unknown data type code {code}")))
}

/// Decodes a `TypeProto`; `None` for types the IR does not model (opaque, unset).
pub(crate) fn decode_type(t: &pb::TypeProto, cx: &Ctx<'_>, depth: usize) -> Result<Option<ValueType>, Error> {
    use pb::type_proto::Value as V;
    if depth > MAX_DEPTH {
        return Err(cx.err("type nested too deeply"));
    }
    Ok(match &t.value {
        Some(V::TensorType(tt)) => {
            if tt.elem_type == 0 {
                return Ok(None);
            }
            Some(ValueType::Tensor(TensorType {
                dtype: dtype_of(tt.elem_type, cx, "tensor type")?,
                shape: tt.shape.as_ref().map(decode_shape),
            }))
        }
        Some(V::SparseTensorType(tt)) => Some(ValueType::SparseTensor(TensorType {
            dtype: dtype_of(tt.elem_type, cx, "sparse tensor type")?,
            shape: tt.shape.as_ref().map(decode_shape),
        })),
        Some(V::SequenceType(s)) => match s.elem_type.as_ref() {
            Some(e) => decode_type(e, cx, depth + 1)?.map(|e| ValueType::Sequence(Box::new(e))),
            None => None,
        },
        Some(V::OptionalType(s)) => match s.elem_type.as_ref() {
            Some(e) => decode_type(e, cx, depth + 1)?.map(|e| ValueType::Optional(Box::new(e))),
            None => None,
        },
        Some(V::MapType(m)) => match m.value_type.as_ref() {
            Some(v) => decode_type(v, cx, depth + 1)?
                .map(|v| Ok::<_, Error>(ValueType::Map(dtype_of(m.key_type, cx, "map key")?, Box::new(v))))
                .transpose()?,
            None => None,
        },
        Some(V::OpaqueType(_)) | None => None,
    })
}

fn checked_dims(t: &pb::TensorProto, cx: &Ctx<'_>) -> Result<Vec<usize>, Error> {
    let mut out = Vec::with_capacity(t.dims.len().min(64));
    for &d in &t.dims {
        if d < 0 {
            return Err(cx.terr(&t.name, format!("negative dimension {d} in {:?}", t.dims)));
        }
        out.push(usize::try_from(d).map_err(|_| cx.terr(&t.name, "dimension too large"))?);
    }
    Ok(out)
}

/// Decodes a `TensorProto` into an IR tensor, borrowing `raw_data` without copying.
pub fn decode_tensor(t: &pb::TensorProto, cx: &Ctx<'_>) -> Result<Tensor, Error> {
    let dtype = dtype_of(t.data_type, cx, &format!("tensor '{}'", t.name))?;
    let shape = checked_dims(t, cx)?;
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| cx.terr(&t.name, format!("dims {:?} overflow", t.dims)))?;
    if t.data_location == pb::tensor_proto::DataLocation::External as i32 {
        return crate::external::read_external(t, dtype, shape, n, cx);
    }
    if dtype == DType::String {
        if t.string_data.len() != n {
            return Err(cx.terr(&t.name, format!("has {} strings, dims {:?} need {n}", t.string_data.len(), shape)));
        }
        return Tensor::from_strings(shape, t.string_data.iter().map(|s| s.to_vec()).collect())
            .map_err(|e| cx.terr(&t.name, e.to_string()));
    }
    let need = dtype.byte_len(n).ok_or_else(|| cx.terr(&t.name, "size overflows"))?;
    if !t.raw_data.is_empty() || n == 0 {
        if t.raw_data.len() != need {
            return Err(cx.terr(
                &t.name,
                format!("raw_data has {} bytes, {dtype} dims {:?} need {need}", t.raw_data.len(), shape),
            ));
        }
        let owner: Arc<dyn AsRef<[u8]> + Send + Sync> = Arc::new(t.raw_data.clone());
        // Kept as a view even when small: decoding reads no weight bytes, and copying the small
        // ones would fault in the blocks of the file around each of them.
        let bytes = Bytes::from_owner(owner, 0, need).ok_or_else(|| cx.terr(&t.name, "raw_data length mismatch"))?;
        return Tensor::from_bytes(dtype, shape, bytes).map_err(|e| cx.terr(&t.name, e.to_string()));
    }
    let bytes = typed_fields_to_bytes(t, dtype, n, cx)?;
    Tensor::from_bytes(dtype, shape, Bytes::from_vec(bytes)).map_err(|e| cx.terr(&t.name, e.to_string()))
}

/// Converts the typed repeated fields to little-endian raw bytes.
fn typed_fields_to_bytes(t: &pb::TensorProto, dtype: DType, n: usize, cx: &Ctx<'_>) -> Result<Vec<u8>, Error> {
    let count = |have: usize, per: usize| -> Result<(), Error> {
        // `per` elements per stored item (packed 4-bit/2-bit types).
        let need = n.div_ceil(per);
        if have != need {
            return Err(cx.terr(&t.name, format!("has {have} stored values, dims need {need} ({dtype})")));
        }
        Ok(())
    };
    Ok(match dtype {
        DType::F32 => {
            count(t.float_data.len(), 1)?;
            t.float_data.iter().flat_map(|v| v.to_le_bytes()).collect()
        }
        DType::C64 => {
            count(t.float_data.len(), 1).or_else(|_| count(t.float_data.len() / 2, 1))?;
            t.float_data.iter().flat_map(|v| v.to_le_bytes()).collect()
        }
        DType::F64 | DType::C128 => {
            let per = if dtype == DType::C128 { 2 } else { 1 };
            if t.double_data.len() != n * per {
                return Err(cx.terr(&t.name, format!("has {} doubles, dims need {}", t.double_data.len(), n * per)));
            }
            t.double_data.iter().flat_map(|v| v.to_le_bytes()).collect()
        }
        DType::I64 => {
            count(t.int64_data.len(), 1)?;
            t.int64_data.iter().flat_map(|v| v.to_le_bytes()).collect()
        }
        DType::U32 => {
            count(t.uint64_data.len(), 1)?;
            t.uint64_data.iter().flat_map(|&v| (v as u32).to_le_bytes()).collect()
        }
        DType::U64 => {
            count(t.uint64_data.len(), 1)?;
            t.uint64_data.iter().flat_map(|v| v.to_le_bytes()).collect()
        }
        DType::I32 => {
            count(t.int32_data.len(), 1)?;
            t.int32_data.iter().flat_map(|v| v.to_le_bytes()).collect()
        }
        DType::I16 | DType::U16 | DType::F16 | DType::BF16 => {
            count(t.int32_data.len(), 1)?;
            t.int32_data.iter().flat_map(|&v| (v as u16).to_le_bytes()).collect()
        }
        DType::I8 | DType::U8 | DType::Bool | DType::F8E4M3FN | DType::F8E4M3FNUZ | DType::F8E5M2 | DType::F8E5M2FNUZ | DType::F8E8M0 => {
            count(t.int32_data.len(), 1)?;
            t.int32_data.iter().map(|&v| v as u8).collect()
        }
        DType::I4 | DType::U4 | DType::F4E2M1 => {
            // Two elements per int32 item (low byte holds both nibbles).
            count(t.int32_data.len(), 2)?;
            t.int32_data.iter().map(|&v| v as u8).collect()
        }
        DType::I2 | DType::U2 => {
            count(t.int32_data.len(), 4)?;
            t.int32_data.iter().map(|&v| v as u8).collect()
        }
        DType::String => {
            return Err(cx.terr(&t.name, "string tensors use string_data"));
        }
    })
}

/// Densifies a `SparseTensorProto` (COO indices, linearized or per-dimension).
pub fn decode_sparse(s: &pb::SparseTensorProto, cx: &Ctx<'_>) -> Result<Tensor, Error> {
    let values = decode_tensor(s.values.as_ref().ok_or_else(|| cx.err("sparse tensor without values"))?, cx)?;
    let name = s.values.as_ref().map(|v| v.name.clone()).unwrap_or_default();
    let indices = decode_tensor(
        s.indices.as_ref().ok_or_else(|| cx.terr(&name, "sparse tensor without indices"))?,
        cx,
    )?;
    let mut dims = Vec::with_capacity(s.dims.len());
    for &d in &s.dims {
        dims.push(usize::try_from(d).map_err(|_| cx.terr(&name, format!("bad sparse dim {d}")))?);
    }
    let n = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| cx.terr(&name, "dims overflow"))?;
    let elem = values.dtype.bits() / 8;
    if elem == 0 {
        return Err(cx.terr(&name, format!("sparse {} tensors are not supported", values.dtype)));
    }
    let total = n.checked_mul(elem).ok_or_else(|| cx.terr(&name, "size overflows"))?;
    let raw = values.raw().ok_or_else(|| cx.terr(&name, "sparse values without data"))?;
    let nnz = values.numel();
    // Dense data is as large as the dims say, which a small file can claim to be anything:
    // cap what a sparse initializer may expand to.
    if total > MAX_SPARSE_DENSE_BYTES {
        return Err(cx.terr(
            &name,
            format!("dense size {total} bytes of a sparse tensor is too large (limit {MAX_SPARSE_DENSE_BYTES})"),
        ));
    }
    let idx = indices
        .to_i64_vec()
        .ok_or_else(|| cx.terr(&name, "sparse indices must be integers"))?;
    let rank = dims.len();
    let oob = |i: i64| cx.terr(&name, format!("sparse index {i} out of range"));
    let mut lin: Vec<usize> = Vec::with_capacity(idx.len().min(nnz.saturating_mul(rank.max(1))));
    if indices.shape.len() == 1 {
        for &i in &idx {
            let u = usize::try_from(i).map_err(|_| oob(i))?;
            lin.push(u);
        }
    } else {
        if indices.shape.len() != 2 || indices.shape[1] != rank || rank == 0 {
            return Err(cx.terr(&name, format!("indices shape {:?} does not fit rank {rank}", indices.shape)));
        }
        for c in idx.chunks(rank) {
            let mut a = 0usize;
            for (&i, &d) in c.iter().zip(&dims) {
                let u = usize::try_from(i).ok().filter(|&u| u < d).ok_or_else(|| oob(i))?;
                // a < n / d here, so a * d + u < n: no overflow.
                a = a * d + u;
            }
            lin.push(a);
        }
    }
    if lin.len() != nnz {
        return Err(cx.terr(&name, format!("{} indices for {nnz} values", lin.len())));
    }
    let mut out = vec![0u8; total];
    for (k, &i) in lin.iter().enumerate() {
        if i >= n {
            return Err(cx.terr(&name, format!("sparse index {i} out of range {n}")));
        }
        out[i * elem..(i + 1) * elem].copy_from_slice(&raw[k * elem..(k + 1) * elem]);
    }
    Tensor::from_bytes(values.dtype, dims, Bytes::from_vec(out)).map_err(|e| cx.terr(&name, e.to_string()))
}

/// Decodes a test-data `.pb` file: a `TensorProto` (or a sequence/optional container).
pub fn decode_tensor_file(buf: &[u8], cx: &Ctx<'_>) -> Result<Tensor, Error> {
    let t = pb::TensorProto::decode(buf).map_err(|e| cx.err(format!("not a TensorProto: {e}")))?;
    decode_tensor(&t, cx)
}

/// A decoded test-data value.
#[derive(Debug, Clone)]
pub enum DataValue {
    Tensor(Tensor),
    Sequence(Vec<DataValue>, i32),
    Optional(Option<Box<DataValue>>),
}

/// Decodes a test-data file whose expected kind comes from the graph's declared type.
pub fn decode_data_file(buf: &[u8], ty: Option<&ValueType>, cx: &Ctx<'_>) -> Result<DataValue, Error> {
    match ty {
        Some(ValueType::Sequence(_)) => {
            let s = pb::SequenceProto::decode(buf).map_err(|e| cx.err(format!("not a SequenceProto: {e}")))?;
            decode_seq(&s, cx, 0)
        }
        Some(ValueType::Optional(_)) => {
            let o = pb::OptionalProto::decode(buf).map_err(|e| cx.err(format!("not an OptionalProto: {e}")))?;
            decode_opt(&o, cx, 0)
        }
        _ => Ok(DataValue::Tensor(decode_tensor_file(buf, cx)?)),
    }
}

fn decode_seq(s: &pb::SequenceProto, cx: &Ctx<'_>, depth: usize) -> Result<DataValue, Error> {
    if depth > MAX_DEPTH {
        return Err(cx.err("sequence nested too deeply"));
    }
    let mut out = Vec::new();
    for t in &s.tensor_values {
        out.push(DataValue::Tensor(decode_tensor(t, cx)?));
    }
    for q in &s.sequence_values {
        out.push(decode_seq(q, cx, depth + 1)?);
    }
    for o in &s.optional_values {
        out.push(decode_opt(o, cx, depth + 1)?);
    }
    Ok(DataValue::Sequence(out, s.elem_type))
}

fn decode_opt(o: &pb::OptionalProto, cx: &Ctx<'_>, depth: usize) -> Result<DataValue, Error> {
    if depth > MAX_DEPTH {
        return Err(cx.err("optional nested too deeply"));
    }
    let inner = if let Some(t) = &o.tensor_value {
        Some(Box::new(DataValue::Tensor(decode_tensor(t, cx)?)))
    } else if let Some(s) = &o.sequence_value {
        Some(Box::new(decode_seq(s, cx, depth + 1)?))
    } else if let Some(x) = &o.optional_value {
        Some(Box::new(decode_opt(x, cx, depth + 1)?))
    } else {
        None
    };
    Ok(DataValue::Optional(inner))
}

/// The path of a file for error messages.
pub fn display_path(p: &Path) -> String {
    p.display().to_string()
}
