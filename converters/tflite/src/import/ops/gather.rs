//! Indexing and selection: GATHER, GATHER_ND, EMBEDDING_LOOKUP, SCATTER_ND, ONE_HOT, SELECT /
//! SELECT_V2 → Where, WHERE (one input) → NonZero + Transpose, TOPK_V2 → TopK + Cast.

use super::R;
use crate::codes::BuiltinOperator as B;
use crate::import::cx::OpCx;
use crate::import::irops::{Concat, ConstantOfShape, Gather, GatherND, NonZero, OneHot, ScatterND, TopK, Transpose, Unsqueeze, Where};
use edgeport_ir::{DType, Graph, Op};

pub fn convert(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> Option<R> {
    Some(match cx.code.builtin {
        B::GATHER => gather(cx, g),
        B::EMBEDDING_LOOKUP => embedding(cx, g),
        B::GATHER_ND => gather_nd(cx, g),
        B::SCATTER_ND => scatter_nd(cx, g),
        B::ONE_HOT => one_hot(cx, g),
        B::SELECT | B::SELECT_V2 => select(cx, g),
        B::WHERE => where_(cx, g),
        B::TOPK_V2 => topk(cx, g),
        _ => return None,
    })
}

fn gather(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let o = cx.opts();
    let axis = i64::from(o.i32(0, 0)?);
    if o.i32(1, 0)? != 0 {
        return Err("GATHER with batch_dims != 0 is not supported".into());
    }
    let x = cx.input(g, 0)?;
    let i = cx.raw_input(g, 1)?;
    let y = cx.node1(g, "", Op::Gather(Gather { axis }), &[Some(x), Some(i)])?;
    cx.output(g, 0, y)?;
    Ok(())
}

fn embedding(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let i = cx.raw_input(g, 0)?;
    let x = cx.input(g, 1)?;
    let y = cx.node1(g, "", Op::Gather(Gather { axis: 0 }), &[Some(x), Some(i)])?;
    cx.output(g, 0, y)?;
    Ok(())
}

fn gather_nd(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let x = cx.input(g, 0)?;
    let i = cx.i64_input(g, 1)?;
    let y = cx.node1(g, "", Op::GatherND(GatherND { batch_dims: 0 }), &[Some(x), Some(i)])?;
    cx.output(g, 0, y)?;
    Ok(())
}

fn scatter_nd(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    // TF scatter_nd(indices, updates, shape): zeros of `shape`, updates summed in.
    let i = cx.i64_input(g, 0)?;
    let u = cx.input(g, 1)?;
    let s = cx.i64_input(g, 2)?;
    let dt = cx.out_dtype(0)?;
    let zero = edgeport_ir::Tensor::from_bytes(
        dt,
        vec![1],
        edgeport_ir::Bytes::from_vec(vec![0u8; dt.byte_len(1).ok_or("bad output type")?]),
    )
    .map_err(|e| e.to_string())?;
    let z = cx.node1(g, "zeros", Op::ConstantOfShape(ConstantOfShape { value: Some(zero) }), &[Some(s)])?;
    let op = Op::ScatterND(ScatterND { reduction: "add".into() });
    let y = cx.node1(g, "", op, &[Some(z), Some(i), Some(u)])?;
    cx.output(g, 0, y)?;
    Ok(())
}

fn one_hot(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let axis = i64::from(cx.opts().i32(0, -1)?);
    let idx = cx.raw_input(g, 0)?;
    let depth = cx.raw_input(g, 1)?;
    let on = cx.input(g, 2)?;
    let off = cx.input(g, 3)?;
    let ax = cx.const_i64(g, "axes", &[0])?;
    let on1 = cx.node1(g, "on", Op::Unsqueeze(Unsqueeze {}), &[Some(on), Some(ax)])?;
    let off1 = cx.node1(g, "off", Op::Unsqueeze(Unsqueeze {}), &[Some(off), Some(ax)])?;
    let vals = cx.node1(g, "values", Op::Concat(Concat { axis: 0 }), &[Some(off1), Some(on1)])?;
    let y = cx.node1(g, "", Op::OneHot(OneHot { axis }), &[Some(idx), Some(depth), Some(vals)])?;
    cx.output(g, 0, y)?;
    Ok(())
}

fn select(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let mut c = cx.raw_input(g, 0)?;
    let a = cx.input(g, 1)?;
    let b = cx.input(g, 2)?;
    // SELECT (v1): a rank-1 condition picks rows of higher-rank inputs.
    if cx.code.builtin == B::SELECT {
        let (cr, ar) = (cx.in_rank(0)?, cx.in_rank(1)?);
        if cr == 1 && ar > 1 {
            let axes: Vec<i64> = (1..ar as i64).collect();
            let ax = cx.const_i64(g, "axes", &axes)?;
            c = cx.node1(g, "cond", Op::Unsqueeze(Unsqueeze {}), &[Some(c), Some(ax)])?;
        }
    }
    let y = cx.node1(g, "", Op::Where(Where {}), &[Some(c), Some(a), Some(b)])?;
    cx.output(g, 0, y)?;
    Ok(())
}

fn where_(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let c = cx.raw_input(g, 0)?;
    let nz = cx.node1(g, "nonzero", Op::NonZero(NonZero {}), &[Some(c)])?;
    let mut y = cx.node1(g, "", Op::Transpose(Transpose { perm: vec![1, 0] }), &[Some(nz)])?;
    let dt = cx.out_dtype(0)?;
    if dt != DType::I64 {
        y = cx.cast(g, y, dt)?;
    }
    cx.output(g, 0, y)?;
    Ok(())
}

fn topk(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let x = cx.input(g, 0)?;
    let k = cx.i64_input(g, 1)?;
    let ax = cx.const_i64(g, "axes", &[0])?;
    let rank_k = cx.in_rank(1)?;
    let k1 = if rank_k == 0 {
        cx.node1(g, "k", Op::Unsqueeze(Unsqueeze {}), &[Some(k), Some(ax)])?
    } else {
        k
    };
    let op = Op::TopK(TopK {
        axis: -1,
        largest: 1,
        sorted: 1,
    });
    let ys = cx.node(g, "", op, &[Some(x), Some(k1)], 2)?;
    let (v, mut i) = (ys[0], ys[1]);
    cx.output(g, 0, v)?;
    let dt = cx.out_dtype(1)?;
    if dt != DType::I64 {
        i = cx.cast(g, i, dt)?;
    }
    cx.output(g, 1, i)?;
    Ok(())
}
