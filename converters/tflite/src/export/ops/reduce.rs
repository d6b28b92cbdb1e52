//! Reductions and normalizations: ReduceMean/Sum/Max/Min/Prod → MEAN/SUM/REDUCE_MAX/
//! REDUCE_MIN/REDUCE_PROD (in the order the input is held), Softmax/LogSoftmax (SOFTMAX when
//! the axis is innermost in the held order, else float reductions in that order, so no
//! transpose is written for axis ≠ −1), LayerNormalization decomposed into
//! MEAN/SUB/MUL/ADD/RSQRT, ArgMax/ArgMin, TopK → TOPK_V2 (float or integer, k constant or a run-time
//! int32 scalar; held with the axis last; smallest-k
//! through NEG; int32 indices CAST to int64).

use super::super::lower::{LResult, Lower, err, opts, tensor_type};
use super::super::model::{BufData, Field};
use super::super::util::ident;
use crate::codes::{BuiltinOperator as B, BuiltinOptions as O, TensorType};
use edgeport_ir::{NodeId, Op, ValueId};

fn norm_axis(a: i64, rank: usize) -> LResult<usize> {
    let r = rank as i64;
    let n = if a < 0 { a + r } else { a };
    if n < 0 || n >= r.max(1) {
        return err(format!("axis {a} is out of range for rank {rank}"));
    }
    Ok(n as usize)
}

fn reduce(cx: &mut Lower, id: NodeId, code: B, keepdims: bool, noop_empty: bool) -> LResult<()> {
    let x = cx.input(id, 0)?;
    let rank = cx.rank(x)?;
    let axes: Vec<i64> = match cx.opt_input(id, 1) {
        Some(a) => match cx.const_i64(a) {
            Some(v) => v,
            None => return err("axes must be a constant"),
        },
        None => vec![],
    };
    if axes.is_empty() && noop_empty {
        return super::unary::alias(cx, id, x);
    }
    let mut axes: Vec<usize> = if axes.is_empty() {
        (0..rank).collect()
    } else {
        axes.iter().map(|&a| norm_axis(a, rank)).collect::<LResult<_>>()?
    };
    axes.sort_unstable();
    axes.dedup();
    let held = cx.perm_of(x).unwrap_or_else(|| ident(rank));
    let xt = cx.get(x, &held)?;
    let t_axes: Vec<i32> = held
        .iter()
        .enumerate()
        .filter(|(_, p)| axes.contains(p))
        .map(|(i, _)| i as i32)
        .collect();
    let out_perm = if keepdims {
        held
    } else {
        let remaining: Vec<usize> = held.iter().copied().filter(|p| !axes.contains(p)).collect();
        let mut sorted = remaining.clone();
        sorted.sort_unstable();
        remaining.iter().map(|p| sorted.iter().position(|s| s == p).unwrap_or(0)).collect()
    };
    let name = cx.g.node(id).name.clone();
    let at = cx.const_i32(&format!("{name}_axes"), &t_axes);
    let yt = cx.out(ValueId { node: id, port: 0 }, out_perm)?;
    cx.emit(
        code,
        vec![xt, at],
        vec![yt],
        Some(opts(O::ReducerOptions).with(0, Field::Bool(keepdims))),
    );
    Ok(())
}

fn softmax(cx: &mut Lower, id: NodeId, axis: i64, log: bool) -> LResult<()> {
    let x = cx.input(id, 0)?;
    let rank = cx.rank(x)?;
    let a = norm_axis(axis, rank)?;
    let held = cx.perm_of(x).unwrap_or_else(|| ident(rank));
    if held.last() != Some(&a) && cx.dtype(x)? == edgeport_ir::DType::F32 {
        return softmax_along(cx, id, x, a, held, log);
    }
    let order = if held.last() == Some(&a) {
        held
    } else {
        let mut q: Vec<usize> = (0..rank).filter(|&i| i != a).collect();
        q.push(a);
        q
    };
    let xt = cx.get(x, &order)?;
    let yt = cx.out(ValueId { node: id, port: 0 }, order)?;
    if log {
        cx.emit(B::LOG_SOFTMAX, vec![xt], vec![yt], Some(opts(O::LogSoftmaxOptions)));
    } else {
        cx.emit(
            B::SOFTMAX,
            vec![xt],
            vec![yt],
            Some(opts(O::SoftmaxOptions).with(0, Field::F32(1.0))),
        );
    }
    Ok(())
}

/// Softmax (or log-softmax) along a dim that is not innermost in the held order, written with
/// reductions in that order (max, subtract, exp, sum, divide / subtract the log), so no
/// TRANSPOSE is needed around a SOFTMAX.
fn softmax_along(cx: &mut Lower, id: NodeId, x: ValueId, a: usize, held: Vec<usize>, log: bool) -> LResult<()> {
    let xt = cx.get(x, &held)?;
    let dims = cx.dims(x)?;
    let td: Vec<i64> = held.iter().map(|&p| dims[p]).collect();
    let ta = held.iter().position(|&p| p == a).unwrap_or(0);
    let mut kd = td.clone();
    if let Some(d) = kd.get_mut(ta) {
        *d = 1;
    }
    let name = cx.g.node(id).name.clone();
    let f = TensorType::FLOAT32;
    let keep = || opts(O::ReducerOptions).with(0, Field::Bool(true));
    let at = cx.const_i32(&format!("{name}_axis"), &[ta as i32]);
    let mx = cx.tensor(&format!("{name}_max"), &kd, f);
    cx.emit(B::REDUCE_MAX, vec![xt, at], vec![mx], Some(keep()));
    let sh = cx.tensor(&format!("{name}_shifted"), &td, f);
    cx.emit(B::SUB, vec![xt, mx], vec![sh], Some(opts(O::SubOptions)));
    let ex = cx.tensor(&format!("{name}_exp"), &td, f);
    cx.emit(B::EXP, vec![sh], vec![ex], None);
    let sm = cx.tensor(&format!("{name}_sum"), &kd, f);
    cx.emit(B::SUM, vec![ex, at], vec![sm], Some(keep()));
    let y = ValueId { node: id, port: 0 };
    if log {
        let lg = cx.tensor(&format!("{name}_log_sum"), &kd, f);
        cx.emit(B::LOG, vec![sm], vec![lg], None);
        let yt = cx.out(y, held)?;
        cx.emit(B::SUB, vec![sh, lg], vec![yt], Some(opts(O::SubOptions)));
    } else {
        let yt = cx.out(y, held)?;
        cx.emit(B::DIV, vec![ex, sm], vec![yt], Some(opts(O::DivOptions)));
    }
    Ok(())
}

fn layer_norm(cx: &mut Lower, id: NodeId, l: &edgeport_ir::ops::defs::nn::LayerNormalization) -> LResult<()> {
    for port in 1..3 {
        if !cx.g.consumers(ValueId { node: id, port }).is_empty() {
            return err("the Mean/InvStdDev outputs have no TFLite form");
        }
    }
    let x = cx.input(id, 0)?;
    let scale = cx.input(id, 1)?;
    let bias = cx.opt_input(id, 2);
    if cx.dtype(x)? != edgeport_ir::DType::F32 {
        return err("LayerNormalization is exported for float32 only");
    }
    let rank = cx.rank(x)?;
    let a = norm_axis(l.axis, rank)?;
    let dims = cx.dims(x)?;
    let name = cx.g.node(id).name.clone();
    let xt = cx.get_id(x)?;
    let axes: Vec<i32> = (a..rank).map(|i| i as i32).collect();
    let mut kd = dims.clone();
    for d in kd.iter_mut().skip(a) {
        *d = 1;
    }
    let f = TensorType::FLOAT32;
    let at = cx.const_i32(&format!("{name}_axes"), &axes);
    let keep = || opts(O::ReducerOptions).with(0, Field::Bool(true));
    let mean = cx.tensor(&format!("{name}_mean"), &kd, f);
    cx.emit(B::MEAN, vec![xt, at], vec![mean], Some(keep()));
    let d = cx.tensor(&format!("{name}_centered"), &dims, f);
    cx.emit(B::SUB, vec![xt, mean], vec![d], Some(opts(O::SubOptions)));
    let sq = cx.tensor(&format!("{name}_sq"), &dims, f);
    cx.emit(B::MUL, vec![d, d], vec![sq], Some(opts(O::MulOptions)));
    let var = cx.tensor(&format!("{name}_var"), &kd, f);
    cx.emit(B::MEAN, vec![sq, at], vec![var], Some(keep()));
    let eps = cx.const_f32(&format!("{name}_eps"), &[], &[l.epsilon]);
    let ve = cx.tensor(&format!("{name}_var_eps"), &kd, f);
    cx.emit(B::ADD, vec![var, eps], vec![ve], Some(opts(O::AddOptions)));
    let rs = cx.tensor(&format!("{name}_rstd"), &kd, f);
    cx.emit(B::RSQRT, vec![ve], vec![rs], None);
    let n = cx.tensor(&format!("{name}_normed"), &dims, f);
    cx.emit(B::MUL, vec![d, rs], vec![n], Some(opts(O::MulOptions)));
    let st = cx.get_id(scale)?;
    let y = ValueId { node: id, port: 0 };
    match bias {
        Some(b) => {
            let s = cx.tensor(&format!("{name}_scaled"), &dims, f);
            cx.emit(B::MUL, vec![n, st], vec![s], Some(opts(O::MulOptions)));
            let bt = cx.get_id(b)?;
            let yt = cx.out_id(y)?;
            cx.emit(B::ADD, vec![s, bt], vec![yt], Some(opts(O::AddOptions)));
        }
        None => {
            let yt = cx.out_id(y)?;
            cx.emit(B::MUL, vec![n, st], vec![yt], Some(opts(O::MulOptions)));
        }
    }
    Ok(())
}

fn arg(cx: &mut Lower, id: NodeId, axis: i64, keepdims: bool, last: bool, max: bool) -> LResult<()> {
    if last {
        return err("select_last_index=1 has no TFLite form");
    }
    let x = cx.input(id, 0)?;
    let rank = cx.rank(x)?;
    let a = norm_axis(axis, rank)?;
    let xt = cx.get_id(x)?;
    let name = cx.g.node(id).name.clone();
    let at = cx.const_i32(&format!("{name}_axis"), &[a as i32]);
    let y = ValueId { node: id, port: 0 };
    let (code, oty) = if max {
        (B::ARG_MAX, O::ArgMaxOptions)
    } else {
        (B::ARG_MIN, O::ArgMinOptions)
    };
    let o = opts(oty).with(0, Field::I8(TensorType::INT64.0));
    if !keepdims {
        let yt = cx.out_id(y)?;
        cx.emit(code, vec![xt, at], vec![yt], Some(o));
        return Ok(());
    }
    let mut rd = cx.dims(x)?;
    rd.remove(a);
    let tmp = cx.tensor(&format!("{name}_flat"), &rd, TensorType::INT64);
    cx.emit(code, vec![xt, at], vec![tmp], Some(o));
    let yd = cx.dims(y)?;
    if yd.iter().filter(|&&d| d < 0).count() > 1 {
        return err("keepdims needs the output shape (at most one unknown dim)");
    }
    let s: Vec<i32> = yd.iter().map(|&d| d as i32).collect();
    let st = cx.const_i32(&format!("{name}_shape"), &s);
    let yt = cx.out_id(y)?;
    cx.emit(B::RESHAPE, vec![tmp, st], vec![yt], None);
    Ok(())
}

/// TopK along `axis`: TOPK_V2 works on the last dim, so the input is held with `axis` last (a
/// TRANSPOSE only when it is not already). TOPK_V2 always returns the largest values sorted,
/// which is also a valid answer for `sorted = 0`.
fn topk(cx: &mut Lower, id: NodeId, axis: i64, largest: bool) -> LResult<()> {
    let x = cx.input(id, 0)?;
    let dt = cx.dtype(x)?;
    let vty = match dt {
        edgeport_ir::DType::F32 => TensorType::FLOAT32,
        edgeport_ir::DType::I32 => TensorType::INT32,
        edgeport_ir::DType::I64 => TensorType::INT64,
        _ => return err(format!("TopK is exported for float32, int32 and int64 input, not {dt}")),
    };
    let rank = cx.rank(x)?;
    let a = norm_axis(axis, rank)?;
    let name = cx.g.node(id).name.clone();
    let kv = cx
        .opt_input(id, 1)
        .ok_or_else(|| super::super::lower::LErr::Msg("TopK has no k".into()))?;
    // TOPK_V2 takes k as an int32 scalar: a constant, or the run-time k cast and reshaped.
    let kt = match cx.const_i64(kv).and_then(|v| v.first().copied()) {
        Some(k) => {
            let k = i32::try_from(k).map_err(|_| super::super::lower::LErr::Msg(format!("k = {k} does not fit int32")))?;
            cx.const_i32(&format!("{name}_k"), &[k])
        }
        None => {
            let k_in = cx.get_id(kv)?;
            let k_ty = cx.dtype(kv)?;
            let k32 = if k_ty == edgeport_ir::DType::I32 {
                k_in
            } else {
                let t = cx.tensor(&format!("{name}_k_i32"), &[1], TensorType::INT32);
                cx.emit(
                    B::CAST,
                    vec![k_in],
                    vec![t],
                    Some(
                        opts(O::CastOptions)
                            .with(0, Field::I8(tensor_type(k_ty)?.0))
                            .with(1, Field::I8(TensorType::INT32.0)),
                    ),
                );
                t
            };
            let ks = cx.tensor(&format!("{name}_k_scalar"), &[], TensorType::INT32);
            let shape = cx.const_tensor(&format!("{name}_k_shape"), &[0], TensorType::INT32, BufData::Owned(Vec::new()));
            cx.emit(
                B::RESHAPE,
                vec![k32, shape],
                vec![ks],
                Some(opts(O::ReshapeOptions).with(0, Field::VecI32(vec![]))),
            );
            ks
        }
    };
    let perm: Vec<usize> = (0..rank).filter(|&d| d != a).chain([a]).collect();
    let xt = cx.get(x, &perm)?;
    let xdims: Vec<i64> = cx.m.tensors[xt as usize].shape.iter().map(|&d| d as i64).collect();
    let input = if largest {
        xt
    } else {
        let n = cx.tensor(&format!("{name}_neg_in"), &xdims, vty);
        cx.emit(B::NEG, vec![xt], vec![n], None);
        n
    };
    let (vals, idx) = (ValueId { node: id, port: 0 }, ValueId { node: id, port: 1 });
    let yd = cx.dims(vals)?;
    let tdims: Vec<i64> = perm.iter().map(|&p| yd[p]).collect();
    let vt = if largest {
        cx.out(vals, perm.clone())?
    } else {
        cx.tensor(&format!("{name}_neg_vals"), &tdims, vty)
    };
    let it32 = cx.tensor(&format!("{name}_indices_i32"), &tdims, TensorType::INT32);
    cx.emit(B::TOPK_V2, vec![input, kt], vec![vt, it32], Some(opts(O::TopKV2Options)));
    if !largest {
        let v = cx.out(vals, perm.clone())?;
        cx.emit(B::NEG, vec![vt], vec![v], None);
    }
    let it = cx.out(idx, perm)?;
    cx.emit(
        B::CAST,
        vec![it32],
        vec![it],
        Some(
            opts(O::CastOptions)
                .with(0, Field::I8(TensorType::INT32.0))
                .with(1, Field::I8(TensorType::INT64.0)),
        ),
    );
    Ok(())
}

pub(crate) fn lower(cx: &mut Lower, id: NodeId, op: &Op) -> LResult<bool> {
    match op {
        Op::ReduceMean(r) => reduce(cx, id, B::MEAN, r.keepdims != 0, r.noop_with_empty_axes != 0)?,
        Op::ReduceSum(r) => reduce(cx, id, B::SUM, r.keepdims != 0, r.noop_with_empty_axes != 0)?,
        Op::ReduceMax(r) => reduce(cx, id, B::REDUCE_MAX, r.keepdims != 0, r.noop_with_empty_axes != 0)?,
        Op::ReduceMin(r) => reduce(cx, id, B::REDUCE_MIN, r.keepdims != 0, r.noop_with_empty_axes != 0)?,
        Op::ReduceProd(r) => reduce(cx, id, B::REDUCE_PROD, r.keepdims != 0, r.noop_with_empty_axes != 0)?,
        Op::Softmax(s) => softmax(cx, id, s.axis, false)?,
        Op::LogSoftmax(s) => softmax(cx, id, s.axis, true)?,
        Op::LayerNormalization(l) => layer_norm(cx, id, l)?,
        Op::ArgMax(a) => arg(cx, id, a.axis, a.keepdims != 0, a.select_last_index != 0, true)?,
        Op::ArgMin(a) => arg(cx, id, a.axis, a.keepdims != 0, a.select_last_index != 0, false)?,
        Op::TopK(t) => topk(cx, id, t.axis, t.largest != 0)?,
        _ => return Ok(false),
    }
    Ok(true)
}
