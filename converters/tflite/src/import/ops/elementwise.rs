//! Elementwise ops: arithmetic with fused activations (ADD, SUB, MUL, DIV), POW, MAXIMUM,
//! MINIMUM, SQUARED_DIFFERENCE, FLOOR_DIV, FLOOR_MOD, ADD_N; comparisons and logical ops;
//! unary math (ABS, CEIL, FLOOR, ROUND, EXP, LOG, SQRT, RSQRT, SQUARE, NEG, SIN, COS, SIGN…).

use super::R;
use super::activation::unary;
use crate::codes::BuiltinOperator as B;
use crate::import::cx::OpCx;
use crate::import::irops::*;
use edgeport_ir::{DType, Graph, Op};

pub fn convert(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> Option<R> {
    let k = cx.code.builtin;
    let r = match k {
        B::ADD => binary_act(cx, g, Op::Add(Add {}), 0),
        B::SUB => binary_act(cx, g, Op::Sub(Sub {}), 0),
        B::MUL => binary_act(cx, g, Op::Mul(Mul {}), 0),
        B::DIV => binary_act(cx, g, Op::Div(Div {}), 0),
        B::POW => binary(cx, g, Op::Pow(Pow {})),
        B::MAXIMUM => binary(cx, g, Op::Max(Max {})),
        B::MINIMUM => binary(cx, g, Op::Min(Min {})),
        B::EQUAL => binary(cx, g, Op::Equal(Equal {})),
        B::LESS => binary(cx, g, Op::Less(Less {})),
        B::LESS_EQUAL => binary(cx, g, Op::LessOrEqual(LessOrEqual {})),
        B::GREATER => binary(cx, g, Op::Greater(Greater {})),
        B::GREATER_EQUAL => binary(cx, g, Op::GreaterOrEqual(GreaterOrEqual {})),
        B::LOGICAL_AND => binary(cx, g, Op::And(And {})),
        B::LOGICAL_OR => binary(cx, g, Op::Or(Or {})),
        B::NOT_EQUAL => not_equal(cx, g),
        B::SQUARED_DIFFERENCE => squared_difference(cx, g),
        B::FLOOR_DIV => floor_div(cx, g),
        B::FLOOR_MOD => floor_mod(cx, g),
        B::ADD_N => add_n(cx, g),
        B::ABS => unary(cx, g, Op::Abs(Abs {})),
        B::CEIL => unary(cx, g, Op::Ceil(Ceil {})),
        B::FLOOR => unary(cx, g, Op::Floor(Floor {})),
        B::ROUND => unary(cx, g, Op::Round(Round {})),
        B::EXP => unary(cx, g, Op::Exp(Exp {})),
        B::LOG => unary(cx, g, Op::Log(Log {})),
        B::SQRT => unary(cx, g, Op::Sqrt(Sqrt {})),
        B::NEG => unary(cx, g, Op::Neg(Neg {})),
        B::SIN => unary(cx, g, Op::Sin(Sin {})),
        B::COS => unary(cx, g, Op::Cos(Cos {})),
        B::SIGN => unary(cx, g, Op::Sign(Sign {})),
        B::LOGICAL_NOT => unary(cx, g, Op::Not(Not {})),
        B::RSQRT => rsqrt(cx, g),
        B::SQUARE => square(cx, g),
        _ => return None,
    };
    Some(r)
}

fn binary_act(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph, op: Op, slot: usize) -> R {
    let act = cx.opts().i8(slot, 0)?;
    binary_with(cx, g, op, act)
}

fn binary_with(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph, op: Op, act: i8) -> R {
    let a = cx.input(g, 0)?;
    let b = cx.input(g, 1)?;
    let y = cx.node1(g, "", op, &[Some(a), Some(b)])?;
    cx.output_act(g, 0, y, act)?;
    Ok(())
}

fn binary(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph, op: Op) -> R {
    binary_with(cx, g, op, 0)
}

fn not_equal(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let a = cx.input(g, 0)?;
    let b = cx.input(g, 1)?;
    let e = cx.node1(g, "equal", Op::Equal(Equal {}), &[Some(a), Some(b)])?;
    let y = cx.node1(g, "", Op::Not(Not {}), &[Some(e)])?;
    cx.output(g, 0, y)?;
    Ok(())
}

fn squared_difference(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let a = cx.input(g, 0)?;
    let b = cx.input(g, 1)?;
    let d = cx.node1(g, "diff", Op::Sub(Sub {}), &[Some(a), Some(b)])?;
    let y = cx.node1(g, "", Op::Mul(Mul {}), &[Some(d), Some(d)])?;
    cx.output(g, 0, y)?;
    Ok(())
}

fn rsqrt(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let x = cx.input(g, 0)?;
    let s = cx.node1(g, "sqrt", Op::Sqrt(Sqrt {}), &[Some(x)])?;
    let y = cx.node1(g, "", Op::Reciprocal(Reciprocal {}), &[Some(s)])?;
    cx.output(g, 0, y)?;
    Ok(())
}

fn square(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let x = cx.input(g, 0)?;
    let y = cx.node1(g, "", Op::Mul(Mul {}), &[Some(x), Some(x)])?;
    cx.output(g, 0, y)?;
    Ok(())
}

/// floor(a / b); integers go through f64 (exact for |values| < 2^53).
fn floor_div(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let dt = cx.out_dtype(0)?;
    let mut a = cx.input(g, 0)?;
    let mut b = cx.input(g, 1)?;
    let int = dt.is_int() && !cx.in_quantized(0);
    if int {
        a = cx.cast(g, a, DType::F64)?;
        b = cx.cast(g, b, DType::F64)?;
    }
    let q = cx.node1(g, "div", Op::Div(Div {}), &[Some(a), Some(b)])?;
    let mut y = cx.node1(g, "floor", Op::Floor(Floor {}), &[Some(q)])?;
    if int {
        y = cx.cast(g, y, dt)?;
    }
    cx.output(g, 0, y)?;
    Ok(())
}

/// a - floor(a / b) * b (sign of the divisor, like Python); integers use Mod(fmod = 0).
fn floor_mod(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let dt = cx.out_dtype(0)?;
    let a = cx.input(g, 0)?;
    let b = cx.input(g, 1)?;
    if dt.is_int() && !cx.in_quantized(0) {
        let y = cx.node1(g, "", Op::Mod(Mod { fmod: 0 }), &[Some(a), Some(b)])?;
        cx.output(g, 0, y)?;
        return Ok(());
    }
    let q = cx.node1(g, "div", Op::Div(Div {}), &[Some(a), Some(b)])?;
    let f = cx.node1(g, "floor", Op::Floor(Floor {}), &[Some(q)])?;
    let m = cx.node1(g, "mul", Op::Mul(Mul {}), &[Some(f), Some(b)])?;
    let y = cx.node1(g, "", Op::Sub(Sub {}), &[Some(a), Some(m)])?;
    cx.output(g, 0, y)?;
    Ok(())
}

fn add_n(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let mut ins = Vec::new();
    for i in 0..cx.n_inputs() {
        ins.push(Some(cx.input(g, i)?));
    }
    let y = cx.node1(g, "", Op::Sum(Sum {}), &ins)?;
    cx.output(g, 0, y)?;
    Ok(())
}
