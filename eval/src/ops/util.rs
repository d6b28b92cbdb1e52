//! Helpers shared by op families: axes, broadcasting, attribute checks.

use crate::error::OpError;
use ndarray::{ArrayD, ArrayViewD, IxDyn};

/// Normalizes a possibly negative axis against `rank`.
pub fn norm_axis(axis: i64, rank: usize) -> Result<usize, OpError> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if a < 0 || a >= r {
        return Err(OpError::invalid(format!("axis {axis} is out of range for rank {rank}")));
    }
    Ok(a as usize)
}

/// The numpy-style broadcast of several shapes.
pub fn broadcast_shapes(shapes: &[&[usize]]) -> Result<Vec<usize>, OpError> {
    let rank = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![1usize; rank];
    for s in shapes {
        let off = rank - s.len();
        for (i, &d) in s.iter().enumerate() {
            let o = &mut out[off + i];
            if *o == 1 {
                *o = d;
            } else if d != 1 && d != *o {
                return Err(OpError::invalid(format!("shapes {shapes:?} do not broadcast")));
            }
        }
    }
    Ok(out)
}

/// A view of `a` broadcast to `shape`.
pub fn broadcast_to<'a, T>(a: &'a ArrayD<T>, shape: &[usize]) -> Result<ArrayViewD<'a, T>, OpError> {
    a.broadcast(IxDyn(shape))
        .ok_or_else(|| OpError::invalid(format!("cannot broadcast {:?} to {:?}", a.shape(), shape)))
}

/// Applies `f` elementwise over two broadcast arrays.
pub fn zip_broadcast<A: Clone, B: Clone, C>(a: &ArrayD<A>, b: &ArrayD<B>, f: impl Fn(&A, &B) -> C) -> Result<ArrayD<C>, OpError> {
    let shape = broadcast_shapes(&[a.shape(), b.shape()])?;
    let av = broadcast_to(a, &shape)?;
    let bv = broadcast_to(b, &shape)?;
    Ok(ndarray::Zip::from(&av).and(&bv).map_collect(f))
}
