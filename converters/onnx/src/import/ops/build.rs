//! Emitting the extra nodes a rule needs: constants, helper ops with uniquely named outputs,
//! and what is statically known about a value (dtype, rank, constant data).

use super::NodeIn;
use edgeport_ir::{AttrValue, DType, Graph, Op, OpKind, Tensor, TensorData, ValueId};

/// A builder of helper nodes for one ONNX node; helper values are named `<base>/<what>`.
pub(crate) struct B<'g> {
    pub g: &'g mut Graph,
    base: String,
}

impl<'g> B<'g> {
    pub fn new(n: &NodeIn<'_>, g: &'g mut Graph) -> B<'g> {
        let base = if !n.raw.name.is_empty() {
            n.raw.name.clone()
        } else {
            n.raw
                .outputs
                .iter()
                .find(|o| !o.is_empty())
                .cloned()
                .unwrap_or_else(|| n.raw.op_type.clone())
        };
        B { g, base }
    }

    fn name(&self, what: &str) -> String {
        format!("{}/{what}", self.base)
    }

    /// An i64 constant.
    pub fn i64s(&mut self, what: &str, shape: Vec<usize>, vals: &[i64]) -> Result<ValueId, String> {
        let t = Tensor::from_i64(shape, vals).map_err(|e| e.to_string())?;
        Ok(self.g.add_constant(self.name(what), t))
    }

    /// A 1-D i64 constant.
    pub fn ints(&mut self, what: &str, vals: &[i64]) -> Result<ValueId, String> {
        self.i64s(what, vec![vals.len()], vals)
    }

    /// An f32 constant.
    pub fn f32s(&mut self, what: &str, shape: Vec<usize>, vals: &[f32]) -> Result<ValueId, String> {
        let t = Tensor::from_f32(shape, vals).map_err(|e| e.to_string())?;
        Ok(self.g.add_constant(self.name(what), t))
    }

    /// A constant tensor of floats in the dtype of `like` (known statically, else converted
    /// at run time with `CastLike`).
    pub fn floats_like(&mut self, what: &str, shape: Vec<usize>, vals: &[f64], like: ValueId) -> Result<ValueId, String> {
        if let Some(dt) = dtype(self.g, like)
            && let Some(t) = float_tensor(dt, shape.clone(), vals)
        {
            return Ok(self.g.add_constant(self.name(what), t));
        }
        let f: Vec<f32> = vals.iter().map(|&v| v as f32).collect();
        let c = self.f32s(&format!("{what}_f32"), shape, &f)?;
        self.op(what, "CastLike", vec![], &[Some(c), Some(like)])
    }

    /// Adds a helper op (by ONNX name, with attributes) with one output.
    pub fn op(&mut self, what: &str, op: &str, attrs: Vec<(String, AttrValue)>, inputs: &[Option<ValueId>]) -> Result<ValueId, String> {
        let kind = OpKind::from_name("", op).ok_or_else(|| format!("no IR op '{op}'"))?;
        let op = Op::from_kind(kind, attrs).map_err(|e| e.to_string())?;
        let name = self.name(what);
        let id = self
            .g
            .add_op(name.clone(), op, inputs, &[name.as_str()])
            .map_err(|e| e.to_string())?;
        Ok(id.out(0))
    }
}

/// The statically known dtype of a value.
pub(crate) fn dtype(g: &Graph, v: ValueId) -> Option<DType> {
    g.value(v)?.ty.as_ref()?.as_tensor().map(|t| t.dtype)
}

/// The statically known rank of a value.
pub(crate) fn rank(g: &Graph, v: ValueId) -> Option<usize> {
    g.value(v)?.ty.as_ref()?.as_tensor()?.shape.as_ref().map(|s| s.rank())
}

/// The tensor of a constant value.
pub(crate) fn constant(g: &Graph, v: ValueId) -> Option<&Tensor> {
    match &g.get(v.node)?.op {
        Op::Constant(c) => Some(&c.value),
        _ => None,
    }
}

/// Integer values of a constant input.
pub(crate) fn const_ints(g: &Graph, v: ValueId) -> Option<Vec<i64>> {
    constant(g, v)?.to_i64_vec()
}

/// Is `v` a constant with no elements (an "empty" placeholder input of older opsets)?
pub(crate) fn is_empty_const(g: &Graph, v: ValueId) -> bool {
    constant(g, v).is_some_and(|t| t.numel() == 0 && matches!(t.data, TensorData::Raw(_)))
}

/// A float tensor of the given dtype, for the float dtypes.
fn float_tensor(dt: DType, shape: Vec<usize>, vals: &[f64]) -> Option<Tensor> {
    let bytes: Vec<u8> = match dt {
        DType::F32 => vals.iter().flat_map(|&v| (v as f32).to_le_bytes()).collect(),
        DType::F64 => vals.iter().flat_map(|&v| v.to_le_bytes()).collect(),
        DType::F16 => vals.iter().flat_map(|&v| half::f16::from_f64(v).to_le_bytes()).collect(),
        DType::BF16 => vals.iter().flat_map(|&v| half::bf16::from_f64(v).to_le_bytes()).collect(),
        _ => return None,
    };
    Tensor::from_bytes(dt, shape, edgeport_ir::Bytes::from_vec(bytes)).ok()
}
