//! Parsing the text form back into a graph (grammar in the `text` module docs).
//!
//! Each graph body is read statement by statement; node inputs are connected after the whole
//! body is read, so a reference may name a value defined later (as the printer does for a
//! graph with a cycle). Nested subgraphs have their own namespace. Nothing here panics on bad
//! input: every problem is a [`ParseError`] with the line and column of the offending token.

use super::lex::{Tok, Token, lex};
use super::values::parse_values;
use crate::attr::AttrValue;
use crate::dtype::DType;
use crate::graph::{Graph, Value};
use crate::handles::{NodeId, ValueId};
use crate::ops::{Custom, Op, OpKind};
use crate::quant::{QuantGranularity, QuantParams};
use crate::shape::{Dim, Shape, TensorType, ValueType};
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
pub fn parse_graph_with_weights(
    text: &str,
    weights: &HashMap<String, Tensor>,
) -> Result<Graph, ParseError> {
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
    weights: &'a HashMap<String, Tensor>,
    depth: usize,
}

/// A value reference waiting to be connected: (node, slot, name, token index).
struct Pending {
    node: NodeId,
    slot: usize,
    stmt: usize,
    name: String,
    at: usize,
}

fn utf8(b: Vec<u8>) -> Result<String, Vec<u8>> {
    String::from_utf8(b).map_err(|e| e.into_bytes())
}

impl Parser<'_> {
    // ---- token helpers ----

    pub(crate) fn peek(&self) -> &Tok {
        self.toks.get(self.pos).map(|t| &t.tok).unwrap_or(&Tok::Eof)
    }
    fn peek_at(&self, k: usize) -> &Tok {
        self.toks
            .get(self.pos + k)
            .map(|t| &t.tok)
            .unwrap_or(&Tok::Eof)
    }
    pub(crate) fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }
    pub(crate) fn err_at(&self, idx: usize, msg: impl Into<String>) -> ParseError {
        let (line, col) = self
            .toks
            .get(idx)
            .or(self.toks.last())
            .map(|t| (t.line, t.col))
            .unwrap_or((1, 1));
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
        self.err(format!(
            "expected {wanted}, found {}",
            self.peek().describe()
        ))
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
    fn is_ident(&self, s: &str) -> bool {
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
    fn expect_eof(&self) -> Result<(), ParseError> {
        match self.peek() {
            Tok::Eof => Ok(()),
            _ => Err(self.unexpected("end of input")),
        }
    }
    pub(crate) fn int(&mut self) -> Result<i64, ParseError> {
        match self.peek().clone() {
            Tok::Num(s) => {
                let v = s
                    .parse::<i64>()
                    .map_err(|_| self.err(format!("'{s}' is not an integer")))?;
                self.pos += 1;
                Ok(v)
            }
            _ => Err(self.unexpected("an integer")),
        }
    }
    fn usize(&mut self) -> Result<usize, ParseError> {
        let at = self.pos;
        let v = self.int()?;
        usize::try_from(v).map_err(|_| self.err_at(at, format!("{v} is not a size")))
    }
    /// A float: a number, `inf`, `nan`, `-inf`.
    pub(crate) fn float(&mut self) -> Result<f64, ParseError> {
        let v = match self.peek() {
            Tok::Num(s) => s
                .parse::<f64>()
                .map_err(|_| self.err(format!("'{s}' is not a number")))?,
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
            Tok::Num(s) => s
                .parse::<f32>()
                .map_err(|_| self.err(format!("'{s}' is not a number")))?,
            Tok::Ident(s) if s == "inf" => f32::INFINITY,
            Tok::Ident(s) if s == "nan" => f32::NAN,
            _ => return Err(self.unexpected("a number")),
        };
        self.pos += 1;
        Ok(v)
    }
    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            Err(self.err(format!("nested deeper than {MAX_DEPTH}")))
        } else {
            Ok(())
        }
    }

    // ---- graphs ----

    fn graph(&mut self) -> Result<Graph, ParseError> {
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
                    let v = self
                        .out_decl()?
                        .ok_or_else(|| self.err_at(at, format!("an {k} needs a name")))?;
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
            ds.iter()
                .rev()
                .find(|(s, _)| *s < stmt)
                .or(ds.first())
                .map(|(_, v)| *v)
        };
        for p in pending {
            let v = resolve(&p.name, p.stmt)
                .ok_or_else(|| self.err_at(p.at, format!("undefined value %{}", p.name)))?;
            g.set_input(p.node, p.slot, Some(v))
                .map_err(|e| self.err_at(p.at, e.to_string()))?;
        }
        for (name, r, at) in outputs {
            let v = resolve(&r, usize::MAX)
                .ok_or_else(|| self.err_at(at, format!("undefined value %{r}")))?;
            g.add_output(name, v)
                .map_err(|e| self.err_at(at, e.to_string()))?;
        }
        self.depth -= 1;
        Ok(g)
    }

    /// `%name` → its name.
    fn value_ref(&mut self) -> Result<String, ParseError> {
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
    fn out_decl(&mut self) -> Result<Option<Value>, ParseError> {
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
                    .ok_or_else(|| {
                        self.err_at(
                            op_at,
                            format!("unknown op '{name}' (write custom \"domain\"::\"{name}\")"),
                        )
                    })?;
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
            (Some((domain, name)), _) => Op::Custom(Custom {
                domain,
                name,
                attrs,
            }),
            (None, Some(k)) => {
                Op::from_kind(k, attrs).map_err(|e| self.err_at(op_at, e.to_string()))?
            }
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

    // ---- attributes ----

    fn attr_value(&mut self) -> Result<AttrValue, ParseError> {
        let at = self.pos;
        match self.peek().clone() {
            Tok::Num(s) => {
                if s.contains(['.', 'e', 'E', 'i', 'n']) {
                    Ok(AttrValue::Float(self.float32()?))
                } else {
                    Ok(AttrValue::Int(self.int()?))
                }
            }
            Tok::Ident(s) if s == "inf" || s == "nan" => Ok(AttrValue::Float(self.float32()?)),
            Tok::Str(_) => Ok(AttrValue::String(self.string()?)),
            Tok::Punct('[') => self.list(),
            Tok::Ident(s)
                if (s == "ints" || s == "floats" || s == "strings")
                    && *self.peek_at(1) == Tok::Punct('[') =>
            {
                self.pos += 1;
                self.punct('[')?;
                self.punct(']')?;
                Ok(match s.as_str() {
                    "ints" => AttrValue::Ints(vec![]),
                    "floats" => AttrValue::Floats(vec![]),
                    _ => AttrValue::Strings(vec![]),
                })
            }
            Tok::Ident(s) if s == "tensors" => {
                self.pos += 1;
                self.punct('[')?;
                let mut ts = Vec::new();
                if !self.eat_punct(']') {
                    loop {
                        ts.push(self.tensor()?);
                        if self.eat_punct(']') {
                            break;
                        }
                        self.punct(',')?;
                    }
                }
                Ok(AttrValue::Tensors(ts))
            }
            Tok::Ident(s) if s == "graphs" => {
                self.pos += 1;
                self.punct('[')?;
                let mut gs = Vec::new();
                if !self.eat_punct(']') {
                    loop {
                        gs.push(self.graph()?);
                        if self.eat_punct(']') {
                            break;
                        }
                        self.punct(',')?;
                    }
                }
                Ok(AttrValue::Graphs(gs))
            }
            Tok::Ident(s) if s == "graph" => Ok(AttrValue::Graph(Box::new(self.graph()?))),
            Tok::Ident(s) if s == "type" => {
                self.pos += 1;
                Ok(AttrValue::Type(self.value_type()?))
            }
            Tok::Ident(s) if DType::from_name(&s).is_some() => {
                Ok(AttrValue::Tensor(self.tensor()?))
            }
            _ => Err(self.err_at(
                at,
                format!(
                    "expected an attribute value, found {}",
                    self.peek().describe()
                ),
            )),
        }
    }

    /// `[1, 2]`, `[0.5, nan]`, `["a", "b"]` (an empty list is written `ints[]` etc.; a bare
    /// `[]` reads as ints).
    fn list(&mut self) -> Result<AttrValue, ParseError> {
        self.punct('[')?;
        if self.eat_punct(']') {
            return Ok(AttrValue::Ints(vec![]));
        }
        let mut items = Vec::new();
        loop {
            items.push((self.pos, self.peek().clone()));
            self.pos += 1;
            if self.eat_punct(']') {
                break;
            }
            self.punct(',')?;
        }
        let is_float = |t: &Tok| match t {
            Tok::Num(s) => s.contains(['.', 'e', 'E', 'i', 'n']),
            Tok::Ident(s) => s == "inf" || s == "nan",
            _ => false,
        };
        if items.iter().all(|(_, t)| matches!(t, Tok::Str(_))) {
            let mut v = Vec::new();
            for (at, t) in items {
                if let Tok::Str(b) = t {
                    v.push(utf8(b).map_err(|_| self.err_at(at, "string is not valid UTF-8"))?);
                }
            }
            return Ok(AttrValue::Strings(v));
        }
        let floats = items.iter().any(|(_, t)| is_float(t));
        let mut fs = Vec::new();
        let mut is = Vec::new();
        for (at, t) in items {
            match t {
                Tok::Num(s) if floats => fs.push(
                    s.parse::<f32>()
                        .map_err(|_| self.err_at(at, format!("'{s}' is not a number")))?,
                ),
                Tok::Ident(s) if floats && s == "inf" => fs.push(f32::INFINITY),
                Tok::Ident(s) if floats && s == "nan" => fs.push(f32::NAN),
                Tok::Num(s) => is.push(
                    s.parse::<i64>()
                        .map_err(|_| self.err_at(at, format!("'{s}' is not an integer")))?,
                ),
                other => {
                    return Err(
                        self.err_at(at, format!("unexpected {} in a list", other.describe()))
                    );
                }
            }
        }
        Ok(if floats {
            AttrValue::Floats(fs)
        } else {
            AttrValue::Ints(is)
        })
    }

    /// `dtype[shape] {values}` or `dtype[shape] @"key"`, then an optional `q(...)`.
    pub(crate) fn tensor(&mut self) -> Result<Tensor, ParseError> {
        let at = self.pos;
        let dname = self.ident()?;
        let dtype = DType::from_name(&dname)
            .ok_or_else(|| self.err_at(at, format!("unknown dtype '{dname}'")))?;
        self.punct('[')?;
        let mut shape = Vec::new();
        if !self.eat_punct(']') {
            loop {
                shape.push(self.usize()?);
                if self.eat_punct(']') {
                    break;
                }
                self.punct(',')?;
            }
        }
        let mut t = if self.eat_punct('@') {
            let kat = self.pos;
            let key = self.string()?;
            let w = self
                .weights
                .get(&key)
                .ok_or_else(|| self.err_at(kat, format!("no weight named \"{key}\"")))?;
            if w.dtype != dtype || w.shape != shape {
                return Err(self.err_at(
                    kat,
                    format!(
                        "weight \"{key}\" is {}{:?}, the text says {dtype}{shape:?}",
                        w.dtype, w.shape
                    ),
                ));
            }
            let mut w = w.clone();
            w.quant = None;
            w
        } else {
            parse_values(self, dtype, shape, at)?
        };
        if self.is_ident("q") && *self.peek_at(1) == Tok::Punct('(') {
            t.quant = Some(self.quant()?);
        }
        Ok(t)
    }

    /// `q(storage, scale=[..], zp=[..][, axis=a][, block=b][, scale_dtype=d])`
    fn quant(&mut self) -> Result<QuantParams, ParseError> {
        self.keyword("q")?;
        self.punct('(')?;
        let storage = self.dtype()?;
        let mut q = QuantParams {
            storage,
            granularity: QuantGranularity::PerTensor,
            scale: vec![],
            zero_point: vec![],
            scale_dtype: DType::F32,
        };
        let (mut axis, mut block) = (None, None);
        while self.eat_punct(',') {
            let kat = self.pos;
            let key = self.ident()?;
            self.punct('=')?;
            match key.as_str() {
                "scale" => q.scale = self.num_list(|p| p.float32())?,
                "zp" => q.zero_point = self.num_list(|p| p.int())?,
                "axis" => axis = Some(self.usize()?),
                "block" => block = Some(self.usize()?),
                "scale_dtype" => q.scale_dtype = self.dtype()?,
                _ => return Err(self.err_at(kat, format!("unknown quantization field '{key}'"))),
            }
        }
        self.punct(')')?;
        q.granularity = match (axis, block) {
            (None, None) => QuantGranularity::PerTensor,
            (Some(axis), None) => QuantGranularity::PerAxis { axis },
            (Some(axis), Some(block_size)) => QuantGranularity::PerBlock { axis, block_size },
            (None, Some(_)) => return Err(self.err("block= needs axis=")),
        };
        Ok(q)
    }

    fn num_list<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T, ParseError>,
    ) -> Result<Vec<T>, ParseError> {
        self.punct('[')?;
        let mut v = Vec::new();
        if self.eat_punct(']') {
            return Ok(v);
        }
        loop {
            v.push(item(self)?);
            if self.eat_punct(']') {
                return Ok(v);
            }
            self.punct(',')?;
        }
    }

    fn dtype(&mut self) -> Result<DType, ParseError> {
        let at = self.pos;
        let n = self.ident()?;
        DType::from_name(&n).ok_or_else(|| self.err_at(at, format!("unknown dtype '{n}'")))
    }

    // ---- types ----

    /// `f32[N,3]`, `f32` (unknown rank), `seq<..>`, `opt<..>`, `sparse<..>`, `map<k,v>`.
    pub(crate) fn value_type(&mut self) -> Result<ValueType, ParseError> {
        self.enter()?;
        let at = self.pos;
        let head = self.ident()?;
        let t = match head.as_str() {
            "seq" | "opt" => {
                self.punct('<')?;
                let inner = Box::new(self.value_type()?);
                self.punct('>')?;
                if head == "seq" {
                    ValueType::Sequence(inner)
                } else {
                    ValueType::Optional(inner)
                }
            }
            "sparse" => {
                self.punct('<')?;
                let dtype = self.dtype()?;
                let shape = self.opt_shape()?;
                self.punct('>')?;
                ValueType::SparseTensor(TensorType { dtype, shape })
            }
            "map" => {
                self.punct('<')?;
                let k = self.dtype()?;
                self.punct(',')?;
                let v = self.value_type()?;
                self.punct('>')?;
                ValueType::Map(k, Box::new(v))
            }
            _ => {
                let dtype = DType::from_name(&head)
                    .ok_or_else(|| self.err_at(at, format!("unknown type '{head}'")))?;
                let shape = self.opt_shape()?;
                ValueType::Tensor(TensorType { dtype, shape })
            }
        };
        self.depth -= 1;
        Ok(t)
    }

    fn opt_shape(&mut self) -> Result<Option<Shape>, ParseError> {
        if !self.eat_punct('[') {
            return Ok(None);
        }
        let mut dims = Vec::new();
        if self.eat_punct(']') {
            return Ok(Some(Shape(dims)));
        }
        loop {
            let d = match self.peek().clone() {
                Tok::Num(_) => {
                    let at = self.pos;
                    let v = self.int()?;
                    Dim::Known(
                        u64::try_from(v)
                            .map_err(|_| self.err_at(at, "a dimension cannot be negative"))?,
                    )
                }
                Tok::Ident(s) => {
                    self.pos += 1;
                    Dim::Sym(s)
                }
                Tok::Punct('?') => {
                    self.pos += 1;
                    Dim::Sym("?".into())
                }
                Tok::Str(_) => Dim::Sym(self.string()?),
                _ => return Err(self.unexpected("a dimension")),
            };
            dims.push(d);
            if self.eat_punct(']') {
                return Ok(Some(Shape(dims)));
            }
            self.punct(',')?;
        }
    }
}
