//! The interpreter: runs a graph in topological order, keeping each value only until its last
//! consumer has run.

use crate::error::{EvalError, OpError};
use crate::ops;
use crate::value::Value;
use edgeport_ir::{Graph, Node, NodeId, Op, ValueId};
use std::collections::HashMap;

/// Evaluation options.
#[derive(Clone, Debug)]
pub struct EvalOptions {
    /// Deepest subgraph nesting allowed at run time.
    pub max_depth: usize,
    /// Keep every intermediate value (for per-node comparison) instead of dropping it.
    pub keep_all: bool,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            max_depth: 64,
            keep_all: false,
        }
    }
}

/// What an op implementation sees: its node, its inputs and a handle to run subgraphs.
pub struct NodeCtx<'a> {
    pub node: &'a Node,
    /// One entry per input slot (declared inputs, then captures); `None` = empty slot.
    pub inputs: Vec<Option<&'a Value>>,
    opts: &'a EvalOptions,
    depth: usize,
}

impl<'a> NodeCtx<'a> {
    /// Number of declared (non-capture) inputs.
    pub fn n_inputs(&self) -> usize {
        self.node.n_declared_inputs()
    }
    /// Number of outputs the node has.
    pub fn n_outputs(&self) -> usize {
        self.node.outputs.len()
    }
    /// Is output `i` used (named) by the graph?
    pub fn wants_output(&self, i: usize) -> bool {
        self.node.outputs.get(i).is_some_and(|v| !v.name.is_empty())
    }
    /// Declared input `i`, if present.
    pub fn input(&self, i: usize) -> Option<&'a Value> {
        if i < self.n_inputs() {
            self.inputs.get(i).copied().flatten()
        } else {
            None
        }
    }
    /// Declared input `i` as a tensor; an error if absent or not a tensor.
    pub fn tensor(&self, i: usize) -> Result<&'a crate::Tensor, OpError> {
        match self.input(i) {
            Some(Value::Tensor(t)) => Ok(t),
            Some(v) => Err(OpError::invalid(format!("input {i} should be a tensor, got {}", v.describe()))),
            None => Err(OpError::invalid(format!("required input {i} is missing"))),
        }
    }
    /// Declared input `i` as a tensor if present (and not an empty name).
    pub fn opt_tensor(&self, i: usize) -> Result<Option<&'a crate::Tensor>, OpError> {
        match self.input(i) {
            None => Ok(None),
            Some(Value::Tensor(t)) => Ok(Some(t)),
            Some(v) => Err(OpError::invalid(format!("input {i} should be a tensor, got {}", v.describe()))),
        }
    }
    /// Runs a subgraph of this node's op with the given formal inputs; its captures are bound
    /// to this node's capture slots.
    pub fn run_subgraph(&self, g: &Graph, inputs: Vec<Value>) -> Result<Vec<Value>, OpError> {
        if self.depth + 1 > self.opts.max_depth {
            return Err(OpError::invalid(format!("subgraphs nested deeper than {}", self.opts.max_depth)));
        }
        let decl = self.n_inputs();
        let caps: Vec<Value> = (0..g.captures().len())
            .map(|i| {
                self.inputs
                    .get(decl + i)
                    .copied()
                    .flatten()
                    .cloned()
                    .ok_or_else(|| OpError::invalid(format!("capture {i} of subgraph '{}' is not bound", g.name)))
            })
            .collect::<Result<_, _>>()?;
        run_inner(g, inputs, caps, self.opts, self.depth + 1).map_err(|e| OpError::Invalid(format!("in subgraph '{}': {e}", g.name)))
    }
}

/// Runs `g` on `inputs` (in graph-input order) and returns the graph outputs in order.
pub fn run_graph(g: &Graph, inputs: Vec<Value>) -> Result<Vec<Value>, EvalError> {
    run_inner(g, inputs, Vec::new(), &EvalOptions::default(), 0)
}

/// Runs `g` with options; with `keep_all`, also returns every value by id.
pub fn run_graph_with(g: &Graph, inputs: Vec<Value>, opts: &EvalOptions) -> Result<(Vec<Value>, HashMap<ValueId, Value>), EvalError> {
    let mut kept = HashMap::new();
    let outs = run_core(g, inputs, Vec::new(), opts, 0, opts.keep_all.then_some(&mut kept))?;
    Ok((outs, kept))
}

fn run_inner(g: &Graph, inputs: Vec<Value>, caps: Vec<Value>, opts: &EvalOptions, depth: usize) -> Result<Vec<Value>, EvalError> {
    run_core(g, inputs, caps, opts, depth, None)
}

fn run_core(
    g: &Graph,
    inputs: Vec<Value>,
    caps: Vec<Value>,
    opts: &EvalOptions,
    depth: usize,
    mut keep: Option<&mut HashMap<ValueId, Value>>,
) -> Result<Vec<Value>, EvalError> {
    if inputs.len() != g.inputs().len() {
        return Err(EvalError::Graph(format!(
            "graph '{}' takes {} inputs, {} given",
            g.name,
            g.inputs().len(),
            inputs.len()
        )));
    }
    let order = g.topo_order().map_err(|e| EvalError::Graph(e.to_string()))?;
    // Remaining uses of each value; graph outputs count as one extra use that is never released.
    let mut uses: HashMap<ValueId, usize> = HashMap::new();
    let mut slots: HashMap<NodeId, Vec<Option<ValueId>>> = HashMap::with_capacity(order.len());
    for &id in &order {
        let ins = g.inputs_of(id);
        for v in ins.iter().flatten() {
            *uses.entry(*v).or_default() += 1;
        }
        slots.insert(id, ins);
    }
    for (_, v) in g.outputs() {
        *uses.entry(*v).or_default() += 1;
    }
    let mut env: HashMap<ValueId, Value> = HashMap::new();
    for (&id, v) in g.inputs().iter().zip(inputs) {
        env.insert(id.out(0), v);
    }
    for (&id, v) in g.captures().iter().zip(caps) {
        env.insert(id.out(0), v);
    }
    for &id in &order {
        let node = g.node(id);
        if matches!(node.op, Op::Input(_)) {
            if !env.contains_key(&id.out(0)) {
                return Err(EvalError::Input {
                    name: node.name.clone(),
                    msg: "not bound".into(),
                });
            }
            continue;
        }
        let ins = &slots[&id];
        let results = {
            let vals: Vec<Option<&Value>> = ins.iter().map(|v| v.and_then(|v| env.get(&v))).collect();
            let mut cx = NodeCtx {
                node,
                inputs: vals,
                opts,
                depth,
            };
            ops::run(&node.op, &mut cx)
        }
        .map_err(|error| EvalError::Op {
            node: node.name.clone(),
            op: node.op.name().to_string(),
            error,
        })?;
        if results.len() < node.outputs.len() {
            // Missing trailing optional outputs are fine only if unused.
            for p in results.len()..node.outputs.len() {
                if uses.get(&id.out(p)).copied().unwrap_or(0) > 0 {
                    return Err(EvalError::Op {
                        node: node.name.clone(),
                        op: node.op.name().to_string(),
                        error: OpError::unsupported(format!("output {p} is not produced")),
                    });
                }
            }
        }
        for (p, v) in results.into_iter().enumerate().take(node.outputs.len()) {
            if let Some(k) = keep.as_deref_mut() {
                k.insert(id.out(p), v.clone());
            }
            env.insert(id.out(p), v);
        }
        if !opts.keep_all {
            for v in ins.iter().flatten() {
                if let Some(u) = uses.get_mut(v) {
                    *u -= 1;
                    if *u == 0 {
                        env.remove(v);
                    }
                }
            }
        }
    }
    g.outputs()
        .iter()
        .map(|(name, v)| {
            env.get(v)
                .cloned()
                .ok_or_else(|| EvalError::Graph(format!("output '{name}' was not computed")))
        })
        .collect()
}
