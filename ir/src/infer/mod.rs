//! Shape and dtype inference: [`infer_types`] fills [`Value::ty`](crate::Value) where it is
//! missing (and the shape of a value whose type is known but whose rank is not).
//!
//! - **Dtypes** come generically from each op's schema ([`dtype`]): an output whose type
//!   variable also types an input takes that input's dtype; a fixed type (`tensor(int64)`) or a
//!   variable allowed a single dtype is used directly; ops that choose their output type by
//!   attribute or by another input (Cast, CastLike, QuantizeLinear, …) are special-cased.
//! - **Shapes** come from one file per op family: [`elementwise`] (unary ops and broadcasting),
//!   [`tensor`] (reshape, transpose, slicing, gathering, …; shape-like inputs must be
//!   constants), [`nn`] (matmul, conv, pools, norms), [`reduce`] (reductions, arg-max).
//!   Dims may be symbols (`N`); a shape that cannot be known leaves the value's shape `None`:
//!   inference never guesses. Small integer values computed from shapes (`Shape` → `Gather`
//!   → `Concat` → `Reshape`, …) are evaluated on the way ([`values`]), so shape arithmetic
//!   written with ops still gives known shapes.
//! - **Subgraphs** are inferred too: captured values and loop-carried inputs get their types
//!   from the parent; `If` outputs take the branches' common type.

mod dtype;
pub(crate) use dtype::fixed_type;
mod elementwise;
mod misc;
mod nn;
mod reduce;
mod tensor;
mod values;

use crate::dtype::DType;
use crate::graph::Graph;
use crate::handles::{NodeId, ValueId};
use crate::ops::Op;
use crate::shape::{Dim, Shape, TensorType, ValueType};
use crate::tensor::Tensor;
use std::collections::HashMap;

/// A contradiction found while inferring (shapes that cannot broadcast, a bad axis, …).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("node '{node}' ({op}): {msg}")]
pub struct InferError {
    pub node: String,
    pub op: String,
    pub msg: String,
}

/// What a shape rule sees of one node.
pub(crate) struct Cx<'a> {
    pub op: &'a Op,
    /// Types of the declared inputs, by slot (`None`: empty slot or unknown type).
    pub ins: Vec<Option<ValueType>>,
    /// Constant values of the declared inputs, by slot, when produced by `Constant`.
    pub consts: Vec<Option<Tensor>>,
    /// Which declared input slots are connected.
    pub present: Vec<bool>,
    pub n_out: usize,
}

/// The result of a shape rule: `Err` for a contradiction, `Ok(None)` when the op is not this
/// family's, else one shape per output (`None` = unknown).
pub(crate) type Rule = Result<Option<Vec<Option<Shape>>>, String>;

impl Cx<'_> {
    pub fn n_in(&self) -> usize {
        self.ins.len()
    }
    /// Is input slot `i` connected (whether or not its type is known)?
    pub fn present(&self, i: usize) -> bool {
        self.present.get(i).copied().unwrap_or(false)
    }
    pub fn tensor(&self, i: usize) -> Option<&TensorType> {
        self.ins.get(i)?.as_ref()?.as_tensor()
    }
    pub fn dtype(&self, i: usize) -> Option<DType> {
        self.tensor(i).map(|t| t.dtype)
    }
    pub fn shape(&self, i: usize) -> Option<&Shape> {
        self.tensor(i)?.shape.as_ref()
    }
    pub fn dims(&self, i: usize) -> Option<&[Dim]> {
        self.shape(i).map(|s| &s.0[..])
    }
    pub fn rank(&self, i: usize) -> Option<usize> {
        self.shape(i).map(Shape::rank)
    }
    pub fn konst(&self, i: usize) -> Option<&Tensor> {
        self.consts.get(i)?.as_ref()
    }
    /// A constant integer input's values.
    pub fn const_ints(&self, i: usize) -> Option<Vec<i64>> {
        self.konst(i)?.to_i64_vec()
    }
    /// A constant float input's values.
    pub fn const_floats(&self, i: usize) -> Option<Vec<f64>> {
        self.konst(i)?.to_f64_vec()
    }
}

/// One output shape for every output from a single shape.
pub(crate) fn one(s: Option<Shape>) -> Rule {
    Ok(Some(vec![s]))
}

/// Normalizes a possibly negative axis for rank `r`.
pub(crate) fn axis(a: i64, r: usize) -> Result<usize, String> {
    let r = r as i64;
    let v = if a < 0 { a.saturating_add(r) } else { a };
    if (0..r).contains(&v) {
        Ok(v as usize)
    } else {
        Err(format!("axis {a} is out of range for rank {r}"))
    }
}

/// Infers types throughout `g` and its subgraphs.
pub fn infer_types(g: &mut Graph) -> Result<(), InferError> {
    infer_graph(g, 0)
}

fn infer_graph(g: &mut Graph, depth: usize) -> Result<(), InferError> {
    if depth > crate::validate::MAX_DEPTH {
        return Err(InferError {
            node: g.name.clone(),
            op: "graph".into(),
            msg: "subgraphs nested too deep".into(),
        });
    }
    let order = g.topo_order().map_err(|e| InferError {
        node: g.name.clone(),
        op: "graph".into(),
        msg: e.to_string(),
    })?;
    let mut known = HashMap::new();
    for id in order {
        infer_node(g, id, depth, &mut known)?;
    }
    Ok(())
}

fn infer_node(g: &mut Graph, id: NodeId, depth: usize, known: &mut HashMap<ValueId, Tensor>) -> Result<(), InferError> {
    let node = g.node(id);
    if matches!(node.op, Op::Input(_)) {
        return Ok(());
    }
    let (nname, oname) = (node.name.clone(), node.op.name().to_string());
    let err = move |msg: String| InferError {
        node: nname.clone(),
        op: oname.clone(),
        msg,
    };
    let ins = g.inputs_of(id);
    let decl = node.n_inputs.saturating_sub(node.n_captures).min(ins.len());
    let in_types: Vec<Option<ValueType>> = ins.iter().map(|v| v.and_then(|v| g.value(v)?.ty.clone())).collect();
    // Subgraphs first: give captures and body inputs their types, infer inside.
    if !node.op.subgraphs().is_empty() {
        let caps: Vec<Option<ValueType>> = in_types[decl..].to_vec();
        let declared: Vec<Option<ValueType>> = in_types[..decl].to_vec();
        let mut op = g.node(id).op.clone();
        let kind = op.kind();
        let scan_inputs = match &op {
            Op::Scan(s) => usize::try_from(s.num_scan_inputs).unwrap_or(0),
            _ => 0,
        };
        for sub in op.subgraphs_mut() {
            seed_subgraph(sub, &caps, &declared, kind, scan_inputs);
            infer_graph(sub, depth + 1)?;
        }
        g.node_mut(id).op = op;
    }
    let node = g.node(id);
    let consts: Vec<Option<Tensor>> = ins[..decl]
        .iter()
        .map(|v| {
            let v = (*v)?;
            match &g.get(v.node)?.op {
                Op::Constant(c) if v.port == 0 => Some(c.value.clone()),
                _ => known.get(&v).cloned(),
            }
        })
        .collect();
    let present = ins[..decl].iter().map(Option::is_some).collect();
    let cx = Cx {
        op: &node.op,
        ins: in_types[..decl].to_vec(),
        consts,
        present,
        n_out: node.outputs.len(),
    };
    let dtypes = dtype::output_dtypes(&cx);
    let shapes = shapes(&cx).map_err(&err)?;
    if let Some(t) = values::evaluate(&cx, shapes.first().cloned().flatten().as_ref()) {
        known.insert(id.out(0), t);
    }
    let mut sub_types = subgraph_output_types(&node.op, node.outputs.len(), &cx.ins);
    if let Some(t) = structured_type(&cx) {
        sub_types = vec![Some(t)];
    }
    let new: Vec<Option<ValueType>> = (0..node.outputs.len())
        .map(|k| {
            if let Some(t) = sub_types.get(k).cloned().flatten() {
                return Some(t);
            }
            let dt = dtypes.get(k).copied().flatten()?;
            let shape = shapes.get(k).cloned().flatten();
            Some(ValueType::Tensor(TensorType { dtype: dt, shape }))
        })
        .collect();
    let node = g.node_mut(id);
    for (v, t) in node.outputs.iter_mut().zip(new) {
        let Some(t) = t else { continue };
        match &mut v.ty {
            None => v.ty = Some(t),
            Some(ValueType::Tensor(old)) => {
                // Fill in a missing shape when the dtypes agree.
                if let (None, ValueType::Tensor(n)) = (&old.shape, &t)
                    && n.dtype == old.dtype
                {
                    old.shape = n.shape.clone();
                }
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Shapes of every output of the node (unknown where no rule applies).
fn shapes(cx: &Cx<'_>) -> Result<Vec<Option<Shape>>, String> {
    for rule in [elementwise::infer, tensor::infer, nn::infer, reduce::infer, misc::infer] {
        if let Some(s) = rule(cx)? {
            return Ok(s);
        }
    }
    Ok(vec![None; cx.n_out])
}

/// Sequence and optional types passed through or wrapped by the ops that handle them.
fn structured_type(cx: &Cx<'_>) -> Option<ValueType> {
    let input = |i: usize| cx.ins.get(i).cloned().flatten();
    let elem = |i: usize| cx.dtype(i).map(|d| ValueType::tensor(d, None));
    match cx.op {
        Op::Identity(_) => input(0).filter(|t| t.as_tensor().is_none()),
        Op::SequenceInsert(_) | Op::SequenceErase(_) => input(0).map(dtype_only),
        Op::SequenceConstruct(_) | Op::SplitToSequence(_) => elem(0).map(|e| ValueType::Sequence(Box::new(e))),
        Op::Optional(o) => o
            .r#type
            .clone()
            .map(|t| ValueType::Optional(Box::new(t)))
            .or_else(|| input(0).map(|t| ValueType::Optional(Box::new(t)))),
        Op::OptionalGetElement(_) => match input(0)? {
            ValueType::Optional(t) => Some(*t),
            t => Some(t),
        },
        _ => None,
    }
}

/// Types the inputs of a subgraph from the parent: captures by slot, and the body inputs of
/// Loop (`iter_num`, `cond`, loop-carried values) and Scan (state, scan slices).
fn seed_subgraph(
    sub: &mut Graph,
    caps: &[Option<ValueType>],
    declared: &[Option<ValueType>],
    kind: crate::ops::OpKind,
    scan_inputs: usize,
) {
    let cap_ids: Vec<NodeId> = sub.captures().to_vec();
    for (n, t) in cap_ids.into_iter().zip(caps) {
        set_if_missing(sub, n, t.clone());
    }
    let inputs: Vec<NodeId> = sub.inputs().to_vec();
    match kind {
        crate::ops::OpKind::Loop => {
            for (k, n) in inputs.into_iter().enumerate() {
                let t = match k {
                    0 => Some(ValueType::tensor(DType::I64, Some(Shape(vec![])))),
                    1 => Some(ValueType::tensor(DType::Bool, Some(Shape(vec![])))),
                    _ => declared.get(k).cloned().flatten(),
                };
                set_if_missing(sub, n, t);
            }
        }
        crate::ops::OpKind::Scan => {
            // State inputs keep their type; scan slices drop an axis, so only their dtype is
            // given. Body inputs are the state values, then the scan slices.
            let n_state = declared.len().saturating_sub(scan_inputs);
            for (k, n) in inputs.into_iter().enumerate() {
                let t = declared.get(k).cloned().flatten();
                set_if_missing(sub, n, if k < n_state { t } else { t.map(dtype_only) });
            }
        }
        _ => {}
    }
}

fn set_if_missing(g: &mut Graph, n: NodeId, t: Option<ValueType>) {
    if let Some(v) = g.value_mut(n.out(0))
        && v.ty.is_none()
    {
        v.ty = t;
    }
}

fn graph_output_types(g: &Graph) -> Vec<Option<ValueType>> {
    g.outputs().iter().map(|(_, v)| g.value(*v).and_then(|x| x.ty.clone())).collect()
}

/// The type without its shapes (element types of sequences and optionals too).
fn dtype_only(t: ValueType) -> ValueType {
    match t {
        ValueType::Tensor(tt) => ValueType::Tensor(TensorType {
            dtype: tt.dtype,
            shape: None,
        }),
        ValueType::Sequence(e) => ValueType::Sequence(Box::new(dtype_only(*e))),
        ValueType::Optional(e) => ValueType::Optional(Box::new(dtype_only(*e))),
        other => other,
    }
}

/// Output types that come from subgraphs: `If` takes what both branches agree on; Loop and
/// Scan take their body's output dtypes (and a loop-carried value's full type when the body
/// keeps it unchanged).
fn subgraph_output_types(op: &Op, n_out: usize, ins: &[Option<ValueType>]) -> Vec<Option<ValueType>> {
    let outs = graph_output_types;
    let i = match op {
        Op::If(i) => i,
        Op::Loop(l) => {
            let body = outs(&l.body);
            let n_carried = ins.len().saturating_sub(2);
            return (0..n_out)
                .map(|k| {
                    let t = body.get(k + 1).cloned().flatten()?;
                    if k < n_carried && ins.get(k + 2).cloned().flatten().as_ref() == Some(&t) && t.as_tensor().is_some() {
                        Some(t)
                    } else {
                        Some(dtype_only(t))
                    }
                })
                .collect();
        }
        Op::Scan(sc) => {
            let body = outs(&sc.body);
            let n_state = ins.len().saturating_sub(usize::try_from(sc.num_scan_inputs).unwrap_or(0));
            return (0..n_out)
                .map(|k| {
                    let t = body.get(k).cloned().flatten()?;
                    if k < n_state && ins.get(k).cloned().flatten().as_ref() == Some(&t) {
                        Some(t)
                    } else {
                        Some(dtype_only(t))
                    }
                })
                .collect();
        }
        _ => return vec![None; n_out],
    };
    let (a, b) = (outs(&i.then_branch), outs(&i.else_branch));
    (0..n_out)
        .map(|k| {
            let (x, y) = (a.get(k).cloned().flatten()?, b.get(k).cloned().flatten()?);
            if x == y {
                return Some(x);
            }
            match (x, y) {
                (ValueType::Tensor(x), ValueType::Tensor(y)) if x.dtype == y.dtype => {
                    let shape = match (x.shape, y.shape) {
                        (Some(p), Some(q)) if p.rank() == q.rank() => Some(Shape(
                            p.0.into_iter()
                                .zip(q.0)
                                .map(|(d, e)| if d == e { d } else { Dim::Sym("?".into()) })
                                .collect(),
                        )),
                        _ => None,
                    };
                    Some(ValueType::Tensor(TensorType { dtype: x.dtype, shape }))
                }
                _ => None,
            }
        })
        .collect()
}
