//! A graph prepared for differentiable execution: trainable weights as candle `Var`s, frozen
//! constants (and constant-only subexpressions) computed once, and a forward pass that runs
//! float ops on candle (so `backward` works) and everything else on the evaluator.

use crate::error::{Result, TrainError, ce, node_err};
use crate::ops::{self, Ctx, Native};
use crate::value::RtVal;
use candle_core::{Device, Tensor as CTensor, Var};
use edgeport_eval::{Tensor as ETensor, Value as EValue};
use edgeport_ir::{DType, Graph, NodeId, Op, QuantParams, ValueId};
use std::collections::{HashMap, HashSet};

/// How a trainable weight is stored in the graph.
#[derive(Clone, Debug)]
pub(crate) struct QuantSpec {
    /// The DequantizeLinear node whose output the fake-quantized weight replaces.
    pub dq_node: NodeId,
    pub scale: CTensor,
    pub zero: CTensor,
    pub lo: f64,
    pub hi: f64,
    pub storage: DType,
    pub quant: Option<QuantParams>,
}

/// One trainable tensor.
#[derive(Clone, Debug)]
pub struct Param {
    /// The constant's value name in the graph.
    pub name: String,
    pub(crate) node: NodeId,
    pub var: Var,
    /// The constant's dtype in the graph (f32, f16, …, or the integer storage type).
    pub dtype: DType,
    pub(crate) quant: Option<QuantSpec>,
}

/// A graph ready to run (and train) on candle.
pub struct Model {
    pub(crate) graph: Graph,
    order: Vec<NodeId>,
    fixed: HashMap<ValueId, RtVal>,
    pub(crate) params: Vec<Param>,
    param_of_node: HashMap<NodeId, usize>,
    no_grad: Vec<String>,
}

/// Follows Identity nodes back to the producer of `v`.
fn through_identity(g: &Graph, mut v: ValueId) -> ValueId {
    for _ in 0..64 {
        match g.get(v.node).map(|n| &n.op) {
            Some(Op::Identity(_)) => match g.inputs_of(v.node).first().copied().flatten() {
                Some(src) => v = src,
                None => break,
            },
            _ => break,
        }
    }
    v
}

fn producer_op(g: &Graph, v: Option<ValueId>) -> Option<&Op> {
    v.map(|v| through_identity(g, v)).and_then(|v| g.get(v.node)).map(|n| &n.op)
}

/// Input slots of `n` that hold trainable weights.
fn trainable_slots(g: &Graph, n: NodeId) -> Vec<usize> {
    let Some(node) = g.get(n) else { return vec![] };
    match &node.op {
        Op::Conv(_) | Op::Gemm(_) | Op::BatchNormalization(_) | Op::LayerNormalization(_) => vec![1, 2],
        Op::MatMul(_) => vec![0, 1],
        Op::Add(_) => {
            // A bias after a MatMul/Gemm/Conv.
            let ins = g.inputs_of(n);
            let lin = |i: usize| {
                matches!(
                    producer_op(g, ins.get(i).copied().flatten()),
                    Some(Op::MatMul(_) | Op::Gemm(_) | Op::Conv(_))
                )
            };
            let mut v = Vec::new();
            if lin(0) {
                v.push(1);
            }
            if lin(1) {
                v.push(0);
            }
            v
        }
        _ => vec![],
    }
}

fn eval_tensor(t: &edgeport_ir::Tensor) -> Result<ETensor> {
    ETensor::from_ir(t).map_err(|e| TrainError::Graph(format!("constant: {e}")))
}

fn f32_var(t: &ETensor) -> Result<Var> {
    let c = crate::value::host_to_candle(t).map_err(TrainError::Graph)?;
    Var::from_tensor(&c).map_err(|e| TrainError::Graph(ce(e)))
}

fn op_name(op: &Op) -> String {
    match op {
        Op::Custom(c) => format!("{}::{}", c.domain, c.name),
        other => other.name().to_string(),
    }
}

impl Model {
    /// Prepares `g`. With `trainable`, Conv/Gemm/MatMul weights and biases and
    /// BatchNorm/LayerNorm scale and bias become `Var`s (quantized weights feeding
    /// DequantizeLinear are trained in float through fake quantization); otherwise everything
    /// is frozen.
    pub fn new(g: &Graph, trainable: bool) -> Result<Model> {
        let mut graph = g.clone();
        let _ = edgeport_ir::infer::infer_types(&mut graph);
        let order = graph.topo_order().map_err(|e| TrainError::Graph(e.to_string()))?;
        for &n in &order {
            if graph.node(n).n_captures > 0 || !graph.node(n).op.subgraphs().is_empty() {
                return Err(TrainError::Graph(format!(
                    "node '{}' ({}) holds subgraphs, which training does not run",
                    graph.node(n).name,
                    op_name(&graph.node(n).op)
                )));
            }
        }
        // Which constants are trainable.
        let mut float_params: Vec<NodeId> = Vec::new();
        let mut quant_params: Vec<(NodeId, NodeId)> = Vec::new(); // (int constant, dq node)
        if trainable {
            for &n in &order {
                let ins = graph.inputs_of(n);
                for s in trainable_slots(&graph, n) {
                    let Some(v) = ins.get(s).copied().flatten() else { continue };
                    let v = through_identity(&graph, v);
                    let node = graph.node(v.node);
                    match &node.op {
                        Op::Constant(c) if c.value.dtype.is_float() && c.value.quant.is_none() && !float_params.contains(&v.node) => {
                            float_params.push(v.node);
                        }
                        Op::DequantizeLinear(d) if d.block_size == 0 => {
                            let dins = graph.inputs_of(v.node);
                            let x = dins.first().copied().flatten().map(|x| through_identity(&graph, x));
                            if let Some(x) = x
                                && let Op::Constant(c) = &graph.node(x.node).op
                                && ops::qrange(c.value.dtype).is_some()
                                && !quant_params.iter().any(|q| q.1 == v.node)
                            {
                                quant_params.push((x.node, v.node));
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        let mut fixed: HashMap<ValueId, RtVal> = HashMap::new();
        let mut params = Vec::new();
        let mut param_of_node = HashMap::new();
        for &n in &order {
            let node = graph.node(n);
            if let Op::Constant(c) = &node.op {
                let et = eval_tensor(&c.value)?;
                if float_params.contains(&n) {
                    param_of_node.insert(n, params.len());
                    params.push(Param {
                        name: node.outputs.first().map(|v| v.name.clone()).unwrap_or_default(),
                        node: n,
                        var: f32_var(&et)?,
                        dtype: c.value.dtype,
                        quant: None,
                    });
                } else {
                    let rv = RtVal::from_host(et).map_err(|e| TrainError::Graph(format!("constant '{}': {e}", node.name)))?;
                    fixed.insert(n.out(0), rv);
                }
            }
        }
        // Fake-quantized weights: the DQ node's output is computed from a float Var.
        for (cn, dq) in quant_params {
            let ins = graph.inputs_of(dq);
            let get = |i: usize| -> Result<Option<CTensor>> {
                match ins.get(i).copied().flatten().map(|v| through_identity(&graph, v)) {
                    Some(v) => match fixed.get(&v) {
                        Some(rv) => {
                            let h = rv.host().map_err(TrainError::Graph)?;
                            let h = h.cast(DType::F32).map_err(|e| TrainError::Graph(e.to_string()))?;
                            Ok(Some(crate::value::host_to_candle(&h).map_err(TrainError::Graph)?))
                        }
                        None => Ok(None),
                    },
                    None => Ok(None),
                }
            };
            let (Some(codes), Some(scale)) = (get(0)?, get(1)?) else { continue };
            let Op::DequantizeLinear(d) = &graph.node(dq).op else { continue };
            let Op::Constant(c) = &graph.node(cn).op else { continue };
            let rank = codes.rank();
            let scale = ops::along(&scale, d.axis, rank).map_err(TrainError::Graph)?;
            let zero = match get(2)? {
                Some(z) => ops::along(&z, d.axis, rank).map_err(TrainError::Graph)?,
                None => scale.zeros_like().map_err(|e| TrainError::Graph(ce(e)))?,
            };
            let w = codes
                .broadcast_sub(&zero)
                .and_then(|t| t.broadcast_mul(&scale))
                .map_err(|e| TrainError::Graph(ce(e)))?;
            let Some((lo, hi)) = ops::qrange(c.value.dtype) else { continue };
            param_of_node.insert(dq, params.len());
            params.push(Param {
                name: graph.node(cn).outputs.first().map(|v| v.name.clone()).unwrap_or_default(),
                node: cn,
                var: Var::from_tensor(&w).map_err(|e| TrainError::Graph(ce(e)))?,
                dtype: c.value.dtype,
                quant: Some(QuantSpec {
                    dq_node: dq,
                    scale,
                    zero,
                    lo,
                    hi,
                    storage: c.value.dtype,
                    quant: c.value.quant.clone(),
                }),
            });
        }
        let mut m = Model {
            graph,
            order,
            fixed,
            params,
            param_of_node,
            no_grad: Vec::new(),
        };
        m.fold_constants()?;
        m.no_grad = m.gradient_gaps();
        Ok(m)
    }

    /// Computes nodes whose inputs are all fixed, once.
    fn fold_constants(&mut self) -> Result<()> {
        for i in 0..self.order.len() {
            let n = self.order[i];
            let node = self.graph.node(n);
            if matches!(node.op, Op::Input(_) | Op::Constant(_)) || self.param_of_node.contains_key(&n) {
                continue;
            }
            let ins = self.graph.inputs_of(n);
            if ins.iter().flatten().any(|v| !self.fixed.contains_key(v)) {
                continue;
            }
            let vals: Vec<Option<RtVal>> = ins.iter().map(|v| v.and_then(|v| self.fixed.get(&v).cloned())).collect();
            let outs = self.run_node(n, &vals)?;
            for (p, o) in outs.into_iter().enumerate() {
                if let Some(o) = o {
                    self.fixed.insert(n.out(p), o);
                }
            }
        }
        Ok(())
    }

    /// Nodes on the gradient path whose op has no gradient here.
    fn gradient_gaps(&self) -> Vec<String> {
        let mut grad: HashSet<ValueId> = HashSet::new();
        for p in &self.params {
            let n = p.quant.as_ref().map(|q| q.dq_node).unwrap_or(p.node);
            grad.insert(n.out(0));
        }
        let mut gaps = Vec::new();
        for &n in &self.order {
            let node = self.graph.node(n);
            if matches!(node.op, Op::Input(_) | Op::Constant(_)) || self.param_of_node.contains_key(&n) {
                continue;
            }
            if !self.graph.inputs_of(n).iter().flatten().any(|v| grad.contains(v)) {
                continue;
            }
            let quant = matches!(node.op, Op::QuantizeLinear(_) | Op::DequantizeLinear(_));
            let float_outs: Vec<usize> = node
                .outputs
                .iter()
                .enumerate()
                .filter(|(_, v)| quant || v.ty.as_ref().and_then(|t| t.as_tensor()).is_none_or(|t| t.dtype.is_float()))
                .map(|(i, _)| i)
                .collect();
            if float_outs.is_empty() {
                continue;
            }
            if ops::differentiable(&node.op) {
                for i in float_outs {
                    grad.insert(n.out(i));
                }
            } else {
                gaps.push(format!("node '{}' ({})", node.name, op_name(&node.op)));
            }
        }
        gaps
    }

    /// Errors listing every op on the gradient path without a gradient.
    pub fn check_gradients(&self) -> Result<()> {
        if self.no_grad.is_empty() {
            Ok(())
        } else {
            Err(TrainError::NoGradient(self.no_grad.clone()))
        }
    }

    /// The trainable tensors.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// Number of trainable scalars.
    pub fn n_trainable(&self) -> usize {
        self.params.iter().map(|p| p.var.elem_count()).sum()
    }

    /// The graph this model runs.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// Finds a value by name (for intermediate matching).
    pub fn value_by_name(&self, name: &str) -> Option<ValueId> {
        self.graph
            .find_value(name)
            .or_else(|| self.graph.node_ids().find(|&n| self.graph.node(n).name == name).map(|n| n.out(0)))
    }

    /// Number of used outputs of node `n` (1 + the last port that has a consumer or is a graph output).
    fn used_outputs(&self, n: NodeId) -> usize {
        let node = self.graph.node(n);
        (0..node.outputs.len())
            .rev()
            .find(|&p| !self.graph.consumers(n.out(p)).is_empty() || self.graph.is_output(n.out(p)))
            .map(|p| p + 1)
            .unwrap_or(1)
    }

    /// Runs one node natively, or on the evaluator when no gradient flows through it.
    fn run_node(&self, n: NodeId, vals: &[Option<RtVal>]) -> Result<Vec<Option<RtVal>>> {
        let node = self.graph.node(n);
        let cx = Ctx {
            inputs: vals,
            n_out: self.used_outputs(n),
        };
        let on = op_name(&node.op);
        match ops::run(&node.op, &cx).map_err(|e| node_err(&node.name, &on, e))? {
            Native::Done(o) => Ok(o.into_iter().map(Some).collect()),
            Native::NotHere(reason) => {
                let tracked = vals.iter().flatten().any(|v| match v {
                    RtVal::F(t) | RtVal::Q(t, _) => t.track_op(),
                    RtVal::H(_) => false,
                });
                if tracked && !self.non_float_outputs(n) {
                    return Err(node_err(&node.name, &on, format!("no gradient here ({reason})")));
                }
                self.fallback(n, vals)
            }
        }
    }

    /// Are all outputs of `n` known to be non-float (masks, indices)? No gradient passes them.
    fn non_float_outputs(&self, n: NodeId) -> bool {
        self.graph
            .node(n)
            .outputs
            .iter()
            .all(|v| v.ty.as_ref().and_then(|t| t.as_tensor()).is_some_and(|t| !t.dtype.is_float()))
    }

    /// Runs node `n` alone on the evaluator.
    fn fallback(&self, n: NodeId, vals: &[Option<RtVal>]) -> Result<Vec<Option<RtVal>>> {
        let node = self.graph.node(n);
        let on = op_name(&node.op);
        let mut g = Graph::new(node.name.clone());
        let mut slots = Vec::with_capacity(vals.len());
        let mut inputs = Vec::new();
        for (i, v) in vals.iter().enumerate() {
            match v {
                Some(v) => {
                    slots.push(Some(g.add_input(format!("in{i}"), None)));
                    inputs.push(EValue::Tensor(v.host().map_err(|e| node_err(&node.name, &on, e))?));
                }
                None => slots.push(None),
            }
        }
        let used = self.used_outputs(n);
        let names: Vec<String> = (0..node.outputs.len())
            .map(|p| if p < used { format!("out{p}") } else { String::new() })
            .collect();
        let name_refs: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        let id = g
            .add_op(node.name.clone(), node.op.clone(), &slots, &name_refs)
            .map_err(|e| node_err(&node.name, &on, e))?;
        for p in 0..used {
            g.add_output(format!("out{p}"), id.out(p))
                .map_err(|e| node_err(&node.name, &on, e))?;
        }
        let outs = edgeport_eval::run_graph(&g, inputs).map_err(|e| node_err(&node.name, &on, e))?;
        outs.into_iter()
            .map(|v| match v {
                EValue::Tensor(t) => RtVal::from_host(t).map(Some).map_err(|e| node_err(&node.name, &on, e)),
                other => Err(node_err(&node.name, &on, format!("non-tensor output {}", other.describe()))),
            })
            .collect()
    }

    /// The fake-quantized (or plain) weight of parameter `i` as the graph sees it.
    fn param_value(&self, i: usize) -> Result<CTensor> {
        let p = &self.params[i];
        let w = p.var.as_tensor();
        match &p.quant {
            None => Ok(w.clone()),
            Some(q) => ops::fake_codes(w, &q.scale, &q.zero, q.lo, q.hi)
                .and_then(|c| c.broadcast_sub(&q.zero))
                .and_then(|c| c.broadcast_mul(&q.scale))
                .map_err(|e| TrainError::Graph(format!("weight '{}': {}", p.name, ce(e)))),
        }
    }

    /// Runs the graph on `inputs` (graph-input order). Returns the graph outputs and the
    /// values named in `taps`.
    pub fn forward(&self, inputs: Vec<RtVal>, taps: &[ValueId]) -> Result<(Vec<RtVal>, Vec<RtVal>)> {
        let gin = self.graph.inputs();
        if inputs.len() != gin.len() {
            return Err(TrainError::Data(format!(
                "graph takes {} inputs, {} given",
                gin.len(),
                inputs.len()
            )));
        }
        let mut vals: HashMap<ValueId, RtVal> = HashMap::new();
        for (n, v) in gin.iter().zip(inputs) {
            vals.insert(n.out(0), v);
        }
        for &n in &self.order {
            let node = self.graph.node(n);
            if matches!(node.op, Op::Input(_)) || (self.fixed.contains_key(&n.out(0)) && !self.param_of_node.contains_key(&n)) {
                continue;
            }
            if let Some(&i) = self.param_of_node.get(&n) {
                vals.insert(n.out(0), RtVal::F(self.param_value(i)?));
                continue;
            }
            let ins = self.graph.inputs_of(n);
            let mut iv = Vec::with_capacity(ins.len());
            for v in &ins {
                iv.push(match v {
                    Some(v) => Some(
                        vals.get(v)
                            .or_else(|| self.fixed.get(v))
                            .cloned()
                            .ok_or_else(|| TrainError::Graph(format!("node '{}': input value {v} was not computed", node.name)))?,
                    ),
                    None => None,
                });
            }
            for (p, o) in self.run_node(n, &iv)?.into_iter().enumerate() {
                if let Some(o) = o {
                    vals.insert(n.out(p), o);
                }
            }
        }
        let get = |v: &ValueId| -> Result<RtVal> {
            vals.get(v)
                .or_else(|| self.fixed.get(v))
                .cloned()
                .ok_or_else(|| TrainError::Graph(format!("value {v} was not computed")))
        };
        let outs = self.graph.outputs().iter().map(|(_, v)| get(v)).collect::<Result<Vec<_>>>()?;
        let taps = taps.iter().map(get).collect::<Result<Vec<_>>>()?;
        Ok((outs, taps))
    }

    /// Runs on evaluator tensors and returns evaluator tensors (no gradient).
    pub fn run(&self, inputs: &[ETensor]) -> Result<Vec<ETensor>> {
        let iv = inputs
            .iter()
            .map(|t| RtVal::from_host(t.clone()).map_err(TrainError::Data))
            .collect::<Result<Vec<_>>>()?;
        let (outs, _) = self.forward(iv, &[])?;
        outs.iter().map(|o| o.host().map_err(TrainError::Graph)).collect()
    }

    /// Writes the trained weights back into a copy of the graph (original dtypes; quantized
    /// weights re-quantized with their own scale and zero point).
    pub fn trained_graph(&self) -> Result<Graph> {
        let mut g = self.graph.clone();
        for p in &self.params {
            let w = p.var.as_tensor();
            let et = match &p.quant {
                None => crate::value::candle_to_host(w, p.dtype).map_err(TrainError::Graph)?,
                Some(q) => {
                    let codes = w
                        .broadcast_div(&q.scale)
                        .and_then(|t| t.broadcast_add(&q.zero))
                        .and_then(|t| t.round())
                        .and_then(|t| t.clamp(q.lo as f32, q.hi as f32))
                        .map_err(|e| TrainError::Graph(ce(e)))?;
                    crate::value::candle_to_host(&codes, q.storage).map_err(TrainError::Graph)?
                }
            };
            let mut t = et.to_ir();
            t.quant = p.quant.as_ref().and_then(|q| q.quant.clone());
            if let Some(n) = g.get(p.node)
                && let Op::Constant(c) = &n.op
            {
                let mut c = c.clone();
                c.value = t;
                g.node_mut(p.node).op = Op::Constant(c);
            }
        }
        Ok(g)
    }

    /// The trainable weights by name (for checkpoints).
    pub fn weights(&self) -> HashMap<String, CTensor> {
        self.params.iter().map(|p| (p.name.clone(), p.var.as_tensor().clone())).collect()
    }

    /// Loads weights saved by [`Model::weights`] (names must match, shapes too).
    pub fn load_weights(&self, w: &HashMap<String, CTensor>) -> Result<usize> {
        let mut n = 0;
        for p in &self.params {
            if let Some(t) = w.get(&p.name) {
                if t.dims() != p.var.dims() {
                    return Err(TrainError::Data(format!(
                        "checkpoint weight '{}' has shape {:?}, the model's is {:?}",
                        p.name,
                        t.dims(),
                        p.var.dims()
                    )));
                }
                p.var
                    .set(&t.to_dtype(candle_core::DType::F32).map_err(|e| TrainError::Io(ce(e)))?)
                    .map_err(|e| TrainError::Io(ce(e)))?;
                n += 1;
            }
        }
        Ok(n)
    }
}

/// The CPU device used throughout.
pub fn device() -> Device {
    Device::Cpu
}
