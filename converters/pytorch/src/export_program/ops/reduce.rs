//! Reductions: `mean` (`.dim` and whole-tensor), `sum` (`.dim_IntList` and whole), `amax`, `amin`
//! (ONNX reductions with axes as an input), keeping torch's `keepdim` default of False; `any`
//! and `all` reduce a float copy with max/min and cast back to bool.

use super::{Out, Rule, one};
use crate::export_program::ctx::{Ctx, N, R, ai, axis};
use crate::export_program::schema::Arg;
use edgeport_ir::DType;

pub fn rule(op: &str) -> Option<Rule> {
    Some(match op {
        "mean" | "sum" | "amax" | "amin" | "any" | "all" => reduce,
        _ => return None,
    })
}

fn reduce(cx: &mut Ctx, n: &N) -> R<Out> {
    let (mut x, m) = cx.tensor(n, "self")?;
    let t = n.target.strip_prefix("torch.ops.aten.").unwrap_or(&n.target);
    let op = t.split('.').next().unwrap_or(t);
    let dims: Vec<i64> = match n.get("dim") {
        None | Some(Arg::None) => (0..m.rank() as i64).collect(),
        _ => n.ints("dim", &[], 1)?.iter().map(|&d| axis(d, m.rank())).collect::<R<_>>()?,
    };
    let dims = if dims.is_empty() { (0..m.rank() as i64).collect() } else { dims };
    let keep = n.bool("keepdim", false)?;
    if let Some(dt) = n.scalar_type("dtype")?
        && dt != m.dtype
    {
        x = cx.tmp("Cast", vec![("to", ai(dt.onnx_code() as i64))], &[x], &format!("{}_cast", n.name))?;
    }
    let logical = matches!(op, "any" | "all");
    if logical {
        x = cx.tmp(
            "Cast",
            vec![("to", ai(DType::F32.onnx_code() as i64))],
            &[x],
            &format!("{}_f32", n.name),
        )?;
    }
    let kind = match op {
        "mean" => "ReduceMean",
        "any" => "ReduceMax",
        "all" => "ReduceMin",
        "sum" => "ReduceSum",
        "amax" => "ReduceMax",
        _ => "ReduceMin",
    };
    let out = n.out(0);
    if m.rank() == 0 {
        return one(cx.op("Identity", vec![], &[x], &out)?);
    }
    let ax = cx.const_i64(&format!("{}_axes", n.name), &dims);
    if logical {
        let r = cx.tmp(kind, vec![("keepdims", ai(keep as i64))], &[x, ax], &format!("{}_red", n.name))?;
        return one(cx.op("Cast", vec![("to", ai(DType::Bool.onnx_code() as i64))], &[r], &out)?);
    }
    one(cx.op(kind, vec![("keepdims", ai(keep as i64))], &[x, ax], &out)?)
}
