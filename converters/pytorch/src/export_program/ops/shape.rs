//! Shape and data-movement ops: view/reshape/_unsafe_view/flatten/unflatten (Reshape to the
//! output's recorded shape), permute/transpose (Transpose), unsqueeze/squeeze, expand, cat,
//! slice, select, split/split_with_sizes/chunk/unbind, and the copies and casts (clone, contiguous,
//! alias, detach, _to_copy, to, type_as), `gather` (GatherElements), `index_select` (Gather)
//! plus `_operator.getitem` on list outputs, and `sym_size` (a size as a 0-d int64 tensor: the
//! views that use it take their sizes from the recorded output metadata).

use super::{Out, Rule, one};
use crate::export_program::ctx::{Ctx, N, R, ai, ais, axis};
use crate::export_program::schema::{Arg, Meta};
use edgeport_ir::{Dim, ValueId};

pub fn rule(op: &str) -> Option<Rule> {
    Some(match op {
        "view" | "reshape" | "_unsafe_view" | "flatten" | "unflatten" | "view_as" | "reshape_as" => reshape,
        "permute" => permute,
        "transpose" | "swapaxes" => transpose,
        "unsqueeze" | "unsqueeze_" => unsqueeze,
        "squeeze" | "squeeze_" => squeeze,
        "expand" | "expand_as" => expand,
        "cat" | "concat" | "concatenate" => cat,
        "slice" => slice,
        "select" => select,
        "split" | "split_with_sizes" | "chunk" | "unbind" | "tensor_split" => split,
        "clone" | "contiguous" | "alias" | "detach" | "detach_" | "lift_fresh_copy" | "_assert_tensor_metadata" => copy,
        "_to_copy" | "to" | "type_as" => cast,
        "_operator.getitem" => getitem,
        "gather" => gather,
        "index_select" => index_select,
        "sym_size" => sym_size,
        _ => return None,
    })
}

fn aten(n: &N) -> &str {
    let t = n.target.strip_prefix("torch.ops.aten.").unwrap_or(&n.target);
    t.split('.').next().unwrap_or(t)
}

/// A Reshape target for `out` given input `inp`: known dims as numbers, a symbolic dim that sits
/// at the same position in the input as 0 (copy), at most one other symbolic dim as -1.
fn target_shape(out: &Meta, inp: &Meta) -> R<Vec<i64>> {
    let mut v = Vec::with_capacity(out.rank());
    let mut infer = false;
    for (i, d) in out.shape.iter().enumerate() {
        match d {
            Dim::Known(k) => v.push(*k as i64),
            Dim::Sym(_) if inp.shape.get(i) == Some(d) => v.push(0),
            Dim::Sym(s) => {
                if infer {
                    return Err(format!("reshape to a shape with several new symbolic sizes ({s})"));
                }
                infer = true;
                v.push(-1);
            }
        }
    }
    // 0 means "copy" only without allowzero; a known 0 size would be misread.
    if out.shape.iter().any(|d| d.known() == Some(0)) {
        return Err("reshape to a shape with a zero-sized dimension is not supported".into());
    }
    Ok(v)
}

fn reshape(cx: &mut Ctx, n: &N) -> R<Out> {
    let (x, im) = cx.tensor(n, "self")?;
    let out = n.out(0);
    let om = cx.meta(&out)?.clone();
    let shape = target_shape(&om, &im)?;
    let s = cx.const_i64(&format!("{}_shape", n.name), &shape);
    one(cx.op("Reshape", vec![], &[x, s], &out)?)
}

fn permute(cx: &mut Ctx, n: &N) -> R<Out> {
    let (x, m) = cx.tensor(n, "self")?;
    let dims = n.ints("dims", &[], 1)?;
    let perm: Vec<i64> = dims.iter().map(|&d| axis(d, m.rank())).collect::<R<_>>()?;
    let out = n.out(0);
    one(cx.op("Transpose", vec![("perm", ais(&perm))], &[x], &out)?)
}

fn transpose(cx: &mut Ctx, n: &N) -> R<Out> {
    let (x, m) = cx.tensor(n, "self")?;
    let r = m.rank();
    let a = axis(n.int("dim0", 0)?, r)? as usize;
    let b = axis(n.int("dim1", 0)?, r)? as usize;
    let mut perm: Vec<i64> = (0..r as i64).collect();
    perm.swap(a, b);
    let out = n.out(0);
    one(cx.op("Transpose", vec![("perm", ais(&perm))], &[x], &out)?)
}

fn unsqueeze(cx: &mut Ctx, n: &N) -> R<Out> {
    let (x, m) = cx.tensor(n, "self")?;
    let d = axis(n.int("dim", 0)?, m.rank() + 1)?;
    let ax = cx.const_i64(&format!("{}_axes", n.name), &[d]);
    let out = n.out(0);
    one(cx.op("Unsqueeze", vec![], &[x, ax], &out)?)
}

fn squeeze(cx: &mut Ctx, n: &N) -> R<Out> {
    let (x, m) = cx.tensor(n, "self")?;
    let dims: Vec<i64> = match n.get("dim") {
        None | Some(Arg::None) => (0..m.rank()).filter(|&i| m.shape[i].known() == Some(1)).map(|i| i as i64).collect(),
        _ => n.ints("dim", &[], 1)?.iter().map(|&d| axis(d, m.rank())).collect::<R<_>>()?,
    };
    // torch ignores dims whose size is not 1; ONNX would fail on them.
    let dims: Vec<i64> = dims
        .into_iter()
        .filter(|&d| m.shape.get(d as usize).and_then(Dim::known) == Some(1))
        .collect();
    let out = n.out(0);
    if dims.is_empty() {
        return one(cx.op("Identity", vec![], &[x], &out)?);
    }
    let ax = cx.const_i64(&format!("{}_axes", n.name), &dims);
    one(cx.op("Squeeze", vec![], &[x, ax], &out)?)
}

fn expand(cx: &mut Ctx, n: &N) -> R<Out> {
    let (x, _) = cx.tensor(n, "self")?;
    let out = n.out(0);
    let om = cx.meta(&out)?.clone();
    // Symbolic sizes are kept by broadcasting against 1.
    let shape: Vec<i64> = om.shape.iter().map(|d| d.known().map(|k| k as i64).unwrap_or(1)).collect();
    let s = cx.const_i64(&format!("{}_shape", n.name), &shape);
    one(cx.op("Expand", vec![], &[x, s], &out)?)
}

fn cat(cx: &mut Ctx, n: &N) -> R<Out> {
    let names = match n.get("tensors") {
        Some(Arg::Tensors(t)) => t.clone(),
        Some(a) => return Err(format!("cat of {}", a.describe())),
        None => return Err("cat without tensors".into()),
    };
    let first = names.first().ok_or("cat of no tensors")?;
    let r = cx.meta(first)?.rank();
    let d = axis(n.int("dim", 0)?, r)?;
    let vals: Vec<ValueId> = names.iter().map(|t| cx.value(t)).collect::<R<_>>()?;
    let out = n.out(0);
    one(cx.op("Concat", vec![("axis", ai(d))], &vals, &out)?)
}

fn slice(cx: &mut Ctx, n: &N) -> R<Out> {
    let (x, m) = cx.tensor(n, "self")?;
    let d = axis(n.int("dim", 0)?, m.rank())?;
    let start = n.opt_int("start")?.unwrap_or(0);
    let end = n.opt_int("end")?.unwrap_or(i64::MAX);
    let step = n.int("step", 1)?;
    if step < 1 {
        return Err(format!("slice step {step} is not positive"));
    }
    let s = cx.const_i64(&format!("{}_starts", n.name), &[start]);
    let e = cx.const_i64(&format!("{}_ends", n.name), &[end]);
    let a = cx.const_i64(&format!("{}_axes", n.name), &[d]);
    let st = cx.const_i64(&format!("{}_steps", n.name), &[step]);
    let out = n.out(0);
    one(cx.op("Slice", vec![], &[x, s, e, a, st], &out)?)
}

fn select(cx: &mut Ctx, n: &N) -> R<Out> {
    let (x, m) = cx.tensor(n, "self")?;
    let d = axis(n.int("dim", 0)?, m.rank())?;
    let i = n.int("index", 0)?;
    let t = edgeport_ir::Tensor::scalar_i64(i);
    let idx = cx.constant(&format!("{}_index", n.name), t);
    let out = n.out(0);
    one(cx.op("Gather", vec![("axis", ai(d))], &[x, idx], &out)?)
}

fn split(cx: &mut Ctx, n: &N) -> R<Out> {
    let (x, m) = cx.tensor(n, "self")?;
    let op = aten(n);
    let d = axis(n.int("dim", 0)?, m.rank())?;
    let size = m
        .shape
        .get(d as usize)
        .and_then(Dim::known)
        .ok_or("split along a symbolic dimension")? as i64;
    let sizes: Vec<i64> = match op {
        "split_with_sizes" => n.ints("split_sizes", &[], 1)?,
        "split" => match n.get("split_size") {
            Some(Arg::Ints(v)) => v.clone(),
            _ => {
                let k = n.int("split_size", 1)?.max(1);
                (0..size).step_by(k as usize).map(|s| k.min(size - s)).collect()
            }
        },
        "chunk" => {
            let c = n.int("chunks", 1)?.max(1);
            let k = (size + c - 1) / c;
            (0..size).step_by(k.max(1) as usize).map(|s| k.min(size - s)).collect()
        }
        "unbind" => vec![1; size as usize],
        _ => return Err(format!("{op} is not supported")),
    };
    if sizes.iter().sum::<i64>() != size || sizes.iter().any(|&s| s < 0) {
        return Err(format!("split sizes {sizes:?} do not add up to {size}"));
    }
    let sv = cx.const_i64(&format!("{}_split", n.name), &sizes);
    let names: Vec<String> = (0..sizes.len())
        .map(|i| if op == "unbind" { cx.fresh(&n.name) } else { n.out(i) })
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut vs = cx.ops("Split", vec![("axis", ai(d))], &[Some(x), Some(sv)], &refs)?;
    if op == "unbind" {
        let ax = cx.const_i64(&format!("{}_axes", n.name), &[d]);
        let mut sq = Vec::new();
        for (i, v) in vs.iter().enumerate() {
            let o = n.out(i);
            sq.push(cx.op("Squeeze", vec![], &[*v, ax], &o)?);
        }
        vs = sq;
    }
    Ok(Out::List(vs))
}

fn copy(cx: &mut Ctx, n: &N) -> R<Out> {
    let (x, _) = cx.tensor(n, "self")?;
    let out = n.out(0);
    one(cx.op("Identity", vec![], &[x], &out)?)
}

fn cast(cx: &mut Ctx, n: &N) -> R<Out> {
    let (x, m) = cx.tensor(n, "self")?;
    let out = n.out(0);
    let to = cx.meta(&out).map(|o| o.dtype).unwrap_or(m.dtype);
    if to == m.dtype {
        return one(cx.op("Identity", vec![], &[x], &out)?);
    }
    one(cx.op("Cast", vec![("to", ai(to.onnx_code() as i64))], &[x], &out)?)
}

fn getitem(cx: &mut Ctx, n: &N) -> R<Out> {
    let list = n.args.first().map(|(_, a)| a.clone()).ok_or("getitem without arguments")?;
    let idx = n
        .args
        .get(1)
        .and_then(|(_, a)| if let Arg::Int(i) = a { Some(*i) } else { None })
        .ok_or("getitem index is not an int")?;
    let Arg::Tensors(names) = list else {
        return Err("getitem of something that is not a tensor list".into());
    };
    let i =
        usize::try_from(if idx < 0 { idx + names.len() as i64 } else { idx }).map_err(|_| format!("getitem index {idx} out of range"))?;
    let name = names.get(i).ok_or_else(|| format!("getitem index {idx} out of range"))?;
    let v = cx.value(name)?;
    let out = n.out(0);
    one(cx.op("Identity", vec![], &[v], &out)?)
}

fn gather(cx: &mut Ctx, n: &N) -> R<Out> {
    let (x, m) = cx.tensor(n, "self")?;
    let (i, _) = cx.tensor(n, "index")?;
    let d = axis(n.int("dim", 0)?, m.rank())?;
    let out = n.out(0);
    one(cx.op("GatherElements", vec![("axis", ai(d))], &[x, i], &out)?)
}

fn index_select(cx: &mut Ctx, n: &N) -> R<Out> {
    let (x, m) = cx.tensor(n, "self")?;
    let (i, _) = cx.tensor(n, "index")?;
    let d = axis(n.int("dim", 0)?, m.rank())?;
    let out = n.out(0);
    one(cx.op("Gather", vec![("axis", ai(d))], &[x, i], &out)?)
}

fn sym_size(cx: &mut Ctx, n: &N) -> R<Out> {
    let (x, m) = cx.tensor(n, "self")?;
    let d = axis(n.int("dim", 0)?, m.rank())?;
    let s = cx.tmp("Shape", vec![], &[x], &format!("{}_shape", n.name))?;
    let idx = cx.constant(&format!("{}_dim", n.name), edgeport_ir::Tensor::scalar_i64(d));
    let out = n.out(0);
    one(cx.op("Gather", vec![("axis", ai(0))], &[s, idx], &out)?)
}
