//! Elementwise arithmetic, comparisons, logic and Select: TF's broadcasting binary ops map
//! onto ONNX's (same numpy broadcasting); TF-only forms (FloorDiv, FloorMod, Rsqrt, Square,
//! SquaredDifference, Log1p, …) are composed from ONNX ops.

use super::{Cx, Rule, elem_type, same_inputs, scalar};
use edgeport_ir::ops::logical::{And, Equal, Greater, GreaterOrEqual, Less, LessOrEqual, Not, Or, Xor};
use edgeport_ir::ops::math::{
    Abs, Acos, Asin, Atan, Ceil, Cos, Cosh, Div, Erf, Exp, Floor, Log, Max, Min, Mod, Mul, Neg, Pow, Reciprocal, Round, Sign, Sin, Sinh,
    Sqrt, Sub, Sum, Tan,
};
use edgeport_ir::ops::tensor::Where;
use edgeport_ir::{Op, ValueId};

pub const OPS: &[&str] = &[
    "Add",
    "AddV2",
    "Sub",
    "Mul",
    "RealDiv",
    "Div",
    "DivNoNan",
    "FloorDiv",
    "FloorMod",
    "TruncateDiv",
    "Maximum",
    "Minimum",
    "Pow",
    "SquaredDifference",
    "AddN",
    "Neg",
    "Abs",
    "Exp",
    "Log",
    "Log1p",
    "Sqrt",
    "Rsqrt",
    "Square",
    "Reciprocal",
    "Inv",
    "Floor",
    "Ceil",
    "Round",
    "Rint",
    "Sign",
    "Sin",
    "Cos",
    "Tan",
    "Asin",
    "Acos",
    "Atan",
    "Sinh",
    "Cosh",
    "Erf",
    "Equal",
    "NotEqual",
    "Less",
    "LessEqual",
    "Greater",
    "GreaterEqual",
    "LogicalAnd",
    "LogicalOr",
    "LogicalNot",
    "LogicalXor",
    "Select",
    "SelectV2",
];

macro_rules! simple {
    ($op:expr) => {
        (|cx: &mut Cx<'_>| same_inputs(cx, $op)) as Rule
    };
}

pub fn rule(op: &str) -> Option<Rule> {
    Some(match op {
        "Add" | "AddV2" => simple!(Op::Add(edgeport_ir::ops::math::Add {})),
        "Sub" => simple!(Op::Sub(Sub {})),
        "Mul" => simple!(Op::Mul(Mul {})),
        "RealDiv" | "Div" | "TruncateDiv" => simple!(Op::Div(Div {})),
        "Maximum" => simple!(Op::Max(Max {})),
        "Minimum" => simple!(Op::Min(Min {})),
        "Pow" => simple!(Op::Pow(Pow {})),
        "AddN" => simple!(Op::Sum(Sum {})),
        "Neg" => simple!(Op::Neg(Neg {})),
        "Abs" => simple!(Op::Abs(Abs {})),
        "Exp" => simple!(Op::Exp(Exp {})),
        "Log" => simple!(Op::Log(Log {})),
        "Sqrt" => simple!(Op::Sqrt(Sqrt {})),
        "Reciprocal" | "Inv" => simple!(Op::Reciprocal(Reciprocal {})),
        "Floor" => simple!(Op::Floor(Floor {})),
        "Ceil" => simple!(Op::Ceil(Ceil {})),
        "Round" | "Rint" => simple!(Op::Round(Round {})),
        "Sign" => simple!(Op::Sign(Sign {})),
        "Sin" => simple!(Op::Sin(Sin {})),
        "Cos" => simple!(Op::Cos(Cos {})),
        "Tan" => simple!(Op::Tan(Tan {})),
        "Asin" => simple!(Op::Asin(Asin {})),
        "Acos" => simple!(Op::Acos(Acos {})),
        "Atan" => simple!(Op::Atan(Atan {})),
        "Sinh" => simple!(Op::Sinh(Sinh {})),
        "Cosh" => simple!(Op::Cosh(Cosh {})),
        "Erf" => simple!(Op::Erf(Erf {})),
        "Equal" => simple!(Op::Equal(Equal {})),
        "Less" => simple!(Op::Less(Less {})),
        "LessEqual" => simple!(Op::LessOrEqual(LessOrEqual {})),
        "Greater" => simple!(Op::Greater(Greater {})),
        "GreaterEqual" => simple!(Op::GreaterOrEqual(GreaterOrEqual {})),
        "LogicalAnd" => simple!(Op::And(And {})),
        "LogicalOr" => simple!(Op::Or(Or {})),
        "LogicalXor" => simple!(Op::Xor(Xor {})),
        "LogicalNot" => simple!(Op::Not(Not {})),
        "SelectV2" => simple!(Op::Where(Where {})),
        "Select" => select_v1,
        "NotEqual" => not_equal,
        "Square" => square,
        "Rsqrt" => rsqrt,
        "Log1p" => log1p,
        "SquaredDifference" => squared_difference,
        "FloorDiv" => floor_div,
        "FloorMod" => floor_mod,
        "DivNoNan" => div_no_nan,
        _ => return None,
    })
}

/// TF1 Select: a rank-1 condition picks whole rows of higher-rank operands.
fn select_v1(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let (c, x, y) = (cx.input(0)?, cx.input(1)?, cx.input(2)?);
    let (rc, rx) = (cx.rank(c), cx.rank(x));
    let c = match (rc, rx) {
        (Some(1), Some(r)) if r > 1 => {
            let mut shape = vec![-1i64];
            shape.extend(std::iter::repeat_n(1, r - 1));
            let s = cx.const_i64("cond_shape", &shape, false)?;
            cx.op1("cond", Op::Reshape(edgeport_ir::ops::tensor::Reshape::default()), &[c, s])?
        }
        (Some(_), Some(_)) => c,
        _ => return Err("Select needs the ranks of its condition and operands".into()),
    };
    cx.op1("", Op::Where(Where {}), &[c, x, y]).map(|v| vec![v])
}

fn two(cx: &Cx<'_>) -> Result<(ValueId, ValueId), String> {
    Ok((cx.input(0)?, cx.input(1)?))
}

fn not_equal(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let (a, b) = two(cx)?;
    let e = cx.op1("eq", Op::Equal(Equal {}), &[a, b])?;
    cx.op1("", Op::Not(Not {}), &[e]).map(|v| vec![v])
}

fn square(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let x = cx.input(0)?;
    cx.op1("", Op::Mul(Mul {}), &[x, x]).map(|v| vec![v])
}

fn rsqrt(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let x = cx.input(0)?;
    let s = cx.op1("sqrt", Op::Sqrt(Sqrt {}), &[x])?;
    cx.op1("", Op::Reciprocal(Reciprocal {}), &[s]).map(|v| vec![v])
}

fn log1p(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let x = cx.input(0)?;
    let dt = elem_type(cx);
    let one = scalar(cx, dt, 1.0, "one")?;
    let s = cx.op1("plus1", Op::Add(edgeport_ir::ops::math::Add {}), &[x, one])?;
    cx.op1("", Op::Log(Log {}), &[s]).map(|v| vec![v])
}

fn squared_difference(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let (a, b) = two(cx)?;
    let d = cx.op1("diff", Op::Sub(Sub {}), &[a, b])?;
    cx.op1("", Op::Mul(Mul {}), &[d, d]).map(|v| vec![v])
}

/// floor(a / b): for floats Floor(Div); for integers (a - mod(a, b)) / b with Python-style mod.
fn floor_div(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let (a, b) = two(cx)?;
    if elem_type(cx).is_float() {
        let d = cx.op1("div", Op::Div(Div {}), &[a, b])?;
        return cx.op1("", Op::Floor(Floor {}), &[d]).map(|v| vec![v]);
    }
    let m = cx.op1("mod", Op::Mod(Mod { fmod: 0 }), &[a, b])?;
    let s = cx.op1("sub", Op::Sub(Sub {}), &[a, m])?;
    cx.op1("", Op::Div(Div {}), &[s, b]).map(|v| vec![v])
}

/// Python-style modulo (sign of the divisor): ONNX Mod for integers, a - floor(a/b)*b for floats.
fn floor_mod(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let (a, b) = two(cx)?;
    if !elem_type(cx).is_float() {
        return cx.op1("", Op::Mod(Mod { fmod: 0 }), &[a, b]).map(|v| vec![v]);
    }
    let d = cx.op1("div", Op::Div(Div {}), &[a, b])?;
    let f = cx.op1("floor", Op::Floor(Floor {}), &[d])?;
    let p = cx.op1("prod", Op::Mul(Mul {}), &[f, b])?;
    cx.op1("", Op::Sub(Sub {}), &[a, p]).map(|v| vec![v])
}

/// a / b, 0 where b == 0.
fn div_no_nan(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let (a, b) = two(cx)?;
    let dt = elem_type(cx);
    let zero = scalar(cx, dt, 0.0, "zero")?;
    let one = scalar(cx, dt, 1.0, "one")?;
    let is0 = cx.op1("is_zero", Op::Equal(Equal {}), &[b, zero])?;
    let safe = cx.op1("safe", Op::Where(Where {}), &[is0, one, b])?;
    let q = cx.op1("div", Op::Div(Div {}), &[a, safe])?;
    cx.op1("", Op::Where(Where {}), &[is0, zero, q]).map(|v| vec![v])
}
