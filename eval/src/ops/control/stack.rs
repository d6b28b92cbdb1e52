//! Dtype-generic tensor helpers for the control-flow ops: stacking per-iteration values along a
//! new axis, taking one slice along an axis, and building empty tensors of a given dtype.

use crate::error::OpError;
use crate::map_array;
use crate::tensor::Tensor;
use edgeport_ir::DType;
use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn};

/// Stacks tensors of one dtype and shape along a new axis `axis` (0 ≤ axis ≤ rank).
pub(super) fn stack(ts: &[Tensor], axis: usize) -> Result<Tensor, OpError> {
    join(ts, axis, true)
}

/// Concatenates tensors of one dtype along the existing axis `axis`.
pub(super) fn concat(ts: &[Tensor], axis: usize) -> Result<Tensor, OpError> {
    join(ts, axis, false)
}

fn join(ts: &[Tensor], axis: usize, new_axis: bool) -> Result<Tensor, OpError> {
    let first = ts.first().ok_or_else(|| OpError::invalid("nothing to stack"))?;
    let rank = first.shape().len();
    if axis > rank || !new_axis && axis == rank {
        return Err(OpError::invalid(format!("axis {axis} is out of range for rank {rank}")));
    }
    for t in ts {
        if t.dtype() != first.dtype() || new_axis && t.shape() != first.shape() {
            return Err(OpError::invalid(format!(
                "per-iteration values differ: {}{:?} vs {}{:?}",
                first.dtype(),
                first.shape(),
                t.dtype(),
                t.shape()
            )));
        }
    }
    macro_rules! go {
        ($var:ident) => {{
            let views = ts
                .iter()
                .map(|t| match t {
                    Tensor::$var(a) => Ok(a.view()),
                    _ => Err(OpError::invalid("mixed dtypes")),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Tensor::$var(st(axis, new_axis, views)?)
        }};
    }
    Ok(match first {
        Tensor::F32(_) => go!(F32),
        Tensor::F64(_) => go!(F64),
        Tensor::F16(_) => go!(F16),
        Tensor::BF16(_) => go!(BF16),
        Tensor::I8(_) => go!(I8),
        Tensor::I16(_) => go!(I16),
        Tensor::I32(_) => go!(I32),
        Tensor::I64(_) => go!(I64),
        Tensor::U8(_) => go!(U8),
        Tensor::U16(_) => go!(U16),
        Tensor::U32(_) => go!(U32),
        Tensor::U64(_) => go!(U64),
        Tensor::Bool(_) => go!(Bool),
        Tensor::Str(_) => go!(Str),
        Tensor::Bits(d, _) => {
            let views = ts
                .iter()
                .map(|t| match t {
                    Tensor::Bits(_, a) => Ok(a.view()),
                    _ => Err(OpError::invalid("mixed dtypes")),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Tensor::Bits(*d, st(axis, new_axis, views)?)
        }
    })
}

fn st<T: Clone>(axis: usize, new_axis: bool, views: Vec<ArrayViewD<'_, T>>) -> Result<ArrayD<T>, OpError> {
    let r = if new_axis {
        ndarray::stack(Axis(axis), &views)
    } else {
        ndarray::concatenate(Axis(axis), &views)
    };
    r.map_err(|e| OpError::invalid(format!("cannot join {} values: {e}", views.len())))
}

/// The slice of `t` at index `i` along `axis` (rank drops by one).
pub(super) fn index_axis(t: &Tensor, axis: usize, i: usize) -> Result<Tensor, OpError> {
    let shape = t.shape();
    if axis >= shape.len() || i >= shape[axis] {
        return Err(OpError::invalid(format!(
            "index {i} along axis {axis} is out of range for shape {shape:?}"
        )));
    }
    Ok(map_array!(t, a => a.index_axis(Axis(axis), i).to_owned()))
}

/// Moves axis 0 of `t` to position `axis` (the other axes keep their order).
pub(super) fn move_first_axis_to(t: &Tensor, axis: usize) -> Result<Tensor, OpError> {
    let rank = t.shape().len();
    if axis >= rank {
        return Err(OpError::invalid(format!("axis {axis} is out of range for rank {rank}")));
    }
    if axis == 0 {
        return Ok(t.clone());
    }
    // Output axis j takes input axis perm[j].
    let mut perm: Vec<usize> = (1..rank).collect();
    perm.insert(axis, 0);
    Ok(map_array!(t, a => a.view().permuted_axes(IxDyn(&perm)).as_standard_layout().into_owned()))
}

/// Reverses `t` along axis 0.
pub(super) fn reverse_first_axis(t: &Tensor) -> Result<Tensor, OpError> {
    if t.shape().is_empty() {
        return Err(OpError::invalid("cannot reverse a scalar"));
    }
    Ok(map_array!(t, a => {
        let mut v = a.view();
        v.invert_axis(Axis(0));
        v.as_standard_layout().into_owned()
    }))
}

/// A tensor of `dtype` and `shape` filled with zeros (empty strings, false).
pub(super) fn zeros(dtype: DType, shape: &[usize]) -> Result<Tensor, OpError> {
    let n: usize = shape.iter().product();
    match dtype {
        DType::String => Ok(Tensor::Str(ArrayD::from_elem(IxDyn(shape), String::new()))),
        d => Tensor::from_f64(d, shape, vec![0.0; n]),
    }
}
