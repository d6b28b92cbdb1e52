//! FULLY_CONNECTED → (Reshape to 2-D) + Gemm(transB) (+ Reshape back for keep_num_dims or
//! higher-rank outputs), weights kept [out, in] (quantized weights stay integer + DQ);
//! BATCH_MATMUL (adj_x / adj_y) → Transpose + MatMul.

use super::R;
use crate::codes::BuiltinOperator as B;
use crate::import::cx::OpCx;
use crate::import::irops::{Gemm, MatMul, Reshape, Transpose};
use edgeport_ir::{Graph, Op};

pub fn convert(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> Option<R> {
    Some(match cx.code.builtin {
        B::FULLY_CONNECTED => fully_connected(cx, g),
        B::BATCH_MATMUL => batch_matmul(cx, g),
        _ => return None,
    })
}

fn fully_connected(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let o = cx.opts();
    let act = o.i8(0, 0)?;
    let format = o.i8(1, 0)?;
    if format != 0 {
        return Err("FULLY_CONNECTED weights format SHUFFLED4x16INT8 is not supported".into());
    }
    let ws = cx.in_shape(1)?;
    if ws.len() != 2 {
        return Err(format!("weights have rank {}, expected 2", ws.len()).into());
    }
    let k = ws[1] as i64;
    let mut x = cx.input(g, 0)?;
    let xs = cx.in_shape(0)?;
    if !(xs.len() == 2 && xs[1] as i64 == k) {
        let s = cx.const_i64(g, "shape_in", &[-1, k])?;
        x = cx.node1(g, "flatten", Op::Reshape(Reshape { allowzero: 0 }), &[Some(x), Some(s)])?;
    }
    let w = cx.input(g, 1)?;
    let b = if cx.n_inputs() > 2 { cx.opt_input(g, 2)? } else { None };
    let op = Op::Gemm(Gemm {
        alpha: 1.0,
        beta: 1.0,
        transA: 0,
        transB: 1,
    });
    let mut y = cx.node1(g, "gemm", op, &[Some(x), Some(w), b])?;
    let out = cx.out_info(0)?;
    if out.shape.len() != 2 {
        // keep_num_dims: [..., out] with the leading dims of the input.
        let mut shape: Vec<i64> = out.shape.iter().map(|&d| i64::from(d)).collect();
        if let Some(first) = shape.first_mut()
            && out.shape_signature.first().is_some_and(|&d| d < 0)
        {
            *first = -1;
        }
        let s = cx.const_i64(g, "shape_out", &shape)?;
        y = cx.node1(g, "reshape", Op::Reshape(Reshape { allowzero: 0 }), &[Some(y), Some(s)])?;
    }
    cx.output_act(g, 0, y, act)?;
    Ok(())
}

fn batch_matmul(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let o = cx.opts();
    let (adj_x, adj_y) = (o.bool(0, false)?, o.bool(1, false)?);
    let mut a = cx.input(g, 0)?;
    let mut b = cx.input(g, 1)?;
    for (flag, i) in [(adj_x, 0usize), (adj_y, 1usize)] {
        if !flag {
            continue;
        }
        let r = cx.in_rank(i)?;
        if r < 2 {
            return Err("adjoint of a rank < 2 input".into());
        }
        let mut perm: Vec<i64> = (0..r as i64).collect();
        perm.swap(r - 1, r - 2);
        let v = if i == 0 { a } else { b };
        let t = cx.node1(g, "adjoint", Op::Transpose(Transpose { perm }), &[Some(v)])?;
        if i == 0 {
            a = t;
        } else {
            b = t;
        }
    }
    let y = cx.node1(g, "", Op::MatMul(MatMul {}), &[Some(a), Some(b)])?;
    cx.output(g, 0, y)?;
    Ok(())
}
