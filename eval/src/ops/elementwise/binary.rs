//! Binary and variadic arithmetic: Add/Sub/Mul/Div, Max/Min/Sum/Mean, Mod, Pow (mixed base and
//! exponent dtypes), PRelu, Clip and Expand.

use super::kernels::{Bin, Num, binary, dtype_err, fold, map_float, num_map, num_pair, pair_err};
use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::map_array;
use crate::ops::util::{broadcast_shapes, broadcast_to, zip_broadcast};
use crate::tensor::Tensor;
use edgeport_ir::Op;
use edgeport_ir::ops::math::Mod;
use ndarray::ArrayD;

/// Runs an arithmetic op, or `None` if `op` is not one of them.
pub fn run(op: &Op, cx: &NodeCtx<'_>) -> Option<Result<Tensor, OpError>> {
    let two = |bin: Bin| -> Result<Tensor, OpError> { binary(cx.tensor(0)?, cx.tensor(1)?, bin) };
    Some(match op {
        Op::Add(_) => two(Bin::Add),
        Op::Sub(_) => two(Bin::Sub),
        Op::Mul(_) => two(Bin::Mul),
        Op::Div(_) => two(Bin::Div),
        Op::Mod(Mod { fmod }) => two(if *fmod != 0 { Bin::FMod } else { Bin::Mod }),
        Op::Max(_) => variadic(cx).and_then(|v| fold(&v, Bin::Max)),
        Op::Min(_) => variadic(cx).and_then(|v| fold(&v, Bin::Min)),
        Op::Sum(_) => variadic(cx).and_then(|v| fold(&v, Bin::Add)),
        Op::Mean(_) => mean(cx),
        Op::Pow(_) => cx.tensor(0).and_then(|a| pow(a, cx.tensor(1)?)),
        Op::PRelu(_) => cx.tensor(0).and_then(|a| prelu(a, cx.tensor(1)?)),
        Op::Clip(_) => clip(cx),
        Op::Expand(_) => cx.tensor(0).and_then(|a| expand(a, cx.tensor(1)?)),
        _ => return None,
    })
}

/// All present inputs (variadic ops).
fn variadic<'a>(cx: &NodeCtx<'a>) -> Result<Vec<&'a Tensor>, OpError> {
    let mut v = Vec::new();
    for i in 0..cx.n_inputs() {
        if let Some(t) = cx.opt_tensor(i)? {
            v.push(t);
        }
    }
    Ok(v)
}

fn mean(cx: &NodeCtx<'_>) -> Result<Tensor, OpError> {
    let v = variadic(cx)?;
    let n = v.len() as f64;
    let s = fold(&v, Bin::Add)?;
    map_float(&s, |x| x / n)
}

/// Pow: the output has the base's dtype; integer bases with integer exponents use wrapping
/// integer powers, everything else computes in f64.
fn pow(a: &Tensor, b: &Tensor) -> Result<Tensor, OpError> {
    if matches!(a, Tensor::Bool(_) | Tensor::Str(_) | Tensor::Bits(..)) {
        return Err(dtype_err(a));
    }
    let int_int = !a.dtype().is_float() && !b.dtype().is_float();
    if int_int {
        let e = b.cast(edgeport_ir::DType::I64)?;
        let Tensor::I64(e) = e else {
            return Err(dtype_err(b));
        };
        return Ok(num_map!(a, p => zip_broadcast(p, &e, |x, y| int_pow(*x, *y))?));
    }
    let e = b.to_f64_array()?;
    Ok(num_map!(a, p => zip_broadcast(p, &e, |x, y| Num::from_f64(x.to_f64().powf(*y)))?))
}

/// x^e by repeated squaring with wrapping multiplication (negative exponents give 1/x^-e
/// truncated: 0 unless |x| is 1).
fn int_pow<T: Num>(x: T, e: i64) -> T {
    let one = T::from_f64(1.0);
    if e < 0 {
        let xf = x.to_f64();
        return if xf == 1.0 {
            one
        } else if xf == -1.0 {
            if e % 2 == 0 { one } else { x }
        } else {
            T::ZERO
        };
    }
    let (mut acc, mut base, mut e) = (one, x, e as u64);
    while e > 0 {
        if e & 1 == 1 {
            acc = T::bin(Bin::Mul, acc, base);
        }
        base = T::bin(Bin::Mul, base, base);
        e >>= 1;
    }
    acc
}

/// PRelu: `slope * x` where x < 0; the slope broadcasts to x.
fn prelu(x: &Tensor, slope: &Tensor) -> Result<Tensor, OpError> {
    let shape = x.shape().to_vec();
    let out = num_pair!(x, slope, p, q => wrap {
        let q = broadcast_to(q, &shape)?;
        ndarray::Zip::from(p).and(&q).map_collect(|&v, &s| if v.lt_zero() { Num::bin(Bin::Mul, v, s) } else { v })
    });
    Ok(out)
}

/// Clip with optional scalar `min`/`max` inputs: `min(max(x, lo), hi)`.
fn clip(cx: &NodeCtx<'_>) -> Result<Tensor, OpError> {
    let x = cx.tensor(0)?;
    let (lo, hi) = (cx.opt_tensor(1)?, cx.opt_tensor(2)?);
    macro_rules! go {
        ($($v:ident),*) => {
            match x {
                $(Tensor::$v(a) => {
                    let get = |t: Option<&Tensor>| match t {
                        None => Ok(None),
                        Some(Tensor::$v(b)) => scalar(b).map(Some),
                        Some(o) => Err(pair_err(x, o)),
                    };
                    let (lo, hi) = (get(lo)?, get(hi)?);
                    Tensor::$v(a.mapv(|v| {
                        let v = match lo { Some(l) if v < l => l, _ => v };
                        match hi { Some(h) if v > h => h, _ => v }
                    }))
                })*
                other => return Err(dtype_err(other)),
            }
        };
    }
    Ok(go!(F32, F64, F16, BF16, I8, I16, I32, I64, U8, U16, U32, U64))
}

/// The single element of a Clip bound.
fn scalar<T: Copy>(b: &ArrayD<T>) -> Result<T, OpError> {
    match b.iter().next() {
        Some(v) if b.len() == 1 => Ok(*v),
        _ => Err(OpError::invalid(format!(
            "Clip: min/max must be scalars, got shape {:?}",
            b.shape()
        ))),
    }
}

/// Expand: bidirectional broadcast of the input to `shape`.
fn expand(x: &Tensor, shape: &Tensor) -> Result<Tensor, OpError> {
    let dims: Vec<usize> = shape
        .to_i64_vec()?
        .into_iter()
        .map(|d| usize::try_from(d).map_err(|_| OpError::invalid(format!("Expand: negative dimension {d}"))))
        .collect::<Result<_, _>>()?;
    let out = broadcast_shapes(&[x.shape(), &dims])?;
    Ok(map_array!(x, a => broadcast_to(a, &out)?.to_owned()))
}
