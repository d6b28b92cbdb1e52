//! Matrix products: `matmul_v2` (trans_x/trans_y) and the older `matmul` (transpose_X/Y, alpha).

use super::Rule;
use crate::build::{Attrs, Ctx, RuleResult};
use crate::program::OpDesc;
use edgeport_ir::ops::defs::math::{MatMul, Mul};
use edgeport_ir::ops::defs::tensor::Transpose;
use edgeport_ir::{Op, ValueId};

pub const RULES: &[(&str, Rule)] = &[("matmul_v2", matmul_v2), ("matmul", matmul_v1)];

/// Swaps the last two axes of a slot's value when `flag` is set.
fn maybe_t(cx: &mut Ctx<'_>, op: &OpDesc, slot: &str, flag: bool, out: &str) -> Result<ValueId, String> {
    let v = cx.input(op, slot)?;
    if !flag {
        return Ok(v);
    }
    let r = cx.input_rank(op, slot)?;
    if r < 2 {
        return Ok(v);
    }
    let mut perm: Vec<i64> = (0..r as i64).collect();
    perm.swap(r - 1, r - 2);
    cx.node(&format!("{out}/{slot}_t"), Op::Transpose(Transpose { perm }), &[Some(v)])
}

fn product(cx: &mut Ctx<'_>, op: &OpDesc, tx: bool, ty: bool, alpha: f64) -> RuleResult {
    let out = cx.out_name(op, "Out")?;
    let x = maybe_t(cx, op, "X", tx, &out)?;
    let y = maybe_t(cx, op, "Y", ty, &out)?;
    if alpha == 1.0 {
        return cx.emit(op, "Out", Op::MatMul(MatMul::default()), &[Some(x), Some(y)]);
    }
    let m = cx.node(&format!("{out}/matmul"), Op::MatMul(MatMul::default()), &[Some(x), Some(y)])?;
    let dt = cx.input_dtype(op, "X");
    let a = cx.const_scalar(&format!("{out}/alpha"), dt, alpha)?;
    cx.emit(op, "Out", Op::Mul(Mul::default()), &[Some(m), Some(a)])
}

fn matmul_v2(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    product(cx, op, op.boolean("trans_x", false), op.boolean("trans_y", false), 1.0)
}

fn matmul_v1(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    product(
        cx,
        op,
        op.boolean("transpose_X", false),
        op.boolean("transpose_Y", false),
        op.float("alpha", 1.0),
    )
}
