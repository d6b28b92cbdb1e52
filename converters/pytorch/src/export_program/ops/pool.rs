//! Pooling: `adaptive_avg_pool1d/2d` (GlobalAveragePool for output 1, AveragePool when the input
//! divides evenly), `max_pool1d/2d/3d` and `max_pool2d_with_indices` (values only), `avg_pool1d/2d/3d`.

use super::{Out, Rule, one};
use crate::export_program::ctx::{Ctx, N, R, ai, ais};
use edgeport_ir::AttrValue;

pub fn rule(op: &str) -> Option<Rule> {
    Some(match op {
        "adaptive_avg_pool1d" | "adaptive_avg_pool2d" | "_adaptive_avg_pool2d" | "adaptive_avg_pool3d" | "_adaptive_avg_pool3d" => {
            adaptive_avg
        }
        "max_pool1d" | "max_pool2d" | "max_pool3d" | "max_pool2d_with_indices" | "max_pool3d_with_indices" => max_pool,
        "avg_pool1d" | "avg_pool2d" | "avg_pool3d" => avg_pool,
        _ => return None,
    })
}

fn adaptive_avg(cx: &mut Ctx, n: &N) -> R<Out> {
    let (x, m) = cx.tensor(n, "self")?;
    let s = m.rank().checked_sub(2).filter(|&s| s >= 1).ok_or("pool input rank below 3")?;
    let outsz = n.ints("output_size", &[], s)?;
    let out = n.out(0);
    if outsz.iter().all(|&o| o == 1) {
        return one(cx.op("GlobalAveragePool", vec![], &[x], &out)?);
    }
    let known = m.known().ok_or("adaptive pooling of a symbolic spatial size")?;
    let ins = &known[2..];
    if outsz.len() != s || ins.iter().zip(&outsz).any(|(&i, &o)| o <= 0 || i % o != 0) {
        return Err(format!("adaptive pooling from {ins:?} to {outsz:?} does not divide evenly"));
    }
    let k: Vec<i64> = ins.iter().zip(&outsz).map(|(&i, &o)| i / o).collect();
    one(cx.op("AveragePool", vec![("kernel_shape", ais(&k)), ("strides", ais(&k))], &[x], &out)?)
}

/// Spatial rank, kernel, strides, pads and ceil mode of a pooling node.
type PoolArgs = (usize, Vec<i64>, Vec<i64>, Vec<i64>, i64);

fn pool_common(cx: &Ctx, n: &N) -> R<PoolArgs> {
    let r = cx.rank(n, "self")?;
    let s = r.checked_sub(2).filter(|&s| s >= 1).ok_or("pool input rank below 3")?;
    let k = n.ints("kernel_size", &[], s)?;
    let mut st = n.ints("stride", &[], s)?;
    if st.is_empty() {
        st = k.clone();
    }
    let p = n.ints("padding", &[0], s)?;
    let mut pads = p.clone();
    pads.extend_from_slice(&p);
    Ok((s, k, st, pads, n.bool("ceil_mode", false)? as i64))
}

fn max_pool(cx: &mut Ctx, n: &N) -> R<Out> {
    let (x, _) = cx.tensor(n, "self")?;
    let (s, k, st, pads, ceil) = pool_common(cx, n)?;
    let dil = n.ints("dilation", &[1], s)?;
    let out = n.out(0);
    let attrs: Vec<(&str, AttrValue)> = vec![
        ("kernel_shape", ais(&k)),
        ("strides", ais(&st)),
        ("pads", ais(&pads)),
        ("dilations", ais(&dil)),
        ("ceil_mode", ai(ceil)),
    ];
    let v = cx.ops("MaxPool", attrs, &[Some(x)], &[&out])?;
    Ok(Out::Values(vec![v[0]]))
}

fn avg_pool(cx: &mut Ctx, n: &N) -> R<Out> {
    let (x, _) = cx.tensor(n, "self")?;
    let (_, k, st, pads, ceil) = pool_common(cx, n)?;
    if n.opt_int("divisor_override")?.is_some() {
        return Err("avg_pool with divisor_override is not supported".into());
    }
    let cip = n.bool("count_include_pad", true)? as i64;
    let out = n.out(0);
    let attrs: Vec<(&str, AttrValue)> = vec![
        ("kernel_shape", ais(&k)),
        ("strides", ais(&st)),
        ("pads", ais(&pads)),
        ("ceil_mode", ai(ceil)),
        ("count_include_pad", ai(cip)),
    ];
    one(cx.op("AveragePool", attrs, &[x], &out)?)
}
