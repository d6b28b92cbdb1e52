//! The rewrite context of the layout pass: each value's state (see [`super::perm`]), the
//! Transposes and permuted constants made so far (one per value and state, so a value read by
//! many nodes is converted once), and fresh names.

use super::consts;
use super::perm::{self, Perm};
use crate::manager::PassError;
use edgeport_ir::ops::defs::tensor::{Transpose, Unsqueeze};
use edgeport_ir::{Graph, NodeId, Op, Shape, Tensor, ValueId, ValueType};
use std::collections::{HashMap, HashSet};

/// Rewrite state shared by the op rules.
pub struct Cx {
    /// Non-identity states only; a value not here is in its logical layout.
    state: HashMap<ValueId, Perm>,
    /// `(value, state) → value in that state`, for Transposes and permuted constants.
    cache: HashMap<(ValueId, Perm), ValueId>,
    names: HashSet<String>,
    /// Layout-sensitive ops switched to channels-last.
    pub converted: usize,
    /// Identity nodes standing in for absorbed Transposes (removed at the end).
    pub aliases: Vec<NodeId>,
}

/// A pass error of the layout passes (`nhwc` and `nchw` share this code).
pub fn err(node: &str, msg: impl std::fmt::Display) -> PassError {
    PassError::Failed {
        pass: "layout".into(),
        msg: format!("node '{node}': {msg}"),
    }
}

impl Cx {
    pub fn new(g: &Graph) -> Cx {
        let mut names = HashSet::new();
        for id in g.node_ids() {
            let n = g.node(id);
            names.insert(n.name.clone());
            for v in &n.outputs {
                names.insert(v.name.clone());
            }
        }
        Cx {
            state: HashMap::new(),
            cache: HashMap::new(),
            names,
            converted: 0,
            aliases: Vec::new(),
        }
    }

    /// A name not used yet in the graph, built from `base`.
    pub fn fresh(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut k = 1usize;
        while self.names.contains(&name) {
            name = format!("{base}_{k}");
            k += 1;
        }
        self.names.insert(name.clone());
        name
    }

    /// The non-identity state of `v`, if any.
    pub fn state(&self, v: ValueId) -> Option<&Perm> {
        self.state.get(&v)
    }

    /// The logical rank of `v`: its state's length, else its type's rank.
    pub fn rank(&self, g: &Graph, v: ValueId) -> Option<usize> {
        if let Some(p) = self.state.get(&v) {
            return Some(p.len());
        }
        Some(g.value(v)?.ty.as_ref()?.as_tensor()?.shape.as_ref()?.rank())
    }

    /// The state of `v` as a full permutation (identity when it has none).
    pub fn perm_of(&self, g: &Graph, v: ValueId) -> Option<Perm> {
        match self.state.get(&v) {
            Some(p) => Some(p.clone()),
            None => self.rank(g, v).map(perm::identity),
        }
    }

    /// The logical dims of `v` (its physical type's dims un-permuted), when its shape is known.
    pub fn logical_dims(&self, g: &Graph, v: ValueId) -> Option<Vec<edgeport_ir::Dim>> {
        let dims = g.value(v)?.ty.as_ref()?.as_tensor()?.shape.as_ref()?.0.clone();
        match self.state.get(&v) {
            Some(p) => perm::apply(&dims, &perm::inverse(p)),
            None => Some(dims),
        }
    }

    /// Records that `v` (whose type is still logical) is now physically in state `p`: the type
    /// and per-axis quantization are permuted.
    pub fn set_state(&mut self, g: &mut Graph, v: ValueId, p: Perm) {
        if perm::is_identity(&p) {
            self.state.remove(&v);
            return;
        }
        if let Some(val) = g.value_mut(v) {
            if let Some(ty) = &val.ty {
                val.ty = perm::permute_type(ty, &p);
            }
            if let Some(q) = &val.quant {
                val.quant = Some(consts::permute_quant(q, &p));
            }
        }
        self.state.insert(v, p);
    }

    /// The constant behind `v`, if it is one.
    pub fn konst(g: &Graph, v: ValueId) -> Option<&Tensor> {
        g.constant_of(v)
    }

    /// `v` in state `want` (same rank): `v` itself, a permuted constant, or a Transpose.
    pub fn in_state(&mut self, g: &mut Graph, v: ValueId, want: &[usize]) -> Result<ValueId, PassError> {
        self.in_state_of_rank(g, v, want, false)
    }

    /// [`Cx::in_state`]; with `rank_known` the caller vouches that `v` has rank `want.len()`
    /// when its type does not say (the data input of a channels-last op, checked by the op).
    pub fn in_state_of_rank(&mut self, g: &mut Graph, v: ValueId, want: &[usize], rank_known: bool) -> Result<ValueId, PassError> {
        let cur = self
            .perm_of(g, v)
            .or_else(|| rank_known.then(|| perm::identity(want.len())))
            .ok_or_else(|| err(&value_name(g, v), "rank unknown, cannot change its layout"))?;
        if cur.len() != want.len() {
            return Err(err(&value_name(g, v), format!("rank {} does not match layout {want:?}", cur.len())));
        }
        if cur == want {
            return Ok(v);
        }
        let key = (v, want.to_vec());
        if let Some(&c) = self.cache.get(&key) {
            return Ok(c);
        }
        let t = perm::between(&cur, want);
        let base = value_name(g, v);
        let permuted = consts::behind_cast(g, v).and_then(|(c, cast)| Some((consts::transpose(c, &t)?, cast)));
        let out = match permuted {
            Some((ct, cast)) => self.add_const(g, &base, ct, cast)?,
            None => {
                let name = self.fresh(&format!("{base}__t"));
                let ty = g.value(v).and_then(|x| x.ty.clone());
                let quant = g.value(v).and_then(|x| x.quant.clone());
                let op = Op::Transpose(Transpose {
                    perm: t.iter().map(|&a| a as i64).collect(),
                });
                let n = g.add_op(name.clone(), op, &[Some(v)], &[&name]).map_err(|e| err(&name, e))?;
                if let Some(val) = g.value_mut(n.out(0)) {
                    val.ty = ty.as_ref().and_then(|ty| perm::permute_type(ty, &t));
                    val.quant = quant.map(|q| consts::permute_quant(&q, &t));
                }
                n.out(0)
            }
        };
        if !perm::is_identity(want) {
            self.state.insert(out, want.to_vec());
        }
        self.cache.insert(key, out);
        Ok(out)
    }

    /// `v` in its logical layout.
    pub fn logical(&mut self, g: &mut Graph, v: ValueId) -> Result<ValueId, PassError> {
        match self.state.get(&v) {
            None => Ok(v),
            Some(p) => {
                let id = perm::identity(p.len());
                self.in_state(g, v, &id)
            }
        }
    }

    /// Points every input slot of `id` that reads a value in a non-identity state at that value
    /// in its logical layout (the fallback for ops the pass does not see through).
    pub fn materialize_inputs(&mut self, g: &mut Graph, id: NodeId) -> Result<(), PassError> {
        for (slot, v) in g.inputs_of(id).into_iter().enumerate() {
            let Some(v) = v else { continue };
            if self.state.contains_key(&v) {
                let l = self.logical(g, v)?;
                g.set_input(id, slot, Some(l)).map_err(|e| err(&g.node(id).name, e))?;
            }
        }
        Ok(())
    }

    /// `v` (logical rank `k`) with leading size-1 axes up to rank `r`, in state `want` (rank `r`):
    /// for broadcasting operands. Constants are rewritten; other values get an Unsqueeze.
    pub fn broadcast_to_state(&mut self, g: &mut Graph, v: ValueId, r: usize, want: &[usize]) -> Result<ValueId, PassError> {
        let k = self.rank(g, v).ok_or_else(|| err(&value_name(g, v), "rank unknown"))?;
        if k == r {
            return self.in_state(g, v, want);
        }
        if k == 0 && Self::konst(g, v).is_some() {
            return Ok(v); // a scalar broadcasts in any layout
        }
        let key = (v, want.to_vec());
        if let Some(&c) = self.cache.get(&key) {
            return Ok(c);
        }
        let base = value_name(g, v);
        if let Some((ct, cast)) = consts::behind_cast(g, v).and_then(|(c, cast)| {
            let c = consts::pad_rank(c, r)?;
            Some((consts::transpose(&c, want)?, cast))
        }) {
            let out = self.add_const(g, &base, ct, cast)?;
            self.cache.insert(key, out);
            return Ok(out);
        }
        let l = self.logical(g, v)?;
        let pad = r.checked_sub(k).ok_or_else(|| err(&base, "rank above the broadcast rank"))?;
        let axes: Vec<i64> = (0..pad as i64).collect();
        let axes_c = Tensor::from_i64(vec![pad], &axes).map_err(|e| err(&base, e))?;
        let an = self.fresh(&format!("{base}__axes"));
        let axes_v = g.add_constant(an, axes_c);
        let name = self.fresh(&format!("{base}__unsq"));
        let n = g
            .add_op(name.clone(), Op::Unsqueeze(Unsqueeze {}), &[Some(l), Some(axes_v)], &[&name])
            .map_err(|e| err(&name, e))?;
        let ty = g.value(l).and_then(|x| x.ty.clone()).map(|ty| match ty.as_tensor() {
            Some(t) => ValueType::tensor(
                t.dtype,
                t.shape.as_ref().map(|s| {
                    let mut d = vec![edgeport_ir::Dim::Known(1); pad];
                    d.extend(s.0.iter().cloned());
                    Shape(d)
                }),
            ),
            None => ty,
        });
        if let Some(val) = g.value_mut(n.out(0)) {
            val.ty = ty;
        }
        let out = self.in_state(g, n.out(0), want)?;
        self.cache.insert(key, out);
        Ok(out)
    }

    /// Adds the rewritten constant `t` of value `base` (read through a copy of `cast` when the
    /// original was a Cast of a constant).
    fn add_const(&mut self, g: &mut Graph, base: &str, t: Tensor, cast: Option<NodeId>) -> Result<ValueId, PassError> {
        let name = self.fresh(&format!("{base}__perm"));
        let const_name = if cast.is_some() {
            self.fresh(&format!("{base}__perm_c"))
        } else {
            name.clone()
        };
        consts::add_behind_cast(g, &name, &const_name, t, cast).map_err(|e| err(&name, e))
    }

    /// Adds an int64 constant with a fresh name.
    pub fn const_i64(&mut self, g: &mut Graph, base: &str, vals: &[i64]) -> Result<ValueId, PassError> {
        let t = Tensor::from_i64(vec![vals.len()], vals).map_err(|e| err(base, e))?;
        let name = self.fresh(base);
        Ok(g.add_constant(name, t))
    }
}

/// The name of a value (or its node's, when unnamed), for messages and derived names.
pub fn value_name(g: &Graph, v: ValueId) -> String {
    match g.value(v) {
        Some(x) if !x.name.is_empty() => x.name.clone(),
        _ => g.get(v.node).map(|n| n.name.clone()).unwrap_or_else(|| v.to_string()),
    }
}
