//! The state of one program import: the graph being built, torch value names → IR values, the
//! `tensor_values` metadata, and helpers to add IR ops and constants with unique names. Also the
//! parsed form of a node ([`N`]) with typed argument getters that apply the ATen defaults.

use super::schema::{Arg, Meta, SymInt};
use edgeport_ir::{AttrValue, Bytes, DType, Graph, Op, OpKind, Tensor, ValueId};
use std::collections::HashMap;

pub type R<T> = Result<T, String>;

/// A node of the program with its arguments by name.
pub struct N {
    pub name: String,
    pub target: String,
    pub args: Vec<(String, Arg)>,
    /// The torch names of the node's outputs (flattened; `None` for a non-tensor output).
    pub outs: Vec<String>,
}

impl N {
    pub fn get(&self, name: &str) -> Option<&Arg> {
        self.args.iter().find(|(n, _)| n == name).map(|(_, a)| a)
    }
    /// Output `i`'s torch name (or a made-up one for unnamed outputs).
    pub fn out(&self, i: usize) -> String {
        self.outs.get(i).cloned().unwrap_or_else(|| format!("{}__out{i}", self.name))
    }
    pub fn int(&self, name: &str, default: i64) -> R<i64> {
        match self.get(name) {
            None | Some(Arg::None) => Ok(default),
            Some(Arg::Int(i)) => Ok(*i),
            Some(Arg::SymInt(SymInt::Int(i))) => Ok(*i),
            Some(Arg::Bool(b)) => Ok(*b as i64),
            Some(a) => Err(format!("argument '{name}' is {}, expected an int", a.describe())),
        }
    }
    pub fn opt_int(&self, name: &str) -> R<Option<i64>> {
        match self.get(name) {
            None | Some(Arg::None) => Ok(None),
            _ => self.int(name, 0).map(Some),
        }
    }
    pub fn float(&self, name: &str, default: f64) -> R<f64> {
        match self.get(name) {
            None | Some(Arg::None) => Ok(default),
            Some(Arg::Float(f)) => Ok(*f),
            Some(Arg::Int(i)) => Ok(*i as f64),
            Some(Arg::Bool(b)) => Ok(*b as i64 as f64),
            Some(a) => Err(format!("argument '{name}' is {}, expected a number", a.describe())),
        }
    }
    pub fn opt_float(&self, name: &str) -> R<Option<f64>> {
        match self.get(name) {
            None | Some(Arg::None) => Ok(None),
            _ => self.float(name, 0.0).map(Some),
        }
    }
    pub fn bool(&self, name: &str, default: bool) -> R<bool> {
        match self.get(name) {
            None | Some(Arg::None) => Ok(default),
            Some(Arg::Bool(b)) => Ok(*b),
            Some(Arg::Int(i)) => Ok(*i != 0),
            Some(a) => Err(format!("argument '{name}' is {}, expected a bool", a.describe())),
        }
    }
    pub fn str(&self, name: &str, default: &str) -> R<String> {
        match self.get(name) {
            None | Some(Arg::None) => Ok(default.to_string()),
            Some(Arg::Str(s)) => Ok(s.clone()),
            Some(a) => Err(format!("argument '{name}' is {}, expected a string", a.describe())),
        }
    }
    /// An int list; a single int is repeated `n` times (ATen's `int[2]` convention).
    pub fn ints(&self, name: &str, default: &[i64], n: usize) -> R<Vec<i64>> {
        let v = match self.get(name) {
            None | Some(Arg::None) => default.to_vec(),
            Some(Arg::Ints(v)) => v.clone(),
            Some(Arg::Int(i)) => vec![*i],
            Some(Arg::SymInts(v)) => v
                .iter()
                .map(|s| match s {
                    SymInt::Int(i) => Ok(*i),
                    SymInt::Expr(e) => Err(format!("argument '{name}' has the symbolic value {e}")),
                })
                .collect::<R<_>>()?,
            Some(a) => return Err(format!("argument '{name}' is {}, expected ints", a.describe())),
        };
        Ok(if v.len() == 1 && n > 1 { vec![v[0]; n] } else { v })
    }
    /// A scalar-type argument (serde numbering).
    pub fn scalar_type(&self, name: &str) -> R<Option<DType>> {
        match self.get(name) {
            None | Some(Arg::None) => Ok(None),
            Some(Arg::ScalarType(c)) => super::schema::dtype(*c)
                .map(Some)
                .ok_or_else(|| format!("scalar type {c} is not supported")),
            Some(a) => Err(format!("argument '{name}' is {}, expected a dtype", a.describe())),
        }
    }
    pub fn tensor_name(&self, name: &str) -> R<String> {
        match self.get(name) {
            Some(Arg::Tensor(t)) => Ok(t.clone()),
            Some(a) => Err(format!("argument '{name}' is {}, expected a tensor", a.describe())),
            None => Err(format!("argument '{name}' is missing")),
        }
    }
}

/// The import state.
pub struct Ctx {
    pub g: Graph,
    pub env: HashMap<String, ValueId>,
    /// Torch names of list outputs (`as_tensors`) → their values.
    pub lists: HashMap<String, Vec<ValueId>>,
    pub metas: HashMap<String, Meta>,
    names: HashMap<String, usize>,
    /// The enclosing graphs while a subgraph (If branch, Loop body) is built, innermost last.
    pub outer: Vec<Frame>,
    /// Subgraph only: the outer names captured so far, in capture-slot order.
    pub captured: Vec<String>,
}

/// A graph under construction with its name bindings and captures.
pub struct Frame {
    pub g: Graph,
    pub env: HashMap<String, ValueId>,
    pub captured: Vec<String>,
}

impl Ctx {
    pub fn new(name: &str, metas: HashMap<String, Meta>) -> Ctx {
        Ctx {
            g: Graph::new(name),
            env: HashMap::new(),
            lists: HashMap::new(),
            metas,
            names: HashMap::new(),
            outer: Vec::new(),
            captured: Vec::new(),
        }
    }

    /// Starts building a subgraph (the current graph becomes an enclosing frame).
    pub fn enter(&mut self, f: Frame) {
        let g = std::mem::replace(&mut self.g, f.g);
        let env = std::mem::replace(&mut self.env, f.env);
        let captured = std::mem::replace(&mut self.captured, f.captured);
        self.outer.push(Frame { g, env, captured });
    }

    /// Ends the innermost subgraph and returns it (`None` when no subgraph is open).
    pub fn leave(&mut self) -> Option<Frame> {
        let f = self.outer.pop()?;
        let g = std::mem::replace(&mut self.g, f.g);
        let env = std::mem::replace(&mut self.env, f.env);
        let captured = std::mem::replace(&mut self.captured, f.captured);
        Some(Frame { g, env, captured })
    }

    /// Is `name` bound in the current graph or an enclosing one?
    pub fn defined(&self, name: &str) -> bool {
        self.env.contains_key(name) || self.outer.iter().any(|f| f.env.contains_key(name))
    }

    /// Binds `name` in the current subgraph when it is a value of an enclosing graph (a new
    /// capture input typed from its metadata); no-op when it is local or unknown.
    pub fn capture(&mut self, name: &str) {
        if self.env.contains_key(name) || !self.outer.iter().any(|f| f.env.contains_key(name)) {
            return;
        }
        let ty = self
            .metas
            .get(name)
            .map(|m| edgeport_ir::ValueType::tensor(m.dtype, Some(edgeport_ir::Shape(m.shape.clone()))));
        let v = self.g.add_capture(name, ty);
        self.env.insert(name.to_string(), v);
        self.captured.push(name.to_string());
    }

    /// A fresh IR name derived from `base`.
    pub fn fresh(&mut self, base: &str) -> String {
        let k = self.names.entry(base.to_string()).or_insert(0);
        *k += 1;
        format!("{base}__{k}")
    }

    pub fn value(&self, name: &str) -> R<ValueId> {
        // Values of enclosing graphs are captured by the interpreter before a rule runs.
        self.env
            .get(name)
            .copied()
            .ok_or_else(|| format!("value '{name}' is not defined (an unsupported or multi-output producer?)"))
    }
    pub fn meta(&self, name: &str) -> R<&Meta> {
        self.metas.get(name).ok_or_else(|| format!("no tensor metadata for '{name}'"))
    }
    /// The value and metadata of a tensor argument.
    pub fn tensor(&self, n: &N, arg: &str) -> R<(ValueId, Meta)> {
        let t = n.tensor_name(arg)?;
        Ok((self.value(&t)?, self.meta(&t)?.clone()))
    }
    pub fn opt_tensor(&self, n: &N, arg: &str) -> R<Option<ValueId>> {
        match n.get(arg) {
            None | Some(Arg::None) => Ok(None),
            Some(Arg::Tensor(t)) => self.value(t).map(Some),
            Some(a) => Err(format!("argument '{arg}' is {}, expected a tensor or None", a.describe())),
        }
    }
    /// Rank of an argument's tensor.
    pub fn rank(&self, n: &N, arg: &str) -> R<usize> {
        Ok(self.meta(&n.tensor_name(arg)?)?.rank())
    }

    /// Adds one IR op by ONNX name with generic attributes; returns its output values.
    pub fn ops(&mut self, kind: &str, attrs: Vec<(&str, AttrValue)>, inputs: &[Option<ValueId>], outs: &[&str]) -> R<Vec<ValueId>> {
        let k = OpKind::from_name("", kind).ok_or_else(|| format!("IR has no op {kind}"))?;
        let op = Op::from_kind(k, attrs.into_iter().map(|(a, v)| (a.to_string(), v)).collect()).map_err(|e| format!("{kind}: {e}"))?;
        let names: Vec<String> = outs
            .iter()
            .map(|o| if self.defined(o) { self.fresh(o) } else { o.to_string() })
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let node_name = names.first().cloned().unwrap_or_else(|| self.fresh(kind));
        let id = self.g.add_op(node_name, op, inputs, &refs).map_err(|e| format!("{kind}: {e}"))?;
        Ok((0..outs.len()).map(|port| ValueId { node: id, port }).collect())
    }
    /// Adds a one-output op named `out`.
    pub fn op(&mut self, kind: &str, attrs: Vec<(&str, AttrValue)>, inputs: &[ValueId], out: &str) -> R<ValueId> {
        let ins: Vec<Option<ValueId>> = inputs.iter().copied().map(Some).collect();
        self.ops(kind, attrs, &ins, &[out]).map(|v| v[0])
    }
    /// Adds a one-output op with a fresh name derived from `base`.
    pub fn tmp(&mut self, kind: &str, attrs: Vec<(&str, AttrValue)>, inputs: &[ValueId], base: &str) -> R<ValueId> {
        let name = self.fresh(base);
        self.op(kind, attrs, inputs, &name)
    }

    pub fn constant(&mut self, base: &str, t: Tensor) -> ValueId {
        let name = self.fresh(base);
        self.g.add_constant(name, t)
    }
    /// A 1-D i64 constant.
    pub fn const_i64(&mut self, base: &str, v: &[i64]) -> ValueId {
        let t = Tensor::from_i64(vec![v.len()], v).unwrap_or_default();
        self.constant(base, t)
    }
    /// A scalar (rank 0) constant of `dtype` holding `v`.
    pub fn scalar(&mut self, base: &str, dtype: DType, v: f64) -> R<ValueId> {
        let t = scalar_tensor(dtype, v, vec![])?;
        Ok(self.constant(base, t))
    }
}

/// A tensor of `shape` filled with `v` converted to `dtype`.
pub fn scalar_tensor(dtype: DType, v: f64, shape: Vec<usize>) -> R<Tensor> {
    let n: usize = shape.iter().product();
    let one: Vec<u8> = match dtype {
        DType::F32 => (v as f32).to_le_bytes().to_vec(),
        DType::F64 => v.to_le_bytes().to_vec(),
        DType::F16 => half::f16::from_f64(v).to_le_bytes().to_vec(),
        DType::BF16 => half::bf16::from_f64(v).to_le_bytes().to_vec(),
        DType::I64 => (v as i64).to_le_bytes().to_vec(),
        DType::I32 => (v as i32).to_le_bytes().to_vec(),
        DType::I16 => (v as i16).to_le_bytes().to_vec(),
        DType::I8 => vec![v as i8 as u8],
        DType::U8 => vec![v as u8],
        DType::Bool => vec![(v != 0.0) as u8],
        d => return Err(format!("cannot make a {d} constant")),
    };
    if n > (1 << 28) {
        return Err(format!("constant of shape {shape:?} is too large"));
    }
    let data = one.repeat(n);
    Tensor::from_bytes(dtype, shape, Bytes::from_vec(data)).map_err(|e| e.to_string())
}

pub fn ai(v: i64) -> AttrValue {
    AttrValue::Int(v)
}
pub fn af(v: f64) -> AttrValue {
    AttrValue::Float(v as f32)
}
pub fn ais(v: &[i64]) -> AttrValue {
    AttrValue::Ints(v.to_vec())
}
pub fn astr(v: &str) -> AttrValue {
    AttrValue::String(v.to_string())
}

/// Normalises a possibly negative axis against `rank`.
pub fn axis(d: i64, rank: usize) -> R<i64> {
    let r = rank as i64;
    let a = if d < 0 { d + r } else { d };
    if a < 0 || a >= r.max(1) {
        return Err(format!("dimension {d} is out of range for rank {rank}"));
    }
    Ok(a)
}
