//! The decoded TFLite model: plain structs for Model, SubGraph, Tensor, Buffer, Operator,
//! OperatorCode, QuantizationParameters, SparsityParameters and SignatureDef, read through the
//! bounds-checked reader in `fb`. Buffer data is not copied: a buffer is a (file offset, length)
//! range, resolved for both the in-flatbuffer `data` vector and the >2 GB `offset`/`size` scheme.
//! Builtin options stay as flatbuffer tables, read by the op rules.

use crate::codes::{BuiltinOperator, TensorType};
use crate::fb::{Buf, FbError, FbResult, Table};

/// An operator code: the resolved builtin code (max of the two fields), custom name, version.
#[derive(Debug, Clone)]
pub struct OpCode {
    pub builtin: BuiltinOperator,
    pub custom: Option<String>,
    pub version: i32,
}

/// Where a buffer's bytes are in the file (`len == 0`: no data).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BufferRange {
    pub pos: usize,
    pub len: usize,
}

/// Quantization parameters of a tensor.
#[derive(Debug, Clone, Default)]
pub struct Quant {
    pub min: Vec<f32>,
    pub max: Vec<f32>,
    pub scale: Vec<f32>,
    pub zero_point: Vec<i64>,
    pub details_type: u8,
    pub quantized_dimension: i32,
}

/// One dimension of a sparse tensor's metadata.
#[derive(Debug, Clone, Default)]
pub struct DimMeta {
    /// 0 = DENSE, 1 = SPARSE_CSR.
    pub format: i8,
    pub dense_size: i32,
    pub segments: Vec<u64>,
    pub indices: Vec<u64>,
}

/// TACO-style sparsity parameters.
#[derive(Debug, Clone, Default)]
pub struct Sparsity {
    pub traversal_order: Vec<i32>,
    pub block_map: Vec<i32>,
    pub dims: Vec<DimMeta>,
}

/// A tensor of a subgraph.
#[derive(Debug, Clone)]
pub struct TensorInfo {
    pub name: String,
    pub shape: Vec<i32>,
    pub shape_signature: Vec<i32>,
    pub ty: TensorType,
    pub buffer: u32,
    pub quant: Option<Quant>,
    pub sparsity: Option<Sparsity>,
    pub is_variable: bool,
}

/// An operator of a subgraph.
#[derive(Clone)]
pub struct OperatorInfo<'a> {
    pub opcode_index: u32,
    pub inputs: Vec<i32>,
    pub outputs: Vec<i32>,
    pub options_type: u8,
    pub options: Option<Table<'a>>,
    /// Custom options bytes (in-flatbuffer vector or the large-options range).
    pub custom_options: Option<BufferRange>,
    pub intermediates: Vec<i32>,
}

/// A subgraph.
#[derive(Clone)]
pub struct SubGraph<'a> {
    pub name: String,
    pub tensors: Vec<TensorInfo>,
    pub inputs: Vec<i32>,
    pub outputs: Vec<i32>,
    pub operators: Vec<OperatorInfo<'a>>,
}

/// A signature: named inputs/outputs mapped to tensor indices of a subgraph.
#[derive(Debug, Clone)]
pub struct Signature {
    pub key: String,
    pub subgraph: u32,
    pub inputs: Vec<(String, u32)>,
    pub outputs: Vec<(String, u32)>,
}

/// The decoded model.
#[derive(Clone)]
pub struct Model<'a> {
    pub version: u32,
    pub description: String,
    pub opcodes: Vec<OpCode>,
    pub subgraphs: Vec<SubGraph<'a>>,
    pub buffers: Vec<BufferRange>,
    pub signatures: Vec<Signature>,
    pub metadata: Vec<(String, u32)>,
}

fn ctx<T>(r: FbResult<T>, what: &str) -> FbResult<T> {
    r.map_err(|e| FbError(format!("{what}: {}", e.0)))
}

/// Decodes the model at the start of `data` (the whole file).
pub fn decode(data: &[u8]) -> FbResult<Model<'_>> {
    if data.len() < 8 {
        return Err(FbError(format!("file is only {} bytes", data.len())));
    }
    if data.get(4..8) != Some(b"TFL3".as_slice()) {
        return Err(FbError("missing the 'TFL3' file identifier at offset 4".into()));
    }
    let buf = Buf(data);
    let m = ctx(buf.root(), "model table")?;
    let version = m.u32(0, 0)?;
    let description = m.str(3)?.unwrap_or_default();

    let codes = m.tables(1)?;
    let mut opcodes = Vec::with_capacity(codes.len().min(data.len() / 4));
    for i in 0..codes.len() {
        let Some(c) = ctx(codes.get(i), &format!("operator code {i}"))? else {
            break;
        };
        let deprecated = c.i8(0, 0)? as i32;
        let builtin = c.i32(3, 0)?;
        opcodes.push(OpCode {
            builtin: BuiltinOperator(builtin.max(deprecated)),
            custom: c.str(1)?,
            version: c.i32(2, 1)?,
        });
    }

    let bufs = m.tables(4)?;
    let mut buffers = Vec::with_capacity(bufs.len().min(data.len() / 4));
    for i in 0..bufs.len() {
        let Some(b) = ctx(bufs.get(i), &format!("buffer {i}"))? else {
            break;
        };
        buffers.push(ctx(buffer_range(&b, data.len()), &format!("buffer {i}"))?);
    }

    let sgs = m.tables(2)?;
    let mut subgraphs = Vec::with_capacity(sgs.len().min(data.len() / 4));
    for i in 0..sgs.len() {
        let Some(s) = ctx(sgs.get(i), &format!("subgraph {i}"))? else {
            break;
        };
        subgraphs.push(ctx(subgraph(&s, data.len()), &format!("subgraph {i}"))?);
    }

    let mut metadata = Vec::new();
    let md = m.tables(6)?;
    for i in 0..md.len() {
        if let Some(t) = md.get(i)? {
            metadata.push((t.str(0)?.unwrap_or_default(), t.u32(1, 0)?));
        }
    }

    let sigs = m.tables(7)?;
    let mut signatures = Vec::new();
    for i in 0..sigs.len() {
        let Some(s) = ctx(sigs.get(i), &format!("signature {i}"))? else {
            break;
        };
        let maps = |slot: usize| -> FbResult<Vec<(String, u32)>> {
            let v = s.tables(slot)?;
            let mut out = Vec::new();
            for j in 0..v.len() {
                if let Some(t) = v.get(j)? {
                    out.push((t.str(0)?.unwrap_or_default(), t.u32(1, 0)?));
                }
            }
            Ok(out)
        };
        signatures.push(Signature {
            inputs: maps(0)?,
            outputs: maps(1)?,
            key: s.str(2)?.unwrap_or_default(),
            subgraph: s.u32(4, 0)?,
        });
    }
    Ok(Model {
        version,
        description,
        opcodes,
        subgraphs,
        buffers,
        signatures,
        metadata,
    })
}

/// A buffer's byte range: the `data` vector, or `offset`/`size` (offset > 1, from file start).
fn buffer_range(b: &Table<'_>, file_len: usize) -> FbResult<BufferRange> {
    if let Some((pos, len)) = b.bytes_pos(0)?
        && len > 0
    {
        return Ok(BufferRange { pos, len });
    }
    let offset = b.u64(1, 0)?;
    let size = b.u64(2, 0)?;
    if offset > 1 {
        return large_range(offset, size, file_len);
    }
    Ok(BufferRange::default())
}

/// Checks an out-of-flatbuffer (offset, size) range against the file length.
fn large_range(offset: u64, size: u64, file_len: usize) -> FbResult<BufferRange> {
    let end = offset.checked_add(size);
    match end {
        Some(e) if e <= file_len as u64 => Ok(BufferRange {
            pos: offset as usize,
            len: size as usize,
        }),
        _ => Err(FbError(format!(
            "data at offset {offset} of size {size} is past the end of the file ({file_len} bytes)"
        ))),
    }
}

fn subgraph<'a>(s: &Table<'a>, file_len: usize) -> FbResult<SubGraph<'a>> {
    let name = s.str(4)?.unwrap_or_default();
    let tv = s.tables(0)?;
    let mut tensors = Vec::with_capacity(tv.len().min(file_len / 4));
    for i in 0..tv.len() {
        let Some(t) = ctx(tv.get(i), &format!("tensor {i}"))? else { break };
        tensors.push(ctx(tensor(&t), &format!("tensor {i}"))?);
    }
    let ov = s.tables(3)?;
    let mut operators = Vec::with_capacity(ov.len().min(file_len / 4));
    for i in 0..ov.len() {
        let Some(o) = ctx(ov.get(i), &format!("operator {i}"))? else {
            break;
        };
        operators.push(ctx(operator(&o, file_len), &format!("operator {i}"))?);
    }
    Ok(SubGraph {
        name,
        tensors,
        inputs: s.i32s(1)?,
        outputs: s.i32s(2)?,
        operators,
    })
}

fn tensor(t: &Table<'_>) -> FbResult<TensorInfo> {
    let quant = match t.table(4)? {
        None => None,
        Some(q) => Some(Quant {
            min: q.f32s(0)?,
            max: q.f32s(1)?,
            scale: q.f32s(2)?,
            zero_point: q.i64s(3)?,
            details_type: q.u8(4, 0)?,
            quantized_dimension: q.i32(6, 0)?,
        }),
    };
    let sparsity = match t.table(6)? {
        None => None,
        Some(s) => Some(sparsity(&s)?),
    };
    Ok(TensorInfo {
        shape: t.i32s(0)?,
        ty: TensorType(t.i8(1, 0)?),
        buffer: t.u32(2, 0)?,
        name: t.str(3)?.unwrap_or_default(),
        quant,
        is_variable: t.bool(5, false)?,
        sparsity,
        shape_signature: t.i32s(7)?,
    })
}

fn index_vector(kind: u8, t: Option<Table<'_>>) -> FbResult<Vec<u64>> {
    let Some(t) = t else { return Ok(Vec::new()) };
    Ok(match kind {
        1 => t.i32s(0)?.into_iter().map(|v| v.max(0) as u64).collect(),
        2 => t.u16s(0)?.into_iter().map(u64::from).collect(),
        3 => t.bytes(0)?.unwrap_or_default().iter().map(|&v| u64::from(v)).collect(),
        _ => Vec::new(),
    })
}

fn sparsity(s: &Table<'_>) -> FbResult<Sparsity> {
    let dv = s.tables(2)?;
    let mut dims = Vec::new();
    for i in 0..dv.len() {
        let Some(d) = dv.get(i)? else { break };
        dims.push(DimMeta {
            format: d.i8(0, 0)?,
            dense_size: d.i32(1, 0)?,
            segments: index_vector(d.u8(2, 0)?, d.table(3)?)?,
            indices: index_vector(d.u8(4, 0)?, d.table(5)?)?,
        });
    }
    Ok(Sparsity {
        traversal_order: s.i32s(0)?,
        block_map: s.i32s(1)?,
        dims,
    })
}

fn operator<'a>(o: &Table<'a>, file_len: usize) -> FbResult<OperatorInfo<'a>> {
    let options_type = o.u8(3, 0)?;
    let options = if options_type != 0 { o.table(4)? } else { None };
    let mut custom_options = o.bytes_pos(5)?.map(|(pos, len)| BufferRange { pos, len });
    let large_off = o.u64(9, 0)?;
    let large_size = o.u64(10, 0)?;
    if large_off > 1 {
        custom_options = Some(large_range(large_off, large_size, file_len)?);
    }
    Ok(OperatorInfo {
        opcode_index: o.u32(0, 0)?,
        inputs: o.i32s(1)?,
        outputs: o.i32s(2)?,
        options_type,
        options,
        custom_options,
        intermediates: o.i32s(8)?,
    })
}
