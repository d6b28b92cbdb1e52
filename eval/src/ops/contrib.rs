//! `com.microsoft` contrib ops that edgeport's quantizer emits, with onnxruntime's semantics:
//! `MatMulNBits` — `Y = A · dequant(B)ᵀ (+ bias)`, where `B` is `[N, n_blocks, blob]` uint8 with
//! 4- or 8-bit codes (4-bit: two per byte, low nibble first), `scales` `[N·n_blocks]`, optional
//! `zero_points` (uint8, packed like the codes per row; default `2^(bits-1)`), optional `bias [N]`.

use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use crate::tensor::Tensor;
use crate::value::Value;
use edgeport_ir::AttrValue;
use edgeport_ir::ops::Custom;
use ndarray::{ArrayD, IxDyn};

/// Runs a contrib op, or `None` when it is not one.
pub fn run(c: &Custom, cx: &NodeCtx<'_>) -> Option<OpResult> {
    match (c.domain.as_str(), c.name.as_str()) {
        ("com.microsoft", "MatMulNBits") => Some(matmul_nbits(c, cx)),
        _ => None,
    }
}

fn int_attr(c: &Custom, name: &str) -> Result<Option<i64>, OpError> {
    match c.attrs.iter().find(|(k, _)| k == name) {
        None => Ok(None),
        Some((_, AttrValue::Int(v))) => Ok(Some(*v)),
        Some(_) => Err(OpError::invalid(format!("attribute '{name}' should be an int"))),
    }
}

fn req_usize(c: &Custom, name: &str) -> Result<usize, OpError> {
    let v = int_attr(c, name)?.ok_or_else(|| OpError::invalid(format!("attribute '{name}' is required")))?;
    usize::try_from(v)
        .ok()
        .filter(|&x| x > 0 && x <= 1 << 24)
        .ok_or_else(|| OpError::invalid(format!("attribute '{name}' = {v} is out of range")))
}

fn matmul_nbits(c: &Custom, cx: &NodeCtx<'_>) -> OpResult {
    let k = req_usize(c, "K")?;
    let n = req_usize(c, "N")?;
    let block = req_usize(c, "block_size")?;
    let bits = int_attr(c, "bits")?.unwrap_or(4);
    if bits != 4 && bits != 8 {
        return Err(OpError::unsupported(format!(
            "MatMulNBits with bits = {bits} (4 and 8 are supported)"
        )));
    }
    if block < 16 || !block.is_power_of_two() {
        return Err(OpError::invalid(format!("block_size {block} must be a power of two ≥ 16")));
    }
    let nb = k.div_ceil(block);
    let blob = block * bits as usize / 8;
    let a = cx.tensor(0)?.to_f32_array()?;
    let b = match cx.tensor(1)? {
        Tensor::U8(b) => b,
        t => return Err(OpError::invalid(format!("B should be uint8, got {}", t.dtype()))),
    };
    let bsl: Vec<u8> = b.iter().copied().collect();
    if bsl.len() != n * nb * blob {
        return Err(OpError::invalid(format!(
            "B has {} bytes, N={n} × blocks={nb} × blob={blob} expected",
            bsl.len()
        )));
    }
    let scales: Vec<f32> = cx.tensor(2)?.to_f32_array()?.iter().copied().collect();
    if scales.len() != n * nb {
        return Err(OpError::invalid(format!(
            "scales has {} elements, {} expected",
            scales.len(),
            n * nb
        )));
    }
    let default_zp = (1u32 << (bits - 1)) as f32;
    let zps: Vec<f32> = match cx.opt_tensor(3)? {
        None => vec![default_zp; n * nb],
        Some(Tensor::U8(z)) => {
            let z: Vec<u8> = z.iter().copied().collect();
            let per_row = if bits == 4 { nb.div_ceil(2) } else { nb };
            if z.len() != n * per_row {
                return Err(OpError::invalid(format!(
                    "zero_points has {} bytes, {} expected",
                    z.len(),
                    n * per_row
                )));
            }
            (0..n * nb)
                .map(|i| {
                    let (r, bi) = (i / nb, i % nb);
                    if bits == 4 {
                        let byte = z[r * per_row + bi / 2];
                        f32::from(if bi % 2 == 0 { byte & 0xF } else { byte >> 4 })
                    } else {
                        f32::from(z[r * per_row + bi])
                    }
                })
                .collect()
        }
        Some(t) => {
            let z: Vec<f32> = t.to_f32_array()?.iter().copied().collect();
            if z.len() != n * nb {
                return Err(OpError::invalid(format!(
                    "float zero_points has {} elements, {} expected",
                    z.len(),
                    n * nb
                )));
            }
            z
        }
    };
    if cx.n_inputs() > 4 && cx.opt_tensor(4)?.is_some() {
        return Err(OpError::unsupported("MatMulNBits with g_idx"));
    }
    let bias: Option<Vec<f32>> = if cx.n_inputs() > 5 {
        cx.opt_tensor(5)?
            .map(|t| t.to_f32_array().map(|a| a.iter().copied().collect()))
            .transpose()?
    } else {
        None
    };
    if bias.as_ref().is_some_and(|b| b.len() != n) {
        return Err(OpError::invalid("bias length differs from N"));
    }
    // Dequantized W as [K, N].
    let mut w = vec![0f32; k * n];
    for r in 0..n {
        for kk in 0..k {
            let (bi, off) = (kk / block, kk % block);
            let base = (r * nb + bi) * blob;
            let q = if bits == 4 {
                let byte = bsl[base + off / 2];
                if off % 2 == 0 { byte & 0xF } else { byte >> 4 }
            } else {
                bsl[base + off]
            };
            let p = r * nb + bi;
            w[kk * n + r] = (f32::from(q) - zps[p]) * scales[p];
        }
    }
    let shape = a.shape().to_vec();
    if shape.last() != Some(&k) {
        return Err(OpError::invalid(format!("A has shape {shape:?}, last axis should be K={k}")));
    }
    let rows = a.len() / k.max(1);
    let av: Vec<f32> = a.iter().copied().collect();
    let mut out = vec![0f32; rows * n];
    for i in 0..rows {
        let o = &mut out[i * n..(i + 1) * n];
        if let Some(b) = &bias {
            o.copy_from_slice(b);
        }
        for kk in 0..k {
            let x = av[i * k + kk];
            if x == 0.0 {
                continue;
            }
            for (oj, &wj) in o.iter_mut().zip(&w[kk * n..(kk + 1) * n]) {
                *oj += x * wj;
            }
        }
    }
    let mut oshape = shape;
    if let Some(l) = oshape.last_mut() {
        *l = n;
    }
    let arr = ArrayD::from_shape_vec(IxDyn(&oshape), out).map_err(|e| OpError::invalid(e.to_string()))?;
    Ok(vec![Value::Tensor(Tensor::F32(arr))])
}
