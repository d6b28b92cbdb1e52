//! Indexing ops: Slice → STRIDED_SLICE and Split → SPLIT_V (both in the order the input is
//! held), Gather → GATHER, Pad → PAD/PADV2/MIRROR_PAD.

use super::super::lower::{LErr, LResult, Lower, err, opts};
use super::super::model::{BufData, Field};
use super::super::util::{i32_bytes, ident};
use crate::codes::{BuiltinOperator as B, BuiltinOptions as O, TensorType};
use edgeport_ir::{NodeId, Op, ValueId};

fn const_list(cx: &Lower, v: Option<ValueId>, what: &str) -> LResult<Option<Vec<i64>>> {
    match v {
        None => Ok(None),
        Some(v) => match cx.const_i64(v) {
            Some(x) => Ok(Some(x)),
            None => err(format!("{what} must be a constant")),
        },
    }
}

fn norm_axis(a: i64, rank: usize) -> LResult<usize> {
    let n = if a < 0 { a + rank as i64 } else { a };
    if n < 0 || n >= rank as i64 {
        return err(format!("axis {a} is out of range for rank {rank}"));
    }
    Ok(n as usize)
}

fn slice(cx: &mut Lower, id: NodeId) -> LResult<()> {
    let x = cx.input(id, 0)?;
    let dims = cx.dims(x)?;
    let rank = dims.len();
    let starts = const_list(cx, Some(cx.input(id, 1)?), "starts")?.unwrap_or_default();
    let ends = const_list(cx, Some(cx.input(id, 2)?), "ends")?.unwrap_or_default();
    let axes = const_list(cx, cx.opt_input(id, 3), "axes")?.unwrap_or_else(|| (0..starts.len() as i64).collect());
    let steps = const_list(cx, cx.opt_input(id, 4), "steps")?.unwrap_or_else(|| vec![1; starts.len()]);
    if starts.len() != ends.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return err("starts, ends, axes and steps differ in length");
    }
    let held = cx.perm_of(x).unwrap_or_else(|| ident(rank));
    // Per IR axis: (begin, end, stride, begin_mask, end_mask).
    let mut spec: Vec<(i64, i64, i64, bool, bool)> = vec![(0, 0, 1, true, true); rank];
    for i in 0..starts.len() {
        let a = norm_axis(axes[i], rank)?;
        let step = steps[i];
        if step == 0 {
            return err("a slice step of 0");
        }
        let d = dims[a];
        let (s, e) = (starts[i], ends[i]);
        let entry = if d >= 0 {
            let clampv = |v: i64, lo: i64, hi: i64| (if v < 0 { v + d } else { v }).clamp(lo, hi);
            if step > 0 {
                (clampv(s, 0, d), clampv(e, 0, d), step, false, false)
            } else {
                let b = clampv(s, -1, d - 1);
                let en = clampv(e, -1, d - 1);
                // end −1 means "before index 0": only a mask expresses it.
                (b, en.max(0), step, false, en < 0)
            }
        } else {
            let big = |v: i64| !(i32::MIN as i64..=i32::MAX as i64).contains(&v);
            (
                s.clamp(i32::MIN as i64, i32::MAX as i64),
                e.clamp(i32::MIN as i64, i32::MAX as i64),
                step,
                false,
                big(e),
            )
        };
        spec[a] = entry;
    }
    let mut begin = Vec::new();
    let mut end = Vec::new();
    let mut stride = Vec::new();
    let (mut bm, mut em) = (0i32, 0i32);
    for (i, &p) in held.iter().enumerate() {
        let (b, e, s, mb, me) = spec[p];
        begin.push(b as i32);
        end.push(e as i32);
        stride.push(s.clamp(i32::MIN as i64, i32::MAX as i64) as i32);
        if mb {
            bm |= 1 << i;
        }
        if me {
            em |= 1 << i;
        }
    }
    let xt = cx.get(x, &held)?;
    let name = cx.g.node(id).name.clone();
    let bt = cx.const_i32(&format!("{name}_begin"), &begin);
    let et = cx.const_i32(&format!("{name}_end"), &end);
    let st = cx.const_i32(&format!("{name}_strides"), &stride);
    let yt = cx.out(ValueId { node: id, port: 0 }, held)?;
    let o = opts(O::StridedSliceOptions).with(0, Field::I32(bm)).with(1, Field::I32(em));
    cx.emit(B::STRIDED_SLICE, vec![xt, bt, et, st], vec![yt], Some(o));
    Ok(())
}

fn gather(cx: &mut Lower, id: NodeId, axis: i64) -> LResult<()> {
    let x = cx.input(id, 0)?;
    let idx = cx.input(id, 1)?;
    let dims = cx.dims(x)?;
    let a = norm_axis(axis, dims.len())?;
    if let Some(done) = gather_scalar_view(cx, id, x, idx, a)? {
        return Ok(done);
    }
    let xt = cx.get_id(x)?;
    let it = match cx.const_i64(idx) {
        Some(v) => {
            let d = dims[a];
            let v32: Vec<i32> = v
                .iter()
                .map(|&i| {
                    let n = if i < 0 && d >= 0 { i + d } else { i };
                    if (d >= 0 && (n < 0 || n >= d)) || i32::try_from(n).is_err() {
                        Err(LErr::Msg(format!("index {i} is out of range for dim {d}")))
                    } else {
                        Ok(n as i32)
                    }
                })
                .collect::<LResult<_>>()?;
            let shape: Vec<i64> = cx.dims(idx)?;
            let name = format!("{}_i32", cx.vname(idx));
            cx.const_tensor(&name, &shape, TensorType::INT32, BufData::Owned(i32_bytes(&v32)))
        }
        None => cx.get_id(idx)?,
    };
    let yt = cx.out_id(ValueId { node: id, port: 0 })?;
    cx.emit(
        B::GATHER,
        vec![xt, it],
        vec![yt],
        Some(opts(O::GatherOptions).with(0, Field::I32(a as i32))),
    );
    Ok(())
}

/// A gather of one constant index (a rank-0 index) along a dim that spans at most one factor
/// of the view the input is held by: GATHER along that factor of the held tensor (nothing at
/// all for a size-1 dim), the output held by the rest of the view. `None` when not applicable.
fn gather_scalar_view(cx: &mut Lower, id: NodeId, x: ValueId, idx: ValueId, a: usize) -> LResult<Option<()>> {
    let Some(i) = cx.const_of(idx).filter(|t| t.shape.is_empty()).and_then(|t| t.to_i64_vec()) else {
        return Ok(None);
    };
    let Some(fv) = cx.held_view(x) else {
        return Ok(None);
    };
    let fs = fv.factors_of(a).to_vec();
    let y = ValueId { node: id, port: 0 };
    let d = fv.vdims().get(a).copied().unwrap_or(0);
    let i = match i.first() {
        Some(&i) if i < 0 => i + d,
        Some(&i) => i,
        None => return Ok(None),
    };
    if i < 0 || i >= d {
        return err(format!("index {i} is out of range for dim {d}"));
    }
    match fs.as_slice() {
        [] => match fv.drop_dim(a, fv.t) {
            Some(nv) => cx.bind_view(y, nv).map(Some),
            None => Ok(None),
        },
        [f] => {
            let f = *f;
            let xt = cx.factor_tensor(x, &fv)?;
            let name = cx.g.node(id).name.clone();
            let it = cx.const_tensor(
                &format!("{name}_index"),
                &[],
                TensorType::INT32,
                BufData::Owned(i32_bytes(&[i as i32])),
            );
            let mut od = fv.tf.clone();
            od.remove(f);
            let ty = super::super::lower::tensor_type(cx.dtype(x)?)?;
            let yname = cx.vname(y);
            let yt = cx.tensor(&yname, &od, ty);
            cx.copy_scalar_quant(xt, yt);
            cx.emit(
                B::GATHER,
                vec![xt, it],
                vec![yt],
                Some(opts(O::GatherOptions).with(0, Field::I32(f as i32))),
            );
            match fv.drop_dim(a, yt) {
                Some(nv) => cx.bind_view(y, nv).map(Some),
                None => Ok(None),
            }
        }
        _ => Ok(None),
    }
}

fn split(cx: &mut Lower, id: NodeId, axis: i64) -> LResult<()> {
    let x = cx.input(id, 0)?;
    let dims = cx.dims(x)?;
    let a = norm_axis(axis, dims.len())?;
    let n_out = cx.g.node(id).outputs.len();
    let sizes: Vec<i64> = match const_list(cx, cx.opt_input(id, 1), "split")? {
        Some(s) => s,
        None => {
            let mut s = Vec::new();
            for p in 0..n_out {
                let d = cx.dims(ValueId { node: id, port: p })?;
                s.push(d.get(a).copied().unwrap_or(-1));
            }
            s
        }
    };
    if sizes.len() != n_out || sizes.iter().filter(|&&s| s < 0).count() > 1 {
        return err(format!("split sizes {sizes:?} do not fit {n_out} outputs"));
    }
    let held = cx.perm_of(x).unwrap_or_else(|| ident(dims.len()));
    let ta = held.iter().position(|&p| p == a).unwrap_or(0);
    let xt = cx.get(x, &held)?;
    let name = cx.g.node(id).name.clone();
    let s32: Vec<i32> = sizes.iter().map(|&s| s as i32).collect();
    let st = cx.const_i32(&format!("{name}_sizes"), &s32);
    let at = cx.const_tensor(
        &format!("{name}_axis"),
        &[],
        TensorType::INT32,
        BufData::Owned(i32_bytes(&[ta as i32])),
    );
    let mut outs = Vec::new();
    for p in 0..n_out {
        outs.push(cx.out(ValueId { node: id, port: p }, held.clone())?);
    }
    cx.emit(
        B::SPLIT_V,
        vec![xt, st, at],
        outs,
        Some(opts(O::SplitVOptions).with(0, Field::I32(n_out as i32))),
    );
    Ok(())
}

fn pad(cx: &mut Lower, id: NodeId, mode: &str) -> LResult<()> {
    let x = cx.input(id, 0)?;
    let rank = cx.rank(x)?;
    let pads = const_list(cx, Some(cx.input(id, 1)?), "pads")?.unwrap_or_default();
    let axes: Vec<usize> = match const_list(cx, cx.opt_input(id, 3), "axes")? {
        Some(a) => a.iter().map(|&v| norm_axis(v, rank)).collect::<LResult<_>>()?,
        None => (0..rank).collect(),
    };
    if pads.len() != 2 * axes.len() {
        return err(format!("{} pads for {} axes", pads.len(), axes.len()));
    }
    let mut per = vec![(0i64, 0i64); rank];
    for (i, &a) in axes.iter().enumerate() {
        per[a] = (pads[i], pads[i + axes.len()]);
    }
    if per.iter().any(|&(b, e)| b < 0 || e < 0) {
        return err("negative pads (cropping) are not exported");
    }
    let held = cx.perm_of(x).unwrap_or_else(|| ident(rank));
    let flat: Vec<i32> = held.iter().flat_map(|&p| [per[p].0 as i32, per[p].1 as i32]).collect();
    let xt = cx.get(x, &held)?;
    let name = cx.g.node(id).name.clone();
    let pt = cx.const_tensor(
        &format!("{name}_pads"),
        &[rank as i64, 2],
        TensorType::INT32,
        BufData::Owned(i32_bytes(&flat)),
    );
    let value = match cx.opt_input(id, 2) {
        Some(v) => match cx.const_scalar(v) {
            Some(x) => x,
            None => return err("constant_value must be a constant scalar"),
        },
        None => 0.0,
    };
    let yt = cx.out(ValueId { node: id, port: 0 }, held)?;
    match mode {
        "constant" if value == 0.0 => cx.emit(B::PAD, vec![xt, pt], vec![yt], Some(opts(O::PadOptions))),
        "constant" => {
            let dt = cx.dtype(x)?;
            if dt != edgeport_ir::DType::F32 {
                return err("a non-zero pad value is exported for float32 only");
            }
            let vt = cx.const_f32(&format!("{name}_value"), &[], &[value as f32]);
            cx.emit(B::PADV2, vec![xt, pt, vt], vec![yt], Some(opts(O::PadV2Options)));
        }
        "reflect" => cx.emit(
            B::MIRROR_PAD,
            vec![xt, pt],
            vec![yt],
            Some(opts(O::MirrorPadOptions).with(0, Field::I8(0))),
        ),
        other => return err(format!("pad mode '{other}' has no TFLite form")),
    }
    Ok(())
}

pub(crate) fn lower(cx: &mut Lower, id: NodeId, op: &Op) -> LResult<bool> {
    match op {
        Op::Slice(_) => slice(cx, id)?,
        Op::Gather(g) => gather(cx, id, g.axis)?,
        Op::Split(s) => split(cx, id, s.axis)?,
        Op::Pad(p) => pad(cx, id, &p.mode)?,
        _ => return Ok(false),
    }
    Ok(true)
}
