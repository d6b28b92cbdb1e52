//! Per-op export rules. An IR op becomes the ONNX node of the same name at the newest opset
//! (its attributes by ONNX name, inputs and outputs by ONNX value name); when the target opset
//! is older, a family rule rewrites that node into the form valid there (inputs that used to
//! be attributes read back from constants, ops that did not exist yet decomposed into older
//! ones). Every emitted node is then checked against the schema table of the target opset:
//! the op must exist, its attributes and input count must fit and its input dtypes be allowed.

mod math;
mod nn;
mod reduction;
mod tensor;

use super::names::Names;
use super::opsets::{SCHEMAS, SchemaVersion};
use crate::model::{RawAttr, RawAttrValue, RawNode};
use edgeport_ir::{Tensor, ValueType};
use std::collections::HashMap;

/// An ONNX node being exported (newest-opset form until a rule rewrites it).
#[derive(Debug, Clone, Default)]
pub(crate) struct OnnxNode {
    pub name: String,
    pub op_type: String,
    pub domain: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attrs: Vec<RawAttr>,
}

impl OnnxNode {
    pub fn new(name: &str, op_type: &str, inputs: Vec<String>, outputs: Vec<String>) -> OnnxNode {
        OnnxNode {
            name: name.to_string(),
            op_type: op_type.to_string(),
            inputs,
            outputs,
            ..Default::default()
        }
    }
    pub fn attr(&self, name: &str) -> Option<&RawAttrValue> {
        self.attrs.iter().find(|a| a.name == name).map(|a| &a.value)
    }
    pub fn int_attr(&self, name: &str) -> Option<i64> {
        match self.attr(name) {
            Some(RawAttrValue::Int(i)) => Some(*i),
            _ => None,
        }
    }
    pub fn float_attr(&self, name: &str) -> Option<f32> {
        match self.attr(name) {
            Some(RawAttrValue::Float(f)) => Some(*f),
            _ => None,
        }
    }
    pub fn take_attr(&mut self, name: &str) -> Option<RawAttrValue> {
        let i = self.attrs.iter().position(|a| a.name == name)?;
        Some(self.attrs.remove(i).value)
    }
    pub fn set_attr(&mut self, name: &str, value: RawAttrValue) {
        self.attrs.retain(|a| a.name != name);
        self.attrs.push(RawAttr {
            name: name.to_string(),
            ref_attr_name: None,
            value,
        });
    }
    /// Input `i`'s name, or "" when absent.
    pub fn input(&self, i: usize) -> &str {
        self.inputs.get(i).map(String::as_str).unwrap_or("")
    }
    /// Drops trailing omitted inputs.
    pub fn trim_inputs(&mut self) {
        while self.inputs.last().is_some_and(|s| s.is_empty()) {
            self.inputs.pop();
        }
    }
}

/// Where a rule emits nodes and new constants.
pub(crate) struct Emit<'a> {
    /// The version of the node's domain at the target.
    pub opset: i64,
    pub names: &'a mut Names,
    /// Constants of the current graph by ONNX name.
    pub consts: &'a HashMap<String, Tensor>,
    /// Known value types by ONNX name.
    pub types: &'a HashMap<String, ValueType>,
    pub nodes: Vec<OnnxNode>,
    pub inits: Vec<(String, Tensor)>,
}

impl Emit<'_> {
    /// The constant tensor behind an input name, if it is one.
    pub fn constant(&self, name: &str) -> Option<&Tensor> {
        if name.is_empty() { None } else { self.consts.get(name) }
    }
    /// A constant input's integer values.
    pub fn const_ints(&self, name: &str) -> Option<Vec<i64>> {
        self.constant(name).and_then(Tensor::to_i64_vec)
    }
    /// A constant input's values as f64.
    pub fn const_floats(&self, name: &str) -> Option<Vec<f64>> {
        self.constant(name).and_then(Tensor::to_f64_vec)
    }
    /// The rank of a value, when its type is known.
    pub fn rank(&self, name: &str) -> Option<usize> {
        if let Some(t) = self.constant(name) {
            return Some(t.shape.len());
        }
        self.types.get(name)?.as_tensor()?.shape.as_ref().map(|s| s.rank())
    }
    pub fn dtype(&self, name: &str) -> Option<edgeport_ir::DType> {
        if let Some(t) = self.constant(name) {
            return Some(t.dtype);
        }
        self.types.get(name)?.as_tensor().map(|t| t.dtype)
    }
    /// A fresh value name.
    pub fn fresh(&mut self, base: &str) -> String {
        self.names.claim(base, "tmp")
    }
    /// Adds a constant; returns its name.
    pub fn add_const(&mut self, base: &str, t: Tensor) -> String {
        let n = self.fresh(base);
        self.inits.push((n.clone(), t));
        n
    }
    /// An i64 1-D constant.
    pub fn ints_const(&mut self, base: &str, v: &[i64]) -> Result<String, String> {
        let t = Tensor::from_i64(vec![v.len()], v).map_err(|e| e.to_string())?;
        Ok(self.add_const(base, t))
    }
    /// A scalar constant of `dtype` holding `x`.
    pub fn scalar_const(&mut self, base: &str, dtype: edgeport_ir::DType, x: f64) -> Result<String, String> {
        let t = scalar(dtype, x).ok_or_else(|| format!("cannot build a {dtype} constant"))?;
        Ok(self.add_const(base, t))
    }
    /// Emits a node; `outputs` may be fresh names made with [`Emit::fresh`].
    pub fn push(&mut self, n: OnnxNode) {
        self.nodes.push(n);
    }
    /// Emits a one-output node reading `inputs`; returns the output name.
    pub fn op(&mut self, base: &str, op_type: &str, inputs: &[&str], attrs: Vec<(&str, RawAttrValue)>) -> String {
        let out = self.fresh(base);
        let mut n = OnnxNode::new(&out, op_type, inputs.iter().map(|s| s.to_string()).collect(), vec![out.clone()]);
        for (k, v) in attrs {
            n.set_attr(k, v);
        }
        self.push(n);
        out
    }
}

/// A scalar tensor of a float or integer dtype.
pub(crate) fn scalar(dtype: edgeport_ir::DType, x: f64) -> Option<Tensor> {
    use edgeport_ir::DType as D;
    let bytes: Vec<u8> = match dtype {
        D::F32 => (x as f32).to_le_bytes().to_vec(),
        D::F64 => x.to_le_bytes().to_vec(),
        D::F16 => half::f16::from_f64(x).to_bits().to_le_bytes().to_vec(),
        D::BF16 => half::bf16::from_f64(x).to_bits().to_le_bytes().to_vec(),
        D::I64 => (x as i64).to_le_bytes().to_vec(),
        D::I32 => (x as i32).to_le_bytes().to_vec(),
        D::I16 => (x as i16).to_le_bytes().to_vec(),
        D::I8 => vec![x as i8 as u8],
        D::U8 => vec![x as u8],
        D::U16 => (x as u16).to_le_bytes().to_vec(),
        D::U32 => (x as u32).to_le_bytes().to_vec(),
        D::U64 => (x as u64).to_le_bytes().to_vec(),
        _ => return None,
    };
    Tensor::from_bytes(dtype, vec![], edgeport_ir::Bytes::from_vec(bytes)).ok()
}

/// A rule: pushes the node(s) that express `n` at `em.opset` (often `n` itself, unchanged).
pub(crate) type Rule = fn(OnnxNode, &mut Emit<'_>) -> Result<(), String>;

/// The registry: (op type) → rule, for ai.onnx ops. Families register here.
fn rule_for(op_type: &str) -> Option<Rule> {
    reduction::rule(op_type)
        .or_else(|| tensor::rule(op_type))
        .or_else(|| math::rule(op_type))
        .or_else(|| nn::rule(op_type))
}

/// The schema version of `domain::op` in effect at `version`, and the first version overall.
pub(crate) fn schema_at(domain: &str, op: &str, version: i64) -> (Option<&'static SchemaVersion>, Option<i64>) {
    let d = if domain == "ai.onnx" { "" } else { domain };
    let mut at = None;
    let mut first = None;
    for s in SCHEMAS.iter().filter(|s| s.domain == d && s.name == op) {
        first.get_or_insert(s.since);
        if s.since <= version {
            at = Some(s);
        }
    }
    (at, first)
}

/// Converts one node (newest form) into nodes valid at the target (pushed to `em`).
pub(crate) fn lower_node(n: OnnxNode, custom: bool, em: &mut Emit<'_>) -> Result<(), String> {
    let std_domain = n.domain.is_empty() || n.domain == "ai.onnx";
    if std_domain
        && !custom
        && let Some(rule) = rule_for(&n.op_type)
    {
        return rule(n, em);
    }
    em.push(n);
    Ok(())
}

/// Checks emitted nodes against the schemas at their opsets; returns the problems.
pub(crate) fn check_nodes(
    nodes: &[OnnxNode],
    opset_of: &dyn Fn(&str) -> Option<i64>,
    types: &dyn Fn(&str) -> Option<edgeport_ir::DType>,
) -> Vec<String> {
    let mut out = Vec::new();
    for n in nodes {
        let Some(version) = opset_of(&n.domain) else {
            continue;
        };
        let (at, first) = schema_at(&n.domain, &n.op_type, version);
        let Some(s) = at else {
            match first {
                Some(f) => out.push(format!("{} does not exist at opset {version} (introduced at {f})", n.op_type)),
                None => out.push(format!("{} is not an operator of domain '{}'", n.op_type, n.domain)),
            }
            continue;
        };
        for a in &n.attrs {
            if !s.attrs.contains(&a.name.as_str()) {
                let since = SCHEMAS
                    .iter()
                    .filter(|x| x.domain == s.domain && x.name == s.name && x.attrs.contains(&a.name.as_str()))
                    .map(|x| x.since)
                    .next();
                match since {
                    Some(v) if v > version => out.push(format!("{}: attribute '{}' needs opset {v} (target {version})", n.op_type, a.name)),
                    _ => out.push(format!("{}: attribute '{}' is not defined at opset {version}", n.op_type, a.name)),
                }
            }
        }
        let ni = n.inputs.len();
        if ni < s.min_inputs || ni > s.max_inputs {
            out.push(format!(
                "{}: {ni} inputs, opset {version} takes {}..{}",
                n.op_type,
                s.min_inputs,
                if s.max_inputs == usize::MAX {
                    "".into()
                } else {
                    s.max_inputs.to_string()
                }
            ));
        }
        for (i, name) in n.inputs.iter().enumerate() {
            if name.is_empty() {
                continue;
            }
            let allowed = s.input_types.get(i).or(s.input_types.last()).copied().flatten();
            if let (Some(allowed), Some(dt)) = (allowed, types(name))
                && !allowed.contains(&dt)
            {
                out.push(format!("{}: input {i} of type {dt} is not allowed at opset {version}", n.op_type));
            }
        }
    }
    out
}

/// Converts emitted nodes to raw nodes.
pub(crate) fn to_raw(n: OnnxNode) -> RawNode {
    RawNode {
        name: n.name,
        op_type: n.op_type,
        domain: n.domain,
        inputs: n.inputs,
        outputs: n.outputs,
        attrs: n.attrs,
    }
}

/// Shorthand for an ints attribute value.
pub(crate) fn ints(v: Vec<i64>) -> RawAttrValue {
    RawAttrValue::Ints(v)
}

/// Moves input `i` into attribute `attr` with `value` (the caller read the constant).
pub(crate) fn input_to_attr(mut n: OnnxNode, i: usize, attr: &str, value: RawAttrValue) -> OnnxNode {
    if let Some(s) = n.inputs.get_mut(i) {
        s.clear();
    }
    n.trim_inputs();
    n.set_attr(attr, value);
    n
}

/// Emits `n` unchanged.
pub(crate) fn keep(n: OnnxNode, em: &mut Emit<'_>) -> Result<(), String> {
    em.push(n);
    Ok(())
}

impl Emit<'_> {
    /// Emits a one-output node writing `out`.
    pub fn op_to(&mut self, name: &str, op_type: &str, inputs: &[&str], attrs: Vec<(&str, RawAttrValue)>, out: &str) {
        let mut n = OnnxNode::new(name, op_type, inputs.iter().map(|s| s.to_string()).collect(), vec![out.to_string()]);
        for (k, v) in attrs {
            n.set_attr(k, v);
        }
        self.push(n);
    }
    /// A scalar constant of `x`'s dtype (f32 when unknown).
    pub fn like_const(&mut self, base: &str, x: &str, v: f64) -> Result<String, String> {
        let dt = self.dtype(x).unwrap_or(edgeport_ir::DType::F32);
        self.scalar_const(base, dt, v)
    }
    /// ReduceMean over `axes` (keepdims), in the form of the target opset.
    pub fn reduce_mean(&mut self, base: &str, x: &str, axes: &[i64]) -> Result<String, String> {
        if self.opset >= 18 {
            let a = self.ints_const("axes", axes)?;
            Ok(self.op(base, "ReduceMean", &[x, &a], vec![]))
        } else {
            Ok(self.op(base, "ReduceMean", &[x], vec![("axes", RawAttrValue::Ints(axes.to_vec()))]))
        }
    }
    /// Rank of `x`, required by a decomposition.
    pub fn need_rank(&self, x: &str, op: &str) -> Result<usize, String> {
        self.rank(x)
            .ok_or_else(|| format!("{op}: decomposing for opset {} needs the input rank to be known", self.opset))
    }
}

/// Normalizes a possibly negative axis.
pub(crate) fn norm_axis(a: i64, rank: usize) -> Result<usize, String> {
    let r = rank as i64;
    let x = if a < 0 { a + r } else { a };
    if (0..r.max(1)).contains(&x) {
        Ok(x as usize)
    } else {
        Err(format!("axis {a} is out of range for rank {rank}"))
    }
}
