//! The text-format parser: reads the tokens of one message body against the schema and writes
//! protobuf wire data (tags, varints, fixed-width numbers, length-delimited strings and
//! sub-messages), so that prost's decoder does the rest.

use super::TextError;
use super::lexer::{Tok, Token, tokenize};
use super::schema::{FieldInfo, Schema};
use prost_types::field_descriptor_proto::Type;

/// How deep messages may nest (real prototxt files use 3–4 levels).
const MAX_DEPTH: usize = 64;

/// Parses `src` as the text form of message `message` (`.caffe.NetParameter`) and returns its
/// protobuf wire encoding.
pub fn text_to_wire(src: &[u8], schema: &Schema, message: &str) -> Result<Vec<u8>, TextError> {
    let toks = tokenize(src)?;
    let mut p = Parser {
        toks: &toks,
        pos: 0,
        schema,
    };
    let mut out = Vec::new();
    p.body(message, None, &mut out, 0)?;
    Ok(out)
}

struct Parser<'a> {
    toks: &'a [Token],
    pos: usize,
    schema: &'a Schema,
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_tag(out: &mut Vec<u8>, number: u32, wire: u8) {
    put_varint(out, (u64::from(number) << 3) | u64::from(wire));
}

/// A scalar as written: an optional minus sign and a number, identifier or string.
enum Scalar {
    Num { neg: bool, text: String },
    Ident { neg: bool, text: String },
    Str(Vec<u8>),
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&'a Token> {
        self.toks.get(self.pos)
    }
    fn is_punct(&self, c: char) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Punct(p), .. }) if *p == c)
    }
    /// Position for errors: the current token, or just after the last one at end of input.
    fn here(&self) -> (u32, u32) {
        match self.peek().or(self.toks.last()) {
            Some(t) => (t.line, t.col),
            None => (1, 1),
        }
    }
    fn err_at(&self, t: Option<&Token>, msg: impl Into<String>) -> TextError {
        let (line, col) = match t {
            Some(t) => (t.line, t.col),
            None => self.here(),
        };
        TextError {
            line,
            col,
            msg: msg.into(),
        }
    }
    fn expect(&mut self, c: char) -> Result<(), TextError> {
        if self.is_punct(c) {
            self.pos += 1;
            Ok(())
        } else {
            let what = match self.peek() {
                Some(t) => describe(&t.tok),
                None => "end of file".into(),
            };
            Err(self.err_at(self.peek(), format!("expected '{c}', found {what}")))
        }
    }

    /// Fields until `end` (or end of input when `end` is `None`).
    fn body(&mut self, message: &str, end: Option<char>, out: &mut Vec<u8>, depth: usize) -> Result<(), TextError> {
        if depth > MAX_DEPTH {
            return Err(self.err_at(self.peek(), format!("messages nested deeper than {MAX_DEPTH}")));
        }
        loop {
            match (self.peek(), end) {
                (None, None) => return Ok(()),
                (None, Some(c)) => return Err(self.err_at(None, format!("expected '{c}' before end of file"))),
                (Some(Token { tok: Tok::Punct(p), .. }), Some(c)) if *p == c => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => {}
            }
            self.field(message, out, depth)?;
            if self.is_punct(',') || self.is_punct(';') {
                self.pos += 1;
            }
        }
    }

    fn field(&mut self, message: &str, out: &mut Vec<u8>, depth: usize) -> Result<(), TextError> {
        let tok = self.peek();
        let name = match tok {
            Some(Token { tok: Tok::Ident(n), .. }) => n.clone(),
            Some(t) => return Err(self.err_at(Some(t), format!("expected a field name, found {}", describe(&t.tok)))),
            None => return Err(self.err_at(None, "expected a field name")),
        };
        self.pos += 1;
        let info = self.schema.field(message, &name).cloned();
        let has_colon = self.is_punct(':');
        if has_colon {
            self.pos += 1;
        }
        let Some(info) = info else {
            return self.skip_value(depth);
        };
        let is_msg = matches!(info.ty, Type::Message | Type::Group);
        if self.is_punct('[') {
            self.pos += 1;
            if self.is_punct(']') {
                self.pos += 1;
                return Ok(());
            }
            loop {
                self.value(&info, &name, out, depth, has_colon)?;
                if self.is_punct(',') {
                    self.pos += 1;
                    continue;
                }
                self.expect(']')?;
                return Ok(());
            }
        }
        if !is_msg && !has_colon {
            return Err(self.err_at(self.peek(), format!("expected ':' after field '{name}'")));
        }
        self.value(&info, &name, out, depth, has_colon)
    }

    fn value(&mut self, info: &FieldInfo, name: &str, out: &mut Vec<u8>, depth: usize, _colon: bool) -> Result<(), TextError> {
        let start = self.peek();
        if matches!(info.ty, Type::Message | Type::Group) {
            let close = if self.is_punct('{') {
                '}'
            } else if self.is_punct('<') {
                '>'
            } else {
                return Err(self.err_at(start, format!("field '{name}' is a message: expected '{{'")));
            };
            self.pos += 1;
            let mut sub = Vec::new();
            self.body(&info.type_name, Some(close), &mut sub, depth + 1)?;
            put_tag(out, info.number, 2);
            put_varint(out, sub.len() as u64);
            out.extend_from_slice(&sub);
            return Ok(());
        }
        let sc = self.scalar()?;
        let bad = |p: &Self, why: &str| p.err_at(start, format!("field '{name}': {why}"));
        match info.ty {
            Type::String | Type::Bytes => {
                let Scalar::Str(s) = sc else {
                    return Err(bad(self, "expected a string"));
                };
                if info.ty == Type::String && std::str::from_utf8(&s).is_err() {
                    return Err(bad(self, "string is not valid UTF-8"));
                }
                put_tag(out, info.number, 2);
                put_varint(out, s.len() as u64);
                out.extend_from_slice(&s);
            }
            Type::Float | Type::Double => {
                let v = match sc {
                    Scalar::Num { neg, text } => parse_float(&text).map(|v| if neg { -v } else { v }),
                    Scalar::Ident { neg, text } => match text.to_ascii_lowercase().as_str() {
                        "inf" | "infinity" => Some(if neg { f64::NEG_INFINITY } else { f64::INFINITY }),
                        "nan" => Some(f64::NAN),
                        _ => None,
                    },
                    Scalar::Str(_) => None,
                }
                .ok_or_else(|| bad(self, "expected a number"))?;
                if info.ty == Type::Float {
                    put_tag(out, info.number, 5);
                    out.extend_from_slice(&(v as f32).to_le_bytes());
                } else {
                    put_tag(out, info.number, 1);
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
            Type::Bool => {
                let v = match &sc {
                    Scalar::Ident { neg: false, text } => match text.as_str() {
                        "true" | "True" | "t" => Some(true),
                        "false" | "False" | "f" => Some(false),
                        _ => None,
                    },
                    Scalar::Num { neg: false, text } if text == "1" => Some(true),
                    Scalar::Num { neg: false, text } if text == "0" => Some(false),
                    _ => None,
                }
                .ok_or_else(|| bad(self, "expected true or false"))?;
                put_tag(out, info.number, 0);
                put_varint(out, u64::from(v));
            }
            Type::Enum => {
                let v = match &sc {
                    Scalar::Ident { neg: false, text } => {
                        self.schema.enum_value(&info.type_name, text).map(i64::from).ok_or_else(|| {
                            bad(
                                self,
                                &format!("'{text}' is not a value of enum {}", info.type_name.trim_start_matches('.')),
                            )
                        })?
                    }
                    Scalar::Num { neg, text } => {
                        let v = parse_int(text).ok_or_else(|| bad(self, "expected an enum value"))?;
                        let v = if *neg { -v } else { v };
                        i32::try_from(v).map_err(|_| bad(self, "enum number out of range"))?.into()
                    }
                    _ => return Err(bad(self, "expected an enum value")),
                };
                put_tag(out, info.number, 0);
                put_varint(out, v as u64);
            }
            ty => {
                let (neg, text) = match sc {
                    Scalar::Num { neg, text } => (neg, text),
                    _ => return Err(bad(self, "expected an integer")),
                };
                let mag = parse_int(&text).ok_or_else(|| bad(self, &format!("'{text}' is not an integer")))?;
                let v = if neg { -mag } else { mag };
                let (lo, hi) = match ty {
                    Type::Int32 | Type::Sint32 | Type::Sfixed32 => (i128::from(i32::MIN), i128::from(i32::MAX)),
                    Type::Uint32 | Type::Fixed32 => (0, i128::from(u32::MAX)),
                    Type::Int64 | Type::Sint64 | Type::Sfixed64 => (i128::from(i64::MIN), i128::from(i64::MAX)),
                    _ => (0, i128::from(u64::MAX)),
                };
                if v < lo || v > hi {
                    return Err(bad(self, &format!("{v} is out of range")));
                }
                match ty {
                    Type::Sint32 | Type::Sint64 => {
                        put_tag(out, info.number, 0);
                        let v = v as i64;
                        put_varint(out, ((v << 1) ^ (v >> 63)) as u64);
                    }
                    Type::Fixed32 | Type::Sfixed32 => {
                        put_tag(out, info.number, 5);
                        out.extend_from_slice(&(v as u32).to_le_bytes());
                    }
                    Type::Fixed64 | Type::Sfixed64 => {
                        put_tag(out, info.number, 1);
                        out.extend_from_slice(&(v as u64).to_le_bytes());
                    }
                    _ => {
                        put_tag(out, info.number, 0);
                        put_varint(out, v as i64 as u64);
                    }
                }
            }
        }
        Ok(())
    }

    fn scalar(&mut self) -> Result<Scalar, TextError> {
        let mut neg = false;
        if self.is_punct('-') {
            self.pos += 1;
            neg = true;
        }
        let t = self.peek();
        let out = match t {
            Some(Token { tok: Tok::Number(n), .. }) => Scalar::Num { neg, text: n.clone() },
            Some(Token { tok: Tok::Ident(n), .. }) => Scalar::Ident { neg, text: n.clone() },
            Some(Token { tok: Tok::Str(s), .. }) if !neg => {
                let mut s = s.clone();
                self.pos += 1;
                while let Some(Token { tok: Tok::Str(more), .. }) = self.peek() {
                    s.extend_from_slice(more);
                    self.pos += 1;
                }
                return Ok(Scalar::Str(s));
            }
            Some(t) => return Err(self.err_at(Some(t), format!("expected a value, found {}", describe(&t.tok)))),
            None => return Err(self.err_at(None, "expected a value before end of file")),
        };
        self.pos += 1;
        Ok(out)
    }

    /// Skips the value of a field the schema does not know.
    fn skip_value(&mut self, depth: usize) -> Result<(), TextError> {
        if depth > MAX_DEPTH {
            return Err(self.err_at(self.peek(), format!("messages nested deeper than {MAX_DEPTH}")));
        }
        if self.is_punct('{') || self.is_punct('<') {
            let close = if self.is_punct('{') { '}' } else { '>' };
            self.pos += 1;
            loop {
                if self.is_punct(close) {
                    self.pos += 1;
                    return Ok(());
                }
                match self.peek() {
                    None => return Err(self.err_at(None, format!("expected '{close}' before end of file"))),
                    Some(Token { tok: Tok::Ident(_), .. }) => {
                        self.pos += 1;
                        if self.is_punct(':') {
                            self.pos += 1;
                        }
                        self.skip_value(depth + 1)?;
                        if self.is_punct(',') || self.is_punct(';') {
                            self.pos += 1;
                        }
                    }
                    Some(t) => return Err(self.err_at(Some(t), format!("expected a field name, found {}", describe(&t.tok)))),
                }
            }
        }
        if self.is_punct('[') {
            self.pos += 1;
            loop {
                if self.is_punct(']') {
                    self.pos += 1;
                    return Ok(());
                }
                self.skip_value(depth + 1)?;
                if self.is_punct(',') {
                    self.pos += 1;
                }
            }
        }
        self.scalar().map(|_| ())
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("'{s}'"),
        Tok::Number(s) => format!("number {s}"),
        Tok::Str(_) => "a string".into(),
        Tok::Punct(c) => format!("'{c}'"),
    }
}

/// Decimal, hex (`0x`) or octal (leading `0`) integer magnitude.
fn parse_int(t: &str) -> Option<i128> {
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return i128::from_str_radix(h, 16).ok();
    }
    if t.len() > 1 && t.starts_with('0') && t.bytes().all(|b| b.is_ascii_digit()) {
        return i128::from_str_radix(&t[1..], 8).ok();
    }
    t.parse::<i128>().ok()
}

fn parse_float(t: &str) -> Option<f64> {
    let t = t.strip_suffix(['f', 'F']).unwrap_or(t);
    if let Some(v) = parse_int(t) {
        return Some(v as f64);
    }
    t.parse::<f64>().ok()
}
