//! Tensor factories whose result is fully known from the recorded metadata: `full`, `zeros`,
//! `ones`, `scalar_tensor`, `*_like`, `new_*` and `arange` become constants. Results with
//! symbolic sizes are refused.

use super::{Out, Rule, one};
use crate::export_program::ctx::{Ctx, N, R, scalar_tensor};
use edgeport_ir::{Bytes, DType, Tensor};

pub fn rule(op: &str) -> Option<Rule> {
    Some(match op {
        "full" | "zeros" | "ones" | "scalar_tensor" | "full_like" | "zeros_like" | "ones_like" | "new_zeros" | "new_ones" | "new_full" => {
            fill
        }
        "arange" => arange,
        _ => return None,
    })
}

fn out_meta(cx: &Ctx, n: &N) -> R<(DType, Vec<usize>)> {
    let m = cx.meta(&n.out(0))?;
    let shape = m.known().ok_or("factory with a symbolic size")?;
    Ok((m.dtype, shape.iter().map(|&d| d.max(0) as usize).collect()))
}

fn fill(cx: &mut Ctx, n: &N) -> R<Out> {
    let (dt, shape) = out_meta(cx, n)?;
    let t = n.target.strip_prefix("torch.ops.aten.").unwrap_or(&n.target);
    let op = t.split('.').next().unwrap_or(t);
    let v = match op {
        "zeros" | "zeros_like" | "new_zeros" => 0.0,
        "ones" | "ones_like" | "new_ones" => 1.0,
        "scalar_tensor" => n.float("s", 0.0)?,
        _ => n.float("fill_value", 0.0)?,
    };
    let t = scalar_tensor(dt, v, shape)?;
    let name = n.out(0);
    let c = cx.constant(&format!("{name}_const"), t);
    one(cx.op("Identity", vec![], &[c], &name)?)
}

fn arange(cx: &mut Ctx, n: &N) -> R<Out> {
    let (dt, shape) = out_meta(cx, n)?;
    let (start, step) = (n.float("start", 0.0)?, n.float("step", 1.0)?);
    let count = shape.first().copied().unwrap_or(0);
    if shape.len() != 1 || count > 1 << 24 {
        return Err("arange with an unexpected result shape".into());
    }
    let vals: Vec<f64> = (0..count).map(|i| start + step * i as f64).collect();
    let t = match dt {
        DType::I64 => Tensor::from_i64(vec![count], &vals.iter().map(|&v| v as i64).collect::<Vec<_>>()).map_err(|e| e.to_string())?,
        DType::F32 => Tensor::from_f32(vec![count], &vals.iter().map(|&v| v as f32).collect::<Vec<_>>()).map_err(|e| e.to_string())?,
        DType::I32 => Tensor::from_bytes(
            DType::I32,
            vec![count],
            Bytes::from_vec(vals.iter().flat_map(|&v| (v as i32).to_le_bytes()).collect()),
        )
        .map_err(|e| e.to_string())?,
        d => return Err(format!("arange of {d}")),
    };
    let name = n.out(0);
    let c = cx.constant(&format!("{name}_const"), t);
    one(cx.op("Identity", vec![], &[c], &name)?)
}
