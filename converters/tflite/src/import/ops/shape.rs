//! Shape ops: RESHAPE, SQUEEZE, EXPAND_DIMS, TRANSPOSE, SHAPE, RANK, BROADCAST_TO, TILE, FILL,
//! ZEROS_LIKE, RANGE, CAST. Shape-like integer inputs become int64 (ONNX's type);
//! integer results are cast back to the TFLite output type.

use super::{Fail, R};
use crate::codes::BuiltinOperator as B;
use crate::import::cx::{OpCx, int_tensor};
use crate::import::irops::{Cast, ConstantOfShape, Expand, Range, Reshape, Shape, Size, Squeeze, Tile, Transpose, Unsqueeze};
use edgeport_ir::{DType, Graph, Op, Tensor};

pub fn convert(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> Option<R> {
    Some(match cx.code.builtin {
        B::RESHAPE => reshape(cx, g),
        B::SQUEEZE => squeeze(cx, g),
        B::EXPAND_DIMS => expand_dims(cx, g),
        B::TRANSPOSE => transpose(cx, g),
        B::SHAPE => shape(cx, g),
        B::RANK => rank(cx, g),
        B::BROADCAST_TO => with_shape(cx, g, |_| Op::Expand(Expand {})),
        B::TILE => with_shape(cx, g, |_| Op::Tile(Tile {})),
        B::FILL => fill(cx, g),
        B::ZEROS_LIKE => like(cx, g, 0.0),
        B::RANGE => range(cx, g),
        B::CAST => cast(cx, g),
        _ => return None,
    })
}

fn reshape(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let x = cx.input(g, 0)?;
    let shape = if cx.has_input(1) && cx.in_shape(1).is_ok_and(|s| s.len() == 1) {
        cx.i64_input(g, 1)?
    } else {
        // Old files: the shape is in ReshapeOptions.new_shape, or only in the output tensor.
        let mut s: Vec<i64> = cx.opts().i32s(0)?.into_iter().map(i64::from).collect();
        if s.is_empty() {
            s = cx.out_info(0)?.shape.iter().map(|&d| i64::from(d)).collect();
        }
        cx.const_i64(g, "shape", &s)?
    };
    let y = cx.node1(g, "", Op::Reshape(Reshape { allowzero: 0 }), &[Some(x), Some(shape)])?;
    cx.output(g, 0, y)?;
    Ok(())
}

fn squeeze(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let dims: Vec<i64> = cx.opts().i32s(0)?.into_iter().map(i64::from).collect();
    let x = cx.input(g, 0)?;
    let axes = if dims.is_empty() {
        None
    } else {
        Some(cx.const_i64(g, "axes", &dims)?)
    };
    let y = cx.node1(g, "", Op::Squeeze(Squeeze {}), &[Some(x), axes])?;
    cx.output(g, 0, y)?;
    Ok(())
}

fn expand_dims(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let x = cx.input(g, 0)?;
    let axes = cx.i64_input(g, 1)?;
    let y = cx.node1(g, "", Op::Unsqueeze(Unsqueeze {}), &[Some(x), Some(axes)])?;
    cx.output(g, 0, y)?;
    Ok(())
}

fn transpose(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let perm = cx.ints(1)?;
    let x = cx.input(g, 0)?;
    let y = cx.node1(g, "", Op::Transpose(Transpose { perm }), &[Some(x)])?;
    cx.output(g, 0, y)?;
    Ok(())
}

fn shape(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let x = cx.raw_input(g, 0)?;
    let mut y = cx.node1(g, "", Op::Shape(Shape::default()), &[Some(x)])?;
    let dt = cx.out_dtype(0)?;
    if dt != DType::I64 {
        y = cx.cast(g, y, dt)?;
    }
    cx.output(g, 0, y)?;
    Ok(())
}

fn rank(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let x = cx.raw_input(g, 0)?;
    let s = cx.node1(g, "shape", Op::Shape(Shape::default()), &[Some(x)])?;
    let mut y = cx.node1(g, "", Op::Size(Size {}), &[Some(s)])?;
    let dt = cx.out_dtype(0)?;
    if dt != DType::I64 {
        y = cx.cast(g, y, dt)?;
    }
    cx.output(g, 0, y)?;
    Ok(())
}

/// Ops taking (data, int64 shape-like) : BROADCAST_TO → Expand, TILE → Tile.
fn with_shape(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph, op: impl Fn(()) -> Op) -> R {
    let x = cx.input(g, 0)?;
    let s = cx.i64_input(g, 1)?;
    let y = cx.node1(g, "", op(()), &[Some(x), Some(s)])?;
    cx.output(g, 0, y)?;
    Ok(())
}

fn fill(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let dims = cx.i64_input(g, 0)?;
    let v = cx.input(g, 1)?;
    let y = cx.node1(g, "", Op::Expand(Expand {}), &[Some(v), Some(dims)])?;
    cx.output(g, 0, y)?;
    Ok(())
}

fn like(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph, value: f64) -> R {
    let x = cx.raw_input(g, 0)?;
    let dt = cx.out_dtype(0)?;
    let s = cx.node1(g, "shape", Op::Shape(Shape::default()), &[Some(x)])?;
    let t = scalar(dt, value)?;
    let y = cx.node1(g, "", Op::ConstantOfShape(ConstantOfShape { value: Some(t) }), &[Some(s)])?;
    cx.output_raw(g, 0, y)?;
    Ok(())
}

/// A one-element tensor of `dt` holding `v` (shape [1], as ConstantOfShape wants).
fn scalar(dt: DType, v: f64) -> Result<Tensor, Fail> {
    let t = match dt {
        DType::F32 => Tensor::from_f32(vec![1], &[v as f32]).map_err(|e| e.to_string())?,
        DType::F64 => Tensor::from_bytes(dt, vec![1], edgeport_ir::Bytes::from_vec(v.to_le_bytes().to_vec())).map_err(|e| e.to_string())?,
        DType::F16 => Tensor::from_bytes(
            dt,
            vec![1],
            edgeport_ir::Bytes::from_vec(half::f16::from_f64(v).to_le_bytes().to_vec()),
        )
        .map_err(|e| e.to_string())?,
        DType::Bool => {
            Tensor::from_bytes(dt, vec![1], edgeport_ir::Bytes::from_vec(vec![u8::from(v != 0.0)])).map_err(|e| e.to_string())?
        }
        _ => int_tensor(dt, vec![1], &[v as i64])?,
    };
    Ok(t)
}

fn range(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let a = cx.input(g, 0)?;
    let b = cx.input(g, 1)?;
    let c = cx.input(g, 2)?;
    let y = cx.node1(g, "", Op::Range(Range { stash_type: 1 }), &[Some(a), Some(b), Some(c)])?;
    cx.output(g, 0, y)?;
    Ok(())
}

fn cast(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let x = cx.input(g, 0)?;
    let to = cx.out_dtype(0)?;
    let op = Op::Cast(Cast {
        to: to.onnx_code() as i64,
        ..Default::default()
    });
    let y = cx.node1(g, "", op, &[Some(x)])?;
    cx.output(g, 0, y)?;
    Ok(())
}
