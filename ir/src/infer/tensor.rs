//! Shapes of the tensor-manipulation ops: reshape, transpose, squeeze/unsqueeze, concat, slice,
//! gather, split, shape/size, tile, pad, expand, generators, one-hot, resize, depth/space. A
//! shape-like input (`shape`, `axes`, `starts`, `pads`, …) must be a constant, else the output
//! shape stays unknown.

use super::elementwise::broadcast;
use super::{Cx, Rule, axis, one};
use crate::ops::{Layout, Op};
use crate::shape::{Dim, Shape};

fn known(v: &[i64]) -> Option<Shape> {
    v.iter()
        .map(|&d| u64::try_from(d).ok().map(Dim::Known))
        .collect::<Option<Vec<_>>>()
        .map(Shape)
}

/// Product of dims: known when all are; a lone symbol among 1s stays that symbol.
pub(crate) fn product(ds: &[Dim]) -> Option<Dim> {
    let mut acc = 1u64;
    let mut sym: Option<&Dim> = None;
    for d in ds {
        match d {
            Dim::Known(n) => acc = acc.checked_mul(*n)?,
            s @ Dim::Sym(_) => {
                if sym.is_some() {
                    return None;
                }
                sym = Some(s);
            }
        }
    }
    match sym {
        None => Some(Dim::Known(acc)),
        Some(s) if acc == 1 => Some(s.clone()),
        Some(_) => None,
    }
}

fn reshape(cx: &Cx<'_>, allowzero: bool) -> Option<Shape> {
    let target = cx.const_ints(1)?;
    let input = cx.dims(0);
    let mut out: Vec<Option<Dim>> = Vec::with_capacity(target.len());
    let mut infer_at = None;
    for (i, &t) in target.iter().enumerate() {
        out.push(match t {
            0 if !allowzero => Some(input?.get(i)?.clone()),
            -1 if infer_at.is_none() => {
                infer_at = Some(i);
                None
            }
            t if t >= 0 => Some(Dim::Known(t as u64)),
            _ => return None,
        });
    }
    if let Some(at) = infer_at {
        // Cancel symbols shared by input and output; the rest must be known.
        let mut in_syms: Vec<&Dim> = Vec::new();
        let mut in_known = 1u64;
        for d in input? {
            match d {
                Dim::Known(n) => in_known = in_known.checked_mul(*n)?,
                s => in_syms.push(s),
            }
        }
        let mut out_known = 1u64;
        for d in out.iter().flatten() {
            match d {
                Dim::Known(n) => out_known = out_known.checked_mul(*n)?,
                s => {
                    let k = in_syms.iter().position(|x| *x == s)?;
                    in_syms.remove(k);
                }
            }
        }
        if !in_syms.is_empty() || out_known == 0 || !in_known.is_multiple_of(out_known) {
            return None;
        }
        out[at] = Some(Dim::Known(in_known / out_known));
    }
    out.into_iter().collect::<Option<Vec<_>>>().map(Shape)
}

fn slice_len(d: i64, start: i64, end: i64, step: i64) -> Option<u64> {
    // i128 keeps every intermediate exact, whatever the attribute values.
    let (d, start, end, step) = (d as i128, start as i128, end as i128, step as i128);
    let norm = |x: i128| if x < 0 { x + d } else { x };
    let (s, e) = (norm(start), norm(end));
    let len = if step > 0 {
        let (s, e) = (s.clamp(0, d), e.clamp(0, d));
        ((e - s).max(0) + step - 1) / step
    } else if step < 0 {
        let (s, e) = (s.clamp(0, d - 1), e.clamp(-1, d - 1));
        ((s - e).max(0) - step - 1) / -step
    } else {
        return None;
    };
    u64::try_from(len).ok()
}

fn slice(cx: &Cx<'_>) -> Result<Option<Shape>, String> {
    let Some(dims) = cx.dims(0) else {
        return Ok(None);
    };
    let (Some(starts), Some(ends)) = (cx.const_ints(1), cx.const_ints(2)) else {
        return Ok(None);
    };
    let r = dims.len();
    let axes = if cx.present(3) {
        match cx.const_ints(3) {
            Some(a) => a,
            None => return Ok(None),
        }
    } else {
        (0..starts.len() as i64).collect()
    };
    let steps = if cx.present(4) {
        match cx.const_ints(4) {
            Some(s) => s,
            None => return Ok(None),
        }
    } else {
        vec![1; starts.len()]
    };
    if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return Err("starts, ends, axes and steps differ in length".into());
    }
    let mut out = dims.to_vec();
    for k in 0..starts.len() {
        let a = axis(axes[k], r)?;
        out[a] = match &dims[a] {
            Dim::Known(d) => {
                let d = i64::try_from(*d).map_err(|_| "dimension too large".to_string())?;
                Dim::Known(slice_len(d, starts[k], ends[k], steps[k]).ok_or("slice step is 0")?)
            }
            s @ Dim::Sym(_) if starts[k] == 0 && steps[k] == 1 && ends[k] >= i32::MAX as i64 => s.clone(),
            Dim::Sym(_) => return Ok(None),
        };
    }
    Ok(Some(Shape(out)))
}

fn concat(cx: &Cx<'_>, ax: i64) -> Result<Option<Shape>, String> {
    let mut shapes = Vec::new();
    for i in 0..cx.n_in() {
        match cx.dims(i) {
            Some(d) => shapes.push(d),
            None => return Ok(None),
        }
    }
    let Some(first) = shapes.first() else {
        return Ok(None);
    };
    let r = first.len();
    let a = axis(ax, r)?;
    let mut out = first.to_vec();
    let mut total = Some(0u64);
    for s in &shapes {
        if s.len() != r {
            return Err(format!("concat inputs of ranks {} and {r}", s.len()));
        }
        total = match (&s[a], total) {
            (Dim::Known(n), Some(t)) => t.checked_add(*n),
            _ => None,
        };
        for (i, d) in s.iter().enumerate() {
            if i != a && matches!(out[i], Dim::Sym(_)) && matches!(d, Dim::Known(_)) {
                out[i] = d.clone();
            }
        }
    }
    match total {
        Some(t) => out[a] = Dim::Known(t),
        None if shapes.len() == 1 => {}
        None => return Ok(None),
    }
    Ok(Some(Shape(out)))
}

fn split(cx: &Cx<'_>, ax: i64, num: Option<i64>) -> Result<Vec<Option<Shape>>, String> {
    let unknown = vec![None; cx.n_out];
    let Some(dims) = cx.dims(0) else {
        return Ok(unknown);
    };
    let a = axis(ax, dims.len())?;
    let sizes: Vec<u64> = if let Some(s) = cx.const_ints(1) {
        s.iter()
            .map(|&x| u64::try_from(x).map_err(|_| "negative split".to_string()))
            .collect::<Result<_, _>>()?
    } else if cx.present(1) {
        return Ok(unknown);
    } else {
        let Dim::Known(d) = dims[a] else {
            return Ok(unknown);
        };
        let n = num.and_then(|n| u64::try_from(n).ok()).unwrap_or(cx.n_out as u64);
        if n == 0 {
            return Err("split into 0 parts".into());
        }
        let chunk = d.div_ceil(n);
        (0..n.min(cx.n_out as u64))
            .map(|i| chunk.min(d.saturating_sub(chunk.saturating_mul(i))))
            .collect()
    };
    Ok((0..cx.n_out)
        .map(|k| {
            let mut o = dims.to_vec();
            o[a] = Dim::Known(*sizes.get(k)?);
            Some(Shape(o))
        })
        .collect())
}

fn spatial_axes(layout: Layout, r: usize) -> (usize, std::ops::Range<usize>) {
    match layout {
        Layout::ChannelsFirst => (1, 2..r),
        Layout::ChannelsLast => (r.saturating_sub(1), 1..r.saturating_sub(1)),
    }
}

fn depth_space(cx: &Cx<'_>, b: i64, layout: Layout, to_space: bool) -> Option<Shape> {
    let dims = cx.dims(0)?;
    let b = u64::try_from(b).ok().filter(|&b| b > 0)?;
    if dims.len() != 4 {
        return None;
    }
    let (c, sp) = spatial_axes(layout, 4);
    let mut out = dims.to_vec();
    let bb = b.checked_mul(b)?;
    out[c] = match &dims[c] {
        Dim::Known(n) if to_space => Dim::Known(n / bb),
        Dim::Known(n) => Dim::Known(n.checked_mul(bb)?),
        _ => return None,
    };
    for i in sp {
        out[i] = match &dims[i] {
            Dim::Known(n) if to_space => Dim::Known(n.checked_mul(b)?),
            Dim::Known(n) => Dim::Known(n / b),
            _ => return None,
        };
    }
    Some(Shape(out))
}

pub(crate) fn infer(cx: &Cx<'_>) -> Rule {
    let r0 = cx.rank(0);
    match cx.op {
        Op::Constant(c) => one(known(&c.value.shape.iter().map(|&d| d as i64).collect::<Vec<_>>())),
        Op::Reshape(o) => one(reshape(cx, o.allowzero != 0)),
        Op::Transpose(t) => {
            let Some(dims) = cx.dims(0) else {
                return one(None);
            };
            let perm: Vec<i64> = if t.perm.is_empty() {
                (0..dims.len() as i64).rev().collect()
            } else {
                t.perm.clone()
            };
            if perm.len() != dims.len() {
                return Err(format!("perm {perm:?} does not fit rank {}", dims.len()));
            }
            let out = perm
                .iter()
                .map(|&p| axis(p, dims.len()).map(|a| dims[a].clone()))
                .collect::<Result<Vec<_>, _>>()?;
            one(Some(Shape(out)))
        }
        Op::Squeeze(_) => {
            let Some(dims) = cx.dims(0) else {
                return one(None);
            };
            let axes: Vec<usize> = match cx.const_ints(1) {
                Some(a) => a.iter().map(|&x| axis(x, dims.len())).collect::<Result<_, _>>()?,
                None if cx.present(1) => return one(None),
                None => {
                    if dims.iter().any(|d| matches!(d, Dim::Sym(_))) {
                        return one(None);
                    }
                    (0..dims.len()).filter(|&i| dims[i] == Dim::Known(1)).collect()
                }
            };
            one(Some(Shape(
                dims.iter()
                    .enumerate()
                    .filter(|(i, _)| !axes.contains(i))
                    .map(|(_, d)| d.clone())
                    .collect(),
            )))
        }
        Op::Unsqueeze(_) => {
            let (Some(dims), Some(a)) = (cx.dims(0), cx.const_ints(1)) else {
                return one(None);
            };
            let r = dims.len() + a.len();
            let axes: Vec<usize> = a.iter().map(|&x| axis(x, r)).collect::<Result<_, _>>()?;
            let mut it = dims.iter();
            let out = (0..r)
                .map(|i| {
                    if axes.contains(&i) {
                        Some(Dim::Known(1))
                    } else {
                        it.next().cloned()
                    }
                })
                .collect::<Option<Vec<_>>>();
            one(out.map(Shape))
        }
        Op::Concat(c) => one(concat(cx, c.axis)?),
        Op::Slice(_) => one(slice(cx)?),
        Op::Gather(gt) => {
            let (Some(d), Some(ix)) = (cx.dims(0), cx.dims(1)) else {
                return one(None);
            };
            let a = axis(gt.axis, d.len())?;
            one(Some(Shape(d[..a].iter().chain(ix).chain(&d[a + 1..]).cloned().collect())))
        }
        Op::GatherElements(_) => one(cx.shape(1).cloned()),
        Op::GatherND(gn) => {
            let (Some(d), Some(ix)) = (cx.dims(0), cx.dims(1)) else {
                return one(None);
            };
            let Some(Dim::Known(k)) = ix.last() else {
                return one(None);
            };
            let from = usize::try_from(gn.batch_dims).ok().and_then(|b| b.checked_add(*k as usize));
            let Some(from) = from.filter(|&f| f <= d.len()) else {
                return Err("indices too deep for data".into());
            };
            one(Some(Shape(ix[..ix.len() - 1].iter().chain(&d[from..]).cloned().collect())))
        }
        Op::Flatten(f) => {
            let Some(d) = cx.dims(0) else {
                return one(None);
            };
            let a = if f.axis == d.len() as i64 {
                d.len()
            } else {
                axis(f.axis, d.len())?
            };
            one(product(&d[..a]).zip(product(&d[a..])).map(|(x, y)| Shape(vec![x, y])))
        }
        Op::Split(s) => Ok(Some(split(cx, s.axis, s.num_outputs)?)),
        Op::Shape(s) => {
            let Some(r) = r0 else { return one(None) };
            let r = r as i64;
            let clamp = |x: i64| {
                if x < 0 { x.saturating_add(r).max(0) } else { x.min(r) }
            };
            let (a, b) = (clamp(s.start), clamp(s.end.unwrap_or(r)));
            one(Some(Shape::known(&[(b - a).max(0) as u64])))
        }
        Op::Size(_) => one(Some(Shape(vec![]))),
        Op::Tile(_) => {
            let (Some(d), Some(rep)) = (cx.dims(0), cx.const_ints(1)) else {
                return one(None);
            };
            if rep.len() != d.len() {
                return Err("repeats length differs from rank".into());
            }
            let out = d.iter().zip(&rep).map(|(d, &r)| match (d, r) {
                (_, 1) => Some(d.clone()),
                (Dim::Known(n), r) => u64::try_from(r).ok().and_then(|r| n.checked_mul(r)).map(Dim::Known),
                _ => None,
            });
            one(out.collect::<Option<Vec<_>>>().map(Shape))
        }
        Op::Pad(_) => {
            let (Some(d), Some(pads)) = (cx.dims(0), cx.const_ints(1)) else {
                return one(None);
            };
            let axes: Vec<usize> = match cx.const_ints(3) {
                Some(a) => a.iter().map(|&x| axis(x, d.len())).collect::<Result<_, _>>()?,
                None if cx.present(3) => return one(None),
                None => (0..d.len()).collect(),
            };
            if pads.len() != 2 * axes.len() {
                return Err("pads length is not twice the axes".into());
            }
            let mut out = d.to_vec();
            for (k, &a) in axes.iter().enumerate() {
                let add = pads[k].saturating_add(pads[k + axes.len()]);
                out[a] = match &d[a] {
                    _ if add == 0 => d[a].clone(),
                    Dim::Known(n) => Dim::Known(u64::try_from(*n as i64 + add).map_err(|_| "negative padded size")?),
                    Dim::Sym(_) => return one(None),
                };
            }
            one(Some(Shape(out)))
        }
        Op::Expand(_) => {
            let (Some(s), Some(t)) = (cx.shape(0), cx.const_ints(1)) else {
                return one(None);
            };
            let Some(t) = known(&t) else {
                return Err("negative size in Expand shape".into());
            };
            one(broadcast(s, &t)?)
        }
        Op::ConstantOfShape(_) => one(cx.const_ints(0).and_then(|v| known(&v))),
        Op::RandomNormal(r) => one(known(&r.shape)),
        Op::RandomUniform(r) => one(known(&r.shape)),
        Op::Range(_) => {
            let (Some(s), Some(l), Some(d)) = (cx.const_floats(0), cx.const_floats(1), cx.const_floats(2)) else {
                return one(None);
            };
            let (Some(s), Some(l), Some(d)) = (s.first(), l.first(), d.first()) else {
                return one(None);
            };
            if *d == 0.0 {
                return Err("Range delta is 0".into());
            }
            one(Some(Shape::known(&[((l - s) / d).ceil().max(0.0) as u64])))
        }
        Op::OneHot(o) => {
            let (Some(ix), Some(depth)) = (cx.dims(0), cx.const_floats(1)) else {
                return one(None);
            };
            let Some(&depth) = depth.first() else {
                return one(None);
            };
            let a = axis(o.axis, ix.len() + 1)?;
            let mut out = ix.to_vec();
            out.insert(a, Dim::Known(depth.max(0.0) as u64));
            one(Some(Shape(out)))
        }
        Op::TopK(t) => {
            let Some(d) = cx.dims(0) else {
                return Ok(Some(vec![None, None]));
            };
            let a = axis(t.axis, d.len())?;
            let mut out = d.to_vec();
            // A k known only at run time leaves that one dim unknown.
            out[a] = match cx.const_ints(1).as_ref().and_then(|k| k.first().copied()) {
                Some(k) => Dim::Known(u64::try_from(k).map_err(|_| "negative k")?),
                None => Dim::Sym("?".into()),
            };
            Ok(Some(vec![Some(Shape(out.clone())), Some(Shape(out))]))
        }
        // Data-dependent counts: the rank is known, the count is not.
        Op::NonMaxSuppression(_) => one(Some(Shape(vec![Dim::Sym("?".into()), Dim::Known(3)]))),
        Op::NonZero(_) => match cx.dims(0) {
            Some(d) => one(Some(Shape(vec![Dim::Known(d.len() as u64), Dim::Sym("?".into())]))),
            None => one(None),
        },
        Op::Resize(rz) => one(resize(cx, rz)),
        Op::DepthToSpace(d) => one(depth_space(cx, d.blocksize, d.layout, true)),
        Op::SpaceToDepth(d) => one(depth_space(cx, d.blocksize, d.layout, false)),
        Op::Compress(_) | Op::Unique(_) => Ok(Some(vec![None; cx.n_out])),
        _ => Ok(None),
    }
}

fn resize(cx: &Cx<'_>, rz: &crate::ops::defs::tensor::Resize) -> Option<Shape> {
    let d = cx.dims(0)?;
    let axes: Vec<usize> = if rz.axes.is_empty() {
        (0..d.len()).collect()
    } else {
        rz.axes.iter().map(|&a| axis(a, d.len()).ok()).collect::<Option<_>>()?
    };
    let mut out = d.to_vec();
    if let Some(sizes) = cx.const_ints(3).filter(|s| !s.is_empty()) {
        if rz.keep_aspect_ratio_policy != "stretch" || sizes.len() != axes.len() {
            return None;
        }
        for (&a, &s) in axes.iter().zip(&sizes) {
            out[a] = Dim::Known(u64::try_from(s).ok()?);
        }
        return Some(Shape(out));
    }
    let scales = cx.const_floats(2).filter(|s| !s.is_empty())?;
    if scales.len() != axes.len() {
        return None;
    }
    for (&a, &s) in axes.iter().zip(&scales) {
        out[a] = match &d[a] {
            _ if s == 1.0 => d[a].clone(),
            Dim::Known(n) => Dim::Known(((*n as f64) * (s as f32 as f64)).floor().max(0.0) as u64),
            Dim::Sym(_) => return None,
        };
    }
    Some(Shape(out))
}
