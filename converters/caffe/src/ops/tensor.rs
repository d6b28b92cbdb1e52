//! Tensor layers: Eltwise (SUM with coefficients, PROD, MAX), Concat, Slice, Flatten, Reshape
//! (0 = copy, −1 = infer, `axis`/`num_axes`), Softmax, Permute (SSD), Crop and ArgMax.

use super::Layer;
use crate::build::{Ctx, axis, int, ints, numel};
use edgeport_ir::ValueId;
use edgeport_proto::caffe::eltwise_parameter::EltwiseOp;

pub fn eltwise(cx: &mut Ctx, l: &Layer<'_>) -> Result<Vec<ValueId>, String> {
    if l.ins.len() < 2 {
        return Err(format!("needs at least 2 bottoms, has {}", l.ins.len()));
    }
    let p = l.p.eltwise_param.clone().unwrap_or_default();
    match p.operation() {
        EltwiseOp::Prod => chain(cx, "Mul", l.ins),
        EltwiseOp::Max => Ok(vec![cx.op("", "Max", vec![], l.ins)?]),
        EltwiseOp::Sum => {
            if !p.coeff.is_empty() && p.coeff.len() != l.ins.len() {
                return Err(format!("{} coefficients for {} bottoms", p.coeff.len(), l.ins.len()));
            }
            let mut terms = Vec::new();
            for (i, &x) in l.ins.iter().enumerate() {
                let c = p.coeff.get(i).copied().unwrap_or(1.0);
                if c == 1.0 {
                    terms.push(x);
                } else {
                    let k = cx.f32s(&format!("coeff{i}"), vec![], &[c])?;
                    terms.push(cx.op(&format!("term{i}"), "Mul", vec![], &[x, k])?);
                }
            }
            chain(cx, "Add", &terms)
        }
    }
}

/// A left fold of a binary op; the last node is the layer's result.
fn chain(cx: &mut Ctx, op: &str, xs: &[ValueId]) -> Result<Vec<ValueId>, String> {
    let mut acc = *xs.first().ok_or("no operands")?;
    for (i, &x) in xs.iter().enumerate().skip(1) {
        let what = if i + 1 == xs.len() {
            String::new()
        } else {
            format!("{}{i}", op.to_lowercase())
        };
        acc = cx.op(&what, op, vec![], &[acc, x])?;
    }
    Ok(vec![acc])
}

pub fn concat(cx: &mut Ctx, l: &Layer<'_>) -> Result<Vec<ValueId>, String> {
    let x = l.input(0)?;
    let rank = cx.shape(x)?.len();
    let p = l.p.concat_param.unwrap_or_default();
    let a = if p.axis.is_none() && p.concat_dim.is_some() {
        i64::from(p.concat_dim())
    } else {
        p.axis().into()
    };
    let a = axis(a, rank)?;
    if l.ins.len() == 1 {
        return Ok(vec![cx.op("", "Identity", vec![], &[x])?]);
    }
    Ok(vec![cx.op("", "Concat", vec![int("axis", a as i64)], l.ins)?])
}

pub fn slice(cx: &mut Ctx, l: &Layer<'_>) -> Result<Vec<ValueId>, String> {
    let x = l.input(0)?;
    let shape = cx.shape(x)?;
    let p = l.p.slice_param.clone().unwrap_or_default();
    let a = if p.axis.is_none() && p.slice_dim.is_some() {
        i64::from(p.slice_dim())
    } else {
        p.axis().into()
    };
    let a = axis(a, shape.len())?;
    let len = shape[a];
    let n = l.n_tops();
    let mut bounds = vec![0usize];
    if p.slice_point.is_empty() {
        if n == 0 || !len.is_multiple_of(n) {
            return Err(format!("cannot split {len} evenly into {n} tops"));
        }
        bounds.extend((1..=n).map(|i| i * len / n));
    } else {
        if p.slice_point.len() + 1 != n {
            return Err(format!("{} slice points for {n} tops", p.slice_point.len()));
        }
        bounds.extend(p.slice_point.iter().map(|&v| v as usize));
        bounds.push(len);
    }
    if bounds.windows(2).any(|w| w[0] >= w[1]) {
        return Err(format!("slice points {:?} are not increasing within {len}", p.slice_point));
    }
    let sizes: Vec<i64> = bounds.windows(2).map(|w| (w[1] - w[0]) as i64).collect();
    let split = cx.ints("split", &sizes)?;
    cx.op_n("", "Split", vec![int("axis", a as i64)], &[Some(x), Some(split)], n)
}

fn reshape_to(cx: &mut Ctx, x: ValueId, dims: &[usize]) -> Result<Vec<ValueId>, String> {
    let d: Vec<i64> = dims.iter().map(|&v| v as i64).collect();
    let s = cx.ints("shape", &d)?;
    Ok(vec![cx.op("", "Reshape", vec![], &[x, s])?])
}

pub fn flatten(cx: &mut Ctx, l: &Layer<'_>) -> Result<Vec<ValueId>, String> {
    let x = l.input(0)?;
    let shape = cx.shape(x)?;
    let p = l.p.flatten_param.unwrap_or_default();
    let a = axis(p.axis().into(), shape.len())?;
    let e = axis(p.end_axis().into(), shape.len())?;
    if e < a {
        return Err(format!("end_axis {} comes before axis {}", p.end_axis(), p.axis()));
    }
    let mut out: Vec<usize> = shape[..a].to_vec();
    out.push(numel(&shape[a..=e])?);
    out.extend_from_slice(&shape[e + 1..]);
    reshape_to(cx, x, &out)
}

pub fn reshape(cx: &mut Ctx, l: &Layer<'_>) -> Result<Vec<ValueId>, String> {
    let x = l.input(0)?;
    let shape = cx.shape(x)?;
    let p = l.p.reshape_param.clone().unwrap_or_default();
    let spec: Vec<i64> = p.shape.as_ref().map(|s| s.dim.clone()).unwrap_or_default();
    let rank = shape.len() as i64;
    let start = if p.axis() < 0 {
        i64::from(p.axis()) + rank + 1
    } else {
        p.axis().into()
    };
    if !(0..=rank).contains(&start) {
        return Err(format!("axis {} is out of range", p.axis()));
    }
    let end = if p.num_axes() == -1 {
        rank
    } else {
        start + i64::from(p.num_axes())
    };
    if p.num_axes() < -1 || end > rank {
        return Err(format!("num_axes {} is out of range", p.num_axes()));
    }
    let (start, end) = (start as usize, end as usize);
    let mut mid = Vec::new();
    let mut infer = None;
    for (i, &d) in spec.iter().enumerate() {
        match d {
            0 => mid.push(*shape.get(start + i).ok_or("0 (copy) refers past the input's rank")?),
            -1 if infer.is_none() => {
                infer = Some(mid.len());
                mid.push(1);
            }
            d if d > 0 => mid.push(d as usize),
            d => return Err(format!("bad dimension {d} in reshape_param")),
        }
    }
    let mut out: Vec<usize> = shape[..start].to_vec();
    let base = out.len();
    out.extend(mid);
    out.extend_from_slice(&shape[end..]);
    let total = numel(&shape)?;
    if let Some(i) = infer {
        let known = numel(&out)?;
        if known == 0 || !total.is_multiple_of(known) {
            return Err(format!("cannot infer -1: {total} elements into {out:?}"));
        }
        out[base + i] = total / known;
    }
    if numel(&out)? != total {
        return Err(format!("shape {out:?} does not hold the input's {total} elements ({shape:?})"));
    }
    reshape_to(cx, x, &out)
}

pub fn softmax(cx: &mut Ctx, l: &Layer<'_>) -> Result<Vec<ValueId>, String> {
    let x = l.input(0)?;
    let rank = cx.shape(x)?.len();
    let a = axis(l.p.softmax_param.map_or(1, |p| p.axis()).into(), rank)?;
    Ok(vec![cx.op("", "Softmax", vec![int("axis", a as i64)], &[x])?])
}

pub fn permute(cx: &mut Ctx, l: &Layer<'_>) -> Result<Vec<ValueId>, String> {
    let x = l.input(0)?;
    let rank = cx.shape(x)?.len();
    let order: Vec<usize> =
        l.p.permute_param
            .clone()
            .unwrap_or_default()
            .order
            .iter()
            .map(|&v| v as usize)
            .collect();
    let mut perm = Vec::new();
    for &o in &order {
        if o >= rank || perm.contains(&o) {
            return Err(format!("order {order:?} is not a permutation of {rank} axes"));
        }
        perm.push(o);
    }
    // Caffe appends the axes the order leaves out, in their original order.
    for a in 0..rank {
        if !perm.contains(&a) {
            perm.push(a);
        }
    }
    let perm: Vec<i64> = perm.iter().map(|&v| v as i64).collect();
    Ok(vec![cx.op("", "Transpose", vec![ints("perm", &perm)], &[x])?])
}

pub fn crop(cx: &mut Ctx, l: &Layer<'_>) -> Result<Vec<ValueId>, String> {
    let x = l.input(0)?;
    let r = l.input(1)?;
    let xs = cx.shape(x)?;
    let rs = cx.shape(r)?;
    if xs.len() != rs.len() {
        return Err(format!("crop of rank {} to a reference of rank {}", xs.len(), rs.len()));
    }
    let p = l.p.crop_param.clone().unwrap_or_default();
    let a = axis(p.axis().into(), xs.len())?;
    let n = xs.len() - a;
    if p.offset.len() > 1 && p.offset.len() != n {
        return Err(format!("{} offsets for {n} cropped axes", p.offset.len()));
    }
    let (mut starts, mut ends, mut axes) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let off = match p.offset.len() {
            0 => 0,
            1 => p.offset[0] as usize,
            _ => p.offset[i] as usize,
        };
        let d = a + i;
        if off + rs[d] > xs[d] {
            return Err(format!("axis {d}: offset {off} + size {} exceeds {}", rs[d], xs[d]));
        }
        starts.push(off as i64);
        ends.push((off + rs[d]) as i64);
        axes.push(d as i64);
    }
    let s = cx.ints("starts", &starts)?;
    let e = cx.ints("ends", &ends)?;
    let ax = cx.ints("axes", &axes)?;
    Ok(vec![cx.op("", "Slice", vec![], &[x, s, e, ax])?])
}

pub fn argmax(cx: &mut Ctx, l: &Layer<'_>) -> Result<Vec<ValueId>, String> {
    let x = l.input(0)?;
    let shape = cx.shape(x)?;
    let p = l.p.argmax_param.unwrap_or_default();
    let k = i64::from(p.top_k());
    if let Some(a) = p.axis {
        let a = axis(a.into(), shape.len())?;
        if k < 1 || k as usize > shape[a] {
            return Err(format!("top_k {k} is out of range for axis of size {}", shape[a]));
        }
        let kv = cx.ints("k", &[k])?;
        let tk = cx.op_n("topk", "TopK", vec![int("axis", a as i64)], &[Some(x), Some(kv)], 2)?;
        let (vals, idx) = (tk[0], tk[1]);
        if p.out_max_val() {
            return Ok(vec![cx.op("", "Identity", vec![], &[vals])?]);
        }
        return Ok(vec![cx.op("", "Cast", vec![int("to", 1)], &[idx])?]);
    }
    // Over the flattened trailing dims: top is (N, 1 or 2, top_k) with indices then values.
    let inner = numel(shape.get(1..).unwrap_or(&[]))?;
    if k < 1 || k as usize > inner {
        return Err(format!("top_k {k} is out of range for {inner} values"));
    }
    let flat = cx.op("flat", "Flatten", vec![int("axis", 1)], &[x])?;
    let kv = cx.ints("k", &[k])?;
    let tk = cx.op_n("topk", "TopK", vec![int("axis", 1)], &[Some(flat), Some(kv)], 2)?;
    let idx = cx.op("idx_f", "Cast", vec![int("to", 1)], &[tk[1]])?;
    let one = cx.ints("axis1", &[1])?;
    let idx = cx.op("idx3", "Unsqueeze", vec![], &[idx, one])?;
    if !p.out_max_val() {
        return Ok(vec![cx.op("", "Identity", vec![], &[idx])?]);
    }
    let vals = cx.op("vals3", "Unsqueeze", vec![], &[tk[0], one])?;
    Ok(vec![cx.op("", "Concat", vec![int("axis", 1)], &[idx, vals])?])
}
