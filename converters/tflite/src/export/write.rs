//! Serialization of a [`TModel`] into the TFLite flatbuffer (schema v3, identifier `TFL3`) with
//! the `flatbuffers` crate's builder, and the file write (temporary file + rename).
//!
//! Buffer data is written inside the flatbuffer, 16-byte aligned, while the model fits the 2 GB
//! flatbuffer limit. The builder never holds that data: each buffer's `data` vector is reserved
//! as a gap (length prefix written, bytes left untouched in the builder's zeroed allocation) and
//! the real bytes are streamed into the file at the gap's position, so weights (often borrowed
//! from a memory map of the source model) are never held twice: transposed or converted ones
//! are made in 256 KiB pieces, and a mapped source's pages are released once written. Larger models (or when asked) use the buffer offset scheme: every
//! `Buffer` gets `offset`/`size` (offset from the start of the file) and the data follows the
//! flatbuffer, each buffer padded to 16 bytes. The flatbuffer is built twice (placeholders,
//! then the real offsets): field sizes do not depend on the values, so both builds have the same
//! length, which is checked.

use super::model::{Field, Options, TModel, TQuant, TTensor};
use flatbuffers::{FlatBufferBuilder, ForwardsUOffset, PushAlignment, UnionWIPOffset, Vector, WIPOffset};
use std::io::Write;
use std::path::Path;

/// The largest flatbuffer we build in memory (a margin under the format's 2 GiB limit).
pub(crate) const INLINE_LIMIT: u64 = (1u64 << 31) - (64 << 20);

/// Vtable slot of field `id`.
const fn slot(id: u16) -> u16 {
    4 + 2 * id
}

/// Field ids of the tables we write (schema.fbs order).
mod f {
    pub const MODEL_VERSION: u16 = 0;
    pub const MODEL_OPCODES: u16 = 1;
    pub const MODEL_SUBGRAPHS: u16 = 2;
    pub const MODEL_DESCRIPTION: u16 = 3;
    pub const MODEL_BUFFERS: u16 = 4;
    pub const MODEL_SIGNATURES: u16 = 7;
    pub const SG_TENSORS: u16 = 0;
    pub const SG_INPUTS: u16 = 1;
    pub const SG_OUTPUTS: u16 = 2;
    pub const SG_OPERATORS: u16 = 3;
    pub const SG_NAME: u16 = 4;
    pub const T_SHAPE: u16 = 0;
    pub const T_TYPE: u16 = 1;
    pub const T_BUFFER: u16 = 2;
    pub const T_NAME: u16 = 3;
    pub const T_QUANT: u16 = 4;
    pub const T_SPARSITY: u16 = 6;
    pub const T_SHAPE_SIG: u16 = 7;
    pub const Q_SCALE: u16 = 2;
    pub const Q_ZERO_POINT: u16 = 3;
    pub const Q_DIM: u16 = 6;
    pub const OP_OPCODE: u16 = 0;
    pub const OP_INPUTS: u16 = 1;
    pub const OP_OUTPUTS: u16 = 2;
    pub const OP_OPTIONS_TYPE: u16 = 3;
    pub const OP_OPTIONS: u16 = 4;
    pub const OP_CUSTOM_OPTIONS: u16 = 5;
    pub const OC_DEPRECATED: u16 = 0;
    pub const OC_CUSTOM: u16 = 1;
    pub const OC_VERSION: u16 = 2;
    pub const OC_BUILTIN: u16 = 3;
    pub const B_DATA: u16 = 0;
    pub const B_OFFSET: u16 = 1;
    pub const B_SIZE: u16 = 2;
    pub const TM_NAME: u16 = 0;
    pub const TM_INDEX: u16 = 1;
    pub const SD_INPUTS: u16 = 0;
    pub const SD_OUTPUTS: u16 = 1;
    pub const SD_KEY: u16 = 2;
    pub const SD_SUBGRAPH: u16 = 4;
}

/// A zero-sized push with 16-byte alignment: raises the builder's minimum alignment so the
/// finished buffer's length is a multiple of 16 (offsets counted from the end are then aligned
/// from the start too).
struct Align16;

impl flatbuffers::Push for Align16 {
    type Output = Align16;
    unsafe fn push(&self, _dst: &mut [u8], _written_len: usize) {}
    fn size() -> usize {
        0
    }
    fn alignment() -> PushAlignment {
        PushAlignment::new(16)
    }
}

/// Where buffer data goes.
#[derive(Clone, Debug, PartialEq)]
enum DataPlacement {
    Inline,
    /// Offsets (from the file start) of each buffer, index-aligned with `TModel::buffers`.
    External(Vec<u64>),
}

fn align16(n: u64) -> Option<u64> {
    n.checked_add(15).map(|v| v & !15)
}

/// One byte of a reserved gap: pushing it writes nothing (a zero-sized Rust value, so a vector
/// of them costs no memory), leaving the builder's zero-initialised bytes untouched.
#[derive(Clone, Copy)]
struct Gap;

impl flatbuffers::Push for Gap {
    type Output = u8;
    unsafe fn push(&self, _dst: &mut [u8], _written_len: usize) {}
    fn size() -> usize {
        1
    }
    fn alignment() -> PushAlignment {
        PushAlignment::new(1)
    }
}

/// Reserves a `[ubyte]` vector of `len` bytes whose data starts on a 16-byte boundary of the
/// finished buffer; its bytes are filled in when the file is written (see [`write_model`]).
fn gap_vector<'a>(fbb: &mut FlatBufferBuilder<'a>, len: usize) -> WIPOffset<Vector<'a, u8>> {
    let cur = fbb.unfinished_data().len();
    let pad = (16 - (cur + len) % 16) % 16;
    for _ in 0..pad {
        fbb.push(0u8);
    }
    let gaps = vec![Gap; len];
    fbb.create_vector(&gaps)
}

fn options_table<'a>(fbb: &mut FlatBufferBuilder<'a>, o: &Options) -> WIPOffset<UnionWIPOffset> {
    let vecs: Vec<Option<WIPOffset<Vector<'a, i32>>>> = o
        .fields
        .iter()
        .map(|(_, v)| match v {
            Field::VecI32(xs) => Some(fbb.create_vector(xs)),
            _ => None,
        })
        .collect();
    let t = fbb.start_table();
    for ((id, v), vec) in o.fields.iter().zip(vecs) {
        let s = slot(*id);
        match v {
            Field::I8(x) => fbb.push_slot_always(s, *x),
            Field::I32(x) => fbb.push_slot_always(s, *x),
            Field::F32(x) => fbb.push_slot_always(s, *x),
            Field::Bool(x) => fbb.push_slot_always(s, *x),
            Field::VecI32(_) => {
                if let Some(vec) = vec {
                    fbb.push_slot_always(s, vec);
                }
            }
        }
    }
    let end = fbb.end_table(t);
    WIPOffset::new(end.value())
}

fn quant_table<'a>(fbb: &mut FlatBufferBuilder<'a>, q: &TQuant) -> WIPOffset<flatbuffers::TableFinishedWIPOffset> {
    let scale = fbb.create_vector(&q.scale);
    let zp = fbb.create_vector(&q.zero_point);
    let t = fbb.start_table();
    fbb.push_slot_always(slot(f::Q_SCALE), scale);
    fbb.push_slot_always(slot(f::Q_ZERO_POINT), zp);
    fbb.push_slot(slot(f::Q_DIM), q.quantized_dimension, 0);
    fbb.end_table(t)
}

fn tensor_table<'a>(fbb: &mut FlatBufferBuilder<'a>, t: &TTensor) -> WIPOffset<flatbuffers::TableFinishedWIPOffset> {
    let shape = fbb.create_vector(&t.shape);
    let name = fbb.create_string(&t.name);
    let quant = t.quant.as_ref().map(|q| quant_table(fbb, q));
    let sig = t.shape_signature.as_ref().map(|s| fbb.create_vector(s));
    let sparsity = t.sparsity.as_ref().map(|s| super::sparse::sparsity_table(fbb, s));
    let tt = fbb.start_table();
    fbb.push_slot_always(slot(f::T_SHAPE), shape);
    fbb.push_slot(slot(f::T_TYPE), t.ty.0, 0);
    fbb.push_slot(slot(f::T_BUFFER), t.buffer, 0);
    fbb.push_slot_always(slot(f::T_NAME), name);
    if let Some(q) = quant {
        fbb.push_slot_always(slot(f::T_QUANT), q);
    }
    if let Some(s) = sparsity {
        fbb.push_slot_always(slot(f::T_SPARSITY), s);
    }
    if let Some(s) = sig {
        fbb.push_slot_always(slot(f::T_SHAPE_SIG), s);
    }
    fbb.end_table(tt)
}

fn tensor_maps<'a>(
    fbb: &mut FlatBufferBuilder<'a>,
    items: &[(String, i32)],
) -> WIPOffset<Vector<'a, ForwardsUOffset<flatbuffers::TableFinishedWIPOffset>>> {
    let mut v = Vec::with_capacity(items.len());
    for (name, idx) in items {
        let n = fbb.create_string(name);
        let t = fbb.start_table();
        fbb.push_slot_always(slot(f::TM_NAME), n);
        fbb.push_slot(slot(f::TM_INDEX), (*idx).max(0) as u32, 0);
        v.push(fbb.end_table(t));
    }
    fbb.create_vector(&v)
}

/// A built flatbuffer: the builder (its bytes are `finished_data()`, not copied again) and, for
/// inline data, the reserved gaps as (buffer index, offset of the vector from the buffer's end).
struct Built {
    fbb: FlatBufferBuilder<'static>,
    gaps: Vec<(usize, usize)>,
}

/// Builds the flatbuffer (inline buffer data reserved as gaps, not copied).
fn build(m: &TModel, placement: &DataPlacement, capacity: usize) -> Built {
    let mut fbb = FlatBufferBuilder::with_capacity(capacity);
    fbb.push(Align16);
    let mut gaps = Vec::new();

    // Buffers (data first: it is the bulk and sits at the end of the file).
    let mut bufs = Vec::with_capacity(m.buffers.len());
    for (i, b) in m.buffers.iter().enumerate() {
        let data = b.as_ref().filter(|d| d.len() > 0);
        let t = match (data, placement) {
            (Some(d), DataPlacement::Inline) => {
                let v = gap_vector(&mut fbb, d.len());
                gaps.push((i, v.value() as usize));
                let t = fbb.start_table();
                fbb.push_slot_always(slot(f::B_DATA), v);
                fbb.end_table(t)
            }
            (Some(d), DataPlacement::External(offs)) => {
                let t = fbb.start_table();
                fbb.push_slot_always(slot(f::B_OFFSET), offs.get(i).copied().unwrap_or(1));
                fbb.push_slot_always(slot(f::B_SIZE), d.len() as u64);
                fbb.end_table(t)
            }
            (None, _) => {
                let t = fbb.start_table();
                fbb.end_table(t)
            }
        };
        bufs.push(t);
    }
    let buffers = fbb.create_vector(&bufs);

    // Operator codes, in first-use order (a custom op's code is its name and version).
    let mut codes: Vec<(i32, Option<(&str, i32)>)> = Vec::new();
    let mut op_code_idx = Vec::with_capacity(m.ops.len());
    for op in &m.ops {
        let key = (op.code.0, op.custom.as_ref().map(|c| (c.name.as_str(), c.version)));
        let idx = match codes.iter().position(|c| *c == key) {
            Some(i) => i,
            None => {
                codes.push(key);
                codes.len() - 1
            }
        };
        op_code_idx.push(idx as u32);
    }
    let mut oc = Vec::with_capacity(codes.len());
    for &(c, custom) in &codes {
        let name = custom.map(|(n, _)| fbb.create_string(n));
        let t = fbb.start_table();
        fbb.push_slot_always(slot(f::OC_BUILTIN), c);
        fbb.push_slot_always(slot(f::OC_VERSION), custom.map_or_else(|| min_version(c), |(_, v)| v));
        fbb.push_slot_always(slot(f::OC_DEPRECATED), c.clamp(0, 127) as i8);
        if let Some(n) = name {
            fbb.push_slot_always(slot(f::OC_CUSTOM), n);
        }
        oc.push(fbb.end_table(t));
    }
    let opcodes = fbb.create_vector(&oc);

    let tensors: Vec<_> = m.tensors.iter().map(|t| tensor_table(&mut fbb, t)).collect();
    let tensors = fbb.create_vector(&tensors);

    let mut ops = Vec::with_capacity(m.ops.len());
    for (op, &ci) in m.ops.iter().zip(&op_code_idx) {
        let ins = fbb.create_vector(&op.inputs);
        let outs = fbb.create_vector(&op.outputs);
        let opts = op.options.as_ref().map(|o| (o.ty.0, options_table(&mut fbb, o)));
        let custom_opts = op.custom.as_ref().and_then(|c| c.options.as_ref()).map(|b| fbb.create_vector(b));
        let t = fbb.start_table();
        fbb.push_slot(slot(f::OP_OPCODE), ci, 0);
        fbb.push_slot_always(slot(f::OP_INPUTS), ins);
        fbb.push_slot_always(slot(f::OP_OUTPUTS), outs);
        if let Some((ty, o)) = opts {
            fbb.push_slot_always(slot(f::OP_OPTIONS_TYPE), ty);
            fbb.push_slot_always(slot(f::OP_OPTIONS), o);
        }
        if let Some(b) = custom_opts {
            // custom_options_format (field 6) stays at its default, FLEXBUFFERS.
            fbb.push_slot_always(slot(f::OP_CUSTOM_OPTIONS), b);
        }
        ops.push(fbb.end_table(t));
    }
    let ops = fbb.create_vector(&ops);
    let sg_in = fbb.create_vector(&m.inputs);
    let sg_out = fbb.create_vector(&m.outputs);
    let sg_name = fbb.create_string("main");
    let sg = fbb.start_table();
    fbb.push_slot_always(slot(f::SG_TENSORS), tensors);
    fbb.push_slot_always(slot(f::SG_INPUTS), sg_in);
    fbb.push_slot_always(slot(f::SG_OUTPUTS), sg_out);
    fbb.push_slot_always(slot(f::SG_OPERATORS), ops);
    fbb.push_slot_always(slot(f::SG_NAME), sg_name);
    let sg = fbb.end_table(sg);
    let subgraphs = fbb.create_vector(&[sg]);

    let sd_in = tensor_maps(&mut fbb, &m.sig_inputs);
    let sd_out = tensor_maps(&mut fbb, &m.sig_outputs);
    let key = fbb.create_string("serving_default");
    let sd = fbb.start_table();
    fbb.push_slot_always(slot(f::SD_INPUTS), sd_in);
    fbb.push_slot_always(slot(f::SD_OUTPUTS), sd_out);
    fbb.push_slot_always(slot(f::SD_KEY), key);
    fbb.push_slot(slot(f::SD_SUBGRAPH), 0u32, 0);
    let sd = fbb.end_table(sd);
    let sigs = fbb.create_vector(&[sd]);

    let desc = fbb.create_string(&m.description);
    let root = fbb.start_table();
    fbb.push_slot_always(slot(f::MODEL_VERSION), 3u32);
    fbb.push_slot_always(slot(f::MODEL_OPCODES), opcodes);
    fbb.push_slot_always(slot(f::MODEL_SUBGRAPHS), subgraphs);
    fbb.push_slot_always(slot(f::MODEL_DESCRIPTION), desc);
    fbb.push_slot_always(slot(f::MODEL_BUFFERS), buffers);
    fbb.push_slot_always(slot(f::MODEL_SIGNATURES), sigs);
    let root = fbb.end_table(root);
    fbb.finish(root, Some("TFL3"));
    Built { fbb, gaps }
}

/// The version written for an operator code: 1, except builtins whose kernels are registered
/// from a later version only (LiteRT rejects BROADCAST_TO version 1).
fn min_version(code: i32) -> i32 {
    if code == crate::codes::BuiltinOperator::BROADCAST_TO.0 {
        2
    } else {
        1
    }
}

/// A rough upper bound of the flatbuffer's size without data.
fn meta_estimate(m: &TModel) -> u64 {
    let t: u64 = m
        .tensors
        .iter()
        .map(|t| {
            96 + 8 * t.shape.len() as u64
                + t.name.len() as u64
                + t.quant.as_ref().map_or(0, |q| 48 + 12 * q.scale.len() as u64)
                + t.sparsity.as_ref().map_or(0, |s| s.array_bytes() as u64)
        })
        .sum();
    let o: u64 = m
        .ops
        .iter()
        .map(|o| {
            96 + 4 * (o.inputs.len() + o.outputs.len()) as u64
                + o.options.as_ref().map_or(0, |x| 64 + 8 * x.fields.len() as u64)
                + o.custom
                    .as_ref()
                    .map_or(0, |c| 64 + c.name.len() as u64 + c.options.as_ref().map_or(0, |b| b.len() as u64))
        })
        .sum();
    t + o + 48 * m.buffers.len() as u64 + 4096
}

/// Why serialization failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteError {
    #[error("the model's tables alone exceed the 2 GB flatbuffer limit")]
    TooLarge,
    #[error("the flatbuffer changed size between its two builds ({0} then {1} bytes)")]
    Unstable(usize, usize),
    #[error("buffer {0}: its data has {1} bytes, {2} were reserved")]
    DataLength(usize, usize, usize),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Serializes `m` to `out`. `force_external` uses the offset scheme even for small models.
pub(crate) fn write_model(m: &TModel, out: &mut impl Write, force_external: bool) -> Result<(), WriteError> {
    let meta = meta_estimate(m);
    if meta > INLINE_LIMIT {
        return Err(WriteError::TooLarge);
    }
    let data = m.data_bytes();
    let inline = !force_external && meta.saturating_add(data).saturating_add(16 * m.buffers.len() as u64) < INLINE_LIMIT;
    if inline {
        let built = build(m, &DataPlacement::Inline, (meta + data + 16 * m.buffers.len() as u64) as usize);
        return write_inline(m, &built, out);
    }
    let placeholders = vec![1u64; m.buffers.len()];
    let first = build(m, &DataPlacement::External(placeholders), meta as usize)
        .fbb
        .finished_data()
        .len();
    let start = align16(first as u64).ok_or(WriteError::TooLarge)?;
    let mut offs = vec![0u64; m.buffers.len()];
    let mut cur = start;
    for (i, b) in m.buffers.iter().enumerate() {
        if let Some(d) = b.as_ref().filter(|d| d.len() > 0) {
            offs[i] = cur;
            cur = align16(cur.checked_add(d.len() as u64).ok_or(WriteError::TooLarge)?).ok_or(WriteError::TooLarge)?;
        }
    }
    let built = build(m, &DataPlacement::External(offs.clone()), meta as usize);
    let fb = built.fbb.finished_data();
    if fb.len() != first {
        return Err(WriteError::Unstable(first, fb.len()));
    }
    out.write_all(fb)?;
    let mut pos = fb.len() as u64;
    let zeros = [0u8; 16];
    for (i, b) in m.buffers.iter().enumerate() {
        if let Some(d) = b.as_ref().filter(|d| d.len() > 0) {
            let pad = offs[i] - pos;
            out.write_all(&zeros[..pad as usize])?;
            d.write_to(out)?;
            pos = offs[i] + d.len() as u64;
        }
    }
    let pad = align16(pos).unwrap_or(pos) - pos;
    out.write_all(&zeros[..pad as usize])?;
    Ok(())
}

/// Writes an inline-data flatbuffer: the builder's bytes, with each reserved gap replaced by
/// its buffer's data (made or read only now, one buffer at a time).
fn write_inline(m: &TModel, built: &Built, out: &mut impl Write) -> Result<(), WriteError> {
    let fb = built.fbb.finished_data();
    let total = fb.len();
    // (start of data, buffer index), in file order.
    let mut spans: Vec<(usize, usize)> = built.gaps.iter().map(|&(i, off)| (total.saturating_sub(off) + 4, i)).collect();
    spans.sort_unstable();
    let mut pos = 0usize;
    for (start, i) in spans {
        let Some(d) = m.buffers.get(i).and_then(|b| b.as_ref()) else {
            continue;
        };
        let head = fb.get(pos..start).ok_or(WriteError::Unstable(pos, start))?;
        out.write_all(head)?;
        let n = d.write_to(out)?;
        if n != d.len() {
            return Err(WriteError::DataLength(i, n, d.len()));
        }
        pos = start + n;
    }
    let tail = fb.get(pos..).ok_or(WriteError::Unstable(pos, total))?;
    out.write_all(tail)?;
    Ok(())
}

/// Writes `m` to `path` through a temporary file in the same folder, renamed at the end.
pub(crate) fn write_file(m: &TModel, path: &Path, force_external: bool) -> Result<(), WriteError> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let fname = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model.tflite".into());
    let tmp = dir.join(format!(".{fname}.{}.tmp", std::process::id()));
    let res = (|| {
        let f = std::fs::File::create(&tmp)?;
        // Small: the bulk (buffer data) is written straight through, not copied into it.
        let mut w = std::io::BufWriter::with_capacity(64 << 10, f);
        write_model(m, &mut w, force_external)?;
        w.into_inner().map_err(|e| e.into_error())?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}
