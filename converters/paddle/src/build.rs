//! Building the IR graph from a neutral [`Program`]: inputs from feeds, parameters as
//! constants, one op rule per op (looked up in `ops::RULES`), outputs from fetches. Every op
//! that fails is collected; the import fails once, listing them all.
//!
//! [`Ctx`] is what the op rules see: slot and attribute accessors with the op named in every
//! error, constant builders, and the value table.

use crate::error::OpIssue;
use crate::program::{Attr, OpDesc, Program, VarInfo, dtype_from_code, dtype_from_name};
use edgeport_ir::{DType, Dim, Graph, Op, Shape, Tensor, ValueId, ValueType};
use std::collections::HashMap;

/// A rule's error: a message; the builder adds the op.
pub type RuleResult = Result<(), String>;

/// What op rules use.
pub struct Ctx<'p> {
    pub g: Graph,
    pub prog: &'p Program,
    values: HashMap<String, ValueId>,
    used: std::collections::HashSet<String>,
    counter: usize,
}

impl<'p> Ctx<'p> {
    pub fn new(prog: &'p Program, name: &str) -> Ctx<'p> {
        Ctx {
            g: Graph::new(name),
            prog,
            values: HashMap::new(),
            used: Default::default(),
            counter: 0,
        }
    }

    /// Binds a program value name to an IR value.
    pub fn bind(&mut self, name: &str, v: ValueId) {
        self.values.insert(name.to_string(), v);
    }

    pub fn lookup(&self, name: &str) -> Option<ValueId> {
        self.values.get(name).copied()
    }

    /// The value of a required input slot (its first argument).
    pub fn input(&self, op: &OpDesc, slot: &str) -> Result<ValueId, String> {
        self.opt_input(op, slot)?.ok_or_else(|| format!("input '{slot}' is missing"))
    }

    /// The value of an optional input slot.
    pub fn opt_input(&self, op: &OpDesc, slot: &str) -> Result<Option<ValueId>, String> {
        match op.input_args(slot).first() {
            None => Ok(None),
            Some(n) => self
                .lookup(n)
                .map(Some)
                .ok_or_else(|| format!("input '{slot}' reads '{n}', which no earlier op produced")),
        }
    }

    /// All values of a (variadic) input slot.
    pub fn inputs(&self, op: &OpDesc, slot: &str) -> Result<Vec<ValueId>, String> {
        op.input_args(slot)
            .iter()
            .map(|n| {
                self.lookup(n)
                    .ok_or_else(|| format!("input '{slot}' reads '{n}', which no earlier op produced"))
            })
            .collect()
    }

    /// What the file says of an input's type.
    pub fn input_info(&self, op: &OpDesc, slot: &str) -> Option<&'p VarInfo> {
        op.input_args(slot).first().and_then(|n| self.prog.vars.get(n))
    }

    /// The rank of an input, from the file's declared shape.
    pub fn input_rank(&self, op: &OpDesc, slot: &str) -> Result<usize, String> {
        self.input_info(op, slot)
            .and_then(|i| i.dims.as_ref())
            .map(Vec::len)
            .ok_or_else(|| format!("the rank of input '{slot}' is not declared in the file"))
    }

    /// Declared dims of an input (−1 unknown).
    pub fn input_dims(&self, op: &OpDesc, slot: &str) -> Option<&'p [i64]> {
        self.input_info(op, slot).and_then(|i| i.dims.as_deref())
    }

    /// Declared dims of the first value of an output slot.
    pub fn output_dims(&self, op: &OpDesc, slot: &str) -> Option<&'p [i64]> {
        op.output_args(slot)
            .first()
            .and_then(|n| self.prog.vars.get(n))
            .and_then(|i| i.dims.as_deref())
    }

    pub fn input_dtype(&self, op: &OpDesc, slot: &str) -> DType {
        self.input_info(op, slot).and_then(|i| i.dtype).unwrap_or(DType::F32)
    }

    /// Name of the first value of an output slot (the IR value is named after it).
    pub fn out_name(&self, op: &OpDesc, slot: &str) -> Result<String, String> {
        op.output_args(slot)
            .first()
            .cloned()
            .ok_or_else(|| format!("output '{slot}' is missing"))
    }

    /// Adds `op` with `inputs` and binds its first output to the first value of `slot`.
    pub fn emit(&mut self, op: &OpDesc, slot: &str, ir: Op, inputs: &[Option<ValueId>]) -> RuleResult {
        let name = self.out_name(op, slot)?;
        let v = self.node(&name, ir, inputs)?;
        self.bind(&name, v);
        Ok(())
    }

    /// Adds an op with one output named `name` (made unique when needed); returns the output.
    pub fn node(&mut self, name: &str, ir: Op, inputs: &[Option<ValueId>]) -> Result<ValueId, String> {
        let vname = self.unique(name);
        let id = self
            .g
            .add_op(vname.clone(), ir, inputs, &[vname.as_str()])
            .map_err(|e| e.to_string())?;
        Ok(id.out(0))
    }

    /// Adds an op with several outputs.
    pub fn node_multi(&mut self, name: &str, ir: Op, inputs: &[Option<ValueId>], outs: &[String]) -> Result<Vec<ValueId>, String> {
        let names: Vec<String> = outs.iter().map(|o| self.unique(o)).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let nname = self.unique(name);
        let id = self.g.add_op(nname, ir, inputs, &refs).map_err(|e| e.to_string())?;
        Ok((0..outs.len()).map(|p| id.out(p)).collect())
    }

    /// A fresh IR value/node name derived from `base`.
    pub fn unique(&mut self, base: &str) -> String {
        if self.used.insert(base.to_string()) {
            return base.to_string();
        }
        loop {
            self.counter += 1;
            let n = format!("{base}/{}", self.counter);
            if self.used.insert(n.clone()) {
                return n;
            }
        }
    }

    pub fn const_i64(&mut self, name: &str, v: &[i64]) -> ValueId {
        let n = self.unique(name);
        let t = Tensor::from_i64(vec![v.len()], v).unwrap_or_else(|_| Tensor::scalar_i64(0));
        self.g.add_constant(n, t)
    }

    /// A scalar constant of `dtype` (float or integer) holding `v`.
    pub fn const_scalar(&mut self, name: &str, dtype: DType, v: f64) -> Result<ValueId, String> {
        let t = scalar_tensor(dtype, v, vec![])?;
        let n = self.unique(name);
        Ok(self.g.add_constant(n, t))
    }

    /// The tensor of a value produced by a constant node, if it is one.
    pub fn const_of(&self, v: ValueId) -> Option<&Tensor> {
        match &self.g.get(v.node)?.op {
            Op::Constant(c) => Some(&c.value),
            _ => None,
        }
    }

    /// Integer contents of an input produced by a constant (PIR `full_int_array`, `full`).
    pub fn const_ints(&self, op: &OpDesc, slot: &str) -> Result<Option<Vec<i64>>, String> {
        let Some(v) = self.opt_input(op, slot)? else { return Ok(None) };
        let t = self
            .const_of(v)
            .ok_or_else(|| format!("input '{slot}' must be a constant (it is computed at run time)"))?;
        t.to_i64_vec()
            .map(Some)
            .ok_or_else(|| format!("input '{slot}' is not an integer constant"))
    }

    /// Float contents of a constant input.
    pub fn const_floats(&self, op: &OpDesc, slot: &str) -> Result<Option<Vec<f64>>, String> {
        let Some(v) = self.opt_input(op, slot)? else { return Ok(None) };
        let t = self
            .const_of(v)
            .ok_or_else(|| format!("input '{slot}' must be a constant (it is computed at run time)"))?;
        t.to_f64_vec()
            .map(Some)
            .ok_or_else(|| format!("input '{slot}' is not a numeric constant"))
    }

    /// `ints` attribute, or the constant input `slot` when the attribute is absent or empty.
    pub fn ints_attr_or_input(&self, op: &OpDesc, attr: &str, slot: &str) -> Result<Option<Vec<i64>>, String> {
        if let Some(v) = self.const_ints(op, slot)? {
            return Ok(Some(v));
        }
        Ok(match op.attr(attr) {
            Some(Attr::Ints(v)) => Some(v.clone()),
            Some(Attr::Int(v)) => Some(vec![*v]),
            _ => None,
        })
    }
}

/// A tensor of `shape` filled with `v` in `dtype`.
pub fn scalar_tensor(dtype: DType, v: f64, shape: Vec<usize>) -> Result<Tensor, String> {
    let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or("shape overflows")?;
    if n > 1 << 26 {
        return Err(format!("constant of {n} elements is too large"));
    }
    let one: Vec<u8> = match dtype {
        DType::F32 => (v as f32).to_le_bytes().to_vec(),
        DType::F64 => v.to_le_bytes().to_vec(),
        DType::F16 => half::f16::from_f64(v).to_le_bytes().to_vec(),
        DType::BF16 => half::bf16::from_f64(v).to_le_bytes().to_vec(),
        DType::I64 => (v as i64).to_le_bytes().to_vec(),
        DType::I32 => (v as i32).to_le_bytes().to_vec(),
        DType::I16 => (v as i16).to_le_bytes().to_vec(),
        DType::I8 => vec![(v as i8) as u8],
        DType::U8 => vec![v as u8],
        DType::Bool => vec![u8::from(v != 0.0)],
        d => return Err(format!("constants of dtype {} are not supported", d.name())),
    };
    let mut bytes = Vec::with_capacity(one.len() * n);
    for _ in 0..n {
        bytes.extend_from_slice(&one);
    }
    Tensor::from_bytes(dtype, shape, edgeport_ir::Bytes::from_vec(bytes)).map_err(|e| e.to_string())
}

/// Typed attribute accessors, naming the attribute in errors.
pub trait Attrs {
    fn int(&self, name: &str, default: i64) -> i64;
    fn float(&self, name: &str, default: f64) -> f64;
    fn boolean(&self, name: &str, default: bool) -> bool;
    fn string(&self, name: &str, default: &str) -> String;
    fn ints(&self, name: &str) -> Vec<i64>;
    fn floats(&self, name: &str) -> Vec<f64>;
    /// A dtype attribute: a Paddle VarType code (legacy) or a name (PIR).
    fn dtype(&self, name: &str) -> Result<Option<DType>, String>;
}

impl Attrs for OpDesc {
    fn int(&self, name: &str, default: i64) -> i64 {
        match self.attr(name) {
            Some(Attr::Int(v)) => *v,
            Some(Attr::Bool(b)) => i64::from(*b),
            Some(Attr::Float(f)) => *f as i64,
            _ => default,
        }
    }
    fn float(&self, name: &str, default: f64) -> f64 {
        match self.attr(name) {
            Some(Attr::Float(v)) => *v,
            Some(Attr::Int(v)) => *v as f64,
            _ => default,
        }
    }
    fn boolean(&self, name: &str, default: bool) -> bool {
        match self.attr(name) {
            Some(Attr::Bool(v)) => *v,
            Some(Attr::Int(v)) => *v != 0,
            _ => default,
        }
    }
    fn string(&self, name: &str, default: &str) -> String {
        match self.attr(name) {
            Some(Attr::Str(v)) => v.clone(),
            _ => default.to_string(),
        }
    }
    fn ints(&self, name: &str) -> Vec<i64> {
        match self.attr(name) {
            Some(Attr::Ints(v)) => v.clone(),
            Some(Attr::Int(v)) => vec![*v],
            Some(Attr::Floats(v)) => v.iter().map(|&f| f as i64).collect(),
            Some(Attr::Bools(v)) => v.iter().map(|&b| i64::from(b)).collect(),
            _ => Vec::new(),
        }
    }
    fn floats(&self, name: &str) -> Vec<f64> {
        match self.attr(name) {
            Some(Attr::Floats(v)) => v.clone(),
            Some(Attr::Ints(v)) => v.iter().map(|&i| i as f64).collect(),
            Some(Attr::Float(v)) => vec![*v],
            _ => Vec::new(),
        }
    }
    fn dtype(&self, name: &str) -> Result<Option<DType>, String> {
        match self.attr(name) {
            None => Ok(None),
            Some(Attr::Int(-1)) => Ok(None),
            Some(Attr::Int(c)) => dtype_from_code(*c)
                .map(Some)
                .ok_or_else(|| format!("attribute '{name}': unknown dtype code {c}")),
            Some(Attr::Str(s)) => dtype_from_name(s)
                .map(Some)
                .ok_or_else(|| format!("attribute '{name}': unknown dtype '{s}'")),
            Some(a) => Err(format!("attribute '{name}' is not a dtype: {a:?}")),
        }
    }
}

/// The IR type of a program value, from the file.
pub fn value_type(info: Option<&VarInfo>, name: &str) -> Option<ValueType> {
    let info = info?;
    let dtype = info.dtype?;
    let shape = info.dims.as_ref().map(|dims| {
        Shape(
            dims.iter()
                .enumerate()
                .map(|(i, &d)| {
                    if d >= 0 {
                        Dim::Known(d as u64)
                    } else if i == 0 {
                        Dim::Sym("batch".into())
                    } else {
                        Dim::Sym(format!("{name}_{i}"))
                    }
                })
                .collect(),
        )
    });
    Some(ValueType::tensor(dtype, shape))
}

/// Builds the graph. `params` are the parameter tensors in `prog.params` order. `file` names
/// the program in issue messages.
pub fn build_graph(prog: &Program, params: Vec<Tensor>, name: &str) -> Result<Graph, Vec<OpIssue>> {
    let mut cx = Ctx::new(prog, name);
    let mut issues = prog.issues.clone();
    for f in &prog.feeds {
        let ty = value_type(prog.vars.get(&f.value), &f.name);
        let n = cx.unique(&f.name);
        let v = cx.g.add_input(n, ty);
        cx.bind(&f.value, v);
    }
    for ((pname, value), t) in prog.params.iter().zip(params) {
        let n = cx.unique(pname);
        let v = cx.g.add_constant(n, t);
        cx.bind(value, v);
    }
    for op in &prog.ops {
        let res = match crate::ops::rule(&op.ty) {
            Some(rule) => rule(&mut cx, op),
            None => Err(format!("op type '{}' is not supported", op.ty)),
        };
        if let Err(reason) = res {
            issues.push(OpIssue {
                index: op.index,
                op: op.file_ty.clone(),
                name: op.name(),
                reason,
            });
        }
    }
    if !issues.is_empty() {
        issues.sort_by_key(|i| i.index);
        return Err(issues);
    }
    let mut outputs = Vec::with_capacity(prog.fetches.len());
    for f in &prog.fetches {
        match cx.lookup(&f.value) {
            Some(v) => outputs.push((f.name.clone(), v)),
            None => issues.push(OpIssue {
                index: prog.ops.len(),
                op: "fetch".into(),
                name: f.name.clone(),
                reason: format!("fetches '{}', which no op produced", f.value),
            }),
        }
    }
    if !issues.is_empty() {
        return Err(issues);
    }
    // An output that is also an input or another output's value gets an Identity so that its
    // name is its own.
    let mut g = cx.g;
    let mut final_outs = Vec::with_capacity(outputs.len());
    for (name, v) in outputs {
        let same = g.value(v).map(|x| x.name == name).unwrap_or(false);
        if same {
            final_outs.push((name, v));
        } else {
            let id = g
                .add_op(name.clone(), Op::Identity(Default::default()), &[Some(v)], &[name.as_str()])
                .map_err(|e| {
                    vec![OpIssue {
                        index: prog.ops.len(),
                        op: "fetch".into(),
                        name: name.clone(),
                        reason: e.to_string(),
                    }]
                })?;
            final_outs.push((name, id.out(0)));
        }
    }
    g.set_outputs(final_outs).map_err(|e| {
        vec![OpIssue {
            index: prog.ops.len(),
            op: "fetch".into(),
            name: String::new(),
            reason: e.to_string(),
        }]
    })?;
    Ok(g)
}
