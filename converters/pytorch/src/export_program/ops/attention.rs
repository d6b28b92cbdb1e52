//! `scaled_dot_product_attention` (decomposed into MatMul, scale, mask, Softmax, MatMul so every
//! backend can run it; boolean masks select between 0 and -inf, `is_causal` builds the lower
//! triangular mask from the recorded sizes), `embedding` (Gather) and `dropout` (identity in
//! inference).

use super::{Out, Rule, one};
use crate::export_program::ctx::{Ctx, N, R, ai, ais};
use edgeport_ir::{Bytes, DType, Tensor};

pub fn rule(op: &str) -> Option<Rule> {
    Some(match op {
        "scaled_dot_product_attention" => sdpa,
        "embedding" => embedding,
        "dropout" | "native_dropout" | "feature_dropout" | "alpha_dropout" => dropout,
        _ => return None,
    })
}

fn sdpa(cx: &mut Ctx, n: &N) -> R<Out> {
    let (q, qm) = cx.tensor(n, "query")?;
    let (k, km) = cx.tensor(n, "key")?;
    let (v, _) = cx.tensor(n, "value")?;
    if n.float("dropout_p", 0.0)? != 0.0 {
        return Err("scaled_dot_product_attention with dropout is not supported".into());
    }
    if n.bool("enable_gqa", false)? {
        return Err("scaled_dot_product_attention with enable_gqa is not supported".into());
    }
    let r = qm.rank();
    if r < 2 || km.rank() != r {
        return Err(format!("query/key ranks {r}/{} are not supported", km.rank()));
    }
    let e = qm.shape[r - 1].known().ok_or("query head size is symbolic")? as f64;
    let scale = n.opt_float("scale")?.unwrap_or(1.0 / e.sqrt());
    let dt = qm.dtype;
    let b = &n.name;
    let mut perm: Vec<i64> = (0..r as i64).collect();
    perm.swap(r - 2, r - 1);
    let kt = cx.tmp("Transpose", vec![("perm", ais(&perm))], &[k], &format!("{b}_kT"))?;
    let qk = cx.tmp("MatMul", vec![], &[q, kt], &format!("{b}_qk"))?;
    let s = cx.scalar(&format!("{b}_scale"), dt, scale)?;
    let mut logits = cx.tmp("Mul", vec![], &[qk, s], &format!("{b}_scaled"))?;
    if let Some(mask) = cx.opt_tensor(n, "attn_mask")? {
        let mdt = cx.meta(&n.tensor_name("attn_mask")?)?.dtype;
        let add = if mdt == DType::Bool {
            let zero = cx.scalar(&format!("{b}_zero"), dt, 0.0)?;
            let ninf = cx.scalar(&format!("{b}_ninf"), dt, f64::NEG_INFINITY)?;
            cx.tmp("Where", vec![], &[mask, zero, ninf], &format!("{b}_maskadd"))?
        } else {
            mask
        };
        logits = cx.tmp("Add", vec![], &[logits, add], &format!("{b}_masked"))?;
    }
    if n.bool("is_causal", false)? {
        let l = qm.shape[r - 2].known().ok_or("causal attention with a symbolic query length")? as usize;
        let sl = km.shape[r - 2].known().ok_or("causal attention with a symbolic key length")? as usize;
        if l.saturating_mul(sl) > 1 << 26 {
            return Err("causal mask too large".into());
        }
        let mut data = Vec::with_capacity(l * sl * 4);
        for i in 0..l {
            for j in 0..sl {
                let v: f32 = if j <= i { 0.0 } else { f32::NEG_INFINITY };
                data.extend_from_slice(&v.to_le_bytes());
            }
        }
        let t = Tensor::from_bytes(DType::F32, vec![l, sl], Bytes::from_vec(data)).map_err(|e| e.to_string())?;
        let mut mask = cx.constant(&format!("{b}_causal"), t);
        if dt != DType::F32 {
            mask = cx.tmp(
                "Cast",
                vec![("to", ai(dt.onnx_code() as i64))],
                &[mask],
                &format!("{b}_causal_cast"),
            )?;
        }
        logits = cx.tmp("Add", vec![], &[logits, mask], &format!("{b}_causal_add"))?;
    }
    let p = cx.tmp("Softmax", vec![("axis", ai(-1))], &[logits], &format!("{b}_softmax"))?;
    let out = n.out(0);
    one(cx.op("MatMul", vec![], &[p, v], &out)?)
}

fn embedding(cx: &mut Ctx, n: &N) -> R<Out> {
    let (w, _) = cx.tensor(n, "weight")?;
    let (i, _) = cx.tensor(n, "indices")?;
    let out = n.out(0);
    one(cx.op("Gather", vec![("axis", ai(0))], &[w, i], &out)?)
}

fn dropout(cx: &mut Ctx, n: &N) -> R<Out> {
    let name = if n.get("input").is_some() { "input" } else { "self" };
    let (x, _) = cx.tensor(n, name)?;
    if n.bool("train", false)? {
        return Err("dropout in training mode is not supported".into());
    }
    let out = n.out(0);
    one(cx.op("Identity", vec![], &[x], &out)?)
}
