//! The graph: nodes holding ops, with ordered multi-output ports and optional inputs, wrapped
//! around a petgraph `StableGraph` so ids stay valid while passes delete nodes.
//!
//! An edge carries its source output port and destination input port. A node has a fixed
//! number of input slots; an absent optional input is a slot with no edge. Subgraphs (If
//! branches, Loop/Scan bodies) live in op attributes; a value of the outer graph that a subgraph
//! reads is *captured*: the parent node gets an extra input slot for it (after its declared
//! inputs) and the subgraph an `Input` node bound to that slot (see [`Graph::captures`]).

use crate::handles::{NodeId, ValueId};
use crate::ops::{Input, Op};
use crate::quant::QuantParams;
use crate::shape::ValueType;
use crate::tensor::Tensor;
use petgraph::Direction;
use petgraph::stable_graph::StableGraph;
use petgraph::visit::{EdgeRef, NodeIndexable};

/// A value produced by a node output.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Value {
    /// The value's name (from the source model; unique within a graph after import).
    pub name: String,
    /// Its type, when known or inferred.
    pub ty: Option<ValueType>,
    /// Quantization parameters, when the value is quantized.
    pub quant: Option<QuantParams>,
}

impl Value {
    pub fn named(name: impl Into<String>) -> Value {
        Value {
            name: name.into(),
            ty: None,
            quant: None,
        }
    }
    pub fn typed(name: impl Into<String>, ty: ValueType) -> Value {
        Value {
            name: name.into(),
            ty: Some(ty),
            quant: None,
        }
    }
}

/// A node: a named op with input slots and output values.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub name: String,
    pub op: Op,
    /// Number of input slots, captured values included.
    pub n_inputs: usize,
    /// How many of the last input slots are captures for subgraphs.
    pub n_captures: usize,
    /// One entry per output port.
    pub outputs: Vec<Value>,
}

impl Node {
    /// Number of declared (non-capture) input slots.
    pub fn n_declared_inputs(&self) -> usize {
        self.n_inputs - self.n_captures
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Edge {
    pub src_port: usize,
    pub dst_port: usize,
}

/// Errors from graph editing.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GraphError {
    #[error("node {0} does not exist")]
    NoSuchNode(NodeId),
    #[error("value {0} does not exist")]
    NoSuchValue(ValueId),
    #[error("node {node} has {n} input slots, port {port} is out of range")]
    BadInputPort { node: NodeId, port: usize, n: usize },
    #[error("graph has a cycle through node '{0}'")]
    Cycle(String),
}

/// A graph of ops. See the module docs.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    pub(crate) g: StableGraph<Node, Edge, petgraph::Directed, u32>,
    inputs: Vec<NodeId>,
    outputs: Vec<(String, ValueId)>,
    /// Subgraph only: `Input` nodes bound to the parent node's capture slots, in slot order.
    captures: Vec<NodeId>,
    /// The graph's name.
    pub name: String,
    /// Free-form metadata carried from the source (producer, doc strings, …).
    pub metadata: Vec<(String, String)>,
}

impl PartialEq for Graph {
    fn eq(&self, other: &Self) -> bool {
        crate::text::print_graph(self) == crate::text::print_graph(other)
    }
}

impl Graph {
    pub fn new(name: impl Into<String>) -> Graph {
        Graph {
            name: name.into(),
            ..Default::default()
        }
    }

    // ---- building ----

    /// Adds a node with `n_inputs` empty input slots.
    pub fn add_node(&mut self, name: impl Into<String>, op: Op, n_inputs: usize, outputs: Vec<Value>) -> NodeId {
        let node = Node {
            name: name.into(),
            op,
            n_inputs,
            n_captures: 0,
            outputs,
        };
        NodeId::from_ix(self.g.add_node(node))
    }

    /// Adds a node and connects its inputs (`None` = omitted optional input). Output values get
    /// the given names.
    pub fn add_op(&mut self, name: impl Into<String>, op: Op, inputs: &[Option<ValueId>], outputs: &[&str]) -> Result<NodeId, GraphError> {
        for v in inputs.iter().flatten() {
            self.check_value(*v)?;
        }
        let outs = outputs.iter().map(|n| Value::named(*n)).collect();
        let id = self.add_node(name, op, inputs.len(), outs);
        for (port, v) in inputs.iter().enumerate() {
            if let Some(v) = v {
                self.g.add_edge(
                    v.node.ix(),
                    id.ix(),
                    Edge {
                        src_port: v.port,
                        dst_port: port,
                    },
                );
            }
        }
        Ok(id)
    }

    /// Adds a graph input (appended to the ordered input list).
    pub fn add_input(&mut self, name: impl Into<String>, ty: Option<ValueType>) -> ValueId {
        let name = name.into();
        let id = self.add_node(name.clone(), Op::Input(Input {}), 0, vec![Value { name, ty, quant: None }]);
        self.inputs.push(id);
        id.out(0)
    }

    /// Adds a capture input to a subgraph: an `Input` node bound to the parent's next capture slot.
    pub fn add_capture(&mut self, name: impl Into<String>, ty: Option<ValueType>) -> ValueId {
        let name = name.into();
        let id = self.add_node(name.clone(), Op::Input(Input {}), 0, vec![Value { name, ty, quant: None }]);
        self.captures.push(id);
        id.out(0)
    }

    /// The tensor of the constant node that makes `v`, if `v` is a constant.
    pub fn constant_of(&self, v: ValueId) -> Option<&Tensor> {
        match &self.get(v.node)?.op {
            Op::Constant(c) => Some(&c.value),
            _ => None,
        }
    }

    /// Adds a constant node holding `tensor`.
    pub fn add_constant(&mut self, name: impl Into<String>, tensor: Tensor) -> ValueId {
        let name = name.into();
        let ty = ValueType::tensor(
            tensor.dtype,
            Some(crate::Shape::known(&tensor.shape.iter().map(|&d| d as u64).collect::<Vec<_>>())),
        );
        let quant = tensor.quant.clone();
        let op = Op::Constant(crate::ops::defs::generator::Constant { value: tensor });
        let id = self.add_node(name.clone(), op, 0, vec![Value { name, ty: Some(ty), quant }]);
        id.out(0)
    }

    /// Appends a graph output.
    pub fn add_output(&mut self, name: impl Into<String>, v: ValueId) -> Result<(), GraphError> {
        self.check_value(v)?;
        self.outputs.push((name.into(), v));
        Ok(())
    }

    /// Replaces the ordered list of graph outputs.
    pub fn set_outputs(&mut self, outputs: Vec<(String, ValueId)>) -> Result<(), GraphError> {
        for (_, v) in &outputs {
            self.check_value(*v)?;
        }
        self.outputs = outputs;
        Ok(())
    }

    /// Replaces the ordered list of graph inputs (each must be an `Input` node).
    pub fn set_inputs(&mut self, inputs: Vec<NodeId>) -> Result<(), GraphError> {
        for &n in &inputs {
            self.check_node(n)?;
        }
        self.inputs = inputs;
        Ok(())
    }

    /// Sets (or clears) input slot `port` of `node`.
    pub fn set_input(&mut self, node: NodeId, port: usize, v: Option<ValueId>) -> Result<(), GraphError> {
        let n = self.node_checked(node)?.n_inputs;
        if port >= n {
            return Err(GraphError::BadInputPort { node, port, n });
        }
        if let Some(v) = v {
            self.check_value(v)?;
        }
        let old: Vec<_> = self
            .g
            .edges_directed(node.ix(), Direction::Incoming)
            .filter(|e| e.weight().dst_port == port)
            .map(|e| e.id())
            .collect();
        for e in old {
            self.g.remove_edge(e);
        }
        if let Some(v) = v {
            self.g.add_edge(
                v.node.ix(),
                node.ix(),
                Edge {
                    src_port: v.port,
                    dst_port: port,
                },
            );
        }
        Ok(())
    }

    /// Appends an input slot to `node` (a new capture slot when `capture`), connected to `v`.
    pub fn push_input(&mut self, node: NodeId, v: Option<ValueId>, capture: bool) -> Result<usize, GraphError> {
        if let Some(v) = v {
            self.check_value(v)?;
        }
        let n = self.node_checked(node)?;
        let port = n.n_inputs;
        if !capture && n.n_captures > 0 {
            // Declared inputs come first: shift the capture edges one slot up.
            let caps: Vec<_> = self
                .g
                .edges_directed(node.ix(), Direction::Incoming)
                .filter(|e| e.weight().dst_port >= n.n_inputs - n.n_captures)
                .map(|e| e.id())
                .collect();
            for e in caps {
                self.g[e].dst_port += 1;
            }
        }
        let nm = self.g.node_weight_mut(node.ix()).ok_or(GraphError::NoSuchNode(node))?;
        let slot = if capture { port } else { nm.n_inputs - nm.n_captures };
        nm.n_inputs += 1;
        if capture {
            nm.n_captures += 1;
        }
        if let Some(v) = v {
            self.g.add_edge(
                v.node.ix(),
                node.ix(),
                Edge {
                    src_port: v.port,
                    dst_port: slot,
                },
            );
        }
        Ok(slot)
    }

    /// Points every use of `old` (node inputs and graph outputs) at `new`.
    pub fn replace_all_uses(&mut self, old: ValueId, new: ValueId) -> Result<(), GraphError> {
        self.check_value(new)?;
        let uses: Vec<_> = self
            .g
            .edges_directed(old.node.ix(), Direction::Outgoing)
            .filter(|e| e.weight().src_port == old.port)
            .map(|e| (e.id(), e.target(), *e.weight()))
            .collect();
        for (id, target, w) in uses {
            self.g.remove_edge(id);
            self.g.add_edge(
                new.node.ix(),
                target,
                Edge {
                    src_port: new.port,
                    dst_port: w.dst_port,
                },
            );
        }
        for (_, v) in &mut self.outputs {
            if *v == old {
                *v = new;
            }
        }
        Ok(())
    }

    /// Removes a node and its edges. Graph outputs that pointed at it are left dangling for the
    /// validator to report; callers normally rewire uses first.
    pub fn remove_node(&mut self, id: NodeId) -> Option<Node> {
        self.inputs.retain(|&n| n != id);
        self.captures.retain(|&n| n != id);
        self.g.remove_node(id.ix())
    }

    // ---- reading ----

    pub fn contains(&self, id: NodeId) -> bool {
        self.g.contains_node(id.ix())
    }

    /// The node, if present.
    pub fn get(&self, id: NodeId) -> Option<&Node> {
        self.g.node_weight(id.ix())
    }

    fn node_checked(&self, id: NodeId) -> Result<&Node, GraphError> {
        self.get(id).ok_or(GraphError::NoSuchNode(id))
    }

    fn check_node(&self, id: NodeId) -> Result<(), GraphError> {
        self.node_checked(id).map(|_| ())
    }

    fn check_value(&self, v: ValueId) -> Result<(), GraphError> {
        match self.get(v.node) {
            Some(n) if v.port < n.outputs.len() => Ok(()),
            _ => Err(GraphError::NoSuchValue(v)),
        }
    }

    /// The node. Panics on a removed id; use [`Graph::get`] when unsure.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.g[id.ix()]
    }

    /// Mutable node access. Panics on a removed id.
    pub fn node_mut(&mut self, id: NodeId) -> &mut Node {
        &mut self.g[id.ix()]
    }

    /// The value's metadata, if it exists.
    pub fn value(&self, v: ValueId) -> Option<&Value> {
        self.get(v.node).and_then(|n| n.outputs.get(v.port))
    }

    /// Mutable value metadata.
    pub fn value_mut(&mut self, v: ValueId) -> Option<&mut Value> {
        self.g.node_weight_mut(v.node.ix()).and_then(|n| n.outputs.get_mut(v.port))
    }

    /// Every node, in id order.
    pub fn node_ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.g.node_indices().map(NodeId::from_ix)
    }

    pub fn node_count(&self) -> usize {
        self.g.node_count()
    }

    /// The values connected to `node`'s input slots, by slot (`None` = empty slot).
    pub fn inputs_of(&self, node: NodeId) -> Vec<Option<ValueId>> {
        let n = self.get(node).map(|n| n.n_inputs).unwrap_or(0);
        let mut out = vec![None; n];
        for e in self.g.edges_directed(node.ix(), Direction::Incoming) {
            let w = e.weight();
            if w.dst_port < n {
                out[w.dst_port] = Some(ValueId {
                    node: NodeId::from_ix(e.source()),
                    port: w.src_port,
                });
            }
        }
        out
    }

    /// Every (node, input slot) that reads `v`, sorted.
    pub fn consumers(&self, v: ValueId) -> Vec<(NodeId, usize)> {
        let mut out: Vec<_> = self
            .g
            .edges_directed(v.node.ix(), Direction::Outgoing)
            .filter(|e| e.weight().src_port == v.port)
            .map(|e| (NodeId::from_ix(e.target()), e.weight().dst_port))
            .collect();
        out.sort();
        out
    }

    /// Is `v` a graph output?
    pub fn is_output(&self, v: ValueId) -> bool {
        self.outputs.iter().any(|(_, o)| *o == v)
    }

    /// The ordered graph inputs (their `Input` nodes).
    pub fn inputs(&self) -> &[NodeId] {
        &self.inputs
    }

    /// The ordered graph outputs with their names.
    pub fn outputs(&self) -> &[(String, ValueId)] {
        &self.outputs
    }

    /// Subgraph capture inputs, in the parent's capture-slot order.
    pub fn captures(&self) -> &[NodeId] {
        &self.captures
    }

    /// Replaces the capture list (for importers that discover captures after building).
    pub fn set_captures(&mut self, captures: Vec<NodeId>) -> Result<(), GraphError> {
        for &n in &captures {
            self.check_node(n)?;
        }
        self.captures = captures;
        Ok(())
    }

    /// Nodes in a deterministic topological order (ties broken by id). Errors on a cycle.
    pub fn topo_order(&self) -> Result<Vec<NodeId>, GraphError> {
        let bound = self.g.node_bound();
        let mut indeg = vec![0usize; bound];
        for e in self.g.edge_indices() {
            let (_, t) = self.g.edge_endpoints(e).expect("edge");
            indeg[t.index()] += 1;
        }
        let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<u32>> = self
            .g
            .node_indices()
            .filter(|n| indeg[n.index()] == 0)
            .map(|n| std::cmp::Reverse(n.index() as u32))
            .collect();
        let mut order = Vec::with_capacity(self.g.node_count());
        while let Some(std::cmp::Reverse(i)) = ready.pop() {
            let id = NodeId(i);
            order.push(id);
            for e in self.g.edges_directed(id.ix(), Direction::Outgoing) {
                let t = e.target().index();
                indeg[t] -= 1;
                if indeg[t] == 0 {
                    ready.push(std::cmp::Reverse(t as u32));
                }
            }
        }
        if order.len() != self.g.node_count() {
            let stuck = self.g.node_indices().find(|n| indeg[n.index()] > 0).expect("cycle node");
            return Err(GraphError::Cycle(self.g[stuck].name.clone()));
        }
        Ok(order)
    }

    /// Finds a value by name (linear; importers keep their own maps).
    pub fn find_value(&self, name: &str) -> Option<ValueId> {
        self.g.node_indices().find_map(|n| {
            self.g[n]
                .outputs
                .iter()
                .position(|v| v.name == name)
                .map(|p| NodeId::from_ix(n).out(p))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::defs::math::{Add, Relu};
    use crate::{DType, Shape};

    #[test]
    fn build_and_rewire() {
        let mut g = Graph::new("t");
        let x = g.add_input("x", Some(ValueType::tensor(DType::F32, Some(Shape::known(&[2])))));
        let a = g.add_op("add", Op::Add(Add {}), &[Some(x), Some(x)], &["a"]).unwrap();
        let r = g.add_op("relu", Op::Relu(Relu {}), &[Some(a.out(0))], &["r"]).unwrap();
        g.add_output("r", r.out(0)).unwrap();
        assert_eq!(g.inputs_of(a), vec![Some(x), Some(x)]);
        assert_eq!(g.consumers(x), vec![(a, 0), (a, 1)]);
        g.replace_all_uses(a.out(0), x).unwrap();
        g.remove_node(a);
        assert_eq!(g.inputs_of(r), vec![Some(x)]);
        assert_eq!(g.topo_order().unwrap(), vec![x.node, r]);
    }
}
