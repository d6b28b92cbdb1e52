//! Parsing the text form back into a graph (grammar in the `text` module docs).
//!
//! Each graph body is read statement by statement; node inputs are connected after the whole
//! body is read, so a reference may name a value defined later (as the printer does for a
//! graph with a cycle). Nested subgraphs have their own namespace. Nothing here panics on bad
//! input: every problem is a [`ParseError`] with the line and column of the offending token.

use super::lex::{Tok, Token, lex};
use crate::graph::{Graph, Value};
use crate::handles::{NodeId, ValueId};
use crate::ops::{Custom, Op, OpKind};
use crate::tensor::Tensor;
use std::collections::HashMap;

/// A parse error with its line and column.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("line {line}, column {col}: {msg}")]
pub struct ParseError {
    pub line: usize,
    pub col: usize,
    pub msg: String,
}

/// Parses a graph whose tensors are all inline.
pub fn parse_graph(text: &str) -> Result<Graph, ParseError> {
    parse_graph_with_weights(text, &HashMap::new())
}

/// Parses a graph, resolving `@"key"` tensors from `weights`.
pub fn parse_graph_with_weights(text: &str, weights: &HashMap<String, Tensor>) -> Result<Graph, ParseError> {
    let toks = lex(text)?;
    let mut p = Parser {
        toks,
        pos: 0,
        weights,
        depth: 0,
    };
    let g = p.graph()?;
    p.expect_eof()?;
    Ok(g)
}

/// The deepest nesting of subgraphs and types accepted.
const MAX_DEPTH: usize = 64;

pub(crate) struct Parser<'a> {
    toks: Vec<Token>,
    pub(crate) pos: usize,
    pub(crate) weights: &'a HashMap<String, Tensor>,
    pub(crate) depth: usize,
}

/// A value reference waiting to be connected: (node, slot, name, token index).
struct Pending {
    node: NodeId,
    slot: usize,
    stmt: usize,
    name: String,
    at: usize,
}

pub(crate) fn utf8(b: Vec<u8>) -> Result<String, Vec<u8>> {
    String::from_utf8(b).map_err(|e| e.into_bytes())
}

impl Parser<'_> {
    // ---- token helpers ----

    pub(crate) fn peek(&self) -> &Tok {
        self.toks.get(self.pos).map(|t| &t.tok).unwrap_or(&Tok::Eof)
    }
    pub(crate) fn peek_at(&self, k: usize) -> &Tok {
        self.toks.get(self.pos + k).map(|t| &t.tok).unwrap_or(&Tok::Eof)
    }
    pub(crate) fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }
    pub(crate) fn err_at(&self, idx: usize, msg: impl Into<String>) -> ParseError {
        let (line, col) = self.toks.get(idx).or(self.toks.last()).map(|t| (t.line, t.col)).unwrap_or((1, 1));
        ParseError {
            line,
            col,
            msg: msg.into(),
        }
    }
    pub(crate) fn err(&self, msg: impl Into<String>) -> ParseError {
        self.err_at(self.pos, msg)
    }
    pub(crate) fn unexpected(&self, wanted: &str) -> ParseError {
        self.err(format!("expected {wanted}, found {}", self.peek().describe()))
    }
    pub(crate) fn eat_punct(&mut self, c: char) -> bool {
        if *self.peek() == Tok::Punct(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    pub(crate) fn punct(&mut self, c: char) -> Result<(), ParseError> {
        if self.eat_punct(c) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("'{c}'")))
        }
    }
    pub(crate) fn is_ident(&self, s: &str) -> bool {
        matches!(self.peek(), Tok::Ident(x) if x == s)
    }
    pub(crate) fn keyword(&mut self, s: &str) -> Result<(), ParseError> {
        if self.is_ident(s) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(&format!("'{s}'")))
        }
    }
    pub(crate) fn ident(&mut self) -> Result<String, ParseError> {
        match self.peek().clone() {
            Tok::Ident(s) => {
                self.pos += 1;
                Ok(s)
            }
            _ => Err(self.unexpected("a name")),
        }
    }
    pub(crate) fn string(&mut self) -> Result<String, ParseError> {
        match self.peek().clone() {
            Tok::Str(b) => {
                let at = self.pos;
                self.pos += 1;
                utf8(b).map_err(|_| self.err_at(at, "string is not valid UTF-8"))
            }
            _ => Err(self.unexpected("a string")),
        }
    }
    pub(crate) fn expect_eof(&self) -> Result<(), ParseError> {
        match self.peek() {
            Tok::Eof => Ok(()),
            _ => Err(self.unexpected("end of input")),
        }
    }
    pub(crate) fn int(&mut self) -> Result<i64, ParseError> {
        match self.peek().clone() {
            Tok::Num(s) => {
                let v = s.parse::<i64>().map_err(|_| self.err(format!("'{s}' is not an integer")))?;
                self.pos += 1;
                Ok(v)
            }
            _ => Err(self.unexpected("an integer")),
        }
    }
    pub(crate) fn usize(&mut self) -> Result<usize, ParseError> {
        let at = self.pos;
        let v = self.int()?;
        usize::try_from(v).map_err(|_| self.err_at(at, format!("{v} is not a size")))
    }
    /// A float: a number, `inf`, `nan`, `-inf`.
    pub(crate) fn float(&mut self) -> Result<f64, ParseError> {
        let v = match self.peek() {
            Tok::Num(s) => s.parse::<f64>().map_err(|_| self.err(format!("'{s}' is not a number")))?,
            Tok::Ident(s) if s == "inf" => f64::INFINITY,
            Tok::Ident(s) if s == "nan" => f64::NAN,
            _ => return Err(self.unexpected("a number")),
        };
        self.pos += 1;
        Ok(v)
    }
    /// A float parsed straight to f32 (no double rounding through f64).
    pub(crate) fn float32(&mut self) -> Result<f32, ParseError> {
        let v = match self.peek() {
            Tok::Num(s) => s.parse::<f32>().map_err(|_| self.err(format!("'{s}' is not a number")))?,
            Tok::Ident(s) if s == "inf" => f32::INFINITY,
            Tok::Ident(s) if s == "nan" => f32::NAN,
            _ => return Err(self.unexpected("a number")),
        };
        self.pos += 1;
        Ok(v)
    }
    pub(crate) fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            Err(self.err(format!("nested deeper than {MAX_DEPTH}")))
        } else {
            Ok(())
        }
    }

    // ---- graphs ----

    pub(crate) fn graph(&mut self) -> Result<Graph, ParseError> {
        self.enter()?;
        self.keyword("graph")?;
        let name = self.string()?;
        self.punct('{')?;
        let mut g = Graph::new(name);
        // Definitions by name, in statement order: (statement index, value).
        let mut defs: HashMap<String, Vec<(usize, ValueId)>> = HashMap::new();
        let mut pending: Vec<Pending> = Vec::new();
        let mut outputs: Vec<(String, String, usize)> = Vec::new();
        let mut stmt = 0usize;
        loop {
            stmt += 1;
            match self.peek().clone() {
                Tok::Punct('}') => {
                    self.pos += 1;
                    break;
                }
                Tok::Ident(k) if k == "meta" => {
                    self.pos += 1;
                    let key = self.string()?;
                    self.punct('=')?;
                    let v = self.string()?;
                    g.metadata.push((key, v));
                }
                Tok::Ident(k) if k == "input" || k == "capture" => {
                    self.pos += 1;
                    let at = self.pos;
                    let v = self.out_decl()?.ok_or_else(|| self.err_at(at, format!("an {k} needs a name")))?;
                    let name = v.name.clone();
                    let id = if k == "input" {
                        g.add_input(v.name, v.ty)
                    } else {
                        g.add_capture(v.name, v.ty)
                    };
                    if let Some(val) = g.value_mut(id) {
                        val.quant = v.quant;
                    }
                    defs.entry(name).or_default().push((stmt, id));
                }
                Tok::Ident(k) if k == "output" => {
                    self.pos += 1;
                    let name = self.string()?;
                    self.punct('=')?;
                    let at = self.pos;
                    let r = self.value_ref()?;
                    outputs.push((name, r, at));
                }
                Tok::Eof => return Err(self.unexpected("'}' closing the graph")),
                _ => self.node(&mut g, stmt, &mut defs, &mut pending)?,
            }
        }
        let resolve = |name: &str, stmt: usize| -> Option<ValueId> {
            let ds = defs.get(name)?;
            ds.iter().rev().find(|(s, _)| *s < stmt).or(ds.first()).map(|(_, v)| *v)
        };
        for p in pending {
            let v = resolve(&p.name, p.stmt).ok_or_else(|| self.err_at(p.at, format!("undefined value %{}", p.name)))?;
            g.set_input(p.node, p.slot, Some(v)).map_err(|e| self.err_at(p.at, e.to_string()))?;
        }
        for (name, r, at) in outputs {
            let v = resolve(&r, usize::MAX).ok_or_else(|| self.err_at(at, format!("undefined value %{r}")))?;
            g.add_output(name, v).map_err(|e| self.err_at(at, e.to_string()))?;
        }
        self.depth -= 1;
        Ok(g)
    }

    /// `%name` → its name.
    pub(crate) fn value_ref(&mut self) -> Result<String, ParseError> {
        match self.peek().clone() {
            Tok::Value(b) => {
                let at = self.pos;
                self.pos += 1;
                utf8(b).map_err(|_| self.err_at(at, "value name is not valid UTF-8"))
            }
            _ => Err(self.unexpected("a value like %x")),
        }
    }

    /// `_` (None) or `%name[: type][ q(...)]`.
    pub(crate) fn out_decl(&mut self) -> Result<Option<Value>, ParseError> {
        if self.is_ident("_") {
            self.pos += 1;
            return Ok(None);
        }
        let name = self.value_ref()?;
        let mut v = Value::named(name);
        if self.eat_punct(':') {
            v.ty = Some(self.value_type()?);
        }
        if self.is_ident("q") && *self.peek_at(1) == Tok::Punct('(') {
            v.quant = Some(self.quant()?);
        }
        Ok(Some(v))
    }

    fn node(
        &mut self,
        g: &mut Graph,
        stmt: usize,
        defs: &mut HashMap<String, Vec<(usize, ValueId)>>,
        pending: &mut Vec<Pending>,
    ) -> Result<(), ParseError> {
        let mut outs = Vec::new();
        if *self.peek() != Tok::Punct('=') {
            loop {
                let v = self.out_decl()?;
                outs.push(v.unwrap_or_default());
                if !self.eat_punct(',') {
                    break;
                }
            }
        }
        self.punct('=')?;
        let op_at = self.pos;
        let custom = if self.is_ident("custom") && matches!(self.peek_at(1), Tok::Str(_)) {
            self.pos += 1;
            let domain = self.string()?;
            if *self.peek() != Tok::DoubleColon {
                return Err(self.unexpected("'::'"));
            }
            self.pos += 1;
            let name = self.string()?;
            Some((domain, name))
        } else {
            None
        };
        let kind = match &custom {
            Some(_) => None,
            None => {
                let name = self.ident()?;
                let k = OpKind::ALL
                    .iter()
                    .copied()
                    .find(|k| k.name() == name)
                    .ok_or_else(|| self.err_at(op_at, format!("unknown op '{name}' (write custom \"domain\"::\"{name}\")")))?;
                Some(k)
            }
        };
        let mut attrs = Vec::new();
        if self.eat_punct('[') && !self.eat_punct(']') {
            loop {
                let key = match self.peek().clone() {
                    Tok::Ident(k) => {
                        self.pos += 1;
                        k
                    }
                    Tok::Str(_) => self.string()?,
                    _ => return Err(self.unexpected("an attribute name")),
                };
                self.punct('=')?;
                let v = self.attr_value()?;
                attrs.push((key, v));
                if self.eat_punct(']') {
                    break;
                }
                self.punct(',')?;
            }
        }
        let op = match (custom, kind) {
            (Some((domain, name)), _) => Op::Custom(Custom { domain, name, attrs }),
            (None, Some(k)) => Op::from_kind(k, attrs).map_err(|e| self.err_at(op_at, e.to_string()))?,
            (None, None) => return Err(self.err_at(op_at, "missing op")),
        };
        self.punct('(')?;
        let mut args: Vec<Option<(String, usize)>> = Vec::new();
        let mut caps: Vec<Option<(String, usize)>> = Vec::new();
        let mut in_caps = false;
        if !self.eat_punct(')') {
            loop {
                if self.eat_punct('|') {
                    if in_caps {
                        return Err(self.err_at(self.pos - 1, "a second '|'"));
                    }
                    in_caps = true;
                }
                let a = if self.is_ident("_") {
                    self.pos += 1;
                    None
                } else {
                    let at = self.pos;
                    Some((self.value_ref()?, at))
                };
                if in_caps {
                    caps.push(a)
                } else {
                    args.push(a)
                }
                if self.eat_punct(')') {
                    break;
                }
                if *self.peek() != Tok::Punct('|') {
                    self.punct(',')?;
                }
            }
        }
        let name = if self.eat_punct('#') {
            self.string()?
        } else {
            outs.first().map(|v| v.name.clone()).unwrap_or_default()
        };
        let n_caps = caps.len();
        let n_decl = args.len();
        let out_names: Vec<String> = outs.iter().map(|v| v.name.clone()).collect();
        let id = g.add_node(name, op, n_decl + n_caps, outs);
        g.node_mut(id).n_captures = n_caps;
        for (port, n) in out_names.into_iter().enumerate() {
            if !n.is_empty() {
                defs.entry(n).or_default().push((stmt, id.out(port)));
            }
        }
        for (slot, a) in args.into_iter().chain(caps).enumerate() {
            if let Some((name, at)) = a {
                pending.push(Pending {
                    node: id,
                    slot,
                    stmt,
                    name,
                    at,
                });
            }
        }
        Ok(())
    }
}
