//! ATen calls of TorchScript source → the op rules shared with the `.pt2` importer
//! ([`crate::export_program::ops`]). Positional arguments get their schema names
//! ([`super::schema`]), interpreter values become rule arguments, and the few facts a rule
//! reads from the output's recorded metadata in a `.pt2` (the target shape of a view, a cast's
//! dtype, the promoted dtype of arithmetic, a factory's size) are computed here ([`super::meta`]).
//! Calls whose operands are all known numbers are folded; in-place ops rebind their tensor.

use super::fold;
use super::interp::{Interp, R};
use super::schema::{c10_dtype, names_for, serde_code};
use super::value::{Num, V};
use crate::export_program::ctx::N;
use crate::export_program::ops;
use crate::export_program::schema::{Arg, Meta};
use edgeport_ir::{Dim, Tensor};
use std::rc::Rc;

/// Arguments that take a scalar (a known 0-d tensor there stays a number).
const SCALAR_PARAMS: [&str; 10] = [
    "other",
    "exponent",
    "value",
    "alpha",
    "fill_value",
    "min",
    "max",
    "min_val",
    "max_val",
    "s",
];

impl Interp<'_> {
    /// The metadata of a tensor, inferring shapes of recently built ops first when needed.
    pub fn meta_of(&mut self, name: &str) -> R<Meta> {
        self.cx.capture(name);
        if !self.cx.metas.contains_key(name) || self.pending.iter().any(|p| &**p == name) {
            self.sync_metas()?;
        }
        self.cx
            .metas
            .get(name)
            .cloned()
            .ok_or_else(|| format!("the shape of '{name}' could not be inferred"))
    }

    /// The tensor's shape as numbers (all dims are known: input shapes are fixed at import).
    pub fn known_shape(&mut self, name: &str) -> R<Vec<i64>> {
        let m = self.meta_of(name)?;
        m.known().ok_or_else(|| format!("the shape of '{name}' is not fully known"))
    }

    /// Runs shape/dtype inference over the graph and records the types of new tensors.
    pub fn sync_metas(&mut self) -> R<()> {
        let pending = std::mem::take(&mut self.pending);
        let seeds: Vec<edgeport_ir::ValueId> = pending.iter().filter_map(|p| self.cx.env.get(&**p).copied()).collect();
        self.infer_values(&seeds)?;
        for name in pending {
            let Some(&v) = self.cx.env.get(&*name) else { continue };
            let ty = self.cx.g.value(v).and_then(|x| x.ty.clone());
            match ty.as_ref().and_then(|t| t.as_tensor()) {
                Some(t) if t.shape.is_some() => {
                    let shape = t.shape.as_ref().map(|s| s.0.clone()).unwrap_or_default();
                    self.cx.metas.insert(name.to_string(), Meta { dtype: t.dtype, shape });
                }
                // Unknown shape: a provisional meta must not stand in for it.
                _ => {
                    self.cx.metas.remove(&*name);
                }
            }
        }
        Ok(())
    }

    /// Types the values `seeds` and the untyped nodes behind them (incrementally, else over
    /// the whole graph).
    pub fn infer_values(&mut self, seeds: &[edgeport_ir::ValueId]) -> R<()> {
        if !super::infer::infer_new(&mut self.cx.g, seeds)? {
            edgeport_ir::infer::infer_types(&mut self.cx.g).map_err(|e| format!("shape inference: {e}"))?;
        }
        Ok(())
    }

    /// A known number as a 0-d graph constant.
    pub(super) fn materialize(&mut self, n: Num) -> R<Rc<str>> {
        let t = match n {
            Num::Int(i) => Tensor::scalar_i64(i),
            Num::Float(f) => Tensor::from_f32(vec![], &[f as f32]).map_err(|e| e.to_string())?,
            Num::Bool(b) => crate::export_program::ctx::scalar_tensor(edgeport_ir::DType::Bool, b as i64 as f64, vec![])?,
        };
        let dt = t.dtype;
        let name = self.cx.fresh("scalar");
        let id = self.cx.g.add_constant(name.clone(), t);
        self.cx.env.insert(name.clone(), id);
        self.cx.metas.insert(name.clone(), Meta { dtype: dt, shape: vec![] });
        Ok(Rc::from(name.as_str()))
    }

    /// An interpreter value as a rule argument for parameter `param`.
    fn arg(&mut self, param: &str, v: &V) -> R<Arg> {
        Ok(match v {
            V::None => Arg::None,
            V::Bool(b) => Arg::Bool(*b),
            V::Int(i) if param == "dtype" => {
                let dt = c10_dtype(*i).ok_or_else(|| format!("dtype code {i} is not supported"))?;
                Arg::ScalarType(serde_code(dt).ok_or_else(|| format!("dtype {dt} is not supported"))?)
            }
            V::Int(i) => Arg::Int(*i),
            V::Float(f) => Arg::Float(*f),
            V::Str(s) => Arg::Str(s.to_string()),
            V::Tensor(t) => Arg::Tensor(t.to_string()),
            V::Num(n) if SCALAR_PARAMS.contains(&param) => match n {
                Num::Int(i) => Arg::Int(*i),
                Num::Float(f) => Arg::Float(*f),
                Num::Bool(b) => Arg::Bool(*b),
            },
            V::Num(n) => Arg::Tensor(self.materialize(*n)?.to_string()),
            V::Device(d) => Arg::Device(d.to_string()),
            V::List(items) | V::Tuple(items) => list_arg(items)?,
            V::Obj(_) | V::Poison | V::RunRange(_) => return Err(format!("argument '{param}' is a {}", v.kind())),
        })
    }

    /// A fresh tensor name from the current hint.
    fn out_name(&mut self, op: &str) -> String {
        let base = self.hint.clone().unwrap_or_else(|| op.trim_matches('_').to_string());
        if self.cx.defined(&base) { self.cx.fresh(&base) } else { base }
    }

    /// One ATen op call.
    pub fn aten(&mut self, op: &str, args: Vec<V>, kwargs: Vec<(String, V)>) -> R<V> {
        let special = matches!(
            op,
            "_transformer_encoder_layer_fwd"
                | "_native_multi_head_attention"
                | "to"
                | "_to_copy"
                | "type"
                | "dropout"
                | "dropout_"
                | "feature_dropout"
                | "alpha_dropout"
                | "detach"
                | "detach_"
                | "contiguous"
                | "clone"
                | "alias"
                | "requires_grad_"
                | "floor_divide"
        ) || fold::aten(
            op,
            &[crate::torchscript::value::Num::Int(1), crate::torchscript::value::Num::Int(1)],
            None,
        )
        .is_some();
        let known = special || names_for(op, args.len()).is_some_and(|_| ops::supported(&format!("torch.ops.aten.{op}.default")));
        if !known {
            return Ok(self.unsupported(format!("aten::{op}")));
        }
        if args.iter().any(V::is_poison) || kwargs.iter().any(|(_, v)| v.is_poison()) {
            return Ok(V::Poison);
        }
        // Known numbers only: fold.
        let has_tensor = args.iter().chain(kwargs.iter().map(|(_, v)| v)).any(|v| matches!(v, V::Tensor(_)));
        if !has_tensor && let Some(nums) = args.iter().map(V::as_num).collect::<Option<Vec<Num>>>() {
            let rounding = kwargs.iter().find(|(k, _)| k == "rounding_mode").and_then(|(_, v)| match v {
                V::Str(s) => Some(s.to_string()),
                _ => None,
            });
            if let Some(r) = fold::aten(op, &nums, rounding.as_deref()) {
                return r.map(V::Num);
            }
        }
        match op {
            "_transformer_encoder_layer_fwd" => return self.transformer_encoder_layer(args, kwargs),
            "_native_multi_head_attention" => return self.native_mha(args, kwargs),
            "to" | "_to_copy" | "type" => return self.to(args, kwargs),
            "dropout" | "dropout_" | "feature_dropout" | "alpha_dropout" => {
                // p == 0 or eval mode: the identity.
                let p = args.get(1).and_then(V::as_num).map(Num::f64).unwrap_or(0.0);
                let train = args.get(2).and_then(|v| self.truth(v)).unwrap_or(false);
                if p != 0.0 && train {
                    return Ok(self.unsupported("aten::dropout in training mode (trace the model in eval mode)"));
                }
                return Ok(args.into_iter().next().unwrap_or(V::None));
            }
            "detach" | "detach_" | "contiguous" | "clone" | "alias" | "requires_grad_" => {
                return Ok(args.into_iter().next().unwrap_or(V::None));
            }
            _ => {}
        }
        let Some(names) = names_for(op, args.len()) else {
            return Ok(self.unsupported(format!("aten::{op}")));
        };
        let target = format!("torch.ops.aten.{op}.default");
        if !ops::supported(&target) && !matches!(op, "floor_divide") {
            return Ok(self.unsupported(format!("aten::{op}")));
        }
        if args.len() > names.len() {
            return Err(format!(
                "aten::{op} takes at most {} positional arguments, {} given",
                names.len(),
                args.len()
            ));
        }
        let mut n = N {
            name: self.out_name(op),
            target,
            args: Vec::with_capacity(args.len() + kwargs.len()),
            outs: Vec::new(),
        };
        n.outs.push(n.name.clone());
        for (p, v) in names.iter().zip(&args) {
            let a = self.arg(p, v)?;
            n.args.push((p.to_string(), a));
        }
        for (k, v) in &kwargs {
            let a = self.arg(k, v)?;
            n.args.push((k.clone(), a));
        }
        if op == "floor_divide" {
            n.target = "torch.ops.aten.div.default".into();
            n.args.push(("rounding_mode".into(), Arg::Str("floor".into())));
        }
        // Every tensor argument needs its metadata.
        let tensors: Vec<String> = n
            .args
            .iter()
            .flat_map(|(_, a)| match a {
                Arg::Tensor(t) => vec![t.clone()],
                Arg::Tensors(ts) => ts.clone(),
                _ => vec![],
            })
            .collect();
        for t in &tensors {
            self.meta_of(t)?;
        }
        self.premeta(op, &n)?;
        self.run(&n, op)
    }

    /// Runs the shared rule for `n` and binds its outputs.
    pub fn run(&mut self, n: &N, op: &str) -> R<V> {
        let out = ops::convert(&mut self.cx, n)?;
        let (vals, is_list) = match out {
            ops::Out::Values(vs) => (vs.into_iter().enumerate().map(|(i, v)| (n.out(i), v)).collect::<Vec<_>>(), false),
            ops::Out::List(vs) => (vs.into_iter().enumerate().map(|(i, v)| (n.out(i), v)).collect(), true),
        };
        let mut names = Vec::with_capacity(vals.len());
        for (name, v) in vals {
            let taken = match self.cx.env.get(&name) {
                Some(&x) => x != v,
                None => self.cx.defined(&name),
            };
            let name = if taken { self.cx.fresh(&name) } else { name };
            self.cx.env.insert(name.clone(), v);
            self.cx.metas.remove(&name);
            let rc: Rc<str> = Rc::from(name.as_str());
            self.pending.push(rc.clone());
            names.push(rc);
        }
        // In-place ops (`relu_`, `add_`, …) rebind the tensor they modify.
        if op.ends_with('_')
            && !op.starts_with('_')
            && let (Some((_, Arg::Tensor(target))), Some(first)) = (n.args.first(), names.first())
            && let Some(&v) = self.cx.env.get(&**first)
            && !self.consts.values().any(|c| **c == **target)
        {
            if self.cx.captured.iter().any(|c| c == target) {
                // Rebinding here would change the value only inside the subgraph.
                return Ok(self.unsupported(format!(
                    "in-place aten::{op} on '{target}', a value from outside a data-dependent branch or loop"
                )));
            }
            self.cx.env.insert(target.clone(), v);
            self.pending.push(Rc::from(target.as_str()));
        }
        Ok(match names.len() {
            1 if !is_list => V::Tensor(names.remove(0)),
            _ => {
                let items = names.into_iter().map(V::Tensor).collect();
                if is_list {
                    V::List(Rc::new(items))
                } else {
                    V::Tuple(Rc::new(items))
                }
            }
        })
    }

    /// `to` / `_to_copy` / `type`: a cast to the dtype among the arguments (device moves are
    /// ignored).
    fn to(&mut self, args: Vec<V>, kwargs: Vec<(String, V)>) -> R<V> {
        let mut it = args.into_iter();
        let x = it.next().unwrap_or(V::None);
        let rest: Vec<V> = it.collect();
        let mut dtype = None;
        for v in rest.iter().chain(kwargs.iter().filter(|(k, _)| k == "dtype").map(|(_, v)| v)) {
            match v {
                V::Int(c) if dtype.is_none() => dtype = Some(c10_dtype(*c).ok_or_else(|| format!("dtype code {c} is not supported"))?),
                V::Tensor(t) if dtype.is_none() => {
                    let t = t.clone();
                    dtype = Some(self.meta_of(&t)?.dtype);
                }
                _ => {}
            }
        }
        let Some(dt) = dtype else { return Ok(x) };
        match &x {
            V::Num(n) => Ok(V::Num(match dt {
                d if d.is_float() => Num::Float(n.f64()),
                edgeport_ir::DType::Bool => Num::Bool(n.f64() != 0.0),
                _ => Num::Int(n.f64() as i64),
            })),
            V::Tensor(t) => {
                let t = t.clone();
                let m = self.meta_of(&t)?;
                let name = self.out_name("to");
                let n = N {
                    name: name.clone(),
                    target: "torch.ops.aten._to_copy.default".into(),
                    args: vec![("self".into(), Arg::Tensor(t.to_string()))],
                    outs: vec![name.clone()],
                };
                self.cx.metas.insert(name, Meta { dtype: dt, shape: m.shape });
                self.run(&n, "_to_copy")
            }
            other => Err(format!("to() of a {}", other.kind())),
        }
    }
}

/// A list value as a rule argument (ints, floats, bools, tensors, or tensors with Nones).
fn list_arg(items: &[V]) -> R<Arg> {
    if items.iter().all(|v| matches!(v, V::Tensor(_))) && !items.is_empty() {
        return Ok(Arg::Tensors(
            items
                .iter()
                .map(|v| match v {
                    V::Tensor(t) => t.to_string(),
                    _ => String::new(),
                })
                .collect(),
        ));
    }
    if items.iter().all(|v| matches!(v, V::Tensor(_) | V::None)) && !items.is_empty() {
        return Ok(Arg::OptTensors(
            items
                .iter()
                .map(|v| match v {
                    V::Tensor(t) => Some(t.to_string()),
                    _ => None,
                })
                .collect(),
        ));
    }
    if let Some(ints) = items
        .iter()
        .map(|v| v.as_int().filter(|_| !matches!(v, V::Bool(_))))
        .collect::<Option<Vec<_>>>()
    {
        return Ok(Arg::Ints(ints));
    }
    if let Some(b) = items
        .iter()
        .map(|v| if let V::Bool(b) = v { Some(*b) } else { None })
        .collect::<Option<Vec<_>>>()
    {
        return Ok(Arg::Bools(b));
    }
    if let Some(f) = items.iter().map(|v| v.as_num().map(Num::f64)).collect::<Option<Vec<_>>>() {
        return Ok(Arg::Floats(f));
    }
    Err(format!(
        "a list of {} is not a supported argument",
        items.iter().map(V::kind).collect::<Vec<_>>().join(", ")
    ))
}

/// Known dims as a `Meta` shape.
pub fn dims(shape: &[i64]) -> Vec<Dim> {
    shape.iter().map(|&d| Dim::Known(d.max(0) as u64)).collect()
}
