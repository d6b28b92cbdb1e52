//! The Paddle 3 PIR program (`.json`) read into the neutral [`Program`].
//!
//! Layout (what paddle 3.x writes): `{"base_code": {"magic": "pir", "version", "trainable"},
//! "program": {"regions": [{"blocks": [{"args", "ops": [...]}]}]}}`. An op is
//! `{"#": "<dialect>.<name>", "I": [{"%": id}], "O": [{"%": id, "TT": type}], "A": [{"N", "AT"}]}`
//! with dialects compressed to numbers (`0` builtin, `1` pd_op, `2` cf, `3` custom_op, `4`
//! dist); parameters are the compact `{"#": "p", "A": [dist, is_param, need_clip, name], "O"}`.
//! Types and attributes are `{"#": "<dialect>.<kind>", "D": data}`.
//!
//! PIR ops are renamed to their legacy equivalents and their positional operands given legacy
//! slot names (table [`PD_OPS`]), so one set of op rules serves both forms. Tensor-valued
//! arguments that the legacy form kept as attributes (reshape's shape, slice's starts, …) stay
//! operands here, produced by `full_int_array`/`full` ops; the rules accept either.

use crate::error::OpIssue;
use crate::program::{Attr, Feed, Fetch, OpDesc, Program, VarInfo, dtype_from_name};
use serde_json::Value as J;
use std::collections::HashMap;

/// PIR `pd_op` name → (legacy op type, operand slot names, attribute renames).
type PdOp = (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
);

const X: &[&str] = &["X"];
const XY: &[&str] = &["X", "Y"];
const DF: &[(&str, &str)] = &[("data_format", "data_layout")];

#[rustfmt::skip]
const PD_OPS: &[PdOp] = &[
    ("conv2d", "conv2d", &["Input", "Filter"], &[]),
    ("depthwise_conv2d", "depthwise_conv2d", &["Input", "Filter"], &[]),
    ("conv2d_transpose", "conv2d_transpose", &["Input", "Filter", "OutputSizeTensor"], &[]),
    ("depthwise_conv2d_transpose", "depthwise_conv2d_transpose", &["Input", "Filter", "OutputSizeTensor"], &[]),
    ("batch_norm", "batch_norm", &["X", "Mean", "Variance", "Scale", "Bias"], DF),
    ("layer_norm", "layer_norm", &["X", "Scale", "Bias"], &[]),
    ("pool2d", "pool2d", &["X", "KsizeTensor"], &[]),
    ("matmul", "matmul_v2", XY, &[("transpose_x", "trans_x"), ("transpose_y", "trans_y")]),
    ("add", "elementwise_add", XY, &[]),
    ("subtract", "elementwise_sub", XY, &[]),
    ("multiply", "elementwise_mul", XY, &[]),
    ("divide", "elementwise_div", XY, &[]),
    ("maximum", "elementwise_max", XY, &[]),
    ("minimum", "elementwise_min", XY, &[]),
    ("elementwise_pow", "elementwise_pow", XY, &[]),
    ("scale", "scale", &["X", "ScaleTensor"], &[]),
    ("hardswish", "hard_swish", X, &[]),
    ("hardsigmoid", "hard_sigmoid", X, &[]),
    ("relu", "relu", X, &[]),
    ("relu6", "relu6", X, &[]),
    ("sigmoid", "sigmoid", X, &[]),
    ("tanh", "tanh", X, &[]),
    ("swish", "swish", X, &[]),
    ("silu", "silu", X, &[]),
    ("gelu", "gelu", X, &[]),
    ("exp", "exp", X, &[]),
    ("sqrt", "sqrt", X, &[]),
    ("abs", "abs", X, &[]),
    ("leaky_relu", "leaky_relu", X, &[("negative_slope", "alpha")]),
    ("softmax", "softmax", X, &[]),
    ("reshape", "reshape2", &["X", "Shape"], &[]),
    ("transpose", "transpose2", X, &[("perm", "axis")]),
    ("concat", "concat", &["X", "AxisTensor"], &[]),
    ("split_with_num", "split", &["X", "AxisTensor"], &[]),
    ("split", "split", &["X", "SectionsTensor", "AxisTensor"], &[]),
    ("slice", "slice", &["Input", "StartsTensor", "EndsTensor"], &[]),
    ("strided_slice", "strided_slice", &["Input", "StartsTensor", "EndsTensor", "StridesTensor"], &[]),
    ("squeeze", "squeeze2", &["X", "AxesTensor"], &[]),
    ("unsqueeze", "unsqueeze2", &["X", "AxesTensor"], &[]),
    ("flatten", "flatten_contiguous_range", X, &[]),
    ("nearest_interp", "nearest_interp_v2", &["X", "OutSize", "SizeTensor", "Scale"], DF),
    ("bilinear_interp", "bilinear_interp_v2", &["X", "OutSize", "SizeTensor", "Scale"], DF),
    ("full", "full", &[], &[]),
    ("full_int_array", "full_int_array", &[], &[]),
    ("shape", "shape", &["Input"], &[]),
    ("shape64", "shape64", &["Input"], &[]),
    ("cast", "cast", X, &[("dtype", "out_dtype")]),
    ("gather", "gather", &["X", "Index", "Axis"], &[]),
    ("argmax", "arg_max", &["X", "AxisTensor"], &[]),
    ("pad3d", "pad3d", &["X", "Paddings"], &[("pad_value", "value")]),
    ("dropout", "dropout", &["X", "Seed", "P"], &[("mode", "dropout_implementation")]),
    ("mean", "reduce_mean", &["X", "AxesTensor"], &[("keepdim", "keep_dim")]),
    ("sum", "reduce_sum", &["X", "AxesTensor"], &[("keepdim", "keep_dim")]),
    ("max", "reduce_max", &["X", "AxesTensor"], &[("keepdim", "keep_dim")]),
    ("min", "reduce_min", &["X", "AxesTensor"], &[("keepdim", "keep_dim")]),
    ("assign", "assign", X, &[]),
    ("pow", "pow", X, &[("y", "factor")]),
    ("clip", "clip", &["X", "Min", "Max"], &[]),
    ("add_n", "sum", X, &[]),
];

/// The PIR op names this reader maps (for the support list).
pub fn supported_pd_ops() -> impl Iterator<Item = &'static str> {
    PD_OPS.iter().map(|o| o.0)
}

/// Output slot names of ops whose legacy rule reads more than `Out`.
fn out_slots(legacy: &str) -> &'static [&'static str] {
    match legacy {
        "conv2d" | "depthwise_conv2d" | "conv2d_transpose" | "depthwise_conv2d_transpose" => &["Output"],
        "batch_norm" => &["Y", "MeanOut", "VarianceOut", "SavedMean", "SavedVariance", "ReserveSpace"],
        "layer_norm" => &["Y", "Mean", "Variance"],
        "dropout" => &["Out", "Mask"],
        _ => &["Out"],
    }
}

const MAX_DEPTH: usize = 64;

/// Parses a PIR JSON program.
pub fn read_program(text: &[u8]) -> Result<Program, String> {
    let root: J = serde_json::from_slice(text).map_err(|e| format!("not JSON: {e}"))?;
    let base = root.get("base_code").ok_or("no 'base_code': not a PIR program")?;
    if base.get("magic").and_then(J::as_str) != Some("pir") {
        return Err("'base_code.magic' is not \"pir\"".into());
    }
    let version = base.get("version").and_then(J::as_u64).unwrap_or(0);
    let regions = root
        .pointer("/program/regions")
        .and_then(J::as_array)
        .ok_or("no 'program.regions'")?;
    let blocks = regions
        .first()
        .and_then(|r| r.get("blocks"))
        .and_then(J::as_array)
        .ok_or("region 0 has no blocks")?;
    let ops = blocks
        .first()
        .and_then(|b| b.get("ops"))
        .and_then(J::as_array)
        .ok_or("block 0 has no ops")?;
    let mut r = Reader {
        prog: Program {
            version: format!("pir {version}"),
            ..Default::default()
        },
        tuples: HashMap::new(),
        alias: HashMap::new(),
    };
    for (index, op) in ops.iter().enumerate() {
        let file_ty = op.get("#").and_then(J::as_str).unwrap_or("?").to_string();
        if let Err(reason) = r.op(index, &file_ty, op) {
            let name = first_result(op).map(|id| format!("%{id}")).unwrap_or_else(|| format!("op{index}"));
            r.prog.issues.push(OpIssue {
                index,
                op: file_ty,
                name,
                reason,
            });
        }
    }
    let mut params = std::mem::take(&mut r.prog.params);
    params.sort();
    r.prog.params = params;
    r.prog.feeds.sort_by_key(|f| f.col);
    r.prog.fetches.sort_by_key(|f| f.col);
    Ok(r.prog)
}

struct Reader {
    prog: Program,
    /// Vector values (`builtin.combine` results, vector results of split ops) → element names.
    tuples: HashMap<String, Vec<String>>,
    /// Values that are another value under a second id (`builtin.split`/`slice` results).
    alias: HashMap<String, String>,
}

fn first_result(op: &J) -> Option<i64> {
    match op.get("O") {
        Some(J::Array(a)) => a.first().and_then(|o| o.get("%")).and_then(J::as_i64),
        Some(o) => o.get("%").and_then(J::as_i64),
        None => None,
    }
}

impl Reader {
    fn resolve(&self, name: &str) -> String {
        let mut n = name.to_string();
        for _ in 0..MAX_DEPTH {
            match self.alias.get(&n) {
                Some(a) => n = a.clone(),
                None => break,
            }
        }
        n
    }

    /// Operand names (null operands → `None`).
    fn operands(&self, op: &J) -> Result<Vec<Option<String>>, String> {
        let Some(list) = op.get("I") else { return Ok(Vec::new()) };
        let list = list.as_array().ok_or("'I' is not a list")?;
        list.iter()
            .map(|o| {
                let id = o.get("%").and_then(J::as_i64).ok_or("operand without a value id")?;
                Ok((id != 0).then(|| self.resolve(&format!("%{id}"))))
            })
            .collect()
    }

    /// Result names, registering their types (and vector elements).
    fn results(&mut self, op: &J) -> Result<Vec<String>, String> {
        let list = match op.get("O") {
            Some(J::Array(a)) => a.clone(),
            Some(o @ J::Object(_)) => vec![o.clone()],
            _ => Vec::new(),
        };
        let mut out = Vec::with_capacity(list.len());
        for o in &list {
            let id = o.get("%").and_then(J::as_i64).ok_or("result without a value id")?;
            let name = format!("%{id}");
            if let Some(tt) = o.get("TT") {
                if tt.get("#").and_then(J::as_str) == Some("0.t_vec") {
                    let elems = tt.get("D").and_then(J::as_array).map(|v| v.as_slice()).unwrap_or(&[]);
                    let names: Vec<String> = (0..elems.len()).map(|i| format!("{name}.{i}")).collect();
                    for (n, t) in names.iter().zip(elems) {
                        self.prog.vars.insert(n.clone(), parse_type(t));
                    }
                    self.tuples.insert(name.clone(), names);
                } else {
                    self.prog.vars.insert(name.clone(), parse_type(tt));
                }
            }
            out.push(name);
        }
        Ok(out)
    }

    fn op(&mut self, index: usize, file_ty: &str, op: &J) -> Result<(), String> {
        if file_ty == "p" {
            let name = op
                .get("A")
                .and_then(|a| a.get(3))
                .and_then(J::as_str)
                .ok_or("parameter op without a name")?;
            let res = self.results(op)?;
            let value = res.first().ok_or("parameter op without a result")?;
            self.prog.params.push((name.to_string(), value.clone()));
            return Ok(());
        }
        let (dialect, name) = file_ty
            .split_once('.')
            .ok_or_else(|| format!("op name '{file_ty}' has no dialect prefix"))?;
        let attrs = parse_attrs(op)?;
        match dialect {
            "0" => self.builtin(name, op, &attrs),
            "1" => self.pd_op(index, file_ty, name, op, attrs),
            "2" => Err(format!("control-flow dialect 'cf' op '{name}' is not supported")),
            "3" => Err(format!("custom op '{name}' (dialect custom_op) is not supported")),
            "4" => Err(format!("distributed dialect op '{name}' is not supported")),
            d => Err(format!(
                "unknown dialect '{d}' (known: 0 builtin, 1 pd_op, 2 cf, 3 custom_op, 4 dist)"
            )),
        }
    }

    fn builtin(&mut self, name: &str, op: &J, attrs: &[(String, Attr)]) -> Result<(), String> {
        let ins = self.operands(op)?;
        let outs = self.results(op)?;
        match name {
            "combine" => {
                let out = outs.first().ok_or("combine without a result")?;
                let elems = ins
                    .into_iter()
                    .map(|i| i.ok_or("combine of a null value"))
                    .collect::<Result<Vec<_>, _>>()?;
                self.tuples.insert(out.clone(), elems);
                Ok(())
            }
            "split" | "slice" => {
                let src = ins.first().cloned().flatten().ok_or("split of a null value")?;
                let elems = self
                    .tuples
                    .get(&src)
                    .cloned()
                    .ok_or_else(|| format!("'{src}' is not a vector value"))?;
                let start = match attrs.iter().find(|(n, _)| n == "index") {
                    Some((_, Attr::Int(i))) if name == "slice" => usize::try_from(*i).map_err(|_| "negative index")?,
                    _ => 0,
                };
                for (k, out) in outs.iter().enumerate() {
                    let e = elems
                        .get(start + k)
                        .ok_or_else(|| format!("'{src}' has {} elements, result {k} is out of range", elems.len()))?;
                    self.alias.insert(out.clone(), e.clone());
                }
                Ok(())
            }
            "parameter" => {
                let pname = match attrs.iter().find(|(n, _)| n == "parameter_name") {
                    Some((_, Attr::Str(s))) => s.clone(),
                    _ => return Err("parameter op without 'parameter_name'".into()),
                };
                let out = outs.first().ok_or("parameter op without a result")?;
                self.prog.params.push((pname, out.clone()));
                Ok(())
            }
            "shadow_output" => {
                let v = ins.first().cloned().flatten().ok_or("shadow_output of a null value")?;
                let oname = match attrs.iter().find(|(n, _)| n == "output_name") {
                    Some((_, Attr::Str(s))) => s.clone(),
                    _ => v.clone(),
                };
                let col = self.prog.fetches.len() as i64;
                self.prog.fetches.push(Fetch {
                    col,
                    name: oname,
                    value: v,
                });
                Ok(())
            }
            other => Err(format!("builtin op '{other}' is not supported")),
        }
    }

    fn pd_op(&mut self, index: usize, file_ty: &str, name: &str, op: &J, attrs: Vec<(String, Attr)>) -> Result<(), String> {
        let get = |n: &str| attrs.iter().find(|(a, _)| a == n).map(|(_, v)| v.clone());
        // In-place variants (`relu_`, `batch_norm_`) compute the same values.
        let base = name.strip_suffix('_').unwrap_or(name);
        match base {
            "data" | "feed" => {
                let outs = self.results(op)?;
                let v = outs.first().ok_or("data op without a result")?;
                let iname = match get("name") {
                    Some(Attr::Str(s)) => s,
                    _ => v.clone(),
                };
                let col = match get("col") {
                    Some(Attr::Int(c)) => c,
                    _ => self.prog.feeds.len() as i64,
                };
                if let Some(Attr::Str(dt)) = get("dtype") {
                    let info = self.prog.vars.entry(v.clone()).or_default();
                    if info.dtype.is_none() {
                        info.dtype = dtype_from_name(&dt);
                    }
                }
                self.prog.feeds.push(Feed {
                    col,
                    name: iname,
                    value: v.clone(),
                });
                return Ok(());
            }
            "fetch" => {
                let ins = self.operands(op)?;
                self.results(op)?;
                let v = ins.first().cloned().flatten().ok_or("fetch of a null value")?;
                let oname = match get("name") {
                    Some(Attr::Str(s)) => s,
                    _ => v.clone(),
                };
                let col = match get("col") {
                    Some(Attr::Int(c)) => c,
                    _ => self.prog.fetches.len() as i64,
                };
                self.prog.fetches.push(Fetch {
                    col,
                    name: oname,
                    value: v,
                });
                return Ok(());
            }
            "if" | "while" | "pylayer" => return Err(format!("control flow op 'pd_op.{base}' is not supported")),
            _ => {}
        }
        let (_, legacy, slots, renames) = PD_OPS.iter().find(|o| o.0 == base).copied().unwrap_or(("", "", &[], &[]));
        let ins = self.operands(op)?;
        let outs = self.results(op)?;
        let ty = if legacy.is_empty() { base.to_string() } else { legacy.to_string() };
        let mut inputs = Vec::with_capacity(ins.len());
        for (k, v) in ins.into_iter().enumerate() {
            let slot = slots.get(k).map(|s| s.to_string()).unwrap_or_else(|| format!("operand{k}"));
            let args = match v {
                None => Vec::new(),
                Some(v) => match self.tuples.get(&v) {
                    Some(elems) => elems.clone(),
                    None => vec![v],
                },
            };
            inputs.push((slot, args));
        }
        let oslots = out_slots(&ty);
        let mut outputs = Vec::with_capacity(outs.len());
        for (k, v) in outs.into_iter().enumerate() {
            let slot = oslots.get(k).map(|s| s.to_string()).unwrap_or_else(|| format!("result{k}"));
            let args = match self.tuples.get(&v) {
                Some(elems) => elems.clone(),
                None => vec![v],
            };
            outputs.push((slot, args));
        }
        let attrs = attrs
            .into_iter()
            .map(|(n, v)| {
                let n = renames.iter().find(|r| r.0 == n).map(|r| r.1.to_string()).unwrap_or(n);
                (n, v)
            })
            .collect();
        self.prog.ops.push(OpDesc {
            ty,
            file_ty: file_ty.to_string(),
            index,
            inputs,
            outputs,
            attrs,
        });
        Ok(())
    }
}

fn parse_type(t: &J) -> VarInfo {
    let kind = t.get("#").and_then(J::as_str).unwrap_or("");
    if kind != "0.t_dtensor" {
        return VarInfo::default();
    }
    let d = t.get("D").and_then(J::as_array).map(|v| v.as_slice()).unwrap_or(&[]);
    let dtype = d
        .first()
        .and_then(|e| e.get("#"))
        .and_then(J::as_str)
        .and_then(|s| s.split_once(".t_"))
        .and_then(|(_, n)| dtype_from_name(n));
    let dims = d
        .get(1)
        .and_then(J::as_array)
        .map(|a| a.iter().map(|v| v.as_i64().unwrap_or(-1)).collect());
    VarInfo { dtype, dims }
}

fn parse_attrs(op: &J) -> Result<Vec<(String, Attr)>, String> {
    let Some(list) = op.get("A") else { return Ok(Vec::new()) };
    let list = list.as_array().ok_or("'A' is not a list")?;
    let mut out = Vec::with_capacity(list.len());
    for a in list {
        let (Some(n), Some(at)) = (a.get("N").and_then(J::as_str), a.get("AT")) else {
            continue;
        };
        if let Some(v) = parse_attr(at, 0) {
            out.push((n.to_string(), v));
        }
    }
    Ok(out)
}

fn float_of(a: &J) -> Option<f64> {
    if let Some(v) = a.get("D").and_then(J::as_f64) {
        return Some(v);
    }
    match a.get("VD").and_then(J::as_str) {
        Some("NaN") => Some(f64::NAN),
        Some("INF") => Some(f64::INFINITY),
        Some("-INF") => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

/// One attribute; kinds the rules never read (places, layouts of types, …) give `None`.
fn parse_attr(a: &J, depth: usize) -> Option<Attr> {
    if depth > MAX_DEPTH {
        return None;
    }
    let kind = a.get("#").and_then(J::as_str)?;
    let (_, kind) = kind.split_once('.')?;
    let d = a.get("D");
    Some(match kind {
        "a_bool" => Attr::Bool(d?.as_bool()?),
        "a_i32" | "a_i64" | "a_index" => Attr::Int(d?.as_i64()?),
        "a_f32" | "a_f64" => Attr::Float(float_of(a)?),
        "a_str" | "a_tensor_name" => Attr::Str(d?.as_str()?.to_string()),
        "a_dtype" | "a_layout" | "a_data_layout" => Attr::Str(d?.as_str()?.to_string()),
        "a_intarray" => Attr::Ints(d?.as_array()?.iter().map(J::as_i64).collect::<Option<Vec<_>>>()?),
        "a_scalar" => {
            // D = [dtype name, value]
            let arr = d?.as_array()?;
            let v = arr.get(1)?;
            if let Some(i) = v.as_i64() {
                Attr::Int(i)
            } else if let Some(f) = v.as_f64() {
                Attr::Float(f)
            } else {
                Attr::Bool(v.as_bool()?)
            }
        }
        "a_array" => {
            let items: Vec<Attr> = d?.as_array()?.iter().filter_map(|e| parse_attr(e, depth + 1)).collect();
            if items.iter().all(|i| matches!(i, Attr::Int(_))) {
                Attr::Ints(
                    items
                        .iter()
                        .filter_map(|i| if let Attr::Int(v) = i { Some(*v) } else { None })
                        .collect(),
                )
            } else if items.iter().all(|i| matches!(i, Attr::Float(_) | Attr::Int(_))) {
                Attr::Floats(
                    items
                        .iter()
                        .filter_map(|i| match i {
                            Attr::Float(v) => Some(*v),
                            Attr::Int(v) => Some(*v as f64),
                            _ => None,
                        })
                        .collect(),
                )
            } else if items.iter().all(|i| matches!(i, Attr::Bool(_))) {
                Attr::Bools(
                    items
                        .iter()
                        .filter_map(|i| if let Attr::Bool(v) = i { Some(*v) } else { None })
                        .collect(),
                )
            } else {
                Attr::Strs(
                    items
                        .iter()
                        .filter_map(|i| if let Attr::Str(v) = i { Some(v.clone()) } else { None })
                        .collect(),
                )
            }
        }
        _ => return None,
    })
}
