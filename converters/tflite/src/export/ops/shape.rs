//! Shape ops: Reshape/Flatten/Squeeze/Unsqueeze → a regrouped factor view of the input when
//! shapes are static (a RESHAPE only when a consumer needs it), else RESHAPE (to the inferred
//! output shape); Transpose (only changes the order or view a value is held in: no op written), Concat →
//! CONCATENATION (in the inputs' held order), Shape (a constant when the dims are known, else
//! SHAPE + GATHER), Expand → BROADCAST_TO, Tile → TILE.

use super::super::lower::{LResult, Lower, Repr, err, opts};
use super::super::model::{BufData, Field};
use super::super::util::{invert, is_perm};
use crate::codes::{BuiltinOperator as B, BuiltinOptions as O, TensorType};
use edgeport_ir::{NodeId, Op, ValueId};

/// RESHAPE of input 0 to the output's dims (at most one unknown dim, written −1); when the
/// output dims are not inferred, `fallback` gives them.
fn reshape_to(cx: &mut Lower, id: NodeId, fallback: Option<Vec<i64>>) -> LResult<()> {
    let x = cx.input(id, 0)?;
    let y = ValueId { node: id, port: 0 };
    let mut dims = cx.dims(y).ok();
    if dims.as_ref().is_none_or(|d| d.iter().filter(|&&v| v < 0).count() > 1)
        && let Some(f) = fallback
    {
        dims = Some(f);
    }
    let dims = match dims {
        Some(d) if d.iter().filter(|&&v| v < 0).count() <= 1 => d,
        _ => return err("the target shape has more than one unknown dim (dynamic reshape is not exported)"),
    };
    // Static shapes: regroup the factors the input is held by; nothing is written until a
    // consumer needs the value in an order (see view.rs).
    if let Some(fv) = cx.held_view(x)
        && let Some(nv) = fv.reshape(&dims)
    {
        return cx.bind_view(y, nv);
    }
    let xt = cx.get_flat(x)?;
    let name = cx.g.node(id).name.clone();
    let s: Vec<i32> = dims.iter().map(|&d| if d < 0 { -1 } else { d as i32 }).collect();
    let st = cx.const_i32(&format!("{name}_shape"), &s);
    let yt = cx.out_id(y)?;
    cx.emit(
        B::RESHAPE,
        vec![xt, st],
        vec![yt],
        Some(opts(O::ReshapeOptions).with(0, Field::VecI32(s))),
    );
    Ok(())
}

/// The Reshape target from its constant shape input (0 = copy the input dim).
fn reshape_target(cx: &Lower, id: NodeId) -> Option<Vec<i64>> {
    let x = cx.input(id, 0).ok()?;
    let s = cx.const_i64(cx.opt_input(id, 1)?)?;
    let xd = cx.dims(x).ok()?;
    s.iter()
        .enumerate()
        .map(|(i, &d)| if d == 0 { xd.get(i).copied() } else { Some(d) })
        .collect()
}

fn transpose(cx: &mut Lower, id: NodeId, perm: &[i64]) -> LResult<()> {
    let x = cx.input(id, 0)?;
    let rank = cx.rank(x)?;
    let q: Vec<usize> = if perm.is_empty() {
        (0..rank).rev().collect()
    } else {
        perm.iter().map(|&p| usize::try_from(p).unwrap_or(usize::MAX)).collect()
    };
    if q.len() != rank || !is_perm(&q) {
        return err(format!("perm {perm:?} is not a permutation of rank {rank}"));
    }
    if cx.has_view(x)
        && let Some(fv) = cx.held_view(x)
        && let Some(nv) = fv.transpose(&q)
    {
        return cx.bind_view(ValueId { node: id, port: 0 }, nv);
    }
    let r = cx.repr(x)?;
    // The output is transpose(x, q); the tensor holds transpose(x, r.perm) = transpose(y, inv(q)∘r.perm).
    let inv_q = invert(&q);
    let p: Vec<usize> = r.perm.iter().map(|&i| inv_q[i]).collect();
    cx.bind(ValueId { node: id, port: 0 }, Repr { t: r.t, perm: p });
    Ok(())
}

fn concat(cx: &mut Lower, id: NodeId, axis: i64) -> LResult<()> {
    let ins: Vec<ValueId> = cx.g.inputs_of(id).into_iter().flatten().collect();
    let y = ValueId { node: id, port: 0 };
    let rank = cx.rank(y)?;
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    if a < 0 || a >= rank as i64 {
        return err(format!("axis {axis} is out of range for rank {rank}"));
    }
    let (ts, perm) = super::binary::aligned(cx, &ins, rank)?;
    let ta = perm.iter().position(|&p| p == a as usize).unwrap_or(0);
    let (act, yv) = cx.fuse_activation(id);
    let yt = cx.out(yv, perm)?;
    cx.emit(
        B::CONCATENATION,
        ts,
        vec![yt],
        Some(opts(O::ConcatenationOptions).with(0, Field::I32(ta as i32)).with(1, Field::I8(act))),
    );
    Ok(())
}

fn shape(cx: &mut Lower, id: NodeId, start: i64, end: Option<i64>) -> LResult<()> {
    let x = cx.input(id, 0)?;
    let dims = cx.dims(x)?;
    let r = dims.len() as i64;
    let clampi = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
    let (s, e) = (clampi(start), clampi(end.unwrap_or(r)));
    let picked: Vec<usize> = (s..e.max(s)).collect();
    let y = ValueId { node: id, port: 0 };
    let name = cx.g.node(id).name.clone();
    if picked.iter().all(|&i| dims[i] >= 0) {
        let v: Vec<u8> = picked.iter().flat_map(|&i| dims[i].to_le_bytes()).collect();
        let t = cx.const_tensor(&name, &[picked.len() as i64], TensorType::INT64, BufData::Owned(v));
        cx.bind(y, Repr { t, perm: vec![0] });
        return Ok(());
    }
    let rx = cx.repr(x)?;
    let inv = invert(&rx.perm);
    let full = cx.tensor(&format!("{name}_full"), &[r], TensorType::INT64);
    cx.emit(
        B::SHAPE,
        vec![rx.t],
        vec![full],
        Some(opts(O::ShapeOptions).with(0, Field::I8(TensorType::INT64.0))),
    );
    let idx: Vec<i32> = picked.iter().map(|&i| inv[i] as i32).collect();
    let it = cx.const_i32(&format!("{name}_pick"), &idx);
    let yt = cx.out_id(y)?;
    cx.emit(
        B::GATHER,
        vec![full, it],
        vec![yt],
        Some(opts(O::GatherOptions).with(0, Field::I32(0))),
    );
    Ok(())
}

/// An int32 constant from an int64 constant input (shapes, repeats).
fn i32_input(cx: &mut Lower, v: ValueId, what: &str) -> LResult<i32> {
    let vals = match cx.const_i64(v) {
        Some(x) => x,
        None => return err(format!("{what} must be a constant")),
    };
    let v32: Vec<i32> = vals
        .iter()
        .map(|&x| i32::try_from(x).map_err(|_| super::super::lower::LErr::Msg(format!("{what} value {x} does not fit int32"))))
        .collect::<LResult<_>>()?;
    let name = format!("{}_i32", cx.vname(v));
    Ok(cx.const_i32(&name, &v32))
}

pub(crate) fn lower(cx: &mut Lower, id: NodeId, op: &Op) -> LResult<bool> {
    match op {
        Op::Reshape(_) => {
            let fb = reshape_target(cx, id);
            reshape_to(cx, id, fb)?
        }
        Op::Flatten(_) | Op::Squeeze(_) | Op::Unsqueeze(_) => reshape_to(cx, id, None)?,
        Op::Transpose(t) => transpose(cx, id, &t.perm)?,
        Op::Concat(c) => concat(cx, id, c.axis)?,
        Op::Shape(s) => shape(cx, id, s.start, s.end)?,
        Op::Expand(_) => {
            let x = cx.input(id, 0)?;
            let y = ValueId { node: id, port: 0 };
            let yd = cx.dims(y)?;
            let xt = cx.get_id(x)?;
            let st = if yd.iter().all(|&d| d >= 0) {
                let s: Vec<i32> = yd.iter().map(|&d| d as i32).collect();
                let name = cx.g.node(id).name.clone();
                cx.const_i32(&format!("{name}_shape"), &s)
            } else {
                let s = cx.input(id, 1)?;
                i32_input(cx, s, "shape")?
            };
            let yt = cx.out_id(y)?;
            cx.emit(B::BROADCAST_TO, vec![xt, st], vec![yt], None);
        }
        Op::Tile(_) => {
            let x = cx.input(id, 0)?;
            let r = cx.input(id, 1)?;
            let xt = cx.get_id(x)?;
            let rt = i32_input(cx, r, "repeats")?;
            let yt = cx.out_id(ValueId { node: id, port: 0 })?;
            cx.emit(B::TILE, vec![xt, rt], vec![yt], None);
        }
        _ => return Ok(false),
    }
    Ok(true)
}
