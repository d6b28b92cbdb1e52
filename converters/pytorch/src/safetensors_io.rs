//! `.safetensors` weights: reading (memory-mapped, every tensor a zero-copy view of the file, in
//! file order) and writing a graph's constants by name.

use crate::error::{Error, Result};
use edgeport_ir::bundle::safetensors_dtype;
use edgeport_ir::{Bytes, DType, Graph, Op, Tensor, TensorData};
use safetensors::SafeTensors;
use safetensors::tensor::{Dtype as StDtype, View};
use std::borrow::Cow;
use std::path::Path;

/// True when the bytes look like a safetensors header (`u64` length, then `{`).
pub fn looks_like(head: &[u8]) -> bool {
    if head.len() < 9 {
        return false;
    }
    let mut a = [0u8; 8];
    a.copy_from_slice(&head[..8]);
    let n = u64::from_le_bytes(a);
    n > 1 && n < (1 << 30) && head[8] == b'{'
}

fn from_st(d: StDtype) -> Option<DType> {
    DType::ALL.iter().copied().find(|x| safetensors_dtype(*x) == Some(d))
}

/// Every tensor of a safetensors file held in `data`, in file order, borrowing `data`.
pub fn load_tensors(file: &str, data: &Bytes) -> Result<Vec<(String, Tensor)>> {
    let err = |msg: String| Error::Format {
        file: file.to_string(),
        msg,
    };
    let st = SafeTensors::deserialize(data).map_err(|e| err(format!("safetensors: {e}")))?;
    let base = data.as_ptr() as usize;
    let mut out = Vec::new();
    for (name, view) in st.iter() {
        let dtype = from_st(view.dtype()).ok_or_else(|| err(format!("tensor '{name}': dtype {:?} is not supported", view.dtype())))?;
        let d = view.data();
        let start = (d.as_ptr() as usize).wrapping_sub(base);
        let bytes = data
            .slice(start, d.len())
            .ok_or_else(|| err(format!("tensor '{name}' lies outside the file")))?;
        let t = Tensor::from_bytes(dtype, view.shape().to_vec(), bytes).map_err(|e| err(format!("tensor '{name}': {e}")))?;
        out.push((name.to_string(), t));
    }
    // The header is a JSON map; keep the order of the data for determinism.
    out.sort_by_key(|(_, t)| t.raw().map(|b| b.as_ptr() as usize).unwrap_or(0));
    Ok(out)
}

struct TView<'a>(&'a Tensor, StDtype);
impl View for TView<'_> {
    fn dtype(&self) -> StDtype {
        self.1
    }
    fn shape(&self) -> &[usize] {
        &self.0.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self.0.raw().map(|b| &b[..]).unwrap_or(&[]))
    }
    fn data_len(&self) -> usize {
        self.0.raw().map(|b| b.len()).unwrap_or(0)
    }
}

/// The constants of `g` that name weights: every `Constant` node's output, by value name.
pub fn graph_weights(g: &Graph) -> Vec<(String, Tensor)> {
    let mut out = Vec::new();
    for id in g.node_ids() {
        let n = g.node(id);
        if let Op::Constant(c) = &n.op
            && let Some(v) = n.outputs.first()
        {
            out.push((v.name.clone(), c.value.clone()));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Writes every constant of `g` to a safetensors file at `path` (temporary file + rename).
/// Constants whose dtype safetensors cannot hold (strings, packed 4-bit) are listed as an error.
pub fn export_weights(g: &Graph, path: &Path) -> Result<usize> {
    let werr = |msg: String| Error::Write {
        path: path.to_path_buf(),
        msg,
    };
    let weights = graph_weights(g);
    let mut bad = Vec::new();
    let mut views = Vec::new();
    for (name, t) in &weights {
        match (safetensors_dtype(t.dtype), &t.data) {
            (Some(d), TensorData::Raw(_)) => views.push((name.clone(), TView(t, d))),
            _ => bad.push(format!("'{name}' ({})", t.dtype)),
        }
    }
    if !bad.is_empty() {
        return Err(werr(format!("safetensors cannot hold these constants: {}", bad.join(", "))));
    }
    let n = views.len();
    let tmp = path.with_extension("safetensors.tmp");
    safetensors::serialize_to_file(views, None, &tmp).map_err(|e| werr(e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        werr(e.to_string())
    })?;
    Ok(n)
}
