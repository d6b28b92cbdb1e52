//! ai.onnx.ml ops: `ArrayFeatureExtractor`, `Binarizer` and `LabelEncoder` (every key/value
//! attribute form, tensors included, with the per-type defaults). `TreeEnsemble` is in
//! `tree.rs`.

use super::stack::concat;
use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::map_array;
use crate::ops::OpResult;
use crate::tensor::Tensor;
use crate::value::Value;
use edgeport_ir::DType;
use edgeport_ir::ops::defs::ml::{Binarizer, LabelEncoder};
use ndarray::{ArrayD, Axis, IxDyn};
use std::collections::HashMap;

/// `ArrayFeatureExtractor`: selects indices `Y` along the last axis of `X`. A 1-d `X` gives a
/// `[1, n]` result.
pub(super) fn array_feature_extractor(cx: &mut NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    let idx = cx.tensor(1)?.to_i64_vec()?;
    let shape = x.shape();
    let last = *shape
        .last()
        .ok_or_else(|| OpError::invalid("ArrayFeatureExtractor input must not be a scalar"))?;
    let idx: Vec<usize> = idx
        .into_iter()
        .map(|i| {
            usize::try_from(i)
                .ok()
                .filter(|&i| i < last)
                .ok_or_else(|| OpError::invalid(format!("index {i} is out of range for last axis {last}")))
        })
        .collect::<Result<_, _>>()?;
    let ax = Axis(shape.len() - 1);
    let picked = map_array!(x, a => a.select(ax, &idx));
    let out = if shape.len() == 1 {
        picked.reshape(&[1, idx.len()])?
    } else {
        picked
    };
    Ok(vec![Value::Tensor(out)])
}

/// `Binarizer`: 1 where `X > threshold`, else 0, in X's dtype.
pub(super) fn binarizer(a: &Binarizer, cx: &mut NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    let th = a.threshold as f64;
    let v = x.to_f64_vec()?.into_iter().map(|e| if e > th { 1.0 } else { 0.0 }).collect();
    Ok(vec![Value::Tensor(Tensor::from_f64(x.dtype(), x.shape(), v)?)])
}

/// A hashable lookup key: strings, integers, or floats by canonical bits (all NaNs equal,
/// -0 equal to +0).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    S(String),
    I(i64),
    F(u64),
}

fn float_key(x: f64) -> Key {
    if x.is_nan() {
        Key::F(f64::NAN.to_bits())
    } else if x == 0.0 {
        Key::F(0)
    } else {
        Key::F(x.to_bits())
    }
}

fn keys_of(t: &Tensor) -> Result<Vec<Key>, OpError> {
    Ok(match t {
        Tensor::Str(a) => a.iter().map(|s| Key::S(s.clone())).collect(),
        t if t.dtype().is_float() => t.to_f64_vec()?.into_iter().map(float_key).collect(),
        t => t.to_i64_vec()?.into_iter().map(Key::I).collect(),
    })
}

fn vec_str(v: &[String]) -> Tensor {
    Tensor::Str(ArrayD::from_shape_vec(IxDyn(&[v.len()]), v.to_vec()).expect("1-d"))
}

/// `LabelEncoder`: maps each element through `keys → values`, unknown keys to the default.
pub(super) fn label_encoder(a: &LabelEncoder, cx: &mut NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    let keys = if let Some(t) = &a.keys_tensor {
        Tensor::from_ir(t)?
    } else if !a.keys_strings.is_empty() {
        vec_str(&a.keys_strings)
    } else if !a.keys_int64s.is_empty() {
        Tensor::vec_i64(a.keys_int64s.clone())
    } else if !a.keys_floats.is_empty() {
        Tensor::vec_f32(a.keys_floats.clone())
    } else {
        return Err(OpError::invalid("LabelEncoder has no keys"));
    };
    let (values, default) = if let Some(t) = &a.values_tensor {
        let v = Tensor::from_ir(t)?;
        let d = match &a.default_tensor {
            Some(d) => Tensor::from_ir(d)?,
            None => match v.dtype() {
                DType::String => vec_str(&["_Unused".to_string()]),
                d if d.is_float() => Tensor::from_f64(d, &[1], vec![-0.0])?,
                d => Tensor::from_f64(d, &[1], vec![-1.0])?,
            },
        };
        if d.dtype() != v.dtype() || d.len() != 1 {
            return Err(OpError::invalid(
                "LabelEncoder default_tensor must be one element of the values' dtype",
            ));
        }
        (v, d.reshape(&[1])?)
    } else if !a.values_strings.is_empty() {
        (vec_str(&a.values_strings), vec_str(std::slice::from_ref(&a.default_string)))
    } else if !a.values_int64s.is_empty() {
        (Tensor::vec_i64(a.values_int64s.clone()), Tensor::vec_i64(vec![a.default_int64]))
    } else if !a.values_floats.is_empty() {
        (Tensor::vec_f32(a.values_floats.clone()), Tensor::vec_f32(vec![a.default_float]))
    } else {
        return Err(OpError::invalid("LabelEncoder has no values"));
    };
    let values = values.reshape(&[values.len()])?;
    let keys = keys_of(&keys)?;
    if keys.len() != values.len() {
        return Err(OpError::invalid(format!(
            "LabelEncoder has {} keys and {} values",
            keys.len(),
            values.len()
        )));
    }
    let mut map: HashMap<Key, usize> = HashMap::with_capacity(keys.len());
    for (i, k) in keys.into_iter().enumerate() {
        map.entry(k).or_insert(i);
    }
    let n = values.len();
    let idx: Vec<usize> = keys_of(x)?.iter().map(|k| map.get(k).copied().unwrap_or(n)).collect();
    let table = concat(&[values, default], 0)?;
    let shape = x.shape().to_vec();
    let out = map_array!(&table, t => t
        .select(Axis(0), &idx)
        .into_shape_with_order(IxDyn(&shape))
        .map_err(|e| OpError::invalid(e.to_string()))?);
    Ok(vec![Value::Tensor(out)])
}
