//! Binary arithmetic: `elementwise_{add,sub,mul,div,max,min,pow,mod}` with the legacy
//! `axis` broadcast rule (PIR's `add`, `subtract`, … arrive here with axis −1, which is numpy
//! broadcasting), `scale` and `sum`.
//!
//! Legacy rule: Y (rank ry) lines up with X (rank rx) starting at `axis`; the IR broadcasts
//! numpy-style (trailing alignment), so Y gets `rx − axis − ry` trailing unit axes.

use super::Rule;
use crate::build::{Attrs, Ctx, RuleResult};
use crate::program::OpDesc;
use edgeport_ir::Op;
use edgeport_ir::ops::defs::math::{Add, Div, Max, Min, Mod, Mul, Pow, Sub, Sum};
use edgeport_ir::ops::defs::tensor::{Identity, Unsqueeze};

pub const RULES: &[(&str, Rule)] = &[
    ("elementwise_add", binary),
    ("elementwise_sub", binary),
    ("elementwise_mul", binary),
    ("elementwise_div", binary),
    ("elementwise_max", binary),
    ("elementwise_min", binary),
    ("elementwise_pow", binary),
    ("elementwise_mod", binary),
    ("scale", scale),
    ("sum", sum),
];

fn binary(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    let x = cx.input(op, "X")?;
    let mut y = cx.input(op, "Y")?;
    let out = cx.out_name(op, "Out")?;
    let axis = op.int("axis", -1);
    if axis != -1 {
        let rx = cx.input_rank(op, "X")? as i64;
        let ry = cx.input_rank(op, "Y")? as i64;
        if ry > rx {
            return Err(format!("axis {axis} with Y of rank {ry} above X's rank {rx} is not supported"));
        }
        let axis = if axis < 0 { axis + rx } else { axis };
        let pad = rx - axis - ry;
        if axis < 0 || pad < 0 {
            return Err(format!("axis {axis} does not fit Y of rank {ry} into X of rank {rx}"));
        }
        if pad > 0 {
            let axes: Vec<i64> = (ry..ry + pad).collect();
            let a = cx.const_i64(&format!("{out}/y_axes"), &axes);
            y = cx.node(&format!("{out}/y"), Op::Unsqueeze(Unsqueeze::default()), &[Some(y), Some(a)])?;
        }
    }
    let ir = match op.ty.as_str() {
        "elementwise_add" => Op::Add(Add::default()),
        "elementwise_sub" => Op::Sub(Sub::default()),
        "elementwise_mul" => Op::Mul(Mul::default()),
        "elementwise_div" => Op::Div(Div::default()),
        "elementwise_max" => Op::Max(Max::default()),
        "elementwise_min" => Op::Min(Min::default()),
        "elementwise_pow" => Op::Pow(Pow::default()),
        "elementwise_mod" => Op::Mod(Mod { fmod: 0 }),
        t => return Err(format!("'{t}' is not supported")),
    };
    cx.emit(op, "Out", ir, &[Some(x), Some(y)])
}

/// out = scale·x + bias (bias_after_scale) or scale·(x + bias).
fn scale(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    let x = cx.input(op, "X")?;
    let out = cx.out_name(op, "Out")?;
    let dt = cx.input_dtype(op, "X");
    let bias = op.float("bias", 0.0);
    let after = op.boolean("bias_after_scale", true);
    let scale_t = cx.opt_input(op, "ScaleTensor")?;
    let scale_v = match scale_t {
        // A constant scale tensor of one element folds like the attribute.
        Some(t) => match cx.const_of(t).and_then(|c| c.to_f64_vec()) {
            Some(v) if v.len() == 1 => Some(v[0]),
            _ => None,
        },
        None => Some(op.float("scale", 1.0)),
    };
    let mut cur = x;
    let add_bias = |cx: &mut Ctx<'_>, cur: edgeport_ir::ValueId, tag: &str| -> Result<edgeport_ir::ValueId, String> {
        if bias == 0.0 {
            return Ok(cur);
        }
        let b = cx.const_scalar(&format!("{out}/bias"), dt, bias)?;
        cx.node(&format!("{out}/{tag}"), Op::Add(Add::default()), &[Some(cur), Some(b)])
    };
    if !after {
        cur = add_bias(cx, cur, "add")?;
    }
    cur = match (scale_v, scale_t) {
        (Some(1.0), _) => cur,
        (Some(s), _) => {
            let c = cx.const_scalar(&format!("{out}/scale"), dt, s)?;
            cx.node(&format!("{out}/mul"), Op::Mul(Mul::default()), &[Some(cur), Some(c)])?
        }
        (None, Some(t)) => cx.node(&format!("{out}/mul"), Op::Mul(Mul::default()), &[Some(cur), Some(t)])?,
        (None, None) => cur,
    };
    if after {
        cur = add_bias(cx, cur, "add")?;
    }
    if cur == x {
        return cx.emit(op, "Out", Op::Identity(Identity::default()), &[Some(cur)]);
    }
    cx.bind(&out, cur);
    Ok(())
}

fn sum(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    let xs = cx.inputs(op, "X")?;
    if xs.is_empty() {
        return Err("sum of no inputs".into());
    }
    let ins: Vec<_> = xs.into_iter().map(Some).collect();
    cx.emit(op, "Out", Op::Sum(Sum::default()), &ins)
}
