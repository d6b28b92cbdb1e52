//! Matrix products: `linear` (Gemm for 2-D inputs, else MatMul with the transposed weight plus
//! bias), `addmm` (Gemm with alpha/beta), `mm`, `bmm`, `matmul`, and `t`.

use super::{Out, Rule, one};
use crate::export_program::ctx::{Ctx, N, R, af, ai, ais};

pub fn rule(op: &str) -> Option<Rule> {
    Some(match op {
        "linear" => linear,
        "addmm" => addmm,
        "mm" | "bmm" | "matmul" => matmul,
        "t" | "numpy_T" => t,
        _ => return None,
    })
}

fn linear(cx: &mut Ctx, n: &N) -> R<Out> {
    let (x, xm) = cx.tensor(n, "input")?;
    let (w, _) = cx.tensor(n, "weight")?;
    let b = cx.opt_tensor(n, "bias")?;
    let out = n.out(0);
    if xm.rank() == 2 {
        let v = cx.ops("Gemm", vec![("transB", ai(1))], &[Some(x), Some(w), b], &[&out])?;
        return one(v[0]);
    }
    let wt = cx.tmp("Transpose", vec![("perm", ais(&[1, 0]))], &[w], &format!("{}_wT", n.name))?;
    match b {
        None => one(cx.op("MatMul", vec![], &[x, wt], &out)?),
        Some(b) => {
            let mm = cx.tmp("MatMul", vec![], &[x, wt], &format!("{}_mm", n.name))?;
            one(cx.op("Add", vec![], &[mm, b], &out)?)
        }
    }
}

fn addmm(cx: &mut Ctx, n: &N) -> R<Out> {
    let (c, _) = cx.tensor(n, "self")?;
    let (a, _) = cx.tensor(n, "mat1")?;
    let (b, _) = cx.tensor(n, "mat2")?;
    let alpha = n.float("alpha", 1.0)?;
    let beta = n.float("beta", 1.0)?;
    let out = n.out(0);
    one(cx.op("Gemm", vec![("alpha", af(alpha)), ("beta", af(beta))], &[a, b, c], &out)?)
}

fn matmul(cx: &mut Ctx, n: &N) -> R<Out> {
    let (a, _) = cx.tensor(n, "self")?;
    let second = if n.get("mat2").is_some() { "mat2" } else { "other" };
    let (b, _) = cx.tensor(n, second)?;
    let out = n.out(0);
    one(cx.op("MatMul", vec![], &[a, b], &out)?)
}

fn t(cx: &mut Ctx, n: &N) -> R<Out> {
    let (x, m) = cx.tensor(n, "self")?;
    let out = n.out(0);
    if m.rank() < 2 {
        return one(cx.op("Identity", vec![], &[x], &out)?);
    }
    one(cx.op("Transpose", vec![("perm", ais(&[1, 0]))], &[x], &out)?)
}
