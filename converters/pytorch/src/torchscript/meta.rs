//! Output metadata a shared op rule reads before the op exists (in a `.pt2` it is recorded in
//! `tensor_values`; TorchScript source does not carry it): the shape of `view`/`reshape`/
//! `flatten`/`unflatten`/`expand` results, the promoted dtype of arithmetic and `where`, and
//! the dtype and size of factories. Everything else is inferred after the op is built.

use super::aten::dims;
use super::interp::{Interp, R};
use crate::export_program::ctx::N;
use crate::export_program::schema::{Arg, Meta};
use edgeport_ir::DType;

/// Category for torch's type promotion: bool < integer < floating.
fn category(d: DType) -> u8 {
    if d == DType::Bool {
        0
    } else if d.is_float() {
        2
    } else {
        1
    }
}

impl Interp<'_> {
    fn int_list(n: &N, name: &str) -> R<Vec<i64>> {
        n.ints(name, &[], 1)
    }

    fn tensor_meta(&mut self, n: &N, name: &str) -> R<Meta> {
        let t = n.tensor_name(name)?;
        self.meta_of(&t)
    }

    /// Records the output metadata `op` needs before its rule runs.
    pub fn premeta(&mut self, op: &str, n: &N) -> R<()> {
        let out = n.out(0);
        let meta = match op {
            "view" | "reshape" | "_unsafe_view" => {
                let m = self.tensor_meta(n, "self")?;
                let key = if n.get("size").is_some() { "size" } else { "shape" };
                let shape = resolve_view(&m, &Self::int_list(n, key)?)?;
                Some(Meta {
                    dtype: m.dtype,
                    shape: dims(&shape),
                })
            }
            "flatten" => {
                let m = self.tensor_meta(n, "self")?;
                let k = m.known().ok_or("flatten of a symbolic shape")?;
                let r = k.len() as i64;
                let norm = |d: i64| if d < 0 { d + r.max(1) } else { d };
                let s = norm(n.int("start_dim", 0)?);
                let e = norm(n.int("end_dim", -1)?);
                let shape = if k.is_empty() {
                    vec![1]
                } else {
                    if s < 0 || e >= r || s > e {
                        return Err(format!("flatten dims {s}..{e} out of range for rank {r}"));
                    }
                    let (s, e) = (s as usize, e as usize);
                    let mid = k[s..=e].iter().try_fold(1i64, |a, &d| a.checked_mul(d)).ok_or("size overflows")?;
                    let mut v = k[..s].to_vec();
                    v.push(mid);
                    v.extend_from_slice(&k[e + 1..]);
                    v
                };
                Some(Meta {
                    dtype: m.dtype,
                    shape: dims(&shape),
                })
            }
            "unflatten" => {
                let m = self.tensor_meta(n, "self")?;
                let k = m.known().ok_or("unflatten of a symbolic shape")?;
                let r = k.len() as i64;
                let d = n.int("dim", 0)?;
                let d = if d < 0 { d + r } else { d };
                let du = usize::try_from(d)
                    .ok()
                    .filter(|&x| x < k.len())
                    .ok_or("unflatten dim out of range")?;
                let mut sizes = Self::int_list(n, "sizes")?;
                let known: i64 = sizes.iter().filter(|&&s| s != -1).product();
                if let Some(p) = sizes.iter().position(|&s| s == -1) {
                    sizes[p] = if known == 0 { 0 } else { k[du] / known };
                }
                let mut v = k[..du].to_vec();
                v.extend_from_slice(&sizes);
                v.extend_from_slice(&k[du + 1..]);
                Some(Meta {
                    dtype: m.dtype,
                    shape: dims(&v),
                })
            }
            "expand" => {
                let m = self.tensor_meta(n, "self")?;
                let k = m.known().ok_or("expand of a symbolic shape")?;
                let size = Self::int_list(n, "size")?;
                let off = size.len().checked_sub(k.len()).ok_or("expand to fewer dimensions")?;
                let shape: Vec<i64> = size
                    .iter()
                    .enumerate()
                    .map(|(i, &s)| if s == -1 && i >= off { k[i - off] } else { s })
                    .collect();
                Some(Meta {
                    dtype: m.dtype,
                    shape: dims(&shape),
                })
            }
            "view_as" | "reshape_as" | "expand_as" => {
                let m = self.tensor_meta(n, "self")?;
                let o = self.tensor_meta(n, "other")?;
                Some(Meta {
                    dtype: m.dtype,
                    shape: o.shape,
                })
            }
            "type_as" => {
                let m = self.tensor_meta(n, "self")?;
                let o = self.tensor_meta(n, "other")?;
                Some(Meta {
                    dtype: o.dtype,
                    shape: m.shape,
                })
            }
            "add" | "add_" | "sub" | "sub_" | "mul" | "mul_" | "div" | "div_" | "rsub" | "pow" | "maximum" | "minimum" | "fmod"
            | "remainder" | "floor_divide" | "where" => {
                let params: &[&str] = match op {
                    "where" => &["self", "other"],
                    "pow" => &["self", "exponent"],
                    _ => &["self", "other"],
                };
                let mut tensor_dt: Option<DType> = None;
                let mut scalar_cat = 0u8;
                for p in params {
                    match n.get(p) {
                        Some(Arg::Tensor(t)) => {
                            let d = self.meta_of(t)?.dtype;
                            tensor_dt = Some(match tensor_dt {
                                None => d,
                                Some(a) if category(d) > category(a) || (category(d) == category(a) && d.bits() > a.bits()) => d,
                                Some(a) => a,
                            });
                        }
                        Some(Arg::Float(_)) => scalar_cat = scalar_cat.max(2),
                        Some(Arg::Int(_)) => scalar_cat = scalar_cat.max(1),
                        _ => {}
                    }
                }
                let mut dt = match tensor_dt {
                    Some(d) if category(d) >= scalar_cat => d,
                    _ if scalar_cat == 2 => DType::F32,
                    _ if scalar_cat == 1 => DType::I64,
                    Some(d) => d,
                    None => DType::F32,
                };
                let true_div = matches!(op, "div" | "div_") && n.get("rounding_mode").is_none_or(|a| *a == Arg::None);
                if true_div && !dt.is_float() {
                    dt = DType::F32;
                }
                Some(Meta { dtype: dt, shape: vec![] })
            }
            "zeros" | "ones" | "full" => {
                let size = Self::int_list(n, "size")?;
                let dt = match n.scalar_type("dtype")? {
                    Some(d) => d,
                    None if op == "full" => match n.get("fill_value") {
                        Some(Arg::Int(_)) => DType::I64,
                        Some(Arg::Bool(_)) => DType::Bool,
                        _ => DType::F32,
                    },
                    None => DType::F32,
                };
                Some(Meta {
                    dtype: dt,
                    shape: dims(&size),
                })
            }
            "zeros_like" | "ones_like" | "full_like" => {
                let m = self.tensor_meta(n, "self")?;
                let dt = n.scalar_type("dtype")?.unwrap_or(m.dtype);
                Some(Meta { dtype: dt, shape: m.shape })
            }
            "arange" => {
                let (start, end, step) = (n.float("start", 0.0)?, n.float("end", 0.0)?, n.float("step", 1.0)?);
                if step == 0.0 || !start.is_finite() || !end.is_finite() {
                    return Err("arange with a zero step or non-finite bounds".into());
                }
                let count = ((end - start) / step).ceil().max(0.0);
                if count > (1u64 << 24) as f64 {
                    return Err("arange too long".into());
                }
                let all_int = ["start", "end", "step"].iter().all(|p| !matches!(n.get(p), Some(Arg::Float(_))));
                let dt = n.scalar_type("dtype")?.unwrap_or(if all_int { DType::I64 } else { DType::F32 });
                Some(Meta {
                    dtype: dt,
                    shape: dims(&[count as i64]),
                })
            }
            _ => None,
        };
        if let Some(m) = meta {
            self.cx.metas.insert(out, m);
        }
        Ok(())
    }
}

/// A view's target shape with its one `-1` resolved against the input's element count.
fn resolve_view(m: &Meta, size: &[i64]) -> R<Vec<i64>> {
    let k = m.known().ok_or("view of a symbolic shape")?;
    let total = k.iter().try_fold(1i64, |a, &d| a.checked_mul(d)).ok_or("size overflows")?;
    let mut out = size.to_vec();
    let infer: Vec<usize> = out.iter().enumerate().filter(|(_, d)| **d == -1).map(|(i, _)| i).collect();
    if infer.len() > 1 {
        return Err(format!("view to {size:?} has more than one -1"));
    }
    let known = out
        .iter()
        .filter(|&&d| d != -1)
        .try_fold(1i64, |a, &d| if d < 0 { None } else { a.checked_mul(d) })
        .ok_or_else(|| format!("view to {size:?}: bad size"))?;
    if let Some(&i) = infer.first() {
        if known == 0 || total % known != 0 {
            return Err(format!("view of {k:?} to {size:?} does not fit"));
        }
        out[i] = total / known;
    } else if known != total {
        return Err(format!("view of {k:?} ({total} elements) to {size:?}"));
    }
    Ok(out)
}
