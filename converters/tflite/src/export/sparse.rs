//! Sparse weights: a constant weight that is mostly zeros (after `edgeport prune --sparsity` or
//! `--nm 2:4`) is stored as a TFLite sparse tensor and read through a DENSIFY operator, the way
//! the TensorFlow converter stores sparse weights, so every LiteRT kernel runs it unchanged.
//!
//! Format: `Tensor.sparsity` holds TACO-style `SparsityParameters` with the identity traversal
//! order, no block map, every dimension DENSE except the innermost, which is SPARSE_CSR: its
//! segments (one per row of the outer dimensions, plus one) and indices are written as the
//! narrowest of Uint8/Uint16/Int32 vectors that holds them, and the buffer keeps only the
//! non-zero elements in row-major order. An element is zero when all its bytes are zero, so the
//! densified tensor is bit-identical to the dense one (for int8 that is the stored value 0,
//! whatever the zero point).
//!
//! Where: a float32 constant read only as the weight (input 1) of CONV_2D, DEPTHWISE_CONV_2D,
//! FULLY_CONNECTED, TRANSPOSE_CONV or BATCH_MATMUL; an int8 one read only as the weight of the
//! integer CONV_2D/DEPTHWISE_CONV_2D kernels (hybrid kernels and int8 FULLY_CONNECTED, which
//! LiteRT's XNNPACK delegate then fails to prepare, stay dense); a float16/int8 one read only by
//! DEQUANTIZE — inputs those kernels also accept when they are not constant. Never an all-zero
//! tensor (an empty buffer is not a constant to LiteRT). Only when the sparse form, with the
//! operator and tensor it adds, saves at least [`MIN_SAVING`] of the tensor's bytes.
//!
//! What it buys: a smaller file. DENSIFY runs once, when the interpreter prepares the model (and
//! the XNNPACK delegate densifies such weights once too); the kernels stay dense, so nothing runs
//! faster and the memory in use after loading is the dense model's.
//!
//! Runs on the lowered model after `compact`, so it sees each tensor's final bytes and users.

use super::model::{BufData, TModel, TOp};
use crate::codes::{BuiltinOperator as B, TensorType};
use flatbuffers::{FlatBufferBuilder, TableFinishedWIPOffset, UnionWIPOffset, WIPOffset};

/// The least share of a tensor's dense bytes the sparse form must save to be used.
pub(crate) const MIN_SAVING: f64 = 0.2;

/// Flatbuffer bytes a sparse weight costs besides its values and index arrays: the DENSIFY
/// operator, the dense output tensor (table, shape, name, a copy of the quantization
/// parameters) and the sparsity tables. Measured at 271–280 bytes per unquantized weight of rank
/// 2 and 4 (resnet18, the suite's fixtures); this estimate stays a little above.
fn overhead(rank: usize, name_len: usize, quant: Option<&super::model::TQuant>) -> usize {
    let q = quant.map_or(0, |q| 48 + 4 * q.scale.len() + 8 * q.zero_point.len());
    256 + 8 * rank + name_len + q
}

/// Elements sampled before a large tensor is scanned in full.
const SAMPLES: usize = 4096;

/// Operators whose input 1 (the weight) may be a DENSIFY output.
const WEIGHT_OPS: [B; 5] = [
    B::CONV_2D,
    B::DEPTHWISE_CONV_2D,
    B::FULLY_CONNECTED,
    B::TRANSPOSE_CONV,
    B::BATCH_MATMUL,
];

/// A sparse index vector (the `SparseIndexVector` union).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum IndexVec {
    I32(Vec<i32>),
    U16(Vec<u16>),
    U8(Vec<u8>),
}

impl IndexVec {
    /// The narrowest vector that holds values up to `max` (`None` past `i32::MAX`).
    fn narrowest(values: &[u32], max: u64) -> Option<IndexVec> {
        Some(if max <= u64::from(u8::MAX) {
            IndexVec::U8(values.iter().map(|&v| v as u8).collect())
        } else if max <= u64::from(u16::MAX) {
            IndexVec::U16(values.iter().map(|&v| v as u16).collect())
        } else if max <= i32::MAX as u64 {
            IndexVec::I32(values.iter().map(|&v| v as i32).collect())
        } else {
            return None;
        })
    }

    /// Bytes per entry of the narrowest vector for values up to `max`.
    fn width(max: u64) -> usize {
        if max <= u64::from(u8::MAX) {
            1
        } else if max <= u64::from(u16::MAX) {
            2
        } else {
            4
        }
    }

    /// The union type code (Int32Vector 1, Uint16Vector 2, Uint8Vector 3).
    fn type_code(&self) -> u8 {
        match self {
            IndexVec::I32(_) => 1,
            IndexVec::U16(_) => 2,
            IndexVec::U8(_) => 3,
        }
    }

    fn byte_len(&self) -> usize {
        match self {
            IndexVec::I32(v) => 4 * v.len(),
            IndexVec::U16(v) => 2 * v.len(),
            IndexVec::U8(v) => v.len(),
        }
    }
}

/// One dimension's metadata (`DimensionMetadata`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TDim {
    /// 0 = DENSE, 1 = SPARSE_CSR.
    pub format: i8,
    /// The size of a DENSE dimension.
    pub dense_size: i32,
    pub segments: Option<IndexVec>,
    pub indices: Option<IndexVec>,
}

/// A tensor's `SparsityParameters`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TSparsity {
    pub traversal_order: Vec<i32>,
    pub block_map: Vec<i32>,
    pub dims: Vec<TDim>,
}

impl TSparsity {
    /// Bytes of the index arrays (they live in the flatbuffer, not in a buffer).
    pub(crate) fn array_bytes(&self) -> usize {
        let idx = |v: &Option<IndexVec>| v.as_ref().map_or(0, IndexVec::byte_len);
        self.dims.iter().map(|d| 64 + idx(&d.segments) + idx(&d.indices)).sum::<usize>() + 8 * self.traversal_order.len() + 64
    }
}

/// A sparse encoding: the parameters and the non-zero elements.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Encoded {
    pub sparsity: TSparsity,
    pub values: Vec<u8>,
}

impl Encoded {
    /// Bytes in the file: values, index arrays and `fixed` (see [`overhead`]).
    fn file_bytes(&self, fixed: usize) -> usize {
        let idx = |v: &Option<IndexVec>| v.as_ref().map_or(0, IndexVec::byte_len);
        let arrays: usize = self.sparsity.dims.iter().map(|d| idx(&d.segments) + idx(&d.indices)).sum();
        self.values.len() + arrays + fixed
    }
}

/// Encodes `bytes` (row-major `shape`, elements of `elem` bytes) with every dimension DENSE but
/// the innermost, SPARSE_CSR. `None` when the shape does not match the bytes or a size does not
/// fit the format's integers.
pub(crate) fn encode(bytes: &[u8], elem: usize, shape: &[usize]) -> Option<Encoded> {
    let (&last, outer) = shape.split_last()?;
    let rows = outer.iter().try_fold(1usize, |a, &d| a.checked_mul(d))?;
    let row_bytes = last.checked_mul(elem)?;
    if elem == 0 || last == 0 || rows == 0 || rows.checked_mul(row_bytes)? != bytes.len() {
        return None;
    }
    let mut values = Vec::new();
    let mut segments: Vec<u32> = Vec::with_capacity(rows.checked_add(1)?);
    let mut indices: Vec<u32> = Vec::new();
    segments.push(0);
    for row in bytes.chunks_exact(row_bytes) {
        for (j, e) in row.chunks_exact(elem).enumerate() {
            if e.iter().any(|&b| b != 0) {
                values.extend_from_slice(e);
                indices.push(u32::try_from(j).ok()?);
            }
        }
        segments.push(u32::try_from(indices.len()).ok()?);
    }
    let nnz = indices.len() as u64;
    let mut dims = Vec::with_capacity(shape.len());
    for &d in outer {
        dims.push(TDim {
            format: 0,
            dense_size: i32::try_from(d).ok()?,
            segments: None,
            indices: None,
        });
    }
    dims.push(TDim {
        format: 1,
        dense_size: 0,
        segments: Some(IndexVec::narrowest(&segments, nnz)?),
        indices: Some(IndexVec::narrowest(&indices, (last - 1) as u64)?),
    });
    let traversal_order = (0..shape.len()).map(|i| i32::try_from(i).ok()).collect::<Option<Vec<_>>>()?;
    Some(Encoded {
        sparsity: TSparsity {
            traversal_order,
            block_map: Vec::new(),
            dims,
        },
        values,
    })
}

/// Whether `sparse` bytes save at least [`MIN_SAVING`] of `dense` bytes.
fn worth(dense: usize, sparse: usize) -> bool {
    (sparse as f64) <= (dense as f64) * (1.0 - MIN_SAVING)
}

/// An upper estimate of the file bytes for `nnz` non-zeros (see [`encode`]), `fixed` included.
fn estimate(nnz: usize, shape: &[usize], elem: usize, fixed: usize) -> Option<usize> {
    let (&last, outer) = shape.split_last()?;
    let rows = outer.iter().try_fold(1usize, |a, &d| a.checked_mul(d))?;
    let seg = rows.checked_add(1)?.checked_mul(IndexVec::width(nnz as u64))?;
    let idx = nnz.checked_mul(IndexVec::width(last.saturating_sub(1) as u64))?;
    nnz.checked_mul(elem)?.checked_add(seg)?.checked_add(idx)?.checked_add(fixed)
}

fn is_zero(e: &[u8]) -> bool {
    e.iter().all(|&b| b == 0)
}

/// Non-zero elements of `src` (elements of `elem` bytes), or `None` when a sample already
/// shows too few zeros for `max_nnz`.
fn count_nonzero(src: &[u8], elem: usize, max_nnz: usize) -> Option<usize> {
    let n = src.len() / elem;
    if n > 4 * SAMPLES {
        // RUNS evenly spaced runs of contiguous elements: a dense weight is turned down after
        // reading a few pages of it, not one element of every page (which would fault the
        // whole tensor in, as a full scan does).
        const RUNS: usize = 64;
        let run = SAMPLES / RUNS;
        let step = n / RUNS;
        let sampled = (0..RUNS)
            .map(|r| {
                src.get(r * step * elem..(r * step + run) * elem)
                    .map_or(0, |b| b.chunks_exact(elem).filter(|e| !is_zero(e)).count())
            })
            .sum::<usize>();
        // A generous margin: the sample decides only clear cases.
        if sampled as f64 > (max_nnz as f64 / n as f64 + 0.1) * SAMPLES as f64 {
            return None;
        }
    }
    let nnz = src.chunks_exact(elem).filter(|e| !is_zero(e)).count();
    (nnz <= max_nnz).then_some(nnz)
}

/// The element size of a tensor type that may be stored sparse.
fn elem_size(ty: TensorType) -> Option<usize> {
    match ty {
        TensorType::FLOAT32 => Some(4),
        TensorType::FLOAT16 => Some(2),
        TensorType::INT8 => Some(1),
        _ => None,
    }
}

fn is_integer(ty: TensorType) -> bool {
    matches!(ty, TensorType::INT8 | TensorType::UINT8 | TensorType::INT16)
}

/// Whether tensor `t` (of type `ty`) may be read by input `slot` of `op` through DENSIFY.
fn use_ok(m: &TModel, op: &TOp, slot: usize, ty: TensorType) -> bool {
    if op.code == B::DEQUANTIZE {
        return slot == 0;
    }
    if slot != 1 || !WEIGHT_OPS.contains(&op.code) {
        return false;
    }
    // The activation input: TRANSPOSE_CONV's inputs are (output_shape, weights, input, bias).
    let data = if op.code == B::TRANSPOSE_CONV { 2 } else { 0 };
    let input_ty = op
        .inputs
        .get(data)
        .and_then(|&i| usize::try_from(i).ok())
        .and_then(|i| m.tensors.get(i))
        .map(|t| t.ty);
    match ty {
        TensorType::FLOAT32 => input_ty == Some(TensorType::FLOAT32),
        // LiteRT's XNNPACK delegate refuses (fails to prepare the whole model) an int8
        // FULLY_CONNECTED whose weights come from DENSIFY; convolutions take them.
        TensorType::INT8 => matches!(op.code, B::CONV_2D | B::DEPTHWISE_CONV_2D) && input_ty.is_some_and(is_integer),
        _ => false,
    }
}

/// Stores every eligible mostly-zero weight of `m` sparse behind a DENSIFY operator. Returns how
/// many were.
pub(crate) fn sparsify(m: &mut TModel) -> usize {
    let nt = m.tensors.len();
    let mut uses: Vec<Vec<(usize, usize)>> = vec![Vec::new(); nt];
    for (oi, op) in m.ops.iter().enumerate() {
        for (slot, &i) in op.inputs.iter().enumerate() {
            if let Some(u) = usize::try_from(i).ok().and_then(|i| uses.get_mut(i)) {
                u.push((oi, slot));
            }
        }
    }
    let mut buffer_refs = vec![0usize; m.buffers.len()];
    for t in &m.tensors {
        if let Some(r) = buffer_refs.get_mut(t.buffer as usize) {
            *r += 1;
        }
    }
    let boundary: Vec<i32> = m.inputs.iter().chain(&m.outputs).copied().collect();
    let mut inserts: Vec<(usize, TOp)> = Vec::new();
    let mut scanned = 0usize;
    let mut names: std::collections::HashSet<String> = m.tensors.iter().map(|t| t.name.clone()).collect();
    for (ti, users) in uses.iter().enumerate() {
        let Some(t) = m.tensors.get(ti) else { continue };
        let b = t.buffer as usize;
        let Some(elem) = elem_size(t.ty) else { continue };
        if b == 0
            || users.is_empty()
            || buffer_refs.get(b) != Some(&1)
            || t.sparsity.is_some()
            || boundary.contains(&(ti as i32))
            || !users
                .iter()
                .all(|&(oi, slot)| m.ops.get(oi).is_some_and(|op| use_ok(m, op, slot, t.ty)))
        {
            continue;
        }
        let Some(shape) = t
            .shape
            .iter()
            .map(|&d| usize::try_from(d).ok().filter(|&d| d > 0))
            .collect::<Option<Vec<_>>>()
        else {
            continue;
        };
        let Some(Some(data)) = m.buffers.get(b) else { continue };
        let fixed = overhead(shape.len(), t.name.len(), t.quant.as_ref());
        // Weights too small for `release` to give back one by one (many in a mobile net) are
        // given back together, every megabyte read.
        scanned += data.len();
        if scanned >= 1 << 20 {
            edgeport_ir::mapped::release_all();
            scanned = 0;
        }
        let Some(enc) = encode_if_worth(data, elem, &shape, fixed) else {
            continue;
        };
        let dense_name = unique(&mut names, &format!("{}_densified", t.name));
        let dense = super::model::TTensor {
            name: dense_name,
            shape: t.shape.clone(),
            shape_signature: None,
            ty: t.ty,
            buffer: 0,
            quant: t.quant.clone(),
            sparsity: None,
        };
        if let Some(tm) = m.tensors.get_mut(ti) {
            tm.sparsity = Some(enc.sparsity);
        }
        if let Some(slot) = m.buffers.get_mut(b) {
            *slot = Some(BufData::Owned(enc.values));
        }
        let d = m.add_tensor(dense);
        for &(oi, slot) in users {
            if let Some(x) = m.ops.get_mut(oi).and_then(|op| op.inputs.get_mut(slot)) {
                *x = d;
            }
        }
        let first = users.iter().map(|u| u.0).min().unwrap_or(0);
        inserts.push((
            first,
            TOp {
                code: B::DENSIFY,
                inputs: vec![ti as i32],
                outputs: vec![d],
                options: None,
                custom: None,
            },
        ));
    }
    let count = inserts.len();
    if count > 0 {
        inserts.sort_by_key(|x| x.0);
        let old = std::mem::take(&mut m.ops);
        let mut ins = inserts.into_iter().peekable();
        for (oi, op) in old.into_iter().enumerate() {
            while let Some((_, d)) = ins.next_if(|x| x.0 == oi) {
                m.ops.push(d);
            }
            m.ops.push(op);
        }
        m.ops.extend(ins.map(|x| x.1));
    }
    count
}

/// The sparse form of a buffer when it is worth it (zeros are counted on the source bytes,
/// before any transpose, which moves no zero).
fn encode_if_worth(data: &BufData, elem: usize, shape: &[usize], fixed: usize) -> Option<Encoded> {
    let dense = data.len();
    let numel = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))?;
    if numel.checked_mul(elem)? != dense {
        return None;
    }
    let (src, src_elem): (&[u8], usize) = match data {
        BufData::Shared(b) => (&b[..], elem),
        BufData::Owned(v) => (&v[..], elem),
        BufData::Lazy { src, elem: e, .. } => (&src[..], *e),
    };
    if src_elem == 0 || src.len() / src_elem != numel {
        return None;
    }
    // The most non-zeros that could still be worth it (the estimate grows with the count).
    let ok = |k: usize| estimate(k, shape, elem, fixed).is_some_and(|s| worth(dense, s));
    if !ok(0) {
        return None;
    }
    let (mut lo, mut hi) = (0usize, numel);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if ok(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let max_nnz = lo;
    let counted = count_nonzero(src, src_elem, max_nnz);
    if let BufData::Shared(b) | BufData::Lazy { src: b, .. } = data {
        edgeport_ir::mapped::release(b);
    }
    let nnz = counted?;
    // An all-zero tensor would leave an empty buffer, which LiteRT reads as no data at all (not
    // a constant: DENSIFY refuses it).
    if nnz == 0 {
        return None;
    }
    if !estimate(nnz, shape, elem, fixed).is_some_and(|s| worth(dense, s)) {
        return None;
    }
    let bytes = data.bytes();
    let enc = encode(&bytes, elem, shape)?;
    worth(dense, enc.file_bytes(fixed)).then_some(enc)
}

fn unique(names: &mut std::collections::HashSet<String>, base: &str) -> String {
    let mut name = base.to_string();
    let mut k = 1;
    while names.contains(&name) {
        name = format!("{base}_{k}");
        k += 1;
    }
    names.insert(name.clone());
    name
}

/// Vtable slot of field `id`.
const fn slot(id: u16) -> u16 {
    4 + 2 * id
}

fn index_table<'a>(fbb: &mut FlatBufferBuilder<'a>, v: &IndexVec) -> WIPOffset<UnionWIPOffset> {
    let end = match v {
        IndexVec::I32(x) => {
            let vec = fbb.create_vector(x);
            let t = fbb.start_table();
            fbb.push_slot_always(slot(0), vec);
            fbb.end_table(t)
        }
        IndexVec::U16(x) => {
            let vec = fbb.create_vector(x);
            let t = fbb.start_table();
            fbb.push_slot_always(slot(0), vec);
            fbb.end_table(t)
        }
        IndexVec::U8(x) => {
            let vec = fbb.create_vector(x);
            let t = fbb.start_table();
            fbb.push_slot_always(slot(0), vec);
            fbb.end_table(t)
        }
    };
    WIPOffset::new(end.value())
}

/// Writes a `SparsityParameters` table (traversal_order 0, block_map 1, dim_metadata 2;
/// DimensionMetadata: format 0, dense_size 1, array_segments 2/3, array_indices 4/5).
pub(crate) fn sparsity_table<'a>(fbb: &mut FlatBufferBuilder<'a>, s: &TSparsity) -> WIPOffset<TableFinishedWIPOffset> {
    let mut dims = Vec::with_capacity(s.dims.len());
    for d in &s.dims {
        let seg = d.segments.as_ref().map(|v| (v.type_code(), index_table(fbb, v)));
        let idx = d.indices.as_ref().map(|v| (v.type_code(), index_table(fbb, v)));
        let t = fbb.start_table();
        fbb.push_slot_always(slot(0), d.format);
        fbb.push_slot_always(slot(1), d.dense_size);
        if let Some((ty, o)) = seg {
            fbb.push_slot_always(slot(2), ty);
            fbb.push_slot_always(slot(3), o);
        }
        if let Some((ty, o)) = idx {
            fbb.push_slot_always(slot(4), ty);
            fbb.push_slot_always(slot(5), o);
        }
        dims.push(fbb.end_table(t));
    }
    let dims = fbb.create_vector(&dims);
    let order = fbb.create_vector(&s.traversal_order);
    let block = (!s.block_map.is_empty()).then(|| fbb.create_vector(&s.block_map));
    let t = fbb.start_table();
    fbb.push_slot_always(slot(0), order);
    if let Some(bm) = block {
        fbb.push_slot_always(slot(1), bm);
    }
    fbb.push_slot_always(slot(2), dims);
    fbb.end_table(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn csr_over_the_innermost_dimension() {
        let bytes = f32s(&[0.0, 1.5, 0.0, 0.0, 0.0, 0.0, -2.0, 0.0, 3.0]);
        let e = encode(&bytes, 4, &[3, 3]).expect("encodes");
        assert_eq!(e.values, f32s(&[1.5, -2.0, 3.0]));
        assert_eq!(e.sparsity.traversal_order, vec![0, 1]);
        assert_eq!(e.sparsity.dims[0].format, 0);
        assert_eq!(e.sparsity.dims[0].dense_size, 3);
        assert_eq!(e.sparsity.dims[1].format, 1);
        assert_eq!(e.sparsity.dims[1].segments, Some(IndexVec::U8(vec![0, 1, 1, 3])));
        assert_eq!(e.sparsity.dims[1].indices, Some(IndexVec::U8(vec![1, 0, 2])));
    }

    #[test]
    fn index_width_follows_the_largest_value() {
        // 300 columns: indices need 16 bits; 1 row of 300 non-zeros: segments need 16 bits too.
        let bytes = vec![1u8; 300];
        let e = encode(&bytes, 1, &[1, 300]).expect("encodes");
        assert!(matches!(e.sparsity.dims[1].indices, Some(IndexVec::U16(_))));
        assert!(matches!(e.sparsity.dims[1].segments, Some(IndexVec::U16(_))));
    }

    #[test]
    fn shape_not_matching_the_bytes_is_refused() {
        assert!(encode(&[0u8; 10], 4, &[3, 3]).is_none());
        assert!(encode(&[], 4, &[0, 3]).is_none());
        assert!(encode(&[0u8; 4], 4, &[]).is_none());
    }

    /// One op `code` reading input (type `in_ty`) and a [64, 64] weight (type `w_ty`, `weight`
    /// bytes); returns the DENSIFY count after `sparsify`.
    fn densified(code: B, in_ty: TensorType, w_ty: TensorType, weight: Vec<u8>) -> usize {
        let mut m = TModel::new("t");
        let t = |name: &str, shape: Vec<i32>, ty: TensorType| super::super::model::TTensor {
            name: name.into(),
            shape,
            shape_signature: None,
            ty,
            buffer: 0,
            quant: None,
            sparsity: None,
        };
        let x = m.add_tensor(t("x", vec![1, 64], in_ty));
        let w = m.add_tensor(t("w", vec![64, 64], w_ty));
        let y = m.add_tensor(t("y", vec![1, 64], in_ty));
        let b = m.add_buffer(BufData::Owned(weight));
        m.tensors[w as usize].buffer = b;
        m.add_op(TOp {
            code,
            inputs: vec![x, w],
            outputs: vec![y],
            options: None,
            custom: None,
        });
        m.inputs = vec![x];
        m.outputs = vec![y];
        let n = sparsify(&mut m);
        assert_eq!(n, m.ops.iter().filter(|o| o.code == B::DENSIFY).count());
        if n > 0 {
            // DENSIFY comes first and feeds the weight slot; the stored tensor is sparse.
            assert_eq!(m.ops[0].code, B::DENSIFY);
            assert_eq!(m.ops[1].inputs[1], m.ops[0].outputs[0]);
            assert!(m.tensors[w as usize].sparsity.is_some());
        }
        n
    }

    #[test]
    fn which_weights_are_stored_sparse() {
        let tenth = |elem: usize| -> Vec<u8> { (0..64 * 64).flat_map(|i| vec![u8::from(i % 10 == 0); elem]).collect() };
        assert_eq!(densified(B::FULLY_CONNECTED, TensorType::FLOAT32, TensorType::FLOAT32, tenth(4)), 1);
        assert_eq!(densified(B::CONV_2D, TensorType::INT8, TensorType::INT8, tenth(1)), 1);
        // int8 FULLY_CONNECTED (XNNPACK refuses DENSIFY there) and hybrid kernels stay dense.
        assert_eq!(densified(B::FULLY_CONNECTED, TensorType::INT8, TensorType::INT8, tenth(1)), 0);
        assert_eq!(densified(B::CONV_2D, TensorType::FLOAT32, TensorType::INT8, tenth(1)), 0);
        // Not a weight slot of a kernel that takes a computed weight.
        assert_eq!(densified(B::ADD, TensorType::FLOAT32, TensorType::FLOAT32, tenth(4)), 0);
        // All zeros: an empty buffer would not be a constant to LiteRT.
        assert_eq!(
            densified(B::FULLY_CONNECTED, TensorType::FLOAT32, TensorType::FLOAT32, vec![0; 64 * 64 * 4]),
            0
        );
        // Dense data.
        assert_eq!(
            densified(B::FULLY_CONNECTED, TensorType::FLOAT32, TensorType::FLOAT32, vec![1; 64 * 64 * 4]),
            0
        );
    }

    #[test]
    fn only_when_it_saves_a_fifth() {
        let shape = [64usize, 64];
        let mut dense = vec![0f32; 64 * 64];
        // 10% non-zeros: worth it.
        for (i, v) in dense.iter_mut().enumerate() {
            if i % 10 == 0 {
                *v = 1.0 + i as f32;
            }
        }
        let d = BufData::Owned(f32s(&dense));
        let e = encode_if_worth(&d, 4, &shape, 300).expect("sparse");
        assert!(e.file_bytes(300) < 64 * 64 * 4 * 8 / 10);
        // 90% non-zeros: not.
        let mostly: Vec<f32> = (0..64 * 64).map(|i| if i % 10 == 0 { 0.0 } else { 1.0 }).collect();
        assert!(encode_if_worth(&BufData::Owned(f32s(&mostly)), 4, &shape, 300).is_none());
    }
}
