//! Tensor creation and plumbing: `fill_constant`, PIR `full` / `full_int_array`, `shape`,
//! `shape64`, `cast`, `assign`, `dropout` (inference), `arg_max`, `pad3d`.

use super::Rule;
use crate::build::{Attrs, Ctx, RuleResult, scalar_tensor};
use crate::program::OpDesc;
use edgeport_ir::ops::defs::math::Mul;
use edgeport_ir::ops::defs::reduction::ArgMax;
use edgeport_ir::ops::defs::tensor::{Cast, Identity, Pad, Shape};
use edgeport_ir::{DType, Op, Tensor};

pub const RULES: &[(&str, Rule)] = &[
    ("fill_constant", fill_constant),
    ("full", fill_constant),
    ("full_int_array", full_int_array),
    ("shape", shape),
    ("shape64", shape),
    ("cast", cast),
    ("assign", assign),
    ("dropout", dropout),
    ("arg_max", arg_max),
    ("pad3d", pad3d),
];

fn bind_const(cx: &mut Ctx<'_>, op: &OpDesc, t: Tensor) -> RuleResult {
    let out = cx.out_name(op, "Out")?;
    let n = cx.unique(&out);
    let v = cx.g.add_constant(n, t);
    cx.bind(&out, v);
    Ok(())
}

fn fill_constant(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    if !op.input_args("ShapeTensor").is_empty() || !op.input_args("ShapeTensorList").is_empty() || !op.input_args("ValueTensor").is_empty()
    {
        return Err("a run-time shape or value is not supported".into());
    }
    let dtype = op.dtype("dtype")?.unwrap_or(DType::F32);
    let value = match op.string("str_value", "").as_str() {
        "" => op.float("value", 0.0),
        s => s.parse::<f64>().map_err(|_| format!("str_value '{s}' is not a number"))?,
    };
    let shape = op.ints("shape");
    let shape = shape
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("shape {shape:?} has a negative dimension")))
        .collect::<Result<Vec<_>, _>>()?;
    bind_const(cx, op, scalar_tensor(dtype, value, shape)?)
}

fn full_int_array(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    let v = op.ints("value");
    let dtype = op.dtype("dtype")?.unwrap_or(DType::I64);
    let t = match dtype {
        DType::I64 => Tensor::from_i64(vec![v.len()], &v).map_err(|e| e.to_string())?,
        DType::I32 => {
            let mut b = Vec::with_capacity(v.len() * 4);
            for x in &v {
                let x = i32::try_from(*x).map_err(|_| format!("value {x} does not fit int32"))?;
                b.extend_from_slice(&x.to_le_bytes());
            }
            Tensor::from_bytes(DType::I32, vec![v.len()], edgeport_ir::Bytes::from_vec(b)).map_err(|e| e.to_string())?
        }
        d => return Err(format!("full_int_array of dtype {} is not supported", d.name())),
    };
    bind_const(cx, op, t)
}

/// `shape` gives int32 in legacy programs and PIR `shape`; `shape64` gives int64.
fn shape(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    let x = cx.input(op, "Input")?;
    let out = cx.out_name(op, "Out")?;
    if op.ty == "shape64" {
        return cx.emit(op, "Out", Op::Shape(Shape::default()), &[Some(x)]);
    }
    let s = cx.node(&format!("{out}/i64"), Op::Shape(Shape::default()), &[Some(x)])?;
    cx.emit(
        op,
        "Out",
        Op::Cast(Cast {
            to: DType::I32.onnx_code() as i64,
            ..Default::default()
        }),
        &[Some(s)],
    )
}

fn cast(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    let x = cx.input(op, "X")?;
    let to = op.dtype("out_dtype")?.ok_or("cast without out_dtype")?;
    cx.emit(
        op,
        "Out",
        Op::Cast(Cast {
            to: to.onnx_code() as i64,
            ..Default::default()
        }),
        &[Some(x)],
    )
}

fn assign(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    let x = cx.input(op, "X")?;
    cx.emit(op, "Out", Op::Identity(Identity::default()), &[Some(x)])
}

/// Inference dropout: identity (upscale_in_train) or scaling by 1 − p (downgrade_in_infer).
fn dropout(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    let x = cx.input(op, "X")?;
    let out = cx.out_name(op, "Out")?;
    let mode = op.string("dropout_implementation", "downgrade_in_infer");
    if mode == "upscale_in_train" {
        return cx.emit(op, "Out", Op::Identity(Identity::default()), &[Some(x)]);
    }
    let p = match cx.const_floats(op, "P")? {
        Some(v) => v.first().copied().unwrap_or(0.5),
        None => op.float("dropout_prob", 0.5),
    };
    let dt = cx.input_dtype(op, "X");
    let k = cx.const_scalar(&format!("{out}/keep"), dt, 1.0 - p)?;
    cx.emit(op, "Out", Op::Mul(Mul::default()), &[Some(x), Some(k)])
}

fn arg_max(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    let mut x = cx.input(op, "X")?;
    let out = cx.out_name(op, "Out")?;
    let mut axis = cx
        .ints_attr_or_input(op, "axis", "AxisTensor")?
        .and_then(|v| v.first().copied())
        .unwrap_or(-1);
    let keep = i64::from(op.boolean("keepdims", false));
    if op.boolean("flatten", false) {
        let s = cx.const_i64(&format!("{out}/flat"), &[-1]);
        x = cx.node(&format!("{out}/flat"), Op::Reshape(Default::default()), &[Some(x), Some(s)])?;
        axis = 0;
    }
    let dtype = op.dtype("dtype")?.unwrap_or(DType::I64);
    let am = ArgMax {
        axis,
        keepdims: keep,
        select_last_index: 0,
    };
    if dtype == DType::I64 {
        return cx.emit(op, "Out", Op::ArgMax(am), &[Some(x)]);
    }
    let a = cx.node(&format!("{out}/i64"), Op::ArgMax(am), &[Some(x)])?;
    cx.emit(
        op,
        "Out",
        Op::Cast(Cast {
            to: dtype.onnx_code() as i64,
            ..Default::default()
        }),
        &[Some(a)],
    )
}

/// pad3d on NCDHW: paddings [left, right, top, bottom, front, back].
fn pad3d(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    let x = cx.input(op, "X")?;
    let out = cx.out_name(op, "Out")?;
    let fmt = op.string("data_format", "NCDHW");
    if fmt != "NCDHW" {
        return Err(format!("data_format '{fmt}' is not supported (NCDHW only)"));
    }
    let p = cx.ints_attr_or_input(op, "paddings", "Paddings")?.unwrap_or_default();
    let [l, r, t, b, f, k] = p[..] else {
        return Err(format!("paddings {p:?} must have 6 entries"));
    };
    let mode = match op.string("mode", "constant").as_str() {
        "constant" => "constant",
        "reflect" => "reflect",
        "replicate" => "edge",
        "circular" => "wrap",
        m => return Err(format!("mode '{m}' is not supported")),
    };
    let pads = cx.const_i64(&format!("{out}/pads"), &[0, 0, f, t, l, 0, 0, k, b, r]);
    let dt = cx.input_dtype(op, "X");
    let value = if mode == "constant" {
        Some(cx.const_scalar(&format!("{out}/value"), dt, op.float("value", 0.0))?)
    } else {
        None
    };
    cx.emit(op, "Out", Op::Pad(Pad { mode: mode.into() }), &[Some(x), Some(pads), value, None])
}
