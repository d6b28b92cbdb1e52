//! Tensor ops: Concat, Flatten, Reshape (MXNet's codes 0, −1, −2, −3, −4 and `reverse`),
//! transpose, slice/slice_axis, expand_dims, squeeze, reductions (mean/sum/max/min/prod with
//! `axis`, `keepdims`, `exclude`), the softmax family, pass-through ops, UpSampling (nearest, and bilinear as a grouped ConvTranspose) and
//! Embedding.

use super::N;
use crate::build::{Ctx, axis, int, ints, string};
use edgeport_ir::ValueId;

pub fn identity(_cx: &mut Ctx, n: &N<'_>) -> Result<Vec<ValueId>, String> {
    Ok(vec![n.input(0)?])
}

pub fn concat(cx: &mut Ctx, n: &N<'_>) -> Result<Vec<ValueId>, String> {
    let x = n.input(0)?;
    let rank = cx.shape(x)?.len();
    let a = axis(n.int("dim", n.int("axis", 1)?)?, rank)?;
    Ok(vec![cx.op("", "Concat", vec![int("axis", a as i64)], n.ins)?])
}

pub fn flatten(cx: &mut Ctx, n: &N<'_>) -> Result<Vec<ValueId>, String> {
    Ok(vec![cx.op("", "Flatten", vec![int("axis", 1)], &[n.input(0)?])?])
}

/// MXNet's reshape shape inference (`src/operator/tensor/matrix_op-inl.h` semantics).
pub fn infer_reshape(dshape: &[usize], spec: &[i64], reverse: bool) -> Result<Vec<usize>, String> {
    let (d, s): (Vec<usize>, Vec<i64>) = if reverse {
        if spec.contains(&-4) {
            return Err("reverse with -4 is not supported".into());
        }
        (dshape.iter().rev().copied().collect(), spec.iter().rev().copied().collect())
    } else {
        (dshape.to_vec(), spec.to_vec())
    };
    let mut out: Vec<i64> = Vec::new();
    let mut src = 0usize;
    let mut infer = None;
    let get = |i: usize| {
        d.get(i)
            .copied()
            .ok_or_else(|| format!("shape {spec:?} refers past the input's {} dims", d.len()))
    };
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            v if v > 0 => {
                out.push(v);
                src += 1;
            }
            0 => {
                out.push(get(src)? as i64);
                src += 1;
            }
            -1 => {
                if infer.is_some() {
                    return Err("more than one -1".into());
                }
                infer = Some(out.len());
                out.push(1);
                src += 1;
            }
            -2 => {
                while src < d.len() {
                    out.push(d[src] as i64);
                    src += 1;
                }
            }
            -3 => {
                out.push(get(src)?.checked_mul(get(src + 1)?).ok_or("-3 product overflows")? as i64);
                src += 2;
            }
            -4 => {
                let (a, b) = (
                    *s.get(i + 1).ok_or("-4 needs two values")?,
                    *s.get(i + 2).ok_or("-4 needs two values")?,
                );
                let total = get(src)? as i64;
                let (a, b) = match (a, b) {
                    (-1, b) if b > 0 && total % b == 0 => (total / b, b),
                    (a, -1) if a > 0 && total % a == 0 => (a, total / a),
                    (a, b) if a > 0 && b > 0 && a * b == total => (a, b),
                    _ => return Err(format!("-4 split ({a}, {b}) does not fit dim {total}")),
                };
                out.push(a);
                out.push(b);
                src += 1;
                i += 2;
            }
            v => return Err(format!("bad reshape code {v}")),
        }
        i += 1;
    }
    let total = d.iter().try_fold(1i64, |a, &v| a.checked_mul(v as i64)).ok_or("input too large")?;
    if let Some(k) = infer {
        let known = out.iter().try_fold(1i64, |a, &v| a.checked_mul(v)).ok_or("shape too large")?;
        if known == 0 || total % known != 0 {
            return Err(format!("cannot infer -1 for {total} elements into {out:?}"));
        }
        out[k] = total / known;
    }
    if out.iter().try_fold(1i64, |a, &v| a.checked_mul(v)) != Some(total) {
        return Err(format!("shape {spec:?} does not hold the input's {total} elements"));
    }
    let mut res: Vec<usize> = out.iter().map(|&v| v as usize).collect();
    if reverse {
        res.reverse();
    }
    Ok(res)
}

pub fn reshape(cx: &mut Ctx, n: &N<'_>) -> Result<Vec<ValueId>, String> {
    let x = n.input(0)?;
    let shape = cx.shape(x)?;
    let spec = n.ints("shape")?.or(n.ints("target_shape")?).ok_or("missing attribute 'shape'")?;
    let out = infer_reshape(&shape, &spec, n.bool("reverse", false)?)?;
    let o: Vec<i64> = out.iter().map(|&v| v as i64).collect();
    let s = cx.ints("shape", &o)?;
    Ok(vec![cx.op("", "Reshape", vec![], &[x, s])?])
}

pub fn transpose(cx: &mut Ctx, n: &N<'_>) -> Result<Vec<ValueId>, String> {
    let x = n.input(0)?;
    let rank = cx.shape(x)?.len();
    let axes = n.ints("axes")?.unwrap_or_default();
    let perm: Vec<i64> = if axes.is_empty() {
        (0..rank as i64).rev().collect()
    } else {
        let p: Vec<i64> = axes.iter().map(|&a| axis(a, rank).map(|v| v as i64)).collect::<Result<_, _>>()?;
        let mut seen = p.clone();
        seen.sort();
        if seen != (0..rank as i64).collect::<Vec<_>>() {
            return Err(format!("axes {axes:?} are not a permutation"));
        }
        p
    };
    Ok(vec![cx.op("", "Transpose", vec![ints("perm", &perm)], &[x])?])
}

fn slice_op(cx: &mut Ctx, x: ValueId, starts: &[i64], ends: &[i64], axes: &[i64], steps: &[i64]) -> Result<Vec<ValueId>, String> {
    let s = cx.ints("starts", starts)?;
    let e = cx.ints("ends", ends)?;
    let a = cx.ints("axes", axes)?;
    let st = cx.ints("steps", steps)?;
    Ok(vec![cx.op("", "Slice", vec![], &[x, s, e, a, st])?])
}

pub fn slice(cx: &mut Ctx, n: &N<'_>) -> Result<Vec<ValueId>, String> {
    let x = n.input(0)?;
    let shape = cx.shape(x)?;
    let begin = n
        .node
        .attrs
        .get("begin")
        .map(|s| crate::symbol::parse_ints(s))
        .transpose()?
        .ok_or("missing attribute 'begin'")?;
    let end = n
        .node
        .attrs
        .get("end")
        .map(|s| crate::symbol::parse_ints(s))
        .transpose()?
        .ok_or("missing attribute 'end'")?;
    let step = n
        .node
        .attrs
        .get("step")
        .map(|s| crate::symbol::parse_ints(s))
        .transpose()?
        .unwrap_or_default();
    if begin.len() != end.len() || begin.len() > shape.len() || (!step.is_empty() && step.len() != begin.len()) {
        return Err(format!(
            "begin {begin:?}, end {end:?}, step {step:?} do not fit rank {}",
            shape.len()
        ));
    }
    let (mut s, mut e, mut a, mut st) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..begin.len() {
        // `None` (parsed as i64::MIN) means the default bound for the step's direction.
        let stp = match step.get(i) {
            Some(&v) if v != i64::MIN => v,
            _ => 1,
        };
        if stp == 0 {
            return Err("step 0".into());
        }
        let b = if begin[i] == i64::MIN {
            if stp > 0 { 0 } else { -1 }
        } else {
            begin[i]
        };
        let en = if end[i] == i64::MIN {
            if stp > 0 { i64::MAX } else { i64::MIN }
        } else {
            end[i]
        };
        s.push(b);
        e.push(en);
        a.push(i as i64);
        st.push(stp);
    }
    slice_op(cx, x, &s, &e, &a, &st)
}

pub fn slice_axis(cx: &mut Ctx, n: &N<'_>) -> Result<Vec<ValueId>, String> {
    let x = n.input(0)?;
    let rank = cx.shape(x)?.len();
    let a = axis(n.int("axis", 0)?, rank)?;
    let b = n.int("begin", 0)?;
    let e = match n.attr("end") {
        Some(_) => n.int("end", 0)?,
        None => i64::MAX,
    };
    slice_op(cx, x, &[b], &[e], &[a as i64], &[1])
}

pub fn expand_dims(cx: &mut Ctx, n: &N<'_>) -> Result<Vec<ValueId>, String> {
    let x = n.input(0)?;
    let rank = cx.shape(x)?.len();
    let a = axis(n.int("axis", 0)?, rank + 1)?;
    let ax = cx.ints("axes", &[a as i64])?;
    Ok(vec![cx.op("", "Unsqueeze", vec![], &[x, ax])?])
}

pub fn squeeze(cx: &mut Ctx, n: &N<'_>) -> Result<Vec<ValueId>, String> {
    let x = n.input(0)?;
    let shape = cx.shape(x)?;
    let axes: Vec<i64> = match n.ints("axis")? {
        Some(v) if !v.is_empty() => v
            .iter()
            .map(|&a| axis(a, shape.len()).map(|v| v as i64))
            .collect::<Result<_, _>>()?,
        _ => (0..shape.len()).filter(|&i| shape[i] == 1).map(|i| i as i64).collect(),
    };
    let ax = cx.ints("axes", &axes)?;
    Ok(vec![cx.op("", "Squeeze", vec![], &[x, ax])?])
}

pub fn reduce(cx: &mut Ctx, n: &N<'_>) -> Result<Vec<ValueId>, String> {
    let x = n.input(0)?;
    let rank = cx.shape(x)?.len();
    let op = match n.node.op.as_str() {
        "mean" => "ReduceMean",
        "sum" => "ReduceSum",
        "max" => "ReduceMax",
        "min" => "ReduceMin",
        "prod" => "ReduceProd",
        other => return Err(format!("no reduction '{other}'")),
    };
    let given: Vec<usize> = match n.ints("axis")? {
        Some(v) if !v.is_empty() => v.iter().map(|&a| axis(a, rank)).collect::<Result<_, _>>()?,
        _ => (0..rank).collect(),
    };
    let axes: Vec<i64> = if n.bool("exclude", false)? {
        (0..rank).filter(|a| !given.contains(a)).map(|a| a as i64).collect()
    } else {
        given.iter().map(|&a| a as i64).collect()
    };
    let keep = i64::from(n.bool("keepdims", false)?);
    let ax = cx.ints("axes", &axes)?;
    Ok(vec![cx.op("", op, vec![int("keepdims", keep)], &[x, ax])?])
}

pub fn softmax(cx: &mut Ctx, n: &N<'_>) -> Result<Vec<ValueId>, String> {
    let x = n.input(0)?;
    let shape = cx.shape(x)?;
    let rank = shape.len();
    let op = n.node.op.as_str();
    let log = op == "log_softmax";
    let ax = match op {
        "softmax" | "log_softmax" => axis(n.int("axis", -1)?, rank)?,
        "SoftmaxActivation" => {
            if n.str("mode", "instance") == "channel" {
                1
            } else {
                // instance: over all dims but the first.
                return flat_softmax(cx, x, &shape);
            }
        }
        _ => {
            // SoftmaxOutput / Softmax: axis 1 with multi_output or preserve_shape on the last
            // axis; else over the flattened trailing dims.
            if n.bool("multi_output", false)? {
                1
            } else if n.bool("preserve_shape", false)? || rank == 2 {
                rank - 1
            } else {
                return flat_softmax(cx, x, &shape);
            }
        }
    };
    let mut y = x;
    if let Some(t) = n.attr("temperature") {
        let t = crate::symbol::parse_float(t)?;
        if t != 1.0 {
            let tv = cx.f32s("temperature", vec![], &[t as f32])?;
            y = cx.op("scaled", "Div", vec![], &[x, tv])?;
        }
    }
    let opn = if log { "LogSoftmax" } else { "Softmax" };
    Ok(vec![cx.op("", opn, vec![int("axis", ax as i64)], &[y])?])
}

fn flat_softmax(cx: &mut Ctx, x: ValueId, shape: &[usize]) -> Result<Vec<ValueId>, String> {
    let f = cx.op("flat", "Flatten", vec![int("axis", 1)], &[x])?;
    let s = cx.op("softmax", "Softmax", vec![int("axis", 1)], &[f])?;
    let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    let sv = cx.ints("shape", &dims)?;
    Ok(vec![cx.op("", "Reshape", vec![], &[s, sv])?])
}

pub fn upsampling(cx: &mut Ctx, n: &N<'_>) -> Result<Vec<ValueId>, String> {
    match n.str("sample_type", "nearest").as_str() {
        "nearest" => {}
        "bilinear" => return upsampling_bilinear(cx, n),
        t => return Err(format!("UpSampling sample_type '{t}' is not supported")),
    }
    if n.ins.len() != 1 {
        return Err("UpSampling of several inputs is not supported".into());
    }
    let x = n.input(0)?;
    let rank = cx.shape(x)?.len();
    let s = n.int("scale", 1)?;
    if s < 1 {
        return Err(format!("scale {s} must be at least 1"));
    }
    let mut scales = vec![1f32; rank];
    for v in scales.iter_mut().skip(2) {
        *v = s as f32;
    }
    let sc = cx.f32s("scales", vec![rank], &scales)?;
    let attrs = vec![
        string("mode", "nearest"),
        string("coordinate_transformation_mode", "asymmetric"),
        string("nearest_mode", "floor"),
    ];
    cx.op_n("", "Resize", attrs, &[Some(x), None, Some(sc)], 1)
}

/// Bilinear UpSampling is MXNet's grouped Deconvolution with the weight input (one k×k kernel per
/// channel): kernel 2s − s mod 2, stride s, pad ⌈(s − 1)/2⌉, no bias, so H becomes H·s.
fn upsampling_bilinear(cx: &mut Ctx, n: &N<'_>) -> Result<Vec<ValueId>, String> {
    if n.ins.len() != 2 {
        return Err(format!("bilinear UpSampling takes data and weight, not {} inputs", n.ins.len()));
    }
    let x = n.input(0)?;
    let w = n.input(1)?;
    let shape = cx.shape(x)?;
    if shape.len() != 4 {
        return Err(format!("bilinear UpSampling of a {}-D input is not supported", shape.len()));
    }
    let s = n.int("scale", 1)?;
    if !(1..=1024).contains(&s) {
        return Err(format!("scale {s} is out of range"));
    }
    let c = shape[1] as i64;
    let nf = n.int("num_filter", c)?;
    if nf != c {
        return Err(format!("num_filter {nf} differs from the input's {c} channels"));
    }
    let k = 2 * s - s % 2;
    let p = s / 2; // ⌈(s − 1)/2⌉
    let attrs = vec![
        ints("kernel_shape", &[k, k]),
        ints("strides", &[s, s]),
        ints("pads", &[p, p, p, p]),
        int("group", c),
    ];
    cx.op_n("", "ConvTranspose", attrs, &[Some(x), Some(w)], 1)
}

pub fn embedding(cx: &mut Ctx, n: &N<'_>) -> Result<Vec<ValueId>, String> {
    let idx = n.input(0)?;
    let w = n.input(1)?;
    let i = cx.op("indices", "Cast", vec![int("to", 7)], &[idx])?;
    Ok(vec![cx.op("", "Gather", vec![int("axis", 0)], &[w, i])?])
}
