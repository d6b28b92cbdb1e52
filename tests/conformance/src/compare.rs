//! Comparing evaluator outputs with expected values, as ONNX's backend runner does
//! (`assert_allclose` with rtol/atol; NaN equals NaN; dtype and shape must match).

use edgeport_eval::{Tensor, Value};

/// Tolerances.
#[derive(Debug, Clone, Copy)]
pub struct Tolerance {
    pub rtol: f64,
    pub atol: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance { rtol: 1e-3, atol: 1e-7 }
    }
}

/// Compares two values; `Err` describes the first difference.
pub fn compare_values(got: &Value, want: &Value, tol: Tolerance) -> Result<(), String> {
    match (got, want) {
        (Value::Tensor(g), Value::Tensor(w)) => compare_tensors(g, w, tol),
        (Value::Sequence(g, _), Value::Sequence(w, _)) => {
            if g.len() != w.len() {
                return Err(format!("sequence length {} != expected {}", g.len(), w.len()));
            }
            for (i, (a, b)) in g.iter().zip(w).enumerate() {
                compare_tensors(a, b, tol).map_err(|e| format!("sequence element {i}: {e}"))?;
            }
            Ok(())
        }
        (Value::Optional(g, _), Value::Optional(w, _)) => match (g, w) {
            (None, None) => Ok(()),
            (Some(a), Some(b)) => compare_values(a, b, tol),
            _ => Err(format!(
                "optional presence differs: got {}, want {}",
                got.describe(),
                want.describe()
            )),
        },
        // A tensor/sequence output compared with an optional holding one.
        (g, Value::Optional(Some(w), _)) => compare_values(g, w, tol),
        (Value::Optional(Some(g), _), w) => compare_values(g, w, tol),
        _ => Err(format!("kind differs: got {}, want {}", got.describe(), want.describe())),
    }
}

/// Compares two tensors.
pub fn compare_tensors(g: &Tensor, w: &Tensor, tol: Tolerance) -> Result<(), String> {
    if g.dtype() != w.dtype() {
        return Err(format!("dtype {} != expected {}", g.dtype(), w.dtype()));
    }
    if g.shape() != w.shape() {
        return Err(format!("shape {:?} != expected {:?}", g.shape(), w.shape()));
    }
    if let (Tensor::Str(a), Tensor::Str(b)) = (g, w) {
        for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
            if x != y {
                return Err(format!("element {i}: {x:?} != expected {y:?}"));
            }
        }
        return Ok(());
    }
    if g.dtype().is_int() || g.dtype() == edgeport_ir::DType::Bool {
        let a = g.to_i64_vec().map_err(|e| e.to_string())?;
        let b = w.to_i64_vec().map_err(|e| e.to_string())?;
        if let Some(i) = a.iter().zip(&b).position(|(x, y)| x != y) {
            return Err(format!(
                "element {i}: {} != expected {} ({} of {} differ)",
                a[i],
                b[i],
                a.iter().zip(&b).filter(|(x, y)| x != y).count(),
                a.len()
            ));
        }
        return Ok(());
    }
    let a = g.to_f64_vec().map_err(|e| e.to_string())?;
    let b = w.to_f64_vec().map_err(|e| e.to_string())?;
    let mut bad = 0;
    let mut first = None;
    let mut worst = 0f64;
    for (i, (&x, &y)) in a.iter().zip(&b).enumerate() {
        let ok = if x.is_nan() || y.is_nan() {
            x.is_nan() && y.is_nan()
        } else if x.is_infinite() || y.is_infinite() {
            x == y
        } else {
            let d = (x - y).abs();
            worst = worst.max(d);
            d <= tol.atol + tol.rtol * y.abs()
        };
        if !ok {
            bad += 1;
            first.get_or_insert(i);
        }
    }
    match first {
        None => Ok(()),
        Some(i) => Err(format!(
            "element {i}: {} != expected {} ({bad} of {} differ, max abs diff {worst:.3e})",
            a[i],
            b[i],
            a.len()
        )),
    }
}
