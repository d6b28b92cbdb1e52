//! Parsing attribute values, tensors, quantization parameters and value types (the parts of
//! the text form below the statement level).

use super::lex::Tok;
use super::parse::{ParseError, Parser, utf8};
use super::values::parse_values;
use crate::attr::AttrValue;
use crate::dtype::DType;
use crate::quant::{QuantGranularity, QuantParams};
use crate::shape::{Dim, Shape, TensorType, ValueType};
use crate::tensor::Tensor;

impl Parser<'_> {
    // ---- attributes ----

    pub(crate) fn attr_value(&mut self) -> Result<AttrValue, ParseError> {
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
            Tok::Ident(s) if (s == "ints" || s == "floats" || s == "strings") && *self.peek_at(1) == Tok::Punct('[') => {
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
            Tok::Ident(s) if DType::from_name(&s).is_some() => Ok(AttrValue::Tensor(self.tensor()?)),
            _ => Err(self.err_at(at, format!("expected an attribute value, found {}", self.peek().describe()))),
        }
    }

    /// `[1, 2]`, `[0.5, nan]`, `["a", "b"]` (an empty list is written `ints[]` etc.; a bare
    /// `[]` reads as ints).
    pub(crate) fn list(&mut self) -> Result<AttrValue, ParseError> {
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
                Tok::Num(s) if floats => fs.push(s.parse::<f32>().map_err(|_| self.err_at(at, format!("'{s}' is not a number")))?),
                Tok::Ident(s) if floats && s == "inf" => fs.push(f32::INFINITY),
                Tok::Ident(s) if floats && s == "nan" => fs.push(f32::NAN),
                Tok::Num(s) => is.push(s.parse::<i64>().map_err(|_| self.err_at(at, format!("'{s}' is not an integer")))?),
                other => {
                    return Err(self.err_at(at, format!("unexpected {} in a list", other.describe())));
                }
            }
        }
        Ok(if floats { AttrValue::Floats(fs) } else { AttrValue::Ints(is) })
    }

    /// `dtype[shape] {values}` or `dtype[shape] @"key"`, then an optional `q(...)`.
    pub(crate) fn tensor(&mut self) -> Result<Tensor, ParseError> {
        let at = self.pos;
        let dname = self.ident()?;
        let dtype = DType::from_name(&dname).ok_or_else(|| self.err_at(at, format!("unknown dtype '{dname}'")))?;
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
                    format!("weight \"{key}\" is {}{:?}, the text says {dtype}{shape:?}", w.dtype, w.shape),
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
    pub(crate) fn quant(&mut self) -> Result<QuantParams, ParseError> {
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

    pub(crate) fn num_list<T>(&mut self, mut item: impl FnMut(&mut Self) -> Result<T, ParseError>) -> Result<Vec<T>, ParseError> {
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

    pub(crate) fn dtype(&mut self) -> Result<DType, ParseError> {
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
                let dtype = DType::from_name(&head).ok_or_else(|| self.err_at(at, format!("unknown type '{head}'")))?;
                let shape = self.opt_shape()?;
                ValueType::Tensor(TensorType { dtype, shape })
            }
        };
        self.depth -= 1;
        Ok(t)
    }

    pub(crate) fn opt_shape(&mut self) -> Result<Option<Shape>, ParseError> {
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
                    Dim::Known(u64::try_from(v).map_err(|_| self.err_at(at, "a dimension cannot be negative"))?)
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
