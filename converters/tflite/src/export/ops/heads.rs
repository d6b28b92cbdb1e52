//! Matrix products whose operand or result is re-laid-out by a chain of Reshape/Transpose/
//! Squeeze/Unsqueeze/Gather ops (attention head splits and merges), lowered so that no
//! TRANSPOSE is written: the permutation is absorbed into constant weights.
//!
//! * [`split_outputs`]: `Y = X·W (+ b)` (W a constant matrix) followed by data-movement chains.
//!   Each chain end `Z` is a permutation of Y's factors (see `view.rs`), the rows coming from X
//!   and the columns from W (a scalar Gather on a column factor selects columns of W). When Z's
//!   order mixes column factors in among the row factors (`[B, L, H·d] → [B, H, L, d]`), Z is
//!   computed directly as `BATCH_MATMUL(X', W')` with X' a RESHAPE of X's tensor and W' the
//!   columns of W regrouped per head (`[1, H, D, d]`), or, when Z ends with a row factor
//!   (`[B, H, d, L]`), as `BATCH_MATMUL(W'', X', adj_y)`. The chain's last node is then skipped;
//!   the plain FULLY_CONNECTED is dropped at compaction when nothing else reads it.
//! * [`split_contraction`]: `A·W (+ b)` where A is held by a view whose contracted factors are
//!   not innermost in the tensor (`[B, H, L, d]` seen as `[L·B, H·d]`): one BATCH_MATMUL per
//!   head against W's rows for that head (`[1, H, d, N]`) and a SUM over the heads; the result
//!   is held by a view (rows in the tensor's order), so the following reshapes and transposes
//!   cost nothing.

use super::super::lower::{LResult, Lower, opts};
use super::super::model::{BufData, Field};
use super::super::util::f32_bytes;
use super::super::view::FView;
use crate::codes::{BuiltinOperator as B, BuiltinOptions as O, TensorType};
use edgeport_ir::{DType, NodeId, Op, ValueId};

/// The largest rank of a BATCH_MATMUL operand.
const MAX_RANK: usize = 5;

/// Float data of a constant, when it is float32 with `n` elements.
fn f32_data(cx: &Lower, v: ValueId, n: usize) -> Option<Vec<f32>> {
    let t = cx.const_of(v)?;
    if t.dtype != DType::F32 || t.numel() != n {
        return None;
    }
    let raw = t.raw()?;
    if raw.len() != n.checked_mul(4)? {
        return None;
    }
    Some(raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

/// Row-major `data` of `shape` with axis `axis` fixed at `index` (the axis is removed).
fn select(data: &[f32], shape: &[usize], axis: usize, index: usize) -> Option<Vec<f32>> {
    let size = *shape.get(axis)?;
    let outer: usize = shape.get(..axis)?.iter().product();
    let inner: usize = shape.get(axis + 1..)?.iter().product();
    if index >= size || outer.checked_mul(size)?.checked_mul(inner)? != data.len() {
        return None;
    }
    let mut out = Vec::with_capacity(outer * inner);
    for o in 0..outer {
        let s = (o * size + index) * inner;
        out.extend_from_slice(data.get(s..s + inner)?);
    }
    Some(out)
}

/// Row-major `data` of `shape` transposed by `perm` (output dim i = input dim perm\[i\]).
fn permute(data: &[f32], shape: &[usize], perm: &[usize]) -> Vec<f32> {
    let bytes = f32_bytes(data);
    let t = super::super::util::transpose_bytes(&bytes, 4, shape, perm);
    t.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn ops_data_movement(op: &Op) -> bool {
    matches!(
        op,
        Op::Reshape(_) | Op::Transpose(_) | Op::Squeeze(_) | Op::Unsqueeze(_) | Op::Flatten(_) | Op::Gather(_)
    )
}

/// A value reached from `Y` by data movement: its view in terms of Y's factors (tensor `t` is
/// unused), how many leading factors come from X's rows, and the column selections (scalar
/// gathers) on the way: (column factor sizes then, factor, index), replayed on W and b only for
/// the ends that are rewritten.
#[derive(Clone)]
struct Reach {
    v: ValueId,
    view: FView,
    rows: usize,
    sels: Vec<(Vec<usize>, usize, usize)>,
}

/// W as [D, cols] and b as [cols] after the selections of `r`.
fn selected(w: Vec<f32>, bias: Option<Vec<f32>>, d: usize, r: &Reach) -> Option<(Vec<f32>, Option<Vec<f32>>)> {
    let (mut w, mut bias) = (w, bias);
    for (cols, axis, i) in &r.sels {
        let mut shape = vec![d];
        shape.extend(cols);
        w = select(&w, &shape, 1 + axis, *i)?;
        bias = match bias {
            Some(b) => Some(select(&b, cols, *axis, *i)?),
            None => None,
        };
    }
    Some((w, bias))
}

/// The number of leading factors of `tf` whose product is `rows_size`.
fn row_count(tf: &[i64], rows_size: i64) -> Option<usize> {
    let mut p = 1i64;
    for (i, &f) in tf.iter().enumerate() {
        if p == rows_size {
            return Some(i);
        }
        p = p.checked_mul(f)?;
    }
    (p == rows_size).then_some(tf.len())
}

/// The view of a data-movement node's output given its input's view; gathers select columns.
fn step(cx: &Lower, node: NodeId, r: &Reach, rows_size: i64) -> Option<Reach> {
    let out = ValueId { node, port: 0 };
    if cx.g.inputs_of(node).first().copied().flatten() != Some(r.v) {
        return None;
    }
    let od = cx.dims(out).ok()?;
    let mut next = r.clone();
    next.v = out;
    match &cx.g.node(node).op {
        Op::Transpose(t) => {
            let rank = r.view.groups.len();
            let q: Vec<usize> = if t.perm.is_empty() {
                (0..rank).rev().collect()
            } else {
                t.perm.iter().map(|&p| usize::try_from(p).ok()).collect::<Option<_>>()?
            };
            next.view = r.view.transpose(&q)?;
        }
        Op::Gather(g) => {
            let idx = cx.input(node, 1).ok()?;
            let it = cx.const_of(idx).filter(|t| t.shape.is_empty())?;
            let rank = r.view.groups.len() as i64;
            let a = if g.axis < 0 { g.axis + rank } else { g.axis };
            let a = usize::try_from(a).ok()?;
            let dim = *r.view.vdims().get(a)?;
            let i = *it.to_i64_vec()?.first()?;
            let i = usize::try_from(if i < 0 { i + dim } else { i }).ok()?;
            match r.view.factors_of(a) {
                [] => next.view = r.view.drop_dim(a, -1)?,
                [f] if *f >= r.rows => {
                    let cols: Vec<usize> = r.view.tf.get(r.rows..)?.iter().map(|&c| c as usize).collect();
                    if i >= *cols.get(f - r.rows)? {
                        return None;
                    }
                    next.sels.push((cols, f - r.rows, i));
                    next.view = r.view.drop_dim(a, -1)?;
                }
                _ => return None,
            }
        }
        _ => next.view = r.view.reshape(&od)?,
    }
    next.rows = row_count(&next.view.tf, rows_size)?;
    (next.view.vdims() == od).then_some(next)
}

/// Every value reached from `start` through data movement that something else reads (or that
/// is a graph output), with its reach.
fn leaves(cx: &Lower, start: Reach, rows_size: i64) -> Vec<Reach> {
    let mut out = Vec::new();
    let mut stack = vec![start];
    while let Some(r) = stack.pop() {
        if out.len() + stack.len() > 256 {
            break;
        }
        let mut leaf = cx.g.is_output(r.v);
        for (c, slot) in cx.g.consumers(r.v) {
            let node = cx.g.node(c);
            if slot == 0 && ops_data_movement(&node.op) && !cx.skip.contains(&c) {
                match step(cx, c, &r, rows_size) {
                    Some(n) => stack.push(n),
                    None => leaf = true,
                }
            } else {
                leaf = true;
            }
        }
        if leaf {
            out.push(r);
        }
    }
    out
}

/// How a chain end is computed: the batch factors, and whether the product is `X·W` (rows
/// then columns) or `W·Xᵀ` (columns then rows).
struct Plan {
    batch: Vec<usize>,
    inner_rows: Vec<usize>,
    inner_cols: Vec<usize>,
    cols_first: bool,
}

/// The split of a value order into batch factors and the trailing rows/columns runs, when X's
/// row factors keep their tensor order (so X' is a RESHAPE of X).
fn plan(order: &[usize], rows: usize) -> Option<Plan> {
    let is_row = |f: &usize| *f < rows;
    let n = order.len();
    let last = *order.last()?;
    let cols_first = is_row(&last);
    let t1 = order.iter().rev().take_while(|f| is_row(f) == cols_first).count();
    let t2 = order[..n - t1].iter().rev().take_while(|f| is_row(f) != cols_first).count();
    let split = n - t1 - t2;
    let batch = order[..split].to_vec();
    let (mut first, second) = (order[split..n - t1].to_vec(), order[n - t1..].to_vec());
    if first.is_empty() && cols_first {
        return None;
    }
    let (inner_rows, inner_cols) = if cols_first {
        (second, std::mem::take(&mut first))
    } else {
        (first, second)
    };
    if inner_cols.is_empty() || batch.len() + 2 > MAX_RANK {
        return None;
    }
    let rows_seq: Vec<usize> = batch.iter().copied().filter(is_row).chain(inner_rows.iter().copied()).collect();
    if rows_seq.len() != rows || rows_seq.windows(2).any(|w| w[0] >= w[1]) {
        return None;
    }
    Some(Plan {
        batch,
        inner_rows,
        inner_cols,
        cols_first,
    })
}

/// Rewrites the data-movement chains after `MatMul(a, b)` (b a constant matrix) whose ends would
/// need a TRANSPOSE (see the module doc); returns how many ends were rewritten.
pub(crate) fn split_outputs(cx: &mut Lower, id: NodeId, a: ValueId, b: ValueId) -> LResult<usize> {
    if cx.dtype(a)? != DType::F32 {
        return Ok(0);
    }
    let bd = cx.dims(b)?;
    let (Some(&d), Some(&n)) = (bd.first(), bd.get(1)) else {
        return Ok(0);
    };
    let (Ok(du), Ok(nu)) = (usize::try_from(d), usize::try_from(n)) else {
        return Ok(0);
    };
    if du < 2 || nu < 2 {
        return Ok(0);
    }
    let Some(xv) = cx.held_view(a) else {
        return Ok(0);
    };
    // X's contracted dim must be one factor, innermost in its tensor.
    let last = xv.groups.len().saturating_sub(1);
    if xv.factors_of(last) != [xv.tf.len().saturating_sub(1)] {
        return Ok(0);
    }
    if cx.const_of(b).is_none_or(|t| t.dtype != DType::F32) {
        return Ok(0);
    }
    let (start_v, bias_v) = match super::gemm::following_bias(cx, id, n) {
        Some((add, c)) => (ValueId { node: add, port: 0 }, Some(c)),
        None => (ValueId { node: id, port: 0 }, None),
    };
    let rows = xv.tf.len() - 1;
    let rows_size: i64 = xv.tf[..rows].iter().product();
    let mut tf = xv.tf[..rows].to_vec();
    tf.push(n);
    let yview = FView {
        t: -1,
        tf,
        order: xv.order.clone(),
        groups: xv.groups.clone(),
    };
    let start = Reach {
        v: start_v,
        view: yview,
        rows,
        sels: Vec::new(),
    };
    let mut done = 0;
    for r in leaves(cx, start, rows_size) {
        if r.v == start_v || super::super::util::is_ident(&r.view.order) {
            continue;
        }
        let Some(p) = plan(&r.view.order, r.rows) else {
            continue;
        };
        // The weights are read only for an end that is rewritten.
        let Some(w) = f32_data(cx, b, du * nu) else {
            return Ok(done);
        };
        let bias = match bias_v {
            Some(c) => match f32_data(cx, c, nu) {
                Some(v) => Some(v),
                None => return Ok(done),
            },
            None => None,
        };
        let Some((w, bias)) = selected(w, bias, du, &r) else {
            continue;
        };
        emit_leaf(cx, &xv, &r, &p, du, &w, bias.as_deref())?;
        cx.skip.insert(r.v.node);
        done += 1;
    }
    Ok(done)
}

/// Writes one chain end as a BATCH_MATMUL (+ bias ADD) and binds it.
fn emit_leaf(cx: &mut Lower, xv: &FView, r: &Reach, p: &Plan, d: usize, w: &[f32], bias: Option<&[f32]>) -> LResult<()> {
    let tf = &r.view.tf;
    let is_row = |f: usize| f < r.rows;
    let size = |fs: &[usize]| fs.iter().map(|&f| tf[f]).product::<i64>();
    let m = size(&p.inner_rows);
    let nc = size(&p.inner_cols);
    let name = cx.vname(r.v);
    // X' = X's tensor as [batch rows (1 for column factors)..., M, D].
    let mut xd: Vec<i64> = p.batch.iter().map(|&f| if is_row(f) { tf[f] } else { 1 }).collect();
    xd.extend([m, d as i64]);
    let xt = cx.reshaped(r.v, xv.t, &xd, "rows")?;
    // W' = columns regrouped: [batch columns (1 for row factors)..., D, Nc] (or [..., Nc, D]).
    let cols: Vec<usize> = (r.rows..tf.len()).collect();
    let mut shape = vec![d];
    shape.extend(cols.iter().map(|&f| tf[f] as usize));
    let batch_cols: Vec<usize> = p.batch.iter().copied().filter(|&f| !is_row(f)).collect();
    let pos = |f: usize| 1 + f - r.rows;
    let mut perm: Vec<usize> = batch_cols.iter().map(|&f| pos(f)).collect();
    if p.cols_first {
        perm.extend(p.inner_cols.iter().map(|&f| pos(f)));
        perm.push(0);
    } else {
        perm.push(0);
        perm.extend(p.inner_cols.iter().map(|&f| pos(f)));
    }
    let wdata = permute(w, &shape, &perm);
    let mut wd: Vec<i64> = p.batch.iter().map(|&f| if is_row(f) { 1 } else { tf[f] }).collect();
    if p.cols_first {
        wd.extend([nc, d as i64]);
    } else {
        wd.extend([d as i64, nc]);
    }
    let wt = cx.const_tensor(
        &format!("{name}_weights"),
        &wd,
        TensorType::FLOAT32,
        BufData::Owned(f32_bytes(&wdata)),
    );
    let mut od: Vec<i64> = p.batch.iter().map(|&f| tf[f]).collect();
    if p.cols_first {
        od.extend([nc, m]);
    } else {
        od.extend([m, nc]);
    }
    let (lhs, rhs, adj_y) = if p.cols_first { (wt, xt, true) } else { (xt, wt, false) };
    let o = opts(O::BatchMatMulOptions).with(0, Field::Bool(false)).with(1, Field::Bool(adj_y));
    let zd = cx.dims(r.v)?;
    let direct = od == zd;
    let prod = if direct && bias.is_none() {
        cx.out_id(r.v)?
    } else {
        cx.tensor(&format!("{name}_mm"), &od, TensorType::FLOAT32)
    };
    cx.emit(B::BATCH_MATMUL, vec![lhs, rhs], vec![prod], Some(o));
    let mut cur = prod;
    if let Some(bias) = bias {
        let bshape: Vec<usize> = cols.iter().map(|&f| tf[f] as usize).collect();
        let bperm: Vec<usize> = batch_cols.iter().chain(p.inner_cols.iter()).map(|&f| f - r.rows).collect();
        let bdata = permute(bias, &bshape, &bperm);
        let mut bd: Vec<i64> = p.batch.iter().map(|&f| if is_row(f) { 1 } else { tf[f] }).collect();
        if p.cols_first {
            bd.extend([nc, 1]);
        } else {
            bd.extend([1, nc]);
        }
        let bt = cx.const_tensor(&format!("{name}_bias"), &bd, TensorType::FLOAT32, BufData::Owned(f32_bytes(&bdata)));
        let sum = if direct {
            cx.out_id(r.v)?
        } else {
            cx.tensor(&format!("{name}_biased"), &od, TensorType::FLOAT32)
        };
        cx.emit(B::ADD, vec![cur, bt], vec![sum], Some(opts(O::AddOptions)));
        cur = sum;
    }
    if !direct {
        let zt = cx.out_id(r.v)?;
        let s: Vec<i32> = zd.iter().map(|&x| x as i32).collect();
        let st = cx.const_i32(&format!("{name}_shape"), &s);
        cx.emit(
            B::RESHAPE,
            vec![cur, st],
            vec![zt],
            Some(opts(O::ReshapeOptions).with(0, Field::VecI32(s))),
        );
    }
    Ok(())
}

/// `A·W (+ bias)` with A held by a view whose contracted factors are not innermost: per-head
/// BATCH_MATMUL and SUM (see the module doc). `w_rows_first`: W is [K, N] (else [N, K], Gemm's
/// transB). `bias`: a [N] constant and the node whose output the result stands for.
pub(crate) fn split_contraction(
    cx: &mut Lower,
    id: NodeId,
    a: ValueId,
    b: ValueId,
    gemm: Option<(bool, Option<ValueId>)>,
) -> LResult<Option<()>> {
    if cx.dtype(a)? != DType::F32 {
        return Ok(None);
    }
    let Some(av) = cx.held_view(a) else {
        return Ok(None);
    };
    let rank = av.groups.len();
    if rank < 2 {
        return Ok(None);
    }
    let mut ident_perm: Vec<usize> = (0..rank).collect();
    if super::super::util::is_ident(&av.factor_order(&ident_perm)) {
        return Ok(None);
    }
    let cfs = av.factors_of(rank - 1).to_vec();
    if cfs.len() < 2 {
        return Ok(None);
    }
    let is_c = |f: &usize| cfs.contains(f);
    let nf = av.tf.len();
    let kin = (0..nf).rev().take_while(|f| is_c(f)).count();
    let rin = (0..nf - kin).rev().take_while(|f| !is_c(f)).count();
    let nbatch = nf - kin - rin;
    if kin == 0 || nbatch + 2 > MAX_RANK {
        return Ok(None);
    }
    let (w_rows_first, bias_v) = gemm.map_or((true, None), |(t, c)| (!t, c));
    let bd = cx.dims(b)?;
    let (Some(&b0), Some(&b1)) = (bd.first(), bd.get(1)) else {
        return Ok(None);
    };
    let (k, n) = if w_rows_first { (b0, b1) } else { (b1, b0) };
    let kv: i64 = cfs.iter().map(|&f| av.tf[f]).product();
    let (Ok(ku), Ok(nu)) = (usize::try_from(k), usize::try_from(n)) else {
        return Ok(None);
    };
    if kv != k || nu < 1 {
        return Ok(None);
    }
    let Some(w) = f32_data(cx, b, ku * nu) else {
        return Ok(None);
    };
    // The bias: Gemm's C, or the Add after a MatMul.
    let (bias, out_node) = match (gemm, bias_v) {
        (Some(_), Some(c)) => match f32_data(cx, c, nu) {
            Some(v) => (Some(v), id),
            None => return Ok(None),
        },
        (Some(_), None) => (None, id),
        (None, _) => match super::gemm::following_bias(cx, id, n) {
            Some((add, c)) => match f32_data(cx, c, nu) {
                Some(v) => (Some(v), add),
                None => return Ok(None),
            },
            None => (None, id),
        },
    };
    if out_node != id {
        cx.skip.insert(out_node);
    }
    // W as [c (value order)..., N] → [batch c (tensor order)..., inner c (tensor order)..., N].
    let cu: Vec<usize> = cfs.iter().map(|&f| av.tf[f] as usize).collect();
    let (shape, nax): (Vec<usize>, usize) = if w_rows_first {
        (cu.iter().copied().chain([nu]).collect(), cu.len())
    } else {
        ([nu].into_iter().chain(cu.iter().copied()).collect(), 0)
    };
    let cpos = |f: usize| {
        let i = cfs.iter().position(|&c| c == f).unwrap_or(0);
        if w_rows_first { i } else { i + 1 }
    };
    let mut perm: Vec<usize> = (0..nf).filter(|f| is_c(f)).map(cpos).collect();
    perm.push(nax);
    let wdata = permute(&w, &shape, &perm);
    let kinner: i64 = (nf - kin..nf).map(|f| av.tf[f]).product();
    let mut wd: Vec<i64> = (0..nbatch).map(|f| if is_c(&f) { av.tf[f] } else { 1 }).collect();
    wd.extend([kinner, n]);
    let name = cx.g.node(id).name.clone();
    let wt = cx.const_tensor(
        &format!("{name}_heads"),
        &wd,
        TensorType::FLOAT32,
        BufData::Owned(f32_bytes(&wdata)),
    );
    let m: i64 = (nbatch..nbatch + rin).map(|f| av.tf[f]).product();
    let mut ad: Vec<i64> = av.tf[..nbatch].to_vec();
    ad.extend([m, kinner]);
    let at = cx.reshaped(a, av.t, &ad, "heads")?;
    let mut pd: Vec<i64> = av.tf[..nbatch].to_vec();
    pd.extend([m, n]);
    let pt = cx.tensor(&format!("{name}_per_head"), &pd, TensorType::FLOAT32);
    let o = opts(O::BatchMatMulOptions).with(0, Field::Bool(false)).with(1, Field::Bool(false));
    cx.emit(B::BATCH_MATMUL, vec![at, wt], vec![pt], Some(o));
    let sum_axes: Vec<i32> = (0..nbatch).filter(|f| is_c(f)).map(|f| f as i32).collect();
    let mut sd: Vec<i64> = (0..nbatch).filter(|f| !is_c(f)).map(|f| av.tf[f]).collect();
    sd.extend([m, n]);
    let mut cur = pt;
    if !sum_axes.is_empty() {
        let axt = cx.const_i32(&format!("{name}_head_axes"), &sum_axes);
        let st = cx.tensor(&format!("{name}_summed"), &sd, TensorType::FLOAT32);
        cx.emit(
            B::SUM,
            vec![cur, axt],
            vec![st],
            Some(opts(O::ReducerOptions).with(0, Field::Bool(false))),
        );
        cur = st;
    }
    let (act, yv) = cx.fuse_activation(out_node);
    if let Some(bv) = bias {
        let bt = cx.const_f32(&format!("{name}_bias"), &[n], &bv);
        let yt = cx.tensor(&format!("{name}_biased"), &sd, TensorType::FLOAT32);
        cx.emit(B::ADD, vec![cur, bt], vec![yt], Some(opts(O::AddOptions).with(0, Field::I8(act))));
        cur = yt;
    } else if act != 0 {
        let code = match act {
            1 => B::RELU,
            2 => B::RELU_N1_TO_1,
            3 => B::RELU6,
            _ => B::TANH,
        };
        let yt = cx.tensor(&format!("{name}_act"), &sd, TensorType::FLOAT32);
        cx.emit(code, vec![cur], vec![yt], None);
        cur = yt;
    }
    // The result as a view: rows in the tensor's factor order, then N.
    let rows: Vec<usize> = (0..nf - kin).filter(|f| !is_c(f)).collect();
    let mut tf: Vec<i64> = rows.iter().map(|&f| av.tf[f]).collect();
    let idx = |f: usize| rows.iter().position(|&r| r == f).unwrap_or(0);
    let mut order: Vec<usize> = Vec::new();
    let mut groups = Vec::new();
    ident_perm.pop();
    for dv in ident_perm {
        let fs = av.factors_of(dv);
        order.extend(fs.iter().map(|&f| idx(f)));
        groups.push(fs.len());
    }
    if n > 1 {
        order.push(tf.len());
        tf.push(n);
        groups.push(1);
    } else {
        groups.push(0);
    }
    let view = FView { t: cur, tf, order, groups };
    cx.bind_view(yv, view)?;
    Ok(Some(()))
}
