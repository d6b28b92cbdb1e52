//! Shape manipulation: Reshape, Transpose, ExpandDims, Squeeze, Shape/Size/Rank, Fill, Range,
//! Concat, Pack/Unpack, Split/SplitV, Tile, BroadcastTo, ZerosLike/OnesLike and Cast. TF's int32
//! shape tensors become the IR's int64 ones (constants are converted, values cast).

use super::{Cx, Rule, scalar};
use edgeport_ir::ops::generator::Range;
use edgeport_ir::ops::math::Expand;
use edgeport_ir::ops::tensor::{Concat, Reshape, Shape, Size, Split, Squeeze, Tile, Unsqueeze};
use edgeport_ir::{DType, Op, ValueId};

pub const OPS: &[&str] = &[
    "Reshape",
    "Transpose",
    "ExpandDims",
    "Squeeze",
    "Shape",
    "Size",
    "Rank",
    "Fill",
    "Range",
    "ConcatV2",
    "Concat",
    "Pack",
    "Unpack",
    "Split",
    "SplitV",
    "Tile",
    "BroadcastTo",
    "ZerosLike",
    "OnesLike",
    "Cast",
];

pub fn rule(op: &str) -> Option<Rule> {
    Some(match op {
        "Reshape" => reshape,
        "Transpose" => transpose,
        "ExpandDims" => expand_dims,
        "Squeeze" => squeeze,
        "Shape" | "Size" => shape,
        "Rank" => rank,
        "Fill" => fill,
        "Range" => range,
        "ConcatV2" | "Concat" => concat,
        "Pack" => pack,
        "Unpack" => unpack,
        "Split" | "SplitV" => split,
        "Tile" => tile,
        "BroadcastTo" => broadcast_to,
        "ZerosLike" | "OnesLike" => zeros_like,
        "Cast" => cast,
        _ => return None,
    })
}

fn reshape(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let x = cx.input(0)?;
    // TF's 0 is a literal zero-size dim; ONNX needs allowzero=1 for that.
    let allowzero = i64::from(cx.const_ints_opt(1).is_some_and(|v| v.contains(&0)));
    let s = cx.input(1)?;
    let s = cx.to_i64(s, "shape")?;
    cx.op1("", Op::Reshape(Reshape { allowzero }), &[x, s]).map(|v| vec![v])
}

fn transpose(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let x = cx.input(0)?;
    let perm = cx.const_ints(1)?;
    cx.transpose(x, &perm, "").map(|v| vec![v])
}

fn expand_dims(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let x = cx.input(0)?;
    let axis = cx.const_ints(1)?;
    let a = cx.const_i64("axes", &axis, false)?;
    cx.op1("", Op::Unsqueeze(Unsqueeze {}), &[x, a]).map(|v| vec![v])
}

fn squeeze(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let x = cx.input(0)?;
    let dims = cx.attr_ints("squeeze_dims");
    let dims = if dims.is_empty() { cx.attr_ints("axis") } else { dims };
    if dims.is_empty() {
        return cx.op("", Op::Squeeze(Squeeze {}), &[Some(x), None], 1);
    }
    let a = cx.const_i64("axes", &dims, false)?;
    cx.op1("", Op::Squeeze(Squeeze {}), &[x, a]).map(|v| vec![v])
}

fn shape(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let x = cx.input(0)?;
    let out = cx.attr_type("out_type").unwrap_or(DType::I32);
    let op = if cx.node.op == "Size" {
        Op::Size(Size {})
    } else {
        Op::Shape(Shape::default())
    };
    if out == DType::I64 {
        return cx.op1("", op, &[x]).map(|v| vec![v]);
    }
    let s = cx.op1("i64", op, &[x])?;
    cx.cast(s, out, "").map(|v| vec![v])
}

fn rank(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let x = cx.input(0)?;
    let s = cx.op1("shape", Op::Shape(Shape::default()), &[x])?;
    let n = cx.op1("size", Op::Size(Size {}), &[s])?;
    cx.cast(n, DType::I32, "").map(|v| vec![v])
}

fn fill(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let (d, v) = (cx.input(0)?, cx.input(1)?);
    let d = cx.to_i64(d, "dims")?;
    cx.op1("", Op::Expand(Expand {}), &[v, d]).map(|v| vec![v])
}

fn range(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let ins = [cx.input(0)?, cx.input(1)?, cx.input(2)?];
    cx.op1("", Op::Range(Range::default()), &ins).map(|v| vec![v])
}

fn concat(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let n = cx.ins.len();
    if n < 2 {
        return Err("Concat needs an axis and at least one value".into());
    }
    let (axis_i, vals) = if cx.node.op == "Concat" {
        (0, cx.ins[1..].to_vec())
    } else {
        (n - 1, cx.ins[..n - 1].to_vec())
    };
    let axis = match cx.const_ints(axis_i)?[..] {
        [a] => a,
        ref v => return Err(format!("axis must be one constant, got {v:?}")),
    };
    cx.op1("", Op::Concat(Concat { axis }), &vals).map(|v| vec![v])
}

fn pack(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let axis = cx.attr_i("axis").unwrap_or(0);
    let a = cx.const_i64("axes", &[axis], false)?;
    let mut parts = Vec::new();
    for (i, v) in cx.ins.clone().into_iter().enumerate() {
        parts.push(cx.op1(&format!("unsqueeze{i}"), Op::Unsqueeze(Unsqueeze {}), &[v, a])?);
    }
    cx.op1("", Op::Concat(Concat { axis }), &parts).map(|v| vec![v])
}

fn unpack(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let x = cx.input(0)?;
    let axis = cx.attr_i("axis").unwrap_or(0);
    let num = cx.attr_i("num").ok_or("missing 'num'")?;
    if !(1..=65536).contains(&num) {
        return Err(format!("bad num {num}"));
    }
    let parts = cx.op(
        "split",
        Op::Split(Split {
            axis,
            num_outputs: Some(num),
        }),
        &[Some(x), None],
        num as usize,
    )?;
    let a = cx.const_i64("axes", &[axis], false)?;
    let mut out = Vec::new();
    for (i, p) in parts.into_iter().enumerate() {
        let sfx = if i == 0 { String::new() } else { format!("out{i}") };
        out.push(cx.op1(&sfx, Op::Squeeze(Squeeze {}), &[p, a])?);
    }
    Ok(out)
}

fn split(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let num = cx.attr_i("num_split").ok_or("missing 'num_split'")?;
    if !(1..=65536).contains(&num) {
        return Err(format!("bad num_split {num}"));
    }
    let (x, axis) = if cx.node.op == "Split" {
        (cx.input(1)?, cx.const_ints(0)?)
    } else {
        (cx.input(0)?, cx.const_ints(2)?)
    };
    let [axis] = axis[..] else {
        return Err("split axis must be one constant".into());
    };
    if cx.node.op == "Split" {
        return cx.op(
            "",
            Op::Split(Split {
                axis,
                num_outputs: Some(num),
            }),
            &[Some(x), None],
            num as usize,
        );
    }
    let mut sizes = cx.const_ints(1)?;
    if sizes.len() != num as usize {
        return Err(format!("size_splits has {} values, num_split is {num}", sizes.len()));
    }
    if let Some(pos) = sizes.iter().position(|&s| s == -1) {
        let shape = cx.static_shape(x).ok_or("size_splits with -1 needs the input's static shape")?;
        let ax = if axis < 0 { axis + shape.len() as i64 } else { axis };
        let total = *shape.get(usize::try_from(ax).map_err(|_| "bad axis")?).ok_or("axis out of range")? as i64;
        let known: i64 = sizes.iter().filter(|&&s| s != -1).sum();
        sizes[pos] = total - known;
    }
    let s = cx.const_i64("split", &sizes, false)?;
    cx.op("", Op::Split(Split { axis, num_outputs: None }), &[Some(x), Some(s)], num as usize)
}

fn tile(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let x = cx.input(0)?;
    let m = cx.input(1)?;
    let m = cx.to_i64(m, "multiples")?;
    cx.op1("", Op::Tile(Tile {}), &[x, m]).map(|v| vec![v])
}

fn broadcast_to(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let x = cx.input(0)?;
    let s = cx.input(1)?;
    let s = cx.to_i64(s, "shape")?;
    cx.op1("", Op::Expand(Expand {}), &[x, s]).map(|v| vec![v])
}

fn zeros_like(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let x = cx.input(0)?;
    let dt = cx.attr_type("T").unwrap_or(DType::F32);
    let k = scalar(cx, dt, if cx.node.op == "OnesLike" { 1.0 } else { 0.0 }, "value")?;
    // Expand the scalar to x's runtime shape.
    let s = cx.op1("shape", Op::Shape(Shape::default()), &[x])?;
    let e = cx.op1("", Op::Expand(Expand {}), &[k, s])?;
    Ok(vec![e])
}

fn cast(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let x = cx.input(0)?;
    let to = cx.attr_type("DstT")?;
    cx.cast(x, to, "").map(|v| vec![v])
}
