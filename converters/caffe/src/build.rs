//! The graph builder that layer rules use: the shared import builder of `edgeport-ir`
//! ([`edgeport_ir::builder`], named `Ctx` here) plus weights borrowed from the caffemodel.

use crate::decode::Blob;
use edgeport_ir::{DType, Tensor, ValueId};

pub use edgeport_ir::builder::{Attrs, Builder as Ctx, axis, float, int, ints, numel, string};

/// Caffe weight blobs as constants.
pub trait Weights {
    /// A weight blob as a constant of `shape` (same number of values; no copy).
    fn weight(&mut self, what: &str, blob: &Blob, shape: Vec<usize>) -> Result<ValueId, String>;
}

impl Weights for Ctx {
    /// A weight blob as a constant of `shape` (same number of values; no copy).
    fn weight(&mut self, what: &str, blob: &Blob, shape: Vec<usize>) -> Result<ValueId, String> {
        let want = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or("weight shape overflows")?;
        if want != blob.numel() {
            return Err(format!(
                "blob '{what}' has {} values (shape {:?}) but the layer's parameters need {want} (shape {shape:?})",
                blob.numel(),
                blob.shape
            ));
        }
        let t = Tensor::from_bytes(DType::F32, shape, blob.data.clone()).map_err(|e| e.to_string())?;
        let n = self.helper_name(what);
        Ok(self.g.add_constant(n, t))
    }
}
