//! Casting between dtypes (the `Cast`/`CastLike` kernels, also used by every op that converts),
//! and the 8-bit/4-bit float and sub-byte integer codecs.

use crate::error::OpError;
use crate::tensor::{Tensor, is_bits};
use edgeport_ir::DType;
use ndarray::{ArrayD, IxDyn};
use std::sync::OnceLock;

/// Rounding of casts to FLOAT8E8M0 (ONNX `Cast`'s `round_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RoundMode {
    /// Away from zero (the default).
    #[default]
    Up,
    /// Toward zero.
    Down,
    /// To nearest, ties up.
    Nearest,
}

impl RoundMode {
    /// Parses the attribute value.
    pub fn parse(s: &str) -> Result<RoundMode, OpError> {
        match s {
            "up" => Ok(RoundMode::Up),
            "down" => Ok(RoundMode::Down),
            "nearest" => Ok(RoundMode::Nearest),
            _ => Err(OpError::invalid(format!("unknown round_mode '{s}'"))),
        }
    }
}

/// Casts `t` to `to`. `saturate` applies to the 8-bit float targets as in ONNX `Cast`.
pub fn cast(t: &Tensor, to: DType, saturate: bool) -> Result<Tensor, OpError> {
    cast_with(t, to, saturate, RoundMode::Up)
}

/// Casts `t` to `to` with ONNX `Cast`'s `saturate` and `round_mode` attributes.
pub fn cast_with(t: &Tensor, to: DType, saturate: bool, round_mode: RoundMode) -> Result<Tensor, OpError> {
    let from = t.dtype();
    if from == to {
        return Ok(t.clone());
    }
    let shape = t.shape().to_vec();
    if let Tensor::Str(a) = t {
        let v: Vec<f64> = a.iter().map(|s| parse_number(s)).collect();
        return Tensor::from_f64(to, &shape, v);
    }
    if to == DType::String {
        let v: Vec<String> = match t {
            Tensor::F32(a) => a.iter().map(|&x| format_f32(x)).collect(),
            Tensor::F64(a) => a.iter().map(|&x| format_f64(x)).collect(),
            Tensor::F16(a) => a.iter().map(|x| format_f32(x.to_f32())).collect(),
            Tensor::BF16(a) => a.iter().map(|x| format_f32(x.to_f32())).collect(),
            Tensor::Bool(a) => a.iter().map(|&x| if x { "True".into() } else { "False".into() }).collect(),
            other if other.dtype().is_int() => other.to_i64_vec()?.iter().map(|x| x.to_string()).collect(),
            other => other.to_f64_vec()?.iter().map(|&x| format_f64(x)).collect(),
        };
        return Ok(Tensor::Str(ArrayD::from_shape_vec(IxDyn(&shape), v).expect("shape")));
    }
    let int_like = |d: DType| (d.is_int() && !is_bits(d)) || d == DType::Bool || d == DType::U64;
    if int_like(from) && int_like(to) {
        let v: Vec<i128> = match t {
            Tensor::U64(a) => a.iter().map(|&x| x as i128).collect(),
            other => other.to_i64_vec()?.into_iter().map(|x| x as i128).collect(),
        };
        return Tensor::from_i128(to, &shape, v);
    }
    if to == DType::F8E8M0 {
        let v = t.to_f64_vec()?;
        let codes = v.into_iter().map(|x| f32_to_e8m0(x as f32, saturate, round_mode)).collect();
        return Ok(Tensor::Bits(to, ArrayD::from_shape_vec(IxDyn(&shape), codes).expect("shape")));
    }
    if matches!(to, DType::I4 | DType::U4 | DType::I2 | DType::U2) {
        // Like the wider integer casts: truncate toward zero, then wrap to the low bits.
        let mask = if to.bits() == 4 { 0xF } else { 0x3 };
        let codes = match t {
            Tensor::U64(a) => a.iter().map(|&x| x as u8 & mask).collect(),
            other => other.to_f64_vec()?.into_iter().map(|x| (x as i64 as u8) & mask).collect(),
        };
        return Ok(Tensor::Bits(to, ArrayD::from_shape_vec(IxDyn(&shape), codes).expect("shape")));
    }
    if is_bits(to) {
        let v = t.to_f64_vec()?;
        let codes = v.into_iter().map(|x| f32_to_bits(to, x as f32, saturate)).collect();
        return Ok(Tensor::Bits(to, ArrayD::from_shape_vec(IxDyn(&shape), codes).expect("shape")));
    }
    if to == DType::BF16 || to == DType::F16 {
        // Round once from the source precision (f32 → f16 must not go through another rounding).
        let v = t.to_f64_vec()?;
        return Tensor::from_f64(to, &shape, v);
    }
    let v = t.to_f64_vec()?;
    Tensor::from_f64(to, &shape, v)
}

fn parse_number(s: &str) -> f64 {
    let t = s.trim();
    match t.to_ascii_lowercase().as_str() {
        "nan" | "+nan" | "-nan" => f64::NAN,
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => t.parse::<f64>().unwrap_or(f64::NAN),
    }
}

fn format_f32(x: f32) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "INF".into() } else { "-INF".into() }
    } else {
        format!("{x}")
    }
}

fn format_f64(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "INF".into() } else { "-INF".into() }
    } else {
        format!("{x}")
    }
}

/// Layout of a small float format.
struct Mini {
    e: u32,
    m: u32,
    bias: i32,
}

fn mini(d: DType) -> Option<Mini> {
    Some(match d {
        DType::F8E4M3FN => Mini { e: 4, m: 3, bias: 7 },
        DType::F8E4M3FNUZ => Mini { e: 4, m: 3, bias: 8 },
        DType::F8E5M2 => Mini { e: 5, m: 2, bias: 15 },
        DType::F8E5M2FNUZ => Mini { e: 5, m: 2, bias: 16 },
        DType::F4E2M1 => Mini { e: 2, m: 1, bias: 1 },
        _ => return None,
    })
}

/// Decodes a bit code (integers give their value; E8M0 is a power of two).
pub fn bits_to_f32(d: DType, c: u8) -> f32 {
    match d {
        DType::I4 => (((c << 4) as i8) >> 4) as f32,
        DType::U4 => (c & 0xF) as f32,
        DType::I2 => (((c << 6) as i8) >> 6) as f32,
        DType::U2 => (c & 3) as f32,
        DType::F8E8M0 => {
            if c == 0xFF {
                f32::NAN
            } else {
                2f32.powi(c as i32 - 127)
            }
        }
        _ => {
            let Some(f) = mini(d) else { return f32::NAN };
            let total = 1 + f.e + f.m;
            let c = c as u32 & ((1 << total) - 1);
            let sign = (c >> (f.e + f.m)) & 1;
            let e = (c >> f.m) & ((1 << f.e) - 1);
            let m = c & ((1 << f.m) - 1);
            let all_e = (1 << f.e) - 1;
            let all_m = (1 << f.m) - 1;
            match d {
                DType::F8E4M3FN if e == all_e && m == all_m => return f32::NAN,
                DType::F8E4M3FNUZ | DType::F8E5M2FNUZ if c == 0x80 => return f32::NAN,
                DType::F8E5M2 if e == all_e => {
                    return if m == 0 {
                        if sign == 1 { f32::NEG_INFINITY } else { f32::INFINITY }
                    } else {
                        f32::NAN
                    };
                }
                _ => {}
            }
            let mag = if e == 0 {
                m as f32 * 2f32.powi(1 - f.bias - f.m as i32)
            } else {
                (1.0 + m as f32 / (1 << f.m) as f32) * 2f32.powi(e as i32 - f.bias)
            };
            if sign == 1 { -mag } else { mag }
        }
    }
}

/// Sorted (value, code) tables of the non-negative finite values of each small float format.
fn table(d: DType) -> &'static [(f32, u8)] {
    type Tables = Vec<(DType, Vec<(f32, u8)>)>;
    static T: OnceLock<Tables> = OnceLock::new();
    let all = T.get_or_init(|| {
        [DType::F8E4M3FN, DType::F8E4M3FNUZ, DType::F8E5M2, DType::F8E5M2FNUZ, DType::F4E2M1]
            .into_iter()
            .map(|d| {
                let n = if d == DType::F4E2M1 { 8u16 } else { 128 };
                let mut v: Vec<(f32, u8)> = (0..n)
                    .map(|c| (bits_to_f32(d, c as u8), c as u8))
                    .filter(|(x, _)| x.is_finite())
                    .collect();
                v.sort_by(|a, b| a.0.total_cmp(&b.0));
                (d, v)
            })
            .collect()
    });
    all.iter().find(|(x, _)| *x == d).map(|(_, v)| v.as_slice()).unwrap_or(&[])
}

/// Encodes f32 as FLOAT8E8M0 (the f32 exponent, rounded by the mantissa as `mode` says; NaN
/// and ±inf give NaN; with `saturate`, rounding never passes the largest exponent).
pub fn f32_to_e8m0(x: f32, saturate: bool, mode: RoundMode) -> u8 {
    let bits = x.to_bits();
    let e = (bits >> 23) & 0xFF;
    if e == 0xFF {
        return 0xFF;
    }
    let frac = bits & 0x7F_FFFF;
    let up = match mode {
        RoundMode::Down => false,
        RoundMode::Up => frac != 0,
        RoundMode::Nearest => {
            let g = bits & 0x40_0000 != 0;
            let rs = bits & 0x3F_FFFF != 0;
            g && (rs || e > 0)
        }
    };
    let up = up && !(saturate && e == 0xFE);
    (e + up as u32).min(0xFF) as u8
}

/// Encodes f32 into a bit code, rounding to nearest even; out of range saturates to the largest
/// finite value when `saturate`, else becomes NaN (or ±inf for E5M2).
pub fn f32_to_bits(d: DType, x: f32, saturate: bool) -> u8 {
    match d {
        DType::I4 | DType::U4 | DType::I2 | DType::U2 => {
            let (lo, hi) = match d {
                DType::I4 => (-8.0, 7.0),
                DType::U4 => (0.0, 15.0),
                DType::I2 => (-2.0, 1.0),
                _ => (0.0, 3.0),
            };
            let r = if x.is_nan() { 0.0 } else { x.round_ties_even().clamp(lo, hi) };
            let mask = if d.bits() == 4 { 0xF } else { 0x3 };
            return (r as i32 as u8) & mask;
        }
        DType::F8E8M0 => return f32_to_e8m0(x, saturate, RoundMode::Up),
        _ => {}
    }
    let Some(f) = mini(d) else { return 0 };
    // FLOAT4E2M1 has neither inf nor NaN: it always saturates.
    let saturate = saturate || d == DType::F4E2M1;
    let sign_bit = 1u8 << (f.e + f.m);
    let nan_code = match d {
        DType::F8E4M3FN => 0x7F,
        DType::F8E5M2 => 0x7F,
        DType::F8E4M3FNUZ | DType::F8E5M2FNUZ => 0x80,
        // FLOAT4E2M1 has no NaN; NaN becomes -0 as in the ONNX reference.
        _ => 0x8,
    };
    if x.is_nan() {
        return nan_code;
    }
    let neg = x.is_sign_negative();
    let a = x.abs();
    let t = table(d);
    let (max, max_code) = *t.last().expect("table");
    let fnuz = matches!(d, DType::F8E4M3FNUZ | DType::F8E5M2FNUZ);
    let code = if a.is_infinite() {
        if saturate {
            max_code
        } else if d == DType::F8E5M2 {
            0x7C
        } else {
            return nan_code;
        }
    } else {
        // Nearest by value, ties to the even code.
        let i = t.partition_point(|(v, _)| *v < a);
        if i >= t.len() {
            // Above max: values within half an ulp round to max, others overflow.
            let prev = t[t.len() - 2].0;
            let half_ulp = (max - prev) / 2.0;
            if a < max + half_ulp || saturate {
                max_code
            } else if d == DType::F8E5M2 {
                0x7C
            } else {
                return nan_code;
            }
        } else if t[i].0 == a || i == 0 {
            t[i].1
        } else {
            let (lo, lc) = t[i - 1];
            let (hi, hc) = t[i];
            let dl = a - lo;
            let dh = hi - a;
            if dl < dh || (dl == dh && lc % 2 == 0) { lc } else { hc }
        }
    };
    if neg && (code != 0 || !fnuz) {
        if fnuz && code == 0 {
            return 0;
        }
        code | sign_bit
    } else {
        code
    }
}
