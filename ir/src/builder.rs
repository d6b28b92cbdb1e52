//! A graph builder for importers whose rules emit ONNX-named ops layer by layer (Caffe, MXNet):
//! helper ops by ONNX name with generic attributes, constants, graph inputs, unique value names
//! (`<layer>/<what>`), and static shapes of values (shape inference runs when a rule asks for a
//! shape that is not yet known). Errors are plain strings; the importer adds file and layer.

use crate::{AttrValue, DType, Graph, Op, OpKind, Shape, Tensor, ValueId, ValueType};
use std::collections::HashSet;

/// Builder state shared by all nodes of one imported graph.
pub struct Builder {
    pub g: Graph,
    /// Value names in use (value names are unique in a graph).
    used: HashSet<String>,
    /// The layer or node being imported (helper nodes are named `<layer>/<what>`).
    pub layer: String,
}

/// Shorthand for a generic attribute list.
pub type Attrs = Vec<(String, AttrValue)>;

pub fn int(name: &str, v: i64) -> (String, AttrValue) {
    (name.into(), AttrValue::Int(v))
}
pub fn ints(name: &str, v: &[i64]) -> (String, AttrValue) {
    (name.into(), AttrValue::Ints(v.to_vec()))
}
pub fn float(name: &str, v: f32) -> (String, AttrValue) {
    (name.into(), AttrValue::Float(v))
}
pub fn string(name: &str, v: &str) -> (String, AttrValue) {
    (name.into(), AttrValue::String(v.into()))
}

impl Builder {
    pub fn new(name: &str) -> Builder {
        Builder {
            g: Graph::new(name),
            used: HashSet::new(),
            layer: String::new(),
        }
    }

    /// A unique value name from `base`.
    pub fn unique(&mut self, base: &str) -> String {
        if self.used.insert(base.to_string()) {
            return base.to_string();
        }
        let mut i = 1usize;
        loop {
            let n = format!("{base}_{i}");
            if self.used.insert(n.clone()) {
                return n;
            }
            i += 1;
        }
    }

    /// The name of a helper value of the current layer: `<layer>/<what>` (or the layer's own
    /// name when `what` is empty), made unique.
    pub fn helper_name(&mut self, what: &str) -> String {
        let base = if what.is_empty() {
            self.layer.clone()
        } else {
            format!("{}/{what}", self.layer)
        };
        self.unique(&base)
    }

    /// Adds a graph input.
    pub fn input(&mut self, name: &str, dtype: DType, shape: &[usize]) -> ValueId {
        let n = self.unique(name);
        let dims: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
        self.g.add_input(n, Some(ValueType::tensor(dtype, Some(Shape::known(&dims)))))
    }

    /// A constant tensor under a given (unique) name.
    pub fn constant(&mut self, name: &str, t: Tensor) -> ValueId {
        let n = self.unique(name);
        self.g.add_constant(n, t)
    }

    /// Adds an op (ONNX name, generic attributes) with `n_out` outputs.
    pub fn op_n(&mut self, what: &str, op: &str, attrs: Attrs, inputs: &[Option<ValueId>], n_out: usize) -> Result<Vec<ValueId>, String> {
        let kind = OpKind::from_name("", op).ok_or_else(|| format!("no IR op '{op}'"))?;
        let op = Op::from_kind(kind, attrs).map_err(|e| format!("{op}: {e}"))?;
        let node = self.helper_name(what);
        let mut names = Vec::new();
        for i in 0..n_out {
            names.push(if i == 0 {
                node.clone()
            } else {
                self.unique(&format!("{node}:{i}"))
            });
        }
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let id = self.g.add_op(node.clone(), op, inputs, &refs).map_err(|e| e.to_string())?;
        Ok((0..n_out).map(|i| id.out(i)).collect())
    }

    /// Adds a one-output op.
    pub fn op(&mut self, what: &str, op: &str, attrs: Attrs, inputs: &[ValueId]) -> Result<ValueId, String> {
        let ins: Vec<Option<ValueId>> = inputs.iter().copied().map(Some).collect();
        let v = self.op_n(what, op, attrs, &ins, 1)?;
        v.into_iter().next().ok_or_else(|| "op without output".into())
    }

    /// An f32 constant.
    pub fn f32s(&mut self, what: &str, shape: Vec<usize>, vals: &[f32]) -> Result<ValueId, String> {
        let t = Tensor::from_f32(shape, vals).map_err(|e| e.to_string())?;
        let n = self.helper_name(what);
        Ok(self.g.add_constant(n, t))
    }

    /// An i64 constant.
    pub fn i64s(&mut self, what: &str, shape: Vec<usize>, vals: &[i64]) -> Result<ValueId, String> {
        let t = Tensor::from_i64(shape, vals).map_err(|e| e.to_string())?;
        let n = self.helper_name(what);
        Ok(self.g.add_constant(n, t))
    }

    /// A 1-D i64 constant.
    pub fn ints(&mut self, what: &str, vals: &[i64]) -> Result<ValueId, String> {
        self.i64s(what, vec![vals.len()], vals)
    }

    /// The static shape of a value (runs shape inference when it is not yet known).
    pub fn shape(&mut self, v: ValueId) -> Result<Vec<usize>, String> {
        if let Some(s) = known(&self.g, v) {
            return Ok(s);
        }
        crate::infer::infer_types(&mut self.g).map_err(|e| e.to_string())?;
        known(&self.g, v).ok_or_else(|| {
            format!(
                "the shape of '{}' is not statically known",
                self.g.value(v).map_or("?", |x| x.name.as_str())
            )
        })
    }
}

fn known(g: &Graph, v: ValueId) -> Option<Vec<usize>> {
    let dims = g.value(v)?.ty.as_ref()?.as_tensor()?.shape.as_ref()?.as_known()?;
    dims.into_iter().map(|d| usize::try_from(d).ok()).collect()
}

/// Normalizes a possibly negative axis for `rank`.
pub fn axis(a: i64, rank: usize) -> Result<usize, String> {
    let r = rank as i64;
    let v = if a < 0 { a + r } else { a };
    if (0..r).contains(&v) {
        Ok(v as usize)
    } else {
        Err(format!("axis {a} is out of range for a {rank}-D input"))
    }
}

/// The product of dims, refusing overflow.
pub fn numel(dims: &[usize]) -> Result<usize, String> {
    dims.iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| format!("shape {dims:?} has too many elements"))
}
