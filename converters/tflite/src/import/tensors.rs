//! Tensor data: TFLite tensor types → IR dtypes, constant tensors from buffers (zero-copy when
//! no conversion is needed), byte-level permutation of constants (OHWI → OIHW weights),
//! quantization parameters → `QuantParams`, and densification of sparse constants.

use crate::codes::TensorType;
use crate::model::{Quant, Sparsity, TensorInfo};
use edgeport_ir::{Bytes, DType, QuantGranularity, QuantParams, Tensor};

/// The IR dtype of a TFLite tensor type.
pub fn dtype_of(t: TensorType) -> Option<DType> {
    Some(match t {
        TensorType::FLOAT32 => DType::F32,
        TensorType::FLOAT16 => DType::F16,
        TensorType::INT32 => DType::I32,
        TensorType::UINT8 => DType::U8,
        TensorType::INT64 => DType::I64,
        TensorType::STRING => DType::String,
        TensorType::BOOL => DType::Bool,
        TensorType::INT16 => DType::I16,
        TensorType::COMPLEX64 => DType::C64,
        TensorType::INT8 => DType::I8,
        TensorType::FLOAT64 => DType::F64,
        TensorType::COMPLEX128 => DType::C128,
        TensorType::UINT64 => DType::U64,
        TensorType::UINT32 => DType::U32,
        TensorType::UINT16 => DType::U16,
        TensorType::INT4 => DType::I4,
        TensorType::BFLOAT16 => DType::BF16,
        TensorType::INT2 => DType::I2,
        TensorType::UINT4 => DType::U4,
        TensorType::FLOAT8_E4M3FN => DType::F8E4M3FN,
        TensorType::FLOAT8_E5M2 => DType::F8E5M2,
        _ => return None,
    })
}

/// The static shape of a tensor (negative dims are rejected).
pub fn static_shape(t: &TensorInfo) -> Result<Vec<usize>, String> {
    t.shape
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("negative dimension {d} in shape {:?}", t.shape)))
        .collect()
}

/// True when the tensor carries usable affine quantization parameters on an integer type.
pub fn is_quantized(t: &TensorInfo) -> bool {
    let int = matches!(
        t.ty,
        TensorType::INT8 | TensorType::UINT8 | TensorType::INT16 | TensorType::INT32 | TensorType::INT4 | TensorType::INT64
    );
    int && t.quant.as_ref().is_some_and(|q| !q.scale.is_empty())
}

/// The IR quantization parameters of a quantized tensor (`rank` checks the axis).
pub fn quant_params(q: &Quant, storage: DType, rank: usize, dims: &[usize]) -> Result<QuantParams, String> {
    let n = q.scale.len();
    let mut zp = q.zero_point.clone();
    if zp.is_empty() {
        zp = vec![0; n];
    }
    if zp.len() != n {
        return Err(format!("{n} scale(s) but {} zero point(s)", zp.len()));
    }
    if q.scale.iter().any(|s| !s.is_finite()) {
        return Err("non-finite quantization scale".into());
    }
    let granularity = if n == 1 {
        QuantGranularity::PerTensor
    } else {
        let axis = usize::try_from(q.quantized_dimension)
            .ok()
            .filter(|&a| a < rank)
            .ok_or_else(|| format!("quantized_dimension {} out of range for rank {rank}", q.quantized_dimension))?;
        if dims.get(axis).is_some_and(|&d| d != n) {
            return Err(format!("{n} scales for dimension {axis} of size {:?}", dims.get(axis)));
        }
        QuantGranularity::PerAxis { axis }
    };
    Ok(QuantParams {
        storage,
        granularity,
        scale: q.scale.clone(),
        zero_point: zp,
        scale_dtype: DType::F32,
    })
}

/// Builds a constant from `bytes` (shared, not copied), checking the size.
pub fn constant(dtype: DType, shape: Vec<usize>, bytes: Bytes) -> Result<Tensor, String> {
    if dtype == DType::String {
        return string_constant(shape, &bytes);
    }
    Tensor::from_bytes(dtype, shape, bytes.own_if_small()).map_err(|e| e.to_string())
}

/// TFLite string tensors: i32 count, i32 offsets[count+1], then the bytes.
fn string_constant(shape: Vec<usize>, b: &[u8]) -> Result<Tensor, String> {
    let rd = |p: usize| -> Result<usize, String> {
        let s = b.get(p..p + 4).ok_or("string tensor data is truncated")?;
        let v = i32::from_le_bytes([s[0], s[1], s[2], s[3]]);
        usize::try_from(v).map_err(|_| "negative offset in string tensor".to_string())
    };
    let n = rd(0)?;
    if n.checked_mul(4).is_none_or(|x| x > b.len()) {
        return Err(format!("string tensor claims {n} strings in {} bytes", b.len()));
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let (s, e) = (rd(4 + 4 * i)?, rd(8 + 4 * i)?);
        let v = b.get(s..e).ok_or("string offsets out of range")?;
        out.push(v.to_vec());
    }
    Tensor::from_strings(shape, out).map_err(|e| e.to_string())
}

/// Permutes a constant's elements: `out.shape[i] = shape[perm[i]]`. Byte-sized types only. No
/// byte moves now: the result reads the (memory-mapped) source through the permutation when it
/// is written (see `edgeport_ir::lazy`).
pub fn permute(t: &Tensor, perm: &[usize]) -> Result<Tensor, String> {
    if matches!(t.data, edgeport_ir::TensorData::Strings(_)) || !t.dtype.bits().is_multiple_of(8) || perm.len() != t.shape.len() {
        return Err(format!("cannot permute a {} tensor of rank {} by {perm:?}", t.dtype, t.shape.len()));
    }
    let mut r = t.permuted(perm).map_err(|e| e.to_string())?;
    r.quant = None;
    if let Some(q) = &t.quant {
        let mut q = q.clone();
        if let QuantGranularity::PerAxis { axis } = q.granularity {
            let na = perm.iter().position(|&p| p == axis).ok_or("bad permutation")?;
            q.granularity = QuantGranularity::PerAxis { axis: na };
        }
        r.quant = Some(q);
    }
    Ok(r)
}

/// Densifies a sparse constant (TACO format: per traversal dimension DENSE or SPARSE_CSR,
/// optional block dimensions) into row-major bytes of the dense `shape`. The dense size comes
/// from the file, so it is refused above `max_bytes` before anything is allocated.
pub fn densify(sp: &Sparsity, values: &[u8], elem: usize, shape: &[usize], max_bytes: usize) -> Result<Vec<u8>, String> {
    let rank = shape.len();
    let order: Vec<usize> = sp
        .traversal_order
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| "negative traversal order".to_string()))
        .collect::<Result<_, _>>()?;
    let nt = order.len();
    if sp.dims.len() != nt || nt < rank || nt > 16 {
        return Err(format!(
            "sparsity has {} dim metadata for {nt} traversal dims (rank {rank})",
            sp.dims.len()
        ));
    }
    let block_map: Vec<usize> = sp
        .block_map
        .iter()
        .map(|&d| usize::try_from(d).ok().filter(|&d| d < rank).ok_or("bad block map"))
        .collect::<Result<_, _>>()?;
    if nt != rank + block_map.len() || order.iter().any(|&o| o >= nt) {
        return Err("traversal order does not match rank plus block dims".into());
    }
    // Block size per original dim: the dense size of its block dimension.
    let mut block = vec![1usize; rank];
    for (k, &d) in block_map.iter().enumerate() {
        let bs = sp.dims.get(rank + k).map(|m| m.dense_size).unwrap_or(0);
        block[d] = usize::try_from(bs).ok().filter(|&b| b > 0).ok_or("bad block size")?;
    }
    let total = edgeport_ir::tensor::checked_numel(shape).map_err(|e| e.to_string())?;
    let nbytes = total.checked_mul(elem).ok_or("dense tensor too large")?;
    if nbytes > max_bytes {
        return Err(format!(
            "dense form of {nbytes} bytes is implausibly large for this file (limit {max_bytes})"
        ));
    }
    let mut w = Walk {
        sp,
        order: &order,
        rank,
        block_map: &block_map,
        block: &block,
        shape,
        values,
        elem,
        out: vec![0u8; nbytes],
        coords: vec![0; nt],
        next: 0,
        budget: total.saturating_mul(2).saturating_add(1024),
    };
    w.walk(0, 0)?;
    Ok(w.out)
}

struct Walk<'a> {
    sp: &'a Sparsity,
    order: &'a [usize],
    rank: usize,
    block_map: &'a [usize],
    block: &'a [usize],
    shape: &'a [usize],
    values: &'a [u8],
    elem: usize,
    out: Vec<u8>,
    coords: Vec<usize>,
    next: usize,
    budget: usize,
}

impl Walk<'_> {
    fn walk(&mut self, level: usize, pos: usize) -> Result<(), String> {
        self.budget = self.budget.checked_sub(1).ok_or("sparse metadata visits too many entries")?;
        if level == self.order.len() {
            return self.leaf();
        }
        let od = self.order[level];
        let meta = self.sp.dims.get(od).ok_or("bad traversal order")?;
        if meta.format == 0 {
            let n = usize::try_from(meta.dense_size).map_err(|_| "negative dense size")?;
            for i in 0..n {
                self.coords[od] = i;
                let p = pos
                    .checked_mul(n)
                    .and_then(|p| p.checked_add(i))
                    .ok_or("sparse position overflow")?;
                self.walk(level + 1, p)?;
            }
        } else {
            let s = *meta.segments.get(pos).ok_or("sparse segment index out of range")? as usize;
            let e = *meta.segments.get(pos + 1).ok_or("sparse segment index out of range")? as usize;
            if s > e || e > meta.indices.len() {
                return Err("bad sparse segments".into());
            }
            for j in s..e {
                self.coords[od] = meta.indices[j] as usize;
                self.walk(level + 1, j)?;
            }
        }
        Ok(())
    }

    fn leaf(&mut self) -> Result<(), String> {
        let mut flat = 0usize;
        let mut stride = 1usize;
        for d in (0..self.rank).rev() {
            let mut c = self.coords[d].checked_mul(self.block[d]).ok_or("sparse index overflow")?;
            for (k, &bd) in self.block_map.iter().enumerate() {
                if bd == d {
                    c += self.coords[self.rank + k];
                }
            }
            if c >= self.shape[d] {
                return Err(format!("sparse index {c} out of range for dimension {d} of size {}", self.shape[d]));
            }
            flat += c * stride;
            stride *= self.shape[d];
        }
        let e = self.elem;
        let src = self
            .values
            .get(self.next * e..(self.next + 1) * e)
            .ok_or("sparse tensor has too few values")?;
        if let Some(dst) = self.out.get_mut(flat * e..(flat + 1) * e) {
            dst.copy_from_slice(src);
        }
        self.next += 1;
        Ok(())
    }
}
