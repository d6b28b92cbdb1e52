//! TensorFlow op rules: one file per op family, each exposing `rule(op) -> Option<Rule>`; this
//! module holds the context a rule sees ([`Cx`]) and the lookup over the families.
//!
//! A rule receives the node's resolved data inputs (control inputs are dropped) and returns its
//! flat outputs. Graph-level ops (Placeholder, Const, variables, function calls, control flow)
//! are handled by the importer, not here.

pub mod array;
pub mod image;
pub mod math;
pub mod nn;
pub mod reduce;
pub mod shape;
pub mod slice;

use crate::decode::{Attr, RawNode};
use edgeport_ir::ops::tensor::{Cast, Transpose};
use edgeport_ir::{DType, Graph, Op, Tensor, ValueId};
use std::collections::HashSet;

/// A rule: converts one node, returning its outputs in TensorFlow's output order.
pub type Rule = fn(&mut Cx<'_>) -> Result<Vec<ValueId>, String>;

/// Looks up the rule for a TensorFlow op name.
pub fn lookup(op: &str) -> Option<Rule> {
    nn::rule(op)
        .or_else(|| math::rule(op))
        .or_else(|| reduce::rule(op))
        .or_else(|| shape::rule(op))
        .or_else(|| slice::rule(op))
        .or_else(|| array::rule(op))
        .or_else(|| image::rule(op))
}

/// Every op name with a rule (for reports and the support list).
pub fn supported() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = [nn::OPS, math::OPS, reduce::OPS, shape::OPS, slice::OPS, array::OPS, image::OPS].concat();
    v.sort_unstable();
    v
}

/// Unique value and node names within one IR graph.
#[derive(Default)]
pub struct Names {
    used: HashSet<String>,
}

impl Names {
    /// `base`, or `base_N` with the smallest N that is free.
    pub fn fresh(&mut self, base: &str) -> String {
        if self.used.insert(base.to_string()) {
            return base.to_string();
        }
        let mut i = 1usize;
        loop {
            let c = format!("{base}_{i}");
            if self.used.insert(c.clone()) {
                return c;
            }
            i += 1;
        }
    }
}

/// What a rule sees of the node being converted.
pub struct Cx<'a> {
    pub g: &'a mut Graph,
    pub names: &'a mut Names,
    pub node: &'a RawNode,
    /// The node's name as it appears in the IR (prefixed by its function scope).
    pub name: String,
    /// Resolved data inputs.
    pub ins: Vec<ValueId>,
}

impl Cx<'_> {
    // ---- attributes ----
    pub fn attr(&self, k: &str) -> Option<&Attr> {
        self.node.attrs.get(k)
    }
    pub fn attr_i(&self, k: &str) -> Option<i64> {
        match self.attr(k) {
            Some(Attr::I(i)) => Some(*i),
            _ => None,
        }
    }
    pub fn attr_f(&self, k: &str) -> Option<f32> {
        match self.attr(k) {
            Some(Attr::F(f)) => Some(*f),
            _ => None,
        }
    }
    pub fn attr_b(&self, k: &str) -> bool {
        matches!(self.attr(k), Some(Attr::B(true)))
    }
    pub fn attr_s(&self, k: &str) -> Option<String> {
        match self.attr(k) {
            Some(Attr::S(s)) => Some(String::from_utf8_lossy(s).into_owned()),
            _ => None,
        }
    }
    pub fn attr_ints(&self, k: &str) -> Vec<i64> {
        match self.attr(k) {
            Some(Attr::List(l)) => l.i.clone(),
            _ => Vec::new(),
        }
    }
    /// A type attribute as an IR dtype.
    pub fn attr_type(&self, k: &str) -> Result<DType, String> {
        match self.attr(k) {
            Some(Attr::Type(t)) => crate::decode::dtype(*t).ok_or_else(|| format!("attribute '{k}': unsupported dtype code {t}")),
            _ => Err(format!("missing type attribute '{k}'")),
        }
    }
    /// `data_format` is NCHW/NCDHW (channels first).
    pub fn channels_first(&self) -> bool {
        self.attr_s("data_format").is_some_and(|f| f.starts_with("NC"))
    }

    // ---- inputs ----
    pub fn input(&self, i: usize) -> Result<ValueId, String> {
        self.ins
            .get(i)
            .copied()
            .ok_or_else(|| format!("expected at least {} inputs, got {}", i + 1, self.ins.len()))
    }
    /// The constant behind a value, if it is produced by a Constant node.
    pub fn konst(&self, v: ValueId) -> Option<&Tensor> {
        match &self.g.get(v.node)?.op {
            Op::Constant(c) => Some(&c.value),
            _ => None,
        }
    }
    /// Integer values of constant input `i`.
    pub fn const_ints(&self, i: usize) -> Result<Vec<i64>, String> {
        let v = self.input(i)?;
        self.konst(v)
            .and_then(|t| t.to_i64_vec())
            .ok_or_else(|| format!("input {i} must be a constant integer tensor"))
    }
    pub fn const_ints_opt(&self, i: usize) -> Option<Vec<i64>> {
        self.ins.get(i).and_then(|v| self.konst(*v)).and_then(|t| t.to_i64_vec())
    }
    /// The rank of a value, inferring types on demand.
    pub fn rank(&mut self, v: ValueId) -> Option<usize> {
        if let Some(r) = self.known_rank(v) {
            return Some(r);
        }
        let _ = edgeport_ir::infer::infer_types(self.g);
        self.known_rank(v)
    }
    fn known_rank(&self, v: ValueId) -> Option<usize> {
        self.g.value(v)?.ty.as_ref()?.as_tensor()?.shape.as_ref().map(|s| s.rank())
    }
    /// The static shape of a value when fully known (inferring on demand).
    pub fn static_shape(&mut self, v: ValueId) -> Option<Vec<u64>> {
        self.rank(v)?;
        self.g.value(v)?.ty.as_ref()?.as_tensor()?.shape.as_ref()?.as_known()
    }

    // ---- building ----
    /// Adds an op with `n_out` outputs; `suffix` "" names it after the TF node.
    pub fn op(&mut self, suffix: &str, op: Op, inputs: &[Option<ValueId>], n_out: usize) -> Result<Vec<ValueId>, String> {
        let base = if suffix.is_empty() {
            self.name.clone()
        } else {
            format!("{}/{suffix}", self.name)
        };
        let node_name = self.names.fresh(&base);
        let outs: Vec<String> = (0..n_out)
            .map(|k| {
                if k == 0 {
                    node_name.clone()
                } else {
                    self.names.fresh(&format!("{node_name}:{k}"))
                }
            })
            .collect();
        let refs: Vec<&str> = outs.iter().map(|s| s.as_str()).collect();
        let id = self.g.add_op(node_name, op, inputs, &refs).map_err(|e| e.to_string())?;
        Ok((0..n_out).map(|k| id.out(k)).collect())
    }
    /// Adds a one-output op with all inputs present.
    pub fn op1(&mut self, suffix: &str, op: Op, inputs: &[ValueId]) -> Result<ValueId, String> {
        let ins: Vec<Option<ValueId>> = inputs.iter().map(|v| Some(*v)).collect();
        self.op(suffix, op, &ins, 1).map(|v| v[0])
    }
    /// Adds a constant.
    pub fn constant(&mut self, suffix: &str, t: Tensor) -> ValueId {
        let n = self.names.fresh(&format!("{}/{suffix}", self.name));
        self.g.add_constant(n, t)
    }
    /// Adds an int64 constant of shape `[len]` (or a scalar when `scalar`).
    pub fn const_i64(&mut self, suffix: &str, vals: &[i64], scalar: bool) -> Result<ValueId, String> {
        let shape = if scalar { vec![] } else { vec![vals.len()] };
        let t = Tensor::from_i64(shape, vals).map_err(|e| e.to_string())?;
        Ok(self.constant(suffix, t))
    }
    /// A value as int64: constants are converted, other values cast.
    pub fn to_i64(&mut self, v: ValueId, suffix: &str) -> Result<ValueId, String> {
        if let Some(t) = self.konst(v) {
            if t.dtype == DType::I64 {
                return Ok(v);
            }
            if let Some(vals) = t.to_i64_vec() {
                let t2 = Tensor::from_i64(t.shape.clone(), &vals).map_err(|e| e.to_string())?;
                return Ok(self.constant(suffix, t2));
            }
        }
        self.cast(v, DType::I64, suffix)
    }
    pub fn cast(&mut self, v: ValueId, to: DType, suffix: &str) -> Result<ValueId, String> {
        let op = Op::Cast(Cast {
            to: i64::from(to.onnx_code()),
            ..Default::default()
        });
        self.op1(suffix, op, &[v])
    }
    pub fn transpose(&mut self, v: ValueId, perm: &[i64], suffix: &str) -> Result<ValueId, String> {
        let op = Op::Transpose(Transpose { perm: perm.to_vec() });
        self.op1(suffix, op, &[v])
    }
}

/// A rule that maps a node one-to-one onto an IR op taking the same inputs.
pub fn same_inputs(cx: &mut Cx<'_>, op: Op) -> Result<Vec<ValueId>, String> {
    let ins = cx.ins.clone();
    cx.op1("", op, &ins).map(|v| vec![v])
}

/// A scalar constant of `dtype` (floating or integer) holding `x`.
pub fn scalar(cx: &mut Cx<'_>, dtype: DType, x: f64, suffix: &str) -> Result<ValueId, String> {
    let bytes: Vec<u8> = match dtype {
        DType::F32 => (x as f32).to_le_bytes().to_vec(),
        DType::F64 => x.to_le_bytes().to_vec(),
        DType::F16 => half::f16::from_f64(x).to_le_bytes().to_vec(),
        DType::BF16 => half::bf16::from_f64(x).to_le_bytes().to_vec(),
        DType::I32 => (x as i32).to_le_bytes().to_vec(),
        DType::I64 => (x as i64).to_le_bytes().to_vec(),
        DType::I16 => (x as i16).to_le_bytes().to_vec(),
        DType::I8 => vec![x as i8 as u8],
        DType::U8 => vec![x as u8],
        d => return Err(format!("no scalar constant of dtype {d}")),
    };
    let t = Tensor::from_bytes(dtype, vec![], edgeport_ir::Bytes::from_vec(bytes)).map_err(|e| e.to_string())?;
    Ok(cx.constant(suffix, t))
}

/// The element type of the node (`T` attribute), defaulting to f32.
pub fn elem_type(cx: &Cx<'_>) -> DType {
    cx.attr_type("T").unwrap_or(DType::F32)
}

/// Permutes the axes of a constant tensor (`out.shape[i] = in.shape[perm[i]]`). No byte moves
/// now: the result reads the (memory-mapped) source through the permutation when it is written
/// (see `edgeport_ir::lazy`).
pub fn permute(t: &Tensor, perm: &[usize]) -> Result<Tensor, String> {
    t.permuted(perm)
        .map_err(|e| format!("cannot permute {} tensor of shape {:?} by {perm:?}: {e}", t.dtype, t.shape))
}
