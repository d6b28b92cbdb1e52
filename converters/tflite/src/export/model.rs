//! The TFLite model being built, before serialization: tensors, buffers, operators with their
//! builtin options as (field id, value) lists, subgraph inputs/outputs and the signature.
//! Lowering (`lower.rs` and `ops/`) fills it; `write.rs` serializes it.

use crate::codes::{BuiltinOperator, BuiltinOptions, TensorType};
use edgeport_ir::Bytes;
use std::borrow::Cow;

/// The bytes of one buffer. Transposed or converted weights are described, not computed, while
/// lowering; their bytes are made when the file is written.
#[derive(Clone, Debug)]
pub(crate) enum BufData {
    /// Borrowed from the IR (possibly an mmap of the source model): never copied until written.
    Shared(Bytes),
    /// Made during lowering (converted indices, shape vectors, …).
    Owned(Vec<u8>),
    /// `src` (row-major, `shape`, elements of `elem` bytes) transposed by `perm`
    /// (output dim i = input dim perm\[i\]), then converted f32 → f16 when `to_f16`.
    Lazy {
        src: Bytes,
        elem: usize,
        shape: Vec<usize>,
        perm: Vec<usize>,
        to_f16: bool,
    },
}

impl BufData {
    /// Byte length of the written data.
    pub(crate) fn len(&self) -> usize {
        match self {
            BufData::Shared(b) => b.len(),
            BufData::Owned(v) => v.len(),
            BufData::Lazy { src, elem, to_f16, .. } => {
                if *to_f16 && *elem == 4 {
                    src.len() / 2
                } else {
                    src.len()
                }
            }
        }
    }
    /// Writes the bytes, returning how many were written. A memory-mapped source gives its
    /// pages back as it is read; a transposed weight is streamed through its permutation in
    /// bounded chunks (`edgeport_ir::permute`), so neither it nor its source is resident whole.
    pub(crate) fn write_to(&self, out: &mut impl std::io::Write) -> std::io::Result<usize> {
        match self {
            BufData::Shared(b) => {
                edgeport_ir::mapped::write_all(out, b)?;
                Ok(b.len())
            }
            BufData::Owned(v) => {
                out.write_all(v)?;
                Ok(v.len())
            }
            BufData::Lazy {
                src,
                elem,
                shape,
                perm,
                to_f16,
            } => {
                let half = *to_f16 && *elem == 4;
                let mut written = 0usize;
                let mut sink = |c: &[u8]| -> std::io::Result<()> {
                    if half {
                        let h = super::util::f32_to_f16_bytes(c);
                        written += h.len();
                        out.write_all(&h)
                    } else {
                        written += c.len();
                        out.write_all(c)
                    }
                };
                match edgeport_ir::permute::permute_chunks(src, *elem, shape, perm, 1 << 20, &mut sink) {
                    Ok(r) => r?,
                    // A malformed order (never made by lowering): the bytes as `bytes` gives them.
                    Err(_) => {
                        let b = self.bytes();
                        out.write_all(&b)?;
                        return Ok(b.len());
                    }
                };
                Ok(written)
            }
        }
    }

    /// The bytes to write.
    pub(crate) fn bytes(&self) -> Cow<'_, [u8]> {
        match self {
            BufData::Shared(b) => Cow::Borrowed(&b[..]),
            BufData::Owned(v) => Cow::Borrowed(&v[..]),
            BufData::Lazy {
                src,
                elem,
                shape,
                perm,
                to_f16,
            } => {
                let t = super::util::transpose_bytes(src, *elem, shape, perm);
                if *to_f16 && *elem == 4 {
                    Cow::Owned(super::util::f32_to_f16_bytes(&t))
                } else {
                    t
                }
            }
        }
    }
}

/// Quantization parameters of a tensor.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TQuant {
    pub scale: Vec<f32>,
    pub zero_point: Vec<i64>,
    pub quantized_dimension: i32,
}

/// One tensor of the subgraph.
#[derive(Clone, Debug)]
pub(crate) struct TTensor {
    pub name: String,
    pub shape: Vec<i32>,
    /// Present when some dimension is dynamic (−1 there).
    pub shape_signature: Option<Vec<i32>>,
    pub ty: TensorType,
    /// Index into `TModel::buffers` (0 = no data).
    pub buffer: u32,
    pub quant: Option<TQuant>,
    /// Set when the data is stored sparse (see `sparse.rs`).
    pub sparsity: Option<super::sparse::TSparsity>,
}

/// A builtin options field value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Field {
    I8(i8),
    I32(i32),
    F32(f32),
    Bool(bool),
    VecI32(Vec<i32>),
}

/// A builtin options table: its union type id and its fields by field id.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Options {
    pub ty: BuiltinOptions,
    pub fields: Vec<(u16, Field)>,
}

impl Options {
    pub(crate) fn new(ty: BuiltinOptions) -> Options {
        Options { ty, fields: Vec::new() }
    }
    /// Adds a field (builder style).
    pub(crate) fn with(mut self, id: u16, f: Field) -> Options {
        self.fields.push((id, f));
        self
    }
}

/// One operator.
#[derive(Clone, Debug)]
pub(crate) struct TOp {
    pub code: BuiltinOperator,
    /// Tensor indices; −1 = omitted optional input.
    pub inputs: Vec<i32>,
    pub outputs: Vec<i32>,
    pub options: Option<Options>,
    /// For `BuiltinOperator::CUSTOM`: the custom code, version and options.
    pub custom: Option<TCustom>,
}

/// A CUSTOM operator's identity and options (written as they were read).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TCustom {
    pub name: String,
    pub version: i32,
    pub options: Option<Vec<u8>>,
}

/// The whole model (one subgraph).
#[derive(Clone, Debug, Default)]
pub(crate) struct TModel {
    pub tensors: Vec<TTensor>,
    /// `buffers[0]` is the empty sentinel.
    pub buffers: Vec<Option<BufData>>,
    pub ops: Vec<TOp>,
    pub inputs: Vec<i32>,
    pub outputs: Vec<i32>,
    /// Signature names in order (input name, tensor index).
    pub sig_inputs: Vec<(String, i32)>,
    pub sig_outputs: Vec<(String, i32)>,
    pub description: String,
}

impl TModel {
    pub(crate) fn new(description: &str) -> TModel {
        TModel {
            buffers: vec![None],
            description: description.to_string(),
            ..Default::default()
        }
    }

    /// Adds a tensor without data and returns its index.
    pub(crate) fn add_tensor(&mut self, t: TTensor) -> i32 {
        self.tensors.push(t);
        (self.tensors.len() - 1) as i32
    }

    /// Adds a buffer and returns its index.
    pub(crate) fn add_buffer(&mut self, d: BufData) -> u32 {
        self.buffers.push(Some(d));
        (self.buffers.len() - 1) as u32
    }

    pub(crate) fn add_op(&mut self, op: TOp) {
        self.ops.push(op);
    }

    /// Total bytes of buffer data.
    pub(crate) fn data_bytes(&self) -> u64 {
        self.buffers.iter().flatten().map(|b| b.len() as u64).sum()
    }

    /// Drops operators whose outputs nobody reads (not consumed, not subgraph outputs), then
    /// tensors and buffers nobody refers to, renumbering what remains.
    pub(crate) fn compact(&mut self) {
        loop {
            let mut used = vec![false; self.tensors.len()];
            for &o in &self.outputs {
                mark(&mut used, o);
            }
            for op in &self.ops {
                for &i in &op.inputs {
                    mark(&mut used, i);
                }
            }
            let before = self.ops.len();
            self.ops
                .retain(|op| op.outputs.iter().any(|&o| used.get(o as usize).copied().unwrap_or(false)));
            if self.ops.len() == before {
                break;
            }
        }
        let mut used = vec![false; self.tensors.len()];
        for &i in self.inputs.iter().chain(&self.outputs) {
            mark(&mut used, i);
        }
        for op in &self.ops {
            for &i in op.inputs.iter().chain(&op.outputs) {
                mark(&mut used, i);
            }
        }
        let mut remap = vec![-1i32; self.tensors.len()];
        let mut kept = Vec::new();
        for (i, t) in std::mem::take(&mut self.tensors).into_iter().enumerate() {
            if used[i] {
                remap[i] = kept.len() as i32;
                kept.push(t);
            }
        }
        self.tensors = kept;
        let re = |i: &mut i32| {
            if *i >= 0 {
                *i = remap.get(*i as usize).copied().unwrap_or(-1);
            }
        };
        for op in &mut self.ops {
            op.inputs.iter_mut().for_each(re);
            op.outputs.iter_mut().for_each(re);
        }
        self.inputs.iter_mut().for_each(re);
        self.outputs.iter_mut().for_each(re);
        for (_, i) in self.sig_inputs.iter_mut().chain(self.sig_outputs.iter_mut()) {
            re(i);
        }
        // Buffers: keep those referred to, in first-reference order (buffer 0 stays empty).
        let mut bremap = vec![0u32; self.buffers.len()];
        let mut bufs: Vec<Option<BufData>> = vec![None];
        let mut old = std::mem::take(&mut self.buffers);
        for t in &mut self.tensors {
            let b = t.buffer as usize;
            if b == 0 || b >= old.len() {
                t.buffer = 0;
                continue;
            }
            if bremap[b] == 0 {
                bufs.push(old[b].take());
                bremap[b] = (bufs.len() - 1) as u32;
            }
            t.buffer = bremap[b];
        }
        self.buffers = bufs;
    }
}

fn mark(used: &mut [bool], i: i32) {
    if i >= 0
        && let Some(u) = used.get_mut(i as usize)
    {
        *u = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Large transposes are written in pieces (sliced or scattered); the bytes must equal the
    /// plain whole-tensor transpose.
    #[test]
    fn streamed_transposes_match_the_plain_one() {
        let cases: [(&[usize], &[usize], bool); 5] = [
            (&[768, 512], &[1, 0], false),
            (&[64, 96, 3, 3], &[0, 2, 3, 1], false),
            (&[32, 48, 200], &[2, 0, 1], false),
            (&[768, 512], &[1, 0], true),
            (&[1, 1024, 300], &[0, 2, 1], false),
        ];
        for (shape, perm, to_f16) in cases {
            let n: usize = shape.iter().product();
            let src: Vec<u8> = (0..n).flat_map(|i| (i as f32 * 0.25 - 7.0).to_le_bytes()).collect();
            let d = BufData::Lazy {
                src: Bytes::from_vec(src.clone()),
                elem: 4,
                shape: shape.to_vec(),
                perm: perm.to_vec(),
                to_f16,
            };
            let mut want = super::super::util::transpose_bytes(&src, 4, shape, perm).into_owned();
            if to_f16 {
                want = super::super::util::f32_to_f16_bytes(&want);
            }
            let mut got = Vec::new();
            let written = d.write_to(&mut got).unwrap();
            assert_eq!(written, want.len(), "{shape:?} by {perm:?}");
            assert_eq!(d.len(), want.len(), "{shape:?} by {perm:?}");
            assert!(got == want, "{shape:?} by {perm:?} (f16 {to_f16}): bytes differ");
        }
    }
}
