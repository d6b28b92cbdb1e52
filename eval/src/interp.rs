//! The interpreter: runs a graph in topological order, keeping each value only until its last
//! consumer has run.

use crate::error::{EvalError, OpError};
use crate::ops;
use crate::value::Value;
use edgeport_ir::{Graph, Node, NodeId, Op, ValueId};
use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Evaluation options.
#[derive(Clone, Debug)]
pub struct EvalOptions {
    /// Deepest subgraph nesting allowed at run time.
    pub max_depth: usize,
    /// Keep every intermediate value (for per-node comparison) instead of dropping it.
    pub keep_all: bool,
    /// The top-level graph's constants, already converted ([`ConstCache::new`]): callers that
    /// run one graph many times (calibration, training checks) convert the weights once
    /// instead of on every run. Must have been built from the graph being run.
    pub consts: Option<std::sync::Arc<ConstCache>>,
    /// Called with every value the top-level graph produces (graph inputs first, then each
    /// op's outputs as they are made), before it is released: callers that only need
    /// statistics of the values (calibration) read them here instead of keeping them all.
    pub observe: Option<Observer>,
}

/// A value observer for [`EvalOptions::observe`].
#[derive(Clone)]
pub struct Observer(pub Arc<ObserveFn>);

/// What an [`Observer`] calls: the value's id and the value.
pub type ObserveFn = dyn Fn(ValueId, &Value) + Send + Sync;

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Observer")
    }
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            max_depth: 64,
            keep_all: false,
            consts: None,
            observe: None,
        }
    }
}

/// A graph's constants as evaluator values, by the constant's output value.
#[derive(Debug, Default)]
pub struct ConstCache {
    values: HashMap<ValueId, Value>,
    /// Forms of constants that ops prepare once and reuse on every run (a Winograd-transformed
    /// conv weight), by (constant, what was derived): see [`NodeCtx::derived`].
    derived: Mutex<HashMap<(ValueId, &'static str), Derived>>,
}

/// One prepared form of a constant.
type Derived = Arc<dyn Any + Send + Sync>;

impl ConstCache {
    /// Converts every top-level `Constant` of `g`, and runs once every node that reads only
    /// constants (a DequantizeLinear of an int8 weight, a weight transpose), as a runtime does
    /// when it loads a model. Random ops and ops with subgraphs are left to each run.
    pub fn new(g: &Graph) -> Result<ConstCache, EvalError> {
        let mut values: HashMap<ValueId, Value> = HashMap::new();
        let order = g.topo_order().map_err(|e| EvalError::Graph(e.to_string()))?;
        let opts = EvalOptions::default();
        // Constants are converted first, in parallel (each is a copy out of the model's bytes;
        // on a large model this is most of the cost of loading it).
        let consts: Vec<(NodeId, &edgeport_ir::Tensor)> = order
            .iter()
            .filter_map(|&id| match &g.node(id).op {
                Op::Constant(c) => Some((id, &c.value)),
                _ => None,
            })
            .collect();
        let converted: Vec<Result<crate::Tensor, EvalError>> = {
            use rayon::prelude::*;
            consts
                .par_iter()
                .map(|&(id, t)| {
                    crate::Tensor::from_ir(t).map_err(|error| EvalError::Op {
                        node: g.node(id).name.clone(),
                        op: "Constant".to_string(),
                        error,
                    })
                })
                .collect()
        };
        for ((id, _), t) in consts.iter().zip(converted) {
            values.insert(id.out(0), Value::Tensor(t?));
        }
        for id in order {
            let node = g.node(id);
            if let Op::Constant(_) = &node.op {
                continue;
            }
            let ins = g.inputs_of(id);
            let foldable = !ins.is_empty()
                && ins.iter().flatten().all(|v| values.contains_key(v))
                && ins.iter().any(|v| v.is_some())
                && node.op.subgraphs().is_empty()
                && !matches!(
                    node.op.name(),
                    "RandomNormal" | "RandomUniform" | "RandomNormalLike" | "RandomUniformLike" | "Multinomial" | "Bernoulli" | "Input"
                );
            if !foldable {
                continue;
            }
            let results = {
                let vals: Vec<Option<&Value>> = ins.iter().map(|v| v.and_then(|v| values.get(&v))).collect();
                let mut cx = NodeCtx {
                    node,
                    inputs: vals,
                    ids: &ins,
                    opts: &opts,
                    depth: 0,
                };
                // A node that fails here fails again at run time, with the run's context.
                ops::run(&node.op, &mut cx)
            };
            if let Ok(r) = results
                && r.len() >= node.outputs.len()
            {
                for (p, v) in r.into_iter().enumerate().take(node.outputs.len()) {
                    values.insert(id.out(p), v);
                }
            }
        }
        Ok(ConstCache {
            values,
            derived: Mutex::default(),
        })
    }

    /// Whether every output of `id` is held.
    fn holds(&self, g: &Graph, id: NodeId) -> bool {
        let n = g.node(id).outputs.len();
        n > 0 && (0..n).all(|p| self.values.contains_key(&id.out(p)))
    }
}

/// What an op implementation sees: its node, its inputs and a handle to run subgraphs.
pub struct NodeCtx<'a> {
    pub node: &'a Node,
    /// One entry per input slot (declared inputs, then captures); `None` = empty slot.
    pub inputs: Vec<Option<&'a Value>>,
    /// The value each input slot reads.
    ids: &'a [Option<ValueId>],
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
    /// Whether declared input `i` is a constant of the run's [`ConstCache`] (so what
    /// [`NodeCtx::derived`] makes from it is kept for later runs).
    pub fn is_cached_const(&self, i: usize) -> bool {
        self.cached_const(i).is_some()
    }
    fn cached_const(&self, i: usize) -> Option<(&'a ConstCache, ValueId)> {
        self.opts
            .consts
            .as_deref()
            .filter(|_| self.depth == 0 && i < self.n_inputs())
            .zip(self.ids.get(i).copied().flatten())
            .filter(|(c, v)| c.values.contains_key(v))
    }
    /// Something `make` derives from declared input `i` alone (a transformed weight), named
    /// `what`: when that input is a constant of the run's [`ConstCache`], made once and shared
    /// by every later run with the same cache; otherwise made afresh.
    pub fn derived<P: Any + Send + Sync>(
        &self,
        i: usize,
        what: &'static str,
        make: impl FnOnce() -> Result<P, OpError>,
    ) -> Result<Arc<P>, OpError> {
        let Some((cache, v)) = self.cached_const(i) else {
            return make().map(Arc::new);
        };
        let key = (v, what);
        if let Some(p) = cache.derived.lock().ok().and_then(|m| m.get(&key).cloned())
            && let Ok(p) = p.downcast::<P>()
        {
            return Ok(p);
        }
        // Made outside the lock: two runs racing on the first use both make it, one is kept.
        let p = Arc::new(make()?);
        if let Ok(mut m) = cache.derived.lock() {
            m.insert(key, p.clone());
        }
        Ok(p)
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
    let observe = opts.observe.as_ref().filter(|_| depth == 0);
    for (&id, v) in g.inputs().iter().zip(inputs) {
        if let Some(o) = observe {
            (o.0)(id.out(0), &v);
        }
        env.insert(id.out(0), v);
    }
    for (&id, v) in g.captures().iter().zip(caps) {
        env.insert(id.out(0), v);
    }
    // Cached constants are read in place (top level only: subgraph ids are another graph's).
    let consts = opts.consts.as_deref().filter(|_| depth == 0);
    for &id in &order {
        let node = g.node(id);
        if consts.is_some_and(|c| c.holds(g, id)) {
            continue;
        }
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
            let vals: Vec<Option<&Value>> = ins
                .iter()
                .map(|v| v.and_then(|v| env.get(&v).or_else(|| consts.and_then(|c| c.values.get(&v)))))
                .collect();
            let mut cx = NodeCtx {
                node,
                inputs: vals,
                ids: ins,
                opts,
                depth,
            };
            if crate::profile::enabled() {
                let t = std::time::Instant::now();
                let r = ops::run(&node.op, &mut cx);
                if crate::profile::per_node() {
                    crate::profile::add(&format!("{} {}", node.op.name(), node.name), t.elapsed());
                } else {
                    crate::profile::add(node.op.name(), t.elapsed());
                }
                r
            } else {
                ops::run(&node.op, &mut cx)
            }
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
            if let Some(o) = observe {
                (o.0)(id.out(p), &v);
            }
            if !opts.keep_all
                && let Some(k) = keep.as_deref_mut()
            {
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
    let outs = g
        .outputs()
        .iter()
        .map(|(name, v)| {
            env.get(v)
                .or_else(|| consts.and_then(|c| c.values.get(v)))
                .cloned()
                .ok_or_else(|| EvalError::Graph(format!("output '{name}' was not computed")))
        })
        .collect();
    // With keep_all nothing was dropped: hand every value over instead of having copied each.
    if opts.keep_all
        && let Some(k) = keep
    {
        k.extend(env);
    }
    outs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tensor;

    #[test]
    fn observer_sees_inputs_and_every_op_output_once() {
        let mut g = Graph::new("t");
        let x = g.add_input("x", None);
        let r = g.add_op("r", Op::Relu(Default::default()), &[Some(x)], &["r"]).unwrap();
        let n = g.add_op("n", Op::Neg(Default::default()), &[Some(r.out(0))], &["n"]).unwrap();
        g.add_output("n", n.out(0)).unwrap();
        type Seen = Vec<(ValueId, Vec<f64>)>;
        let seen: Arc<Mutex<Seen>> = Arc::default();
        let s = seen.clone();
        let opts = EvalOptions {
            observe: Some(Observer(Arc::new(move |v, val| {
                let t = val.as_tensor().unwrap().to_f64_vec().unwrap();
                s.lock().unwrap().push((v, t));
            }))),
            ..Default::default()
        };
        let input = Tensor::F32(ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[3]), vec![-1.0, 0.5, 2.0]).unwrap());
        let (outs, kept) = run_graph_with(&g, vec![Value::Tensor(input)], &opts).unwrap();
        assert!(kept.is_empty(), "observing keeps nothing");
        assert_eq!(outs[0].as_tensor().unwrap().to_f64_vec().unwrap(), vec![-0.0, -0.5, -2.0]);
        let seen = seen.lock().unwrap();
        let ids: Vec<ValueId> = seen.iter().map(|(v, _)| *v).collect();
        assert_eq!(ids, vec![x, r.out(0), n.out(0)]);
        assert_eq!(seen[1].1, vec![0.0, 0.5, 2.0]);
    }
}
