//! Printing the text form (see the module docs of `text`).

use super::lex::is_name_char;
use crate::attr::AttrValue;
use crate::dtype::DType;
use crate::graph::Graph;
use crate::handles::ValueId;
use crate::ops::Op;
use crate::quant::{QuantGranularity, QuantParams};
use crate::shape::{Dim, ValueType};
use crate::tensor::{Tensor, TensorData};
use std::collections::HashSet;
use std::fmt::Write;

/// Printing options.
#[derive(Clone, Debug)]
pub struct PrintOptions {
    /// Tensors with at most this many elements print their values inline; larger ones print a
    /// `@"key"` reference (the constant's value name).
    pub inline_limit: usize,
}

impl Default for PrintOptions {
    fn default() -> Self {
        PrintOptions { inline_limit: 64 }
    }
}

/// Prints a graph with default options.
pub fn print_graph(g: &Graph) -> String {
    print_graph_with(g, &PrintOptions::default())
}

/// Prints a graph.
pub fn print_graph_with(g: &Graph, opts: &PrintOptions) -> String {
    print_graph_split(g, opts, &|_| true).0
}

/// Prints a graph and returns the tensors it printed as `@"key"` references, keyed as printed
/// (keys are unique across the graph and its subgraphs, in printing order). A tensor with more
/// than `opts.inline_limit` elements is printed as a reference when `external(tensor)` says so,
/// else inline. `parse_graph_with_weights(text, &weights.into_iter().collect())` reads it back.
pub fn print_graph_split(g: &Graph, opts: &PrintOptions, external: &dyn Fn(&Tensor) -> bool) -> (String, Vec<(String, Tensor)>) {
    let mut out = String::new();
    let mut st = State {
        external,
        weights: Vec::new(),
        keys: HashSet::new(),
    };
    Printer {
        opts,
        out: &mut out,
        st: &mut st,
    }
    .graph(g, 0, "");
    (out, st.weights)
}

struct State<'e> {
    external: &'e dyn Fn(&Tensor) -> bool,
    weights: Vec<(String, Tensor)>,
    keys: HashSet<String>,
}

struct Printer<'a, 'e> {
    opts: &'a PrintOptions,
    out: &'a mut String,
    st: &'a mut State<'e>,
}

/// Is `s` printable without quotes after `%`? (A ':' may not end the name: `%x: f32`.)
pub(crate) fn is_bare(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_name_char) && s != "_" && !s.ends_with(':')
}

/// Is `s` an identifier `[A-Za-z_][A-Za-z0-9_]*` (bare attribute keys and symbolic dims)?
pub(crate) fn is_ident(s: &str) -> bool {
    let mut cs = s.chars();
    cs.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(crate) fn quote(s: &str) -> String {
    quote_bytes(s.as_bytes())
}

/// Quotes bytes: valid UTF-8 as characters (control characters escaped), other bytes `\x{hh}`.
pub(crate) fn quote_bytes(b: &[u8]) -> String {
    let mut o = String::with_capacity(b.len() + 2);
    o.push('"');
    for chunk in b.utf8_chunks() {
        quote_into(&mut o, chunk.valid());
        for x in chunk.invalid() {
            let _ = write!(o, "\\x{{{x:x}}}");
        }
    }
    o.push('"');
    o
}

fn quote_into(o: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{{{:x}}}", c as u32);
            }
            c => o.push(c),
        }
    }
}

fn value_ref(name: &str) -> String {
    if is_bare(name) {
        format!("%{name}")
    } else {
        format!("%{}", quote(name))
    }
}

impl Printer<'_, '_> {
    fn graph(&mut self, g: &Graph, depth: usize, prefix: &str) {
        let ind = "  ".repeat(depth);
        let _ = writeln!(self.out, "{prefix}graph {} {{", quote(&g.name));
        let inner = "  ".repeat(depth + 1);
        for (k, v) in &g.metadata {
            let _ = writeln!(self.out, "{inner}meta {} = {}", quote(k), quote(v));
        }
        let names = |v: ValueId| g.value(v).map(|x| value_ref(&x.name)).unwrap_or_else(|| format!("%<missing {v}>"));
        for &i in g.inputs() {
            if let Some(n) = g.get(i) {
                let _ = writeln!(self.out, "{inner}input {}", self.out_decl(&n.outputs[0]));
            }
        }
        for &i in g.captures() {
            if let Some(n) = g.get(i) {
                let _ = writeln!(self.out, "{inner}capture {}", self.out_decl(&n.outputs[0]));
            }
        }
        let order = match g.topo_order() {
            Ok(o) => o,
            Err(_) => g.node_ids().collect(),
        };
        for id in order {
            let n = g.node(id);
            if matches!(n.op, Op::Input(_)) {
                continue;
            }
            let mut line = String::new();
            let outs: Vec<String> = n
                .outputs
                .iter()
                .map(|v| if v.name.is_empty() { "_".to_string() } else { self.out_decl(v) })
                .collect();
            line.push_str(&outs.join(", "));
            line.push_str(" = ");
            match &n.op {
                Op::Custom(c) => {
                    let _ = write!(line, "custom {}::{}", quote(&c.domain), quote(&c.name));
                }
                op => line.push_str(op.name()),
            }
            let attrs = n.op.non_default_attrs();
            if !attrs.is_empty() {
                line.push('[');
                for (i, (k, v)) in attrs.iter().enumerate() {
                    if i > 0 {
                        line.push_str(", ");
                    }
                    let key = if is_ident(k) { k.clone() } else { quote(k) };
                    let _ = write!(line, "{key}=");
                    self.attr(&mut line, v, depth + 1, n.outputs.first().map(|v| v.name.as_str()).unwrap_or(""));
                }
                line.push(']');
            }
            let ins = g.inputs_of(id);
            let decl = n.n_declared_inputs();
            let args: Vec<String> = ins[..decl].iter().map(|v| v.map(names).unwrap_or_else(|| "_".into())).collect();
            let _ = write!(line, "({}", args.join(", "));
            if n.n_captures > 0 {
                let caps: Vec<String> = ins[decl..].iter().map(|v| v.map(names).unwrap_or_else(|| "_".into())).collect();
                let _ = write!(line, " | {}", caps.join(", "));
            }
            line.push(')');
            let first = n.outputs.first().map(|v| v.name.as_str()).unwrap_or("");
            if n.name != first {
                let _ = write!(line, " #{}", quote(&n.name));
            }
            let _ = writeln!(self.out, "{inner}{line}");
        }
        for (name, v) in g.outputs() {
            let _ = writeln!(self.out, "{inner}output {} = {}", quote(name), names(*v));
        }
        let _ = write!(self.out, "{ind}}}");
        if depth == 0 {
            self.out.push('\n');
        }
    }

    fn out_decl(&self, v: &crate::graph::Value) -> String {
        let mut s = value_ref(&v.name);
        if let Some(t) = &v.ty {
            let _ = write!(s, ": {}", value_type(t));
        }
        if let Some(q) = &v.quant {
            let _ = write!(s, " {}", quant(q));
        }
        s
    }

    fn attr(&mut self, line: &mut String, v: &AttrValue, depth: usize, owner: &str) {
        match v {
            AttrValue::Int(i) => {
                let _ = write!(line, "{i}");
            }
            AttrValue::Float(f) => line.push_str(&float(*f as f64, true)),
            AttrValue::String(s) => line.push_str(&quote(s)),
            AttrValue::Ints(v) if v.is_empty() => line.push_str("ints[]"),
            AttrValue::Floats(v) if v.is_empty() => line.push_str("floats[]"),
            AttrValue::Strings(v) if v.is_empty() => line.push_str("strings[]"),
            AttrValue::Ints(v) => {
                let _ = write!(line, "[{}]", v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "));
            }
            AttrValue::Floats(v) => {
                let _ = write!(
                    line,
                    "[{}]",
                    v.iter().map(|x| float(*x as f64, true)).collect::<Vec<_>>().join(", ")
                );
            }
            AttrValue::Strings(v) => {
                let _ = write!(line, "[{}]", v.iter().map(|x| quote(x)).collect::<Vec<_>>().join(", "));
            }
            AttrValue::Tensor(t) => line.push_str(&self.tensor(t, owner)),
            AttrValue::Tensors(ts) => {
                let parts: Vec<String> = ts
                    .iter()
                    .enumerate()
                    .map(|(i, t)| self.tensor(t, &format!("{owner}#{i}")))
                    .collect();
                let _ = write!(line, "tensors[{}]", parts.join(", "));
            }
            AttrValue::Graph(g) => {
                let mut sub = String::new();
                Printer {
                    opts: self.opts,
                    out: &mut sub,
                    st: self.st,
                }
                .graph(g, depth, "");
                line.push_str(&sub);
            }
            AttrValue::Graphs(gs) => {
                line.push_str("graphs[");
                for (i, g) in gs.iter().enumerate() {
                    if i > 0 {
                        line.push_str(", ");
                    }
                    let mut sub = String::new();
                    Printer {
                        opts: self.opts,
                        out: &mut sub,
                        st: self.st,
                    }
                    .graph(g, depth, "");
                    line.push_str(&sub);
                }
                line.push(']');
            }
            AttrValue::Type(t) => {
                let _ = write!(line, "type {}", value_type(t));
            }
        }
    }

    fn tensor(&mut self, t: &Tensor, key: &str) -> String {
        let shape = t.shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(",");
        let mut s = format!("{}[{}]", t.dtype, shape);
        if t.numel() <= self.opts.inline_limit || !(self.st.external)(t) {
            let vals = tensor_values(t);
            let _ = write!(s, " {{{}}}", vals.join(", "));
        } else {
            let mut k = key.to_string();
            let mut n = 2;
            while self.st.keys.contains(&k) {
                k = format!("{key}~{n}");
                n += 1;
            }
            self.st.keys.insert(k.clone());
            let mut w = t.clone();
            w.quant = None;
            self.st.weights.push((k.clone(), w));
            let _ = write!(s, " @{}", quote(&k));
        }
        if let Some(q) = &t.quant {
            let _ = write!(s, " {}", quant(q));
        }
        s
    }
}

/// Formats a float so that it parses back exactly (`inf`, `-inf`, `nan` spelled out).
pub(crate) fn float(f: f64, single: bool) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { "inf".into() } else { "-inf".into() }
    } else if single {
        format!("{:?}", f as f32)
    } else {
        format!("{f:?}")
    }
}

fn quant(q: &QuantParams) -> String {
    let g = match &q.granularity {
        QuantGranularity::PerTensor => String::new(),
        QuantGranularity::PerAxis { axis } => format!(", axis={axis}"),
        QuantGranularity::PerBlock { axis, block_size } => {
            format!(", axis={axis}, block={block_size}")
        }
    };
    format!(
        "q({}, scale=[{}], zp=[{}]{g}{})",
        q.storage,
        q.scale.iter().map(|x| float(*x as f64, true)).collect::<Vec<_>>().join(", "),
        q.zero_point.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "),
        if q.scale_dtype == DType::F32 {
            String::new()
        } else {
            format!(", scale_dtype={}", q.scale_dtype)
        }
    )
}

/// Every element of a tensor as text (bit-exact for floats; raw hex bytes for exotic types).
pub(crate) fn tensor_values(t: &Tensor) -> Vec<String> {
    let b = match &t.data {
        TensorData::Strings(s) => return s.iter().map(|x| quote_bytes(x)).collect(),
        TensorData::Raw(b) => b,
        TensorData::Permuted(p) => p.bytes(),
    };
    macro_rules! ints {
        ($t:ty, $n:literal) => {
            b.chunks_exact($n)
                .map(|c| <$t>::from_le_bytes(c.try_into().unwrap()).to_string())
                .collect()
        };
    }
    match t.dtype {
        DType::F32 => b
            .chunks_exact(4)
            .map(|c| float(f32::from_le_bytes(c.try_into().unwrap()) as f64, true))
            .collect(),
        DType::F64 => b
            .chunks_exact(8)
            .map(|c| float(f64::from_le_bytes(c.try_into().unwrap()), false))
            .collect(),
        DType::F16 => b
            .chunks_exact(2)
            .map(|c| float(half::f16::from_bits(u16::from_le_bytes(c.try_into().unwrap())).to_f64(), true))
            .collect(),
        DType::BF16 => b
            .chunks_exact(2)
            .map(|c| float(half::bf16::from_bits(u16::from_le_bytes(c.try_into().unwrap())).to_f64(), true))
            .collect(),
        DType::I8 => b.iter().map(|&x| (x as i8).to_string()).collect(),
        DType::U8 => b.iter().map(|x| x.to_string()).collect(),
        DType::Bool => b.iter().map(|&x| if x != 0 { "true".into() } else { "false".into() }).collect(),
        DType::I16 => ints!(i16, 2),
        DType::U16 => ints!(u16, 2),
        DType::I32 => ints!(i32, 4),
        DType::U32 => ints!(u32, 4),
        DType::I64 => ints!(i64, 8),
        DType::U64 => ints!(u64, 8),
        // Packed, complex and 8-bit float types: raw bytes in hex, one token per byte.
        _ => b.iter().map(|x| format!("0x{x:02x}")).collect(),
    }
}

/// A value type as the text form writes it: like its `Display`, except that an unknown rank is
/// the bare dtype (`f32`, since `f32[?]` is rank 1 with an unknown dimension) and symbolic dims
/// that are not identifiers are quoted.
pub(crate) fn value_type(t: &ValueType) -> String {
    fn tt(t: &crate::shape::TensorType) -> String {
        match &t.shape {
            None => t.dtype.to_string(),
            Some(s) => {
                let dims: Vec<String> =
                    s.0.iter()
                        .map(|d| match d {
                            Dim::Known(n) => n.to_string(),
                            Dim::Sym(x) if x == "?" || is_ident(x) => x.clone(),
                            Dim::Sym(x) => quote(x),
                        })
                        .collect();
                format!("{}[{}]", t.dtype, dims.join(","))
            }
        }
    }
    match t {
        ValueType::Tensor(t) => tt(t),
        ValueType::Sequence(t) => format!("seq<{}>", value_type(t)),
        ValueType::Optional(t) => format!("opt<{}>", value_type(t)),
        ValueType::SparseTensor(t) => format!("sparse<{}>", tt(t)),
        ValueType::Map(k, v) => format!("map<{k},{}>", value_type(v)),
    }
}
