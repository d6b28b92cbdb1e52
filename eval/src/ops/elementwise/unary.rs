//! Unary math ops and activations (float ops via [`map_float`], plus the integer-capable
//! Abs, Neg, Sign, Relu, Shrink) and the f64 `erf` they need.

use super::kernels::{Num, dtype_err, map_float, map_via_f64, num_map};
use crate::error::OpError;
use crate::tensor::Tensor;
use edgeport_ir::Op;
use edgeport_ir::ops::math::{Celu, Elu, Gelu, HardSigmoid, LeakyRelu, Selu, Swish, ThresholdedRelu};
use edgeport_ir::ops::nn::Shrink;

/// Runs a unary op on `x`, or `None` if `op` is not one of them.
pub fn run(op: &Op, x: &Tensor) -> Option<Result<Tensor, OpError>> {
    let f = |g: fn(f64) -> f64| map_float(x, g);
    Some(match op {
        Op::Abs(_) => abs(x),
        Op::Neg(_) => neg(x),
        Op::Sign(_) => sign(x),
        Op::Relu(_) => relu(x),
        Op::Acos(_) => f(f64::acos),
        Op::Acosh(_) => f(f64::acosh),
        Op::Asin(_) => f(f64::asin),
        Op::Asinh(_) => f(f64::asinh),
        Op::Atan(_) => f(f64::atan),
        Op::Atanh(_) => f(f64::atanh),
        Op::Ceil(_) => f(f64::ceil),
        Op::Floor(_) => f(f64::floor),
        Op::Round(_) => f(f64::round_ties_even),
        Op::Cos(_) => f(f64::cos),
        Op::Cosh(_) => f(f64::cosh),
        Op::Sin(_) => f(f64::sin),
        Op::Sinh(_) => f(f64::sinh),
        Op::Tan(_) => f(f64::tan),
        Op::Tanh(_) => f(f64::tanh),
        Op::Exp(_) => f(f64::exp),
        Op::Log(_) => f(f64::ln),
        Op::Sqrt(_) => f(f64::sqrt),
        Op::Erf(_) => f(erf),
        Op::Reciprocal(_) => f(|v| 1.0 / v),
        Op::Sigmoid(_) => f(sigmoid),
        Op::Softplus(_) => f(softplus),
        Op::Softsign(_) => f(|v| v / (1.0 + v.abs())),
        Op::Mish(_) => f(|v| v * softplus(v).tanh()),
        Op::HardSwish(_) => f(|v| v * (v / 6.0 + 0.5).clamp(0.0, 1.0)),
        Op::Celu(Celu { alpha }) => {
            let a = *alpha as f64;
            map_float(x, |v| v.max(0.0) + (a * ((v / a).exp() - 1.0)).min(0.0))
        }
        Op::Elu(Elu { alpha }) => {
            let a = *alpha as f64;
            map_float(x, |v| if v < 0.0 { a * (v.exp() - 1.0) } else { v })
        }
        Op::Selu(Selu { alpha, gamma }) => {
            let (a, g) = (*alpha as f64, *gamma as f64);
            map_float(x, |v| if v > 0.0 { g * v } else { g * (a * v.exp() - a) })
        }
        Op::LeakyRelu(LeakyRelu { alpha }) => {
            let a = *alpha as f64;
            map_float(x, |v| if v < 0.0 { a * v } else { v })
        }
        Op::ThresholdedRelu(ThresholdedRelu { alpha }) => {
            let a = *alpha as f64;
            map_float(x, |v| if v > a { v } else { 0.0 })
        }
        Op::HardSigmoid(HardSigmoid { alpha, beta }) => {
            let (a, b) = (*alpha as f64, *beta as f64);
            map_float(x, |v| (a * v + b).clamp(0.0, 1.0))
        }
        Op::Swish(Swish { alpha }) => {
            let a = *alpha as f64;
            map_float(x, |v| v * sigmoid(a * v))
        }
        Op::Gelu(Gelu { approximate }) => gelu(x, approximate),
        Op::Shrink(Shrink { bias, lambd }) => {
            let (b, l) = (*bias as f64, *lambd as f64);
            map_via_f64(x, |v| {
                if v < -l {
                    v + b
                } else if v > l {
                    v - b
                } else {
                    0.0
                }
            })
        }
        _ => return None,
    })
}

fn abs(x: &Tensor) -> Result<Tensor, OpError> {
    Ok(num_map!(x, a => a.mapv(Num::abs_)))
}

fn neg(x: &Tensor) -> Result<Tensor, OpError> {
    Ok(num_map!(x, a => a.mapv(Num::neg_)))
}

fn sign(x: &Tensor) -> Result<Tensor, OpError> {
    Ok(num_map!(x, a => a.mapv(Num::sign_)))
}

fn relu(x: &Tensor) -> Result<Tensor, OpError> {
    if matches!(x, Tensor::Bool(_) | Tensor::Str(_) | Tensor::Bits(..)) {
        return Err(dtype_err(x));
    }
    Ok(num_map!(x, a => a.mapv(|v| if v.lt_zero() { Num::ZERO } else { v })))
}

fn gelu(x: &Tensor, approximate: &str) -> Result<Tensor, OpError> {
    match approximate {
        "none" => map_float(x, |v| 0.5 * v * (1.0 + erf(v / std::f64::consts::SQRT_2))),
        "tanh" => {
            let k = (2.0 / std::f64::consts::PI).sqrt();
            map_float(x, |v| 0.5 * v * (1.0 + (k * (v + 0.044715 * v * v * v)).tanh()))
        }
        other => Err(OpError::invalid(format!("Gelu: unknown approximate mode '{other}'"))),
    }
}

fn sigmoid(v: f64) -> f64 {
    if v >= 0.0 {
        1.0 / (1.0 + (-v).exp())
    } else {
        let e = v.exp();
        e / (1.0 + e)
    }
}

/// ln(1 + e^v) without overflow.
fn softplus(v: f64) -> f64 {
    if v > 30.0 { v + (-v).exp().ln_1p() } else { v.exp().ln_1p() }
}

/// The error function (absolute error below 1e-13): its Maclaurin series for |x| < 3, and a continued
/// fraction for erfc beyond.
pub fn erf(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let a = x.abs();
    let r = if a < 3.0 {
        // erf(a) = 2/sqrt(pi) * sum_n (-1)^n a^(2n+1) / (n! (2n+1))
        let a2 = a * a;
        let mut term = a; // (-1)^n a^(2n+1) / n!
        let mut sum = a;
        for n in 1..200 {
            let n = n as f64;
            term *= -a2 / n;
            let add = term / (2.0 * n + 1.0);
            sum += add;
            if add.abs() <= 1e-17 * sum.abs() {
                break;
            }
        }
        sum * std::f64::consts::FRAC_2_SQRT_PI
    } else if a > 6.0 {
        1.0
    } else {
        // erfc(a) = exp(-a^2)/sqrt(pi) * 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + 2/(a + ...)))))
        let mut f = a;
        for k in (1..60).rev() {
            f = a + (k as f64 / 2.0) / f;
        }
        1.0 - (-a * a).exp() / (std::f64::consts::PI.sqrt() * f)
    };
    if x < 0.0 { -r } else { r }
}

#[cfg(test)]
mod tests {
    use super::erf;

    #[test]
    fn erf_matches_known_values() {
        let cases = [
            (0.5, 0.520_499_877_813_046_5),
            (1.0, 0.842_700_792_949_714_9),
            (2.9, 0.999_958_902_121_900_3),
        ];
        for (x, want) in cases {
            assert!((erf(x) - want).abs() < 1e-13, "erf({x}) = {}", erf(x));
        }
        assert!((erf(3.5) - 0.999_999_256_901_627_7).abs() < 1e-15);
        assert!((erf(-1.0) + 0.842_700_792_949_714_9).abs() < 1e-15);
    }
}
