//! Finds the quantizable layers of a graph: Conv, Gemm and MatMul nodes whose weight is a float
//! constant, and Gather nodes reading a float constant table (embeddings), with the axis that
//! indexes their output channels and the axis their reduction runs along.

use edgeport_ir::{DType, Graph, NodeId, Op, Tensor, ValueId};

/// The kind of a quantizable layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Conv,
    Gemm,
    MatMul,
    Gather,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Conv => "Conv",
            Kind::Gemm => "Gemm",
            Kind::MatMul => "MatMul",
            Kind::Gather => "Gather",
        }
    }
}

/// One quantizable layer.
#[derive(Clone, Debug)]
pub struct Layer {
    pub node: NodeId,
    pub name: String,
    pub kind: Kind,
    /// Input slot of the weight.
    pub w_slot: usize,
    pub weight: ValueId,
    pub w_shape: Vec<usize>,
    /// Output-channel axis of the weight (per-channel scales run along it).
    pub out_axis: usize,
    /// Reduction axis of the weight (blocks run along it), if the layer reduces.
    pub red_axis: Option<usize>,
    /// The activation input (`None` for Gather).
    pub act: Option<ValueId>,
    /// Bias slot holding a 1-D float constant of the output-channel size.
    pub bias_slot: Option<usize>,
}

/// The float constant behind a value, if it is one.
pub fn float_const(g: &Graph, v: ValueId) -> Option<&Tensor> {
    match &g.get(v.node)?.op {
        Op::Constant(c) if c.value.dtype == DType::F32 && c.value.quant.is_none() => Some(&c.value),
        _ => None,
    }
}

fn bias_ok(g: &Graph, node: NodeId, slot: usize, n: usize) -> Option<usize> {
    let ins = g.inputs_of(node);
    let v = ins.get(slot).copied().flatten()?;
    let t = float_const(g, v)?;
    (t.shape == [n]).then_some(slot)
}

/// Every quantizable layer, in topological order.
pub fn find(g: &Graph) -> Vec<Layer> {
    let Ok(order) = g.topo_order() else { return Vec::new() };
    let mut out = Vec::new();
    for id in order {
        let node = g.node(id);
        let ins = g.inputs_of(id);
        let get = |i: usize| ins.get(i).copied().flatten();
        let (kind, w_slot, act) = match &node.op {
            Op::Conv(_) => (Kind::Conv, 1, get(0)),
            Op::Gemm(gm) if gm.transA == 0 => (Kind::Gemm, 1, get(0)),
            Op::MatMul(_) => (Kind::MatMul, 1, get(0)),
            Op::Gather(_) => (Kind::Gather, 0, None),
            _ => continue,
        };
        let Some(wv) = get(w_slot) else { continue };
        let Some(w) = float_const(g, wv) else { continue };
        let shape = w.shape.clone();
        let r = shape.len();
        let (out_axis, red_axis, bias_slot) = match &node.op {
            Op::Conv(_) if r >= 3 => (0, Some(1), shape.first().and_then(|&n| bias_ok(g, id, 2, n))),
            Op::Gemm(gm) if r == 2 => {
                let (o, k) = if gm.transB != 0 { (0, 1) } else { (1, 0) };
                let b = if gm.beta == 1.0 {
                    shape.get(o).and_then(|&n| bias_ok(g, id, 2, n))
                } else {
                    None
                };
                (o, Some(k), b)
            }
            Op::MatMul(_) if r >= 2 => (r - 1, Some(r - 2), None),
            Op::Gather(ga) if r == 2 && ga.axis == 0 => (0, Some(1), None),
            _ => continue,
        };
        if act.is_none() && kind != Kind::Gather {
            continue;
        }
        out.push(Layer {
            node: id,
            name: node.name.clone(),
            kind,
            w_slot,
            weight: wv,
            w_shape: shape,
            out_axis,
            red_axis,
            act,
            bias_slot,
        });
    }
    out
}

/// Parameter bytes of every float constant (the size that quantization shrinks) and of all
/// constants.
pub fn weight_bytes(g: &Graph) -> usize {
    g.node_ids()
        .filter_map(|id| match &g.node(id).op {
            Op::Constant(c) => Some(c.value.nbytes()),
            _ => None,
        })
        .sum()
}
