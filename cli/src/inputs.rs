//! Model inputs for `run` and `verify`: from `.npy`/`.npz` files or generated from a seed.

use crate::io::{npy, npz};
use edgeport_eval::{Tensor, Value};
use edgeport_ir::{DType, Graph, ValueType};
use std::path::{Path, PathBuf};

/// Where inputs come from.
#[derive(Debug, Clone, Default)]
pub struct InputSpec {
    /// `NAME=FILE.npy` pairs.
    pub named: Vec<(String, PathBuf)>,
    /// An `.npz` holding inputs by name.
    pub npz: Option<PathBuf>,
    /// Seed for generated inputs.
    pub seed: u64,
    /// Sizes for symbolic dims (`batch=4`); others default to 1.
    pub dims: Vec<(String, u64)>,
}

/// An input error.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{0}")]
    Msg(String),
}

fn msg(s: impl Into<String>) -> InputError {
    InputError::Msg(s.into())
}

/// The graph's input names and declared types.
pub fn graph_inputs(g: &Graph) -> Vec<(String, Option<ValueType>)> {
    g.inputs()
        .iter()
        .map(|&n| (g.node(n).outputs[0].name.clone(), g.node(n).outputs[0].ty.clone()))
        .collect()
}

/// A small deterministic generator (splitmix64).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Generates one input of a declared type: floats uniform in [-1, 1), ints in [0, 10), bools.
pub fn generate(name: &str, ty: Option<&ValueType>, seed: u64, dims: &[(String, u64)]) -> Result<Tensor, InputError> {
    let t = ty
        .and_then(|t| t.as_tensor())
        .ok_or_else(|| msg(format!("input '{name}' has no tensor type; give it with --input")))?;
    let shape: Vec<usize> = match &t.shape {
        Some(s) => {
            s.0.iter()
                .map(|d| match d {
                    edgeport_ir::Dim::Known(n) => *n as usize,
                    edgeport_ir::Dim::Sym(s) => dims.iter().find(|(k, _)| k == s).map(|(_, v)| *v as usize).unwrap_or(1),
                })
                .collect()
        }
        None => return Err(msg(format!("input '{name}' has unknown rank; give it with --input"))),
    };
    let n: usize = shape.iter().product();
    if n > 1 << 28 {
        return Err(msg(format!("input '{name}' would have {n} elements; give it with --input")));
    }
    let mut h: u64 = seed ^ 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    let mut rng = Rng(h);
    let v: Vec<f64> = match t.dtype {
        d if d.is_float() => (0..n).map(|_| rng.unit() * 2.0 - 1.0).collect(),
        DType::Bool => (0..n).map(|_| (rng.next() & 1) as f64).collect(),
        d if d.is_int() => (0..n).map(|_| (rng.next() % 10) as f64).collect(),
        d => return Err(msg(format!("cannot generate {d} input '{name}'; give it with --input"))),
    };
    Tensor::from_f64(t.dtype, &shape, v).map_err(|e| msg(e.to_string()))
}

/// Builds the input values for a graph, in its input order.
pub fn build(g: &Graph, spec: &InputSpec) -> Result<Vec<(String, Value)>, InputError> {
    let mut provided: Vec<(String, Tensor)> = Vec::new();
    if let Some(p) = &spec.npz {
        provided.extend(npz::read(p).map_err(|e| msg(e.to_string()))?);
    }
    for (name, path) in &spec.named {
        provided.push((name.clone(), read_npy(path)?));
    }
    let decl = graph_inputs(g);
    for (name, _) in &provided {
        if !decl.iter().any(|(n, _)| n == name) {
            return Err(msg(format!(
                "the model has no input named '{name}' (inputs: {})",
                decl.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    let mut out = Vec::new();
    for (name, ty) in &decl {
        let t = match provided.iter().find(|(n, _)| n == name) {
            Some((_, t)) => t.clone(),
            None => generate(name, ty.as_ref(), spec.seed, &spec.dims)?,
        };
        out.push((name.clone(), Value::Tensor(t)));
    }
    Ok(out)
}

/// Reads one `.npy` file.
pub fn read_npy(path: &Path) -> Result<Tensor, InputError> {
    let b = std::fs::read(path).map_err(|e| msg(format!("{}: {e}", path.display())))?;
    npy::read(&b).map_err(|e| msg(format!("{}: {e}", path.display())))
}
