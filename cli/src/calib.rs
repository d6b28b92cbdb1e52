//! Calibration and held-out samples for `edgeport quantize`: from an `.npz` (arrays named by
//! model input, either one sample or a stack of samples along a leading axis), a folder of
//! `.npz`/`.npy` files (`.npy` only for single-input models), or synthetic inputs when no data
//! is given, or a folder of PNG/JPEG images for a single image input (`images`, with a
//! `--preprocess` spec). Shapes and dtypes must match the model's inputs; NaN/inf are refused.

pub mod images;

use crate::inputs::{generate, graph_inputs};
use crate::io::{npy, npz};
use edgeport_eval::{Tensor, Value};
use edgeport_ir::{Dim, Graph, ValueType};
use std::path::Path;

/// Why samples could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CalibError(pub String);

fn err(s: impl Into<String>) -> CalibError {
    CalibError(s.into())
}

/// Loaded samples, each holding one value per graph input in graph order.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    pub samples: Vec<Vec<Value>>,
    /// Where they came from (a path or "synthetic").
    pub source: String,
    pub warnings: Vec<String>,
}

/// Splits `t` along axis 0 into `n` equal parts.
fn split0(t: &Tensor, n: usize) -> Result<Vec<Tensor>, CalibError> {
    if n == 1 {
        return Ok(vec![t.clone()]);
    }
    // f32 (the usual input): one copy per part, straight out of the array.
    if let Tensor::F32(a) = t {
        let lead = a.shape().first().copied().ok_or_else(|| err("scalar cannot be split"))?;
        if lead % n != 0 {
            return Err(err(format!("leading axis {lead} is not a multiple of {n}")));
        }
        return Ok(a
            .axis_chunks_iter(ndarray::Axis(0), lead / n)
            .map(|c| Tensor::F32(c.to_owned()))
            .collect());
    }
    let ir = t.to_ir();
    let raw = ir.raw().ok_or_else(|| err("string arrays are not model inputs"))?;
    let mut shape = ir.shape.clone();
    let lead = *shape.first().ok_or_else(|| err("scalar cannot be split"))?;
    if lead % n != 0 {
        return Err(err(format!("leading axis {lead} is not a multiple of {n}")));
    }
    shape[0] = lead / n;
    let per = raw.len() / n;
    (0..n)
        .map(|i| {
            let b = raw.slice(i * per, per).ok_or_else(|| err("array data is short"))?;
            let part = edgeport_ir::Tensor::from_bytes(ir.dtype, shape.clone(), b).map_err(|e| err(e.to_string()))?;
            Tensor::from_ir(&part).map_err(|e| err(e.to_string()))
        })
        .collect()
}

/// The first NaN or infinity of a float array (flat index, value), read in place.
fn first_non_finite(t: &Tensor) -> Result<Option<(usize, f64)>, edgeport_eval::OpError> {
    Ok(match t {
        Tensor::F32(a) => a
            .iter()
            .position(|x| !x.is_finite())
            .map(|i| (i, a.iter().nth(i).map_or(0.0, |&x| x as f64))),
        Tensor::F64(a) => a
            .iter()
            .position(|x| !x.is_finite())
            .map(|i| (i, a.iter().nth(i).copied().unwrap_or(0.0))),
        t if t.dtype().is_float() => {
            let v = t.to_f64_vec()?;
            v.iter().position(|x| !x.is_finite()).map(|i| (i, v[i]))
        }
        _ => None,
    })
}

/// Splits one array into samples fitting the declared input type.
fn fit(file: &str, name: &str, t: &Tensor, ty: Option<&ValueType>) -> Result<Vec<Tensor>, CalibError> {
    let tt = ty
        .and_then(|t| t.as_tensor())
        .ok_or_else(|| err(format!("{file}: model input '{name}' has no declared type")))?;
    if t.dtype() != tt.dtype {
        return Err(err(format!(
            "{file}: array '{name}' is {} but the model input is {}",
            t.dtype(),
            tt.dtype
        )));
    }
    if let Some((i, v)) = first_non_finite(t).map_err(|e| err(e.to_string()))? {
        return Err(err(format!(
            "{file}: array '{name}' has a non-finite value ({v}) at flat index {i}"
        )));
    }
    let Some(shape) = &tt.shape else {
        return Ok(vec![t.clone()]);
    };
    let d = &shape.0;
    let a = t.shape();
    let fits = |s: &[usize]| {
        s.len() == d.len()
            && s.iter()
                .zip(d)
                .enumerate()
                .all(|(i, (&x, dim))| matches!(dim, Dim::Sym(_)) && (i == 0 || x > 0) || dim.known() == Some(x as u64))
    };
    let mismatch = || {
        err(format!(
            "{file}: array '{name}' has shape {a:?}, which does not fit the model input shape {shape} (give one sample, or samples stacked along a new leading axis or the batch axis)"
        ))
    };
    if a.len() == d.len() + 1 {
        // Samples stacked along a new leading axis.
        let n = a[0];
        if !fits(&a[1..]) || n == 0 {
            return Err(mismatch());
        }
        let parts = split0(t, n)?;
        return parts
            .into_iter()
            .map(|p| p.reshape(&a[1..]).map_err(|e| err(e.to_string())))
            .collect();
    }
    if a.len() != d.len() {
        return Err(mismatch());
    }
    match d.first() {
        Some(Dim::Sym(_)) if fits(a) => {
            // A symbolic batch axis: one sample per row.
            let n = a[0];
            if n == 0 {
                return Err(mismatch());
            }
            split0(t, n)
        }
        Some(dim) => {
            let b = dim.known().unwrap_or(1) as usize;
            let rest_ok = a[1..]
                .iter()
                .zip(&d[1..])
                .all(|(&x, dim)| dim.known().is_none_or(|k| k == x as u64));
            if !rest_ok || b == 0 || !a[0].is_multiple_of(b) || a[0] == 0 {
                return Err(mismatch());
            }
            split0(t, a[0] / b)
        }
        None => {
            if fits(a) {
                Ok(vec![t.clone()])
            } else {
                Err(mismatch())
            }
        }
    }
}

/// Turns named arrays from one file into samples.
fn from_arrays(g: &Graph, file: &str, arrays: Vec<(String, Tensor)>, warnings: &mut Vec<String>) -> Result<Vec<Vec<Value>>, CalibError> {
    let decl = graph_inputs(g);
    let single = decl.len() == 1 && arrays.len() == 1;
    let mut per_input: Vec<Vec<Tensor>> = Vec::new();
    for (name, ty) in &decl {
        let found = arrays
            .iter()
            .find(|(n, _)| n == name)
            .or(if single { arrays.first() } else { None });
        let (_, t) = found.ok_or_else(|| {
            err(format!(
                "{file}: no array for model input '{name}' (arrays: {})",
                arrays.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
            ))
        })?;
        per_input.push(fit(file, name, t, ty.as_ref())?);
    }
    for (n, _) in &arrays {
        if !single && !decl.iter().any(|(d, _)| d == n) {
            warnings.push(format!("{file}: array '{n}' is not a model input; ignored"));
        }
    }
    let n = per_input.first().map(|v| v.len()).unwrap_or(0);
    if per_input.iter().any(|v| v.len() != n) {
        return Err(err(format!(
            "{file}: inputs hold different sample counts ({})",
            per_input.iter().map(|v| v.len().to_string()).collect::<Vec<_>>().join(", ")
        )));
    }
    Ok((0..n)
        .map(|i| per_input.iter().map(|v| Value::Tensor(v[i].clone())).collect())
        .collect())
}

/// Loads samples from `path`, or makes `synthetic` seeded ones when `path` is `None`.
pub fn load(g: &Graph, path: Option<&Path>, synthetic: usize, seed: u64) -> Result<Samples, CalibError> {
    load_with(g, path, synthetic, seed, None)
}

/// [`load`], with image preprocessing for image files (defaults from the model input when
/// `pre` is `None`).
pub fn load_with(
    g: &Graph,
    path: Option<&Path>,
    synthetic: usize,
    seed: u64,
    pre: Option<&images::Preprocess>,
) -> Result<Samples, CalibError> {
    let mut out = Samples::default();
    let Some(path) = path else {
        out.source = "synthetic".into();
        for i in 0..synthetic {
            let mut s = Vec::new();
            for (name, ty) in graph_inputs(g) {
                s.push(Value::Tensor(
                    generate(&name, ty.as_ref(), seed.wrapping_add(i as u64), &[]).map_err(|e| err(e.to_string()))?,
                ));
            }
            out.samples.push(s);
        }
        return Ok(out);
    };
    out.source = path.display().to_string();
    let files: Vec<std::path::PathBuf> = if path.is_dir() {
        let mut v: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| err(format!("{}: {e}", path.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("npy" | "npz")) || images::is_image(p))
            .collect();
        v.sort();
        if v.is_empty() {
            return Err(err(format!(
                "{}: the calibration folder holds no .npy or .npz file (nor .png/.jpg images)",
                path.display()
            )));
        }
        v
    } else if path.exists() {
        vec![path.to_path_buf()]
    } else {
        return Err(err(format!("{}: no such file or folder", path.display())));
    };
    let (imgs, files): (Vec<_>, Vec<_>) = files.into_iter().partition(|f| images::is_image(f));
    if !imgs.is_empty() {
        let decl = graph_inputs(g);
        let [(name, ty)] = decl.as_slice() else {
            return Err(err(format!(
                "{}: images calibrate single-input models (this one has {} inputs); use .npz",
                path.display(),
                decl.len()
            )));
        };
        let default = images::Preprocess::default();
        if pre.is_none() {
            out.warnings.push(format!(
                "{}: images without --preprocess: pixels / 255, no mean/std, size and layout from the model input",
                path.display()
            ));
        }
        let ts = images::load(&imgs, name, ty.as_ref(), pre.unwrap_or(&default))?;
        out.samples.extend(ts.into_iter().map(|t| vec![Value::Tensor(t)]));
    }
    for f in files {
        let file = f.display().to_string();
        let arrays = match f.extension().and_then(|e| e.to_str()) {
            Some("npz") => npz::read(&f).map_err(|e| err(e.to_string()))?,
            Some("npy") => {
                let decl = graph_inputs(g);
                if decl.len() != 1 {
                    return Err(err(format!(
                        "{file}: .npy files need a single-input model (this one has {}); use .npz",
                        decl.len()
                    )));
                }
                let b = std::fs::read(&f).map_err(|e| err(format!("{file}: {e}")))?;
                let t = npy::read(&b).map_err(|e| err(format!("{file}: {e}")))?;
                vec![(decl[0].0.clone(), t)]
            }
            _ => return Err(err(format!("{file}: calibration data must be .npz or .npy"))),
        };
        let mut w = Vec::new();
        out.samples.extend(from_arrays(g, &file, arrays, &mut w)?);
        out.warnings.extend(w);
    }
    if out.samples.is_empty() {
        return Err(err(format!("{}: no samples", path.display())));
    }
    Ok(out)
}
