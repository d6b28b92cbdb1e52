//! Reading inline tensor values `{v, v, ...}` back into little-endian bytes, for every dtype:
//! floats (with `inf`/`nan`), integers with range checks, `true`/`false`, quoted strings, and
//! `0xhh` bytes for the packed, complex and 8-bit float types.

use super::lex::Tok;
use super::parse::{ParseError, Parser};
use crate::dtype::DType;
use crate::tensor::{Bytes, Tensor, checked_numel};

/// Reads `{...}` for a tensor of `dtype` and `shape`; `at` is the token index of the dtype.
pub(crate) fn parse_values(p: &mut Parser<'_>, dtype: DType, shape: Vec<usize>, at: usize) -> Result<Tensor, ParseError> {
    p.punct('{')?;
    let n = checked_numel(&shape).map_err(|e| p.err_at(at, e.to_string()))?;
    if dtype == DType::String {
        let mut strs = Vec::new();
        if !p.eat_punct('}') {
            loop {
                match p.next() {
                    Tok::Str(b) => strs.push(b),
                    other => {
                        return Err(p.err_at(p_pos(p), format!("expected a string, found {}", other.describe())));
                    }
                }
                if p.eat_punct('}') {
                    break;
                }
                p.punct(',')?;
            }
        }
        return Tensor::from_strings(shape, strs).map_err(|e| p.err_at(at, e.to_string()));
    }
    let mut bytes: Vec<u8> = Vec::new();
    let mut count = 0usize;
    if !p.eat_punct('}') {
        loop {
            push_value(p, dtype, &mut bytes)?;
            count += 1;
            if p.eat_punct('}') {
                break;
            }
            p.punct(',')?;
        }
    }
    let hex = uses_hex(dtype);
    let expected = if hex { dtype.byte_len(n).unwrap_or(usize::MAX) } else { n };
    if count != expected {
        let unit = if hex { "bytes" } else { "values" };
        return Err(p.err_at(at, format!("{dtype}{shape:?} needs {expected} {unit}, found {count}")));
    }
    Tensor::from_bytes(dtype, shape, Bytes::from_vec(bytes)).map_err(|e| p.err_at(at, e.to_string()))
}

/// The index of the token just consumed.
fn p_pos(p: &Parser<'_>) -> usize {
    p.pos.saturating_sub(1)
}

/// Types whose inline values are raw bytes.
pub(crate) fn uses_hex(d: DType) -> bool {
    !matches!(
        d,
        DType::F32
            | DType::F64
            | DType::F16
            | DType::BF16
            | DType::I8
            | DType::U8
            | DType::Bool
            | DType::I16
            | DType::U16
            | DType::I32
            | DType::U32
            | DType::I64
            | DType::U64
            | DType::String
    )
}

fn push_value(p: &mut Parser<'_>, dtype: DType, out: &mut Vec<u8>) -> Result<(), ParseError> {
    let at = p.pos;
    if uses_hex(dtype) {
        return match p.next() {
            Tok::Hex(b) => {
                out.push(b);
                Ok(())
            }
            other => Err(p.err_at(at, format!("expected a byte 0xhh, found {}", other.describe()))),
        };
    }
    match dtype {
        DType::F32 => out.extend_from_slice(&p.float32()?.to_le_bytes()),
        DType::F64 => out.extend_from_slice(&p.float()?.to_le_bytes()),
        DType::F16 => out.extend_from_slice(&half::f16::from_f32(p.float32()?).to_le_bytes()),
        DType::BF16 => out.extend_from_slice(&half::bf16::from_f32(p.float32()?).to_le_bytes()),
        DType::Bool => {
            let b = match p.next() {
                Tok::Ident(s) if s == "true" => 1u8,
                Tok::Ident(s) if s == "false" => 0,
                Tok::Num(s) if s == "1" => 1,
                Tok::Num(s) if s == "0" => 0,
                other => {
                    return Err(p.err_at(at, format!("expected true or false, found {}", other.describe())));
                }
            };
            out.push(b);
        }
        _ => {
            let v = match p.next() {
                Tok::Num(s) => s.parse::<i128>().map_err(|_| p.err_at(at, format!("'{s}' is not an integer")))?,
                other => {
                    return Err(p.err_at(at, format!("expected an integer, found {}", other.describe())));
                }
            };
            let range = || p.err_at(at, format!("{v} is out of range for {dtype}"));
            match dtype {
                DType::I8 => out.extend_from_slice(&i8::try_from(v).map_err(|_| range())?.to_le_bytes()),
                DType::U8 => out.extend_from_slice(&u8::try_from(v).map_err(|_| range())?.to_le_bytes()),
                DType::I16 => out.extend_from_slice(&i16::try_from(v).map_err(|_| range())?.to_le_bytes()),
                DType::U16 => out.extend_from_slice(&u16::try_from(v).map_err(|_| range())?.to_le_bytes()),
                DType::I32 => out.extend_from_slice(&i32::try_from(v).map_err(|_| range())?.to_le_bytes()),
                DType::U32 => out.extend_from_slice(&u32::try_from(v).map_err(|_| range())?.to_le_bytes()),
                DType::I64 => out.extend_from_slice(&i64::try_from(v).map_err(|_| range())?.to_le_bytes()),
                DType::U64 => out.extend_from_slice(&u64::try_from(v).map_err(|_| range())?.to_le_bytes()),
                _ => return Err(p.err_at(at, format!("cannot read inline values of {dtype}"))),
            }
        }
    }
    Ok(())
}
