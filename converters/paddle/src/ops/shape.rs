//! Shape ops: `reshape2`, `transpose2`, `flatten_contiguous_range`, `squeeze2`, `unsqueeze2`,
//! `concat`, `split`.

use super::Rule;
use crate::build::{Attrs, Ctx, RuleResult};
use crate::program::OpDesc;
use edgeport_ir::Op;
use edgeport_ir::ops::defs::tensor::{Cast, Concat, Reshape, Split, Squeeze, Transpose, Unsqueeze};

pub const RULES: &[(&str, Rule)] = &[
    ("reshape2", reshape),
    ("reshape", reshape),
    ("transpose2", transpose),
    ("transpose", transpose),
    ("flatten_contiguous_range", flatten),
    ("squeeze2", squeeze),
    ("squeeze", squeeze),
    ("unsqueeze2", unsqueeze),
    ("unsqueeze", unsqueeze),
    ("concat", concat),
    ("split", split),
];

/// Paddle's reshape has ONNX's semantics (0 copies a dim, −1 is inferred).
fn reshape(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    let x = cx.input(op, "X")?;
    let out = cx.out_name(op, "Out")?;
    let shape = if let Some(s) = cx.opt_input(op, "Shape")? {
        match cx.const_of(s).and_then(|t| t.to_i64_vec()) {
            Some(v) => cx.const_i64(&format!("{out}/shape"), &v),
            None => cx.node(
                &format!("{out}/shape"),
                Op::Cast(Cast {
                    to: 7,
                    ..Default::default()
                }),
                &[Some(s)],
            )?,
        }
    } else if !op.input_args("ShapeTensor").is_empty() {
        let parts = cx.inputs(op, "ShapeTensor")?;
        let mut cast = Vec::with_capacity(parts.len());
        for (i, p) in parts.into_iter().enumerate() {
            cast.push(Some(cx.node(
                &format!("{out}/dim{i}"),
                Op::Cast(Cast {
                    to: 7,
                    ..Default::default()
                }),
                &[Some(p)],
            )?));
        }
        cx.node(&format!("{out}/shape"), Op::Concat(Concat { axis: 0 }), &cast)?
    } else {
        let s = op.ints("shape");
        cx.const_i64(&format!("{out}/shape"), &s)
    };
    cx.emit(op, "Out", Op::Reshape(Reshape::default()), &[Some(x), Some(shape)])
}

fn transpose(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    let x = cx.input(op, "X")?;
    let perm = op.ints("axis");
    cx.emit(op, "Out", Op::Transpose(Transpose { perm }), &[Some(x)])
}

/// Merges axes start..=stop into one.
fn flatten(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    let x = cx.input(op, "X")?;
    let out = cx.out_name(op, "Out")?;
    let rank = cx.input_rank(op, "X")? as i64;
    let norm = |a: i64| if a < 0 { a + rank } else { a };
    let (start, stop) = (norm(op.int("start_axis", 1)), norm(op.int("stop_axis", -1)));
    if rank == 0 {
        let s = cx.const_i64(&format!("{out}/shape"), &[1]);
        return cx.emit(op, "Out", Op::Reshape(Reshape::default()), &[Some(x), Some(s)]);
    }
    if start < 0 || stop >= rank || start > stop {
        return Err(format!("start_axis {start} / stop_axis {stop} do not fit rank {rank}"));
    }
    let dims = cx.input_dims(op, "X").unwrap_or(&[]);
    let mut shape: Vec<i64> = vec![0; start as usize];
    shape.push(-1);
    for a in stop + 1..rank {
        // After the merge, a 0 would copy the wrong input axis: use the declared size.
        match dims.get(a as usize) {
            Some(&d) if d >= 0 => shape.push(d),
            _ => return Err(format!("flatten of axes {start}..{stop} needs the size of axis {a} declared")),
        }
    }
    let s = cx.const_i64(&format!("{out}/shape"), &shape);
    cx.emit(op, "Out", Op::Reshape(Reshape::default()), &[Some(x), Some(s)])
}

fn squeeze(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    let x = cx.input(op, "X")?;
    let out = cx.out_name(op, "Out")?;
    let axes = cx.ints_attr_or_input(op, "axes", "AxesTensor")?.unwrap_or_default();
    // Paddle ignores listed axes whose size is not 1; ONNX rejects them.
    let axes: Vec<i64> = match cx.input_dims(op, "X") {
        Some(d) => axes
            .into_iter()
            .filter(|&a| {
                let i = if a < 0 { a + d.len() as i64 } else { a };
                usize::try_from(i).ok().and_then(|i| d.get(i)).is_none_or(|&s| s == 1 || s < 0)
            })
            .collect(),
        None => axes,
    };
    let a = if axes.is_empty() {
        None
    } else {
        Some(cx.const_i64(&format!("{out}/axes"), &axes))
    };
    cx.emit(op, "Out", Op::Squeeze(Squeeze::default()), &[Some(x), a])
}

/// Paddle inserts the axes one after another, each relative to the shape so far.
fn unsqueeze(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    let x = cx.input(op, "X")?;
    let out = cx.out_name(op, "Out")?;
    let axes = cx.ints_attr_or_input(op, "axes", "AxesTensor")?.unwrap_or_default();
    let rank = cx.input_rank(op, "X")?;
    let mut marks = vec![false; rank];
    for &a in &axes {
        let cur = marks.len() as i64;
        let p = if a < 0 { a + cur + 1 } else { a };
        if p < 0 || p > cur {
            return Err(format!("axis {a} is out of range"));
        }
        marks.insert(p as usize, true);
    }
    let final_axes: Vec<i64> = marks.iter().enumerate().filter(|(_, m)| **m).map(|(i, _)| i as i64).collect();
    let a = cx.const_i64(&format!("{out}/axes"), &final_axes);
    cx.emit(op, "Out", Op::Unsqueeze(Unsqueeze::default()), &[Some(x), Some(a)])
}

fn concat(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    let xs = cx.inputs(op, "X")?;
    if xs.is_empty() {
        return Err("concat of no inputs".into());
    }
    let axis = cx
        .ints_attr_or_input(op, "axis", "AxisTensor")?
        .and_then(|v| v.first().copied())
        .unwrap_or(0);
    let ins: Vec<_> = xs.into_iter().map(Some).collect();
    cx.emit(op, "Out", Op::Concat(Concat { axis }), &ins)
}

fn split(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    let x = cx.input(op, "X")?;
    let outs = op.output_args("Out").to_vec();
    if outs.is_empty() {
        return Err("split without outputs".into());
    }
    let axis = cx
        .ints_attr_or_input(op, "axis", "AxisTensor")?
        .and_then(|v| v.first().copied())
        .unwrap_or(0);
    let mut sections = cx.ints_attr_or_input(op, "sections", "SectionsTensor")?.unwrap_or_default();
    let num = op.int("num", 0);
    if sections.is_empty() {
        let n = if num > 0 { num } else { outs.len() as i64 };
        let dims = cx.input_dims(op, "X").unwrap_or(&[]);
        let ax = if axis < 0 { axis + dims.len() as i64 } else { axis };
        match usize::try_from(ax).ok().and_then(|a| dims.get(a)) {
            Some(&d) if d >= 0 && n > 0 && d % n == 0 => sections = vec![d / n; n as usize],
            _ => {
                let ir = Op::Split(Split {
                    axis,
                    num_outputs: Some(n),
                });
                let vs = cx.node_multi(&outs[0], ir, &[Some(x), None], &outs)?;
                for (n, v) in outs.iter().zip(vs) {
                    cx.bind(n, v);
                }
                return Ok(());
            }
        }
    }
    if sections.len() != outs.len() {
        return Err(format!("{} sections for {} outputs", sections.len(), outs.len()));
    }
    if sections.contains(&-1) {
        let dims = cx.input_dims(op, "X").unwrap_or(&[]);
        let ax = if axis < 0 { axis + dims.len() as i64 } else { axis };
        let total = usize::try_from(ax)
            .ok()
            .and_then(|a| dims.get(a))
            .copied()
            .filter(|&d| d >= 0)
            .ok_or("a -1 section needs the split axis size declared")?;
        let known: i64 = sections.iter().filter(|&&s| s >= 0).sum();
        for s in sections.iter_mut().filter(|s| **s == -1) {
            *s = total - known;
        }
    }
    let s = cx.const_i64(&format!("{}/split", outs[0]), &sections);
    let ir = Op::Split(Split { axis, num_outputs: None });
    let vs = cx.node_multi(&outs[0], ir, &[Some(x), Some(s)], &outs)?;
    for (n, v) in outs.iter().zip(vs) {
        cx.bind(n, v);
    }
    Ok(())
}
