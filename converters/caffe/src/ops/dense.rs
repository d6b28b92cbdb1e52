//! InnerProduct: flattens from `axis`, multiplies by the `[N, K]` weight (`[K, N]` with
//! `transpose`; old models store it 4-D as `(1, 1, N, K)`), adds the bias; the result keeps the
//! dims before `axis`.

use super::Layer;
use crate::build::{Ctx, Weights, axis, int, numel};
use edgeport_ir::ValueId;

pub fn inner_product(cx: &mut Ctx, l: &Layer<'_>) -> Result<Vec<ValueId>, String> {
    let p = l.p.inner_product_param.ok_or("missing inner_product_param")?;
    let x = l.input(0)?;
    let shape = cx.shape(x)?;
    let ax = axis(p.axis().into(), shape.len())?;
    let k = numel(&shape[ax..])?;
    let n = p.num_output() as usize;
    if n == 0 {
        return Err("num_output is 0".into());
    }
    let wshape = if p.transpose() { vec![k, n] } else { vec![n, k] };
    let w = cx.weight("weight", l.blob(0)?, wshape)?;
    let b = if p.bias_term() {
        Some(cx.weight("bias", l.blob(1)?, vec![n])?)
    } else {
        None
    };
    let flat = if shape.len() == 2 && ax == 1 {
        x
    } else {
        cx.op("flatten", "Flatten", vec![int("axis", ax as i64)], &[x])?
    };
    let attrs = vec![int("transB", if p.transpose() { 0 } else { 1 })];
    let lead: Vec<i64> = shape[..ax].iter().map(|&d| d as i64).collect();
    if lead.len() == 1 {
        return cx.op_n("", "Gemm", attrs, &[Some(flat), Some(w), b], 1);
    }
    let y = cx.op_n("gemm", "Gemm", attrs, &[Some(flat), Some(w), b], 1)?;
    let y = y.into_iter().next().ok_or("Gemm without output")?;
    let mut out_shape = lead;
    out_shape.push(n as i64);
    let s = cx.ints("shape", &out_shape)?;
    Ok(vec![cx.op("", "Reshape", vec![], &[y, s])?])
}
