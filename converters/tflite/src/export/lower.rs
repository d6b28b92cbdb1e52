//! Lowering the IR graph to a [`TModel`]: the context every op rule works with.
//!
//! Layout: each IR value is held by one TFLite tensor *and a permutation* (`Repr::perm`: tensor
//! dim `i` is value dim `perm[i]`). Channels-first conv/pool/resize ops ask for their input in
//! channels-last order and leave their output channels-last; element-wise ops keep whatever
//! order their input has; ONNX `Transpose` only changes the permutation. A TRANSPOSE op is
//! written only where a consumer needs an order the tensor is not in (a RESHAPE when only size-1
//! dims move) — so transposes cancel across whole CNNs and only the I/O boundaries keep one,
//! unless the I/O is made channels-last too.
//!
//! Every problem is collected (node, op, cause); nodes downstream of a failed one are skipped
//! without a second report.

use super::TfliteExportOptions;
use super::model::{BufData, Options, TModel, TOp, TTensor};
use super::util::{ident, invert, is_ident, perm_is_reshape, to_last};
use super::view::FView;
use crate::codes::{BuiltinOperator as B, BuiltinOptions, TensorType};
use edgeport_ir::{DType, Dim, Graph, NodeId, Op, Tensor, ValueId};
use std::collections::{HashMap, HashSet};

/// A lowering failure.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LErr {
    /// The cause, reported with the node.
    Msg(String),
    /// An input failed to lower (already reported).
    Upstream,
}

pub(crate) type LResult<T> = Result<T, LErr>;

/// A failure with a message.
pub(crate) fn err<T>(msg: impl Into<String>) -> LResult<T> {
    Err(LErr::Msg(msg.into()))
}

/// Which tensor holds a value, in which dim order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Repr {
    pub t: i32,
    pub perm: Vec<usize>,
}

/// The lowering context.
pub(crate) struct Lower<'g> {
    pub g: &'g Graph,
    pub m: TModel,
    pub opts: TfliteExportOptions,
    vals: HashMap<ValueId, Repr>,
    /// Values held through a factor view (see `view.rs`): written only when a consumer needs them.
    views: HashMap<ValueId, FView>,
    cache: HashMap<(ValueId, Vec<usize>), i32>,
    /// Nodes folded into another op (fused activations, matched patterns).
    pub skip: HashSet<NodeId>,
    names: HashSet<String>,
    pub issues: Vec<String>,
    /// Final nodes of matched erf-GELU patterns → their input x.
    pub gelu: HashMap<NodeId, ValueId>,
    /// Quantization parameters of integer values (from the Q/DQ nodes around them).
    pub qp: HashMap<ValueId, QP>,
    /// DequantizeLinear outputs → their integer input (DEQUANTIZE is written only on demand).
    pub dq: HashMap<ValueId, ValueId>,
    /// While an op is lowered as an integer kernel: its float values → their integer values.
    pub alias: HashMap<ValueId, ValueId>,
}

/// Quantization parameters of a value: per tensor, or per index along `axis` (IR dims).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct QP {
    pub scale: Vec<f32>,
    pub zero_point: Vec<i64>,
    pub axis: usize,
}

/// The TFLite tensor type of an IR dtype.
pub(crate) fn tensor_type(d: DType) -> LResult<TensorType> {
    Ok(match d {
        DType::F32 => TensorType::FLOAT32,
        DType::F16 => TensorType::FLOAT16,
        DType::F64 => TensorType::FLOAT64,
        DType::BF16 => TensorType::BFLOAT16,
        DType::I32 => TensorType::INT32,
        DType::I64 => TensorType::INT64,
        DType::I16 => TensorType::INT16,
        DType::I8 => TensorType::INT8,
        DType::U8 => TensorType::UINT8,
        DType::U16 => TensorType::UINT16,
        DType::U32 => TensorType::UINT32,
        DType::U64 => TensorType::UINT64,
        DType::Bool => TensorType::BOOL,
        other => return err(format!("dtype {} has no TFLite tensor type", other.name())),
    })
}

impl<'g> Lower<'g> {
    pub(crate) fn new(g: &'g Graph, opts: &TfliteExportOptions) -> Lower<'g> {
        Lower {
            g,
            m: TModel::new("edgeport"),
            opts: opts.clone(),
            vals: HashMap::new(),
            views: HashMap::new(),
            cache: HashMap::new(),
            skip: HashSet::new(),
            names: HashSet::new(),
            issues: Vec::new(),
            gelu: HashMap::new(),
            qp: HashMap::new(),
            dq: HashMap::new(),
            alias: HashMap::new(),
        }
    }

    // ---- reading the IR ----

    /// The value connected to input slot `slot` of `node`.
    pub(crate) fn input(&self, node: NodeId, slot: usize) -> LResult<ValueId> {
        match self.g.inputs_of(node).get(slot) {
            Some(Some(v)) => Ok(*v),
            _ => err(format!("input {slot} is missing")),
        }
    }

    /// The value in slot `slot`, if connected.
    pub(crate) fn opt_input(&self, node: NodeId, slot: usize) -> Option<ValueId> {
        self.g.inputs_of(node).get(slot).copied().flatten()
    }

    /// `v`, or the integer value it stands for while an integer kernel is lowered.
    pub(crate) fn res(&self, v: ValueId) -> ValueId {
        self.alias.get(&v).copied().unwrap_or(v)
    }

    /// The TFLite quantization of `v` held in order `perm`, given `lead` leading 1-dims (a
    /// broadcast constant's expansion).
    fn tquant_lead(&self, v: ValueId, perm: &[usize], lead: usize) -> Option<super::model::TQuant> {
        let q = self.qp.get(&v)?;
        let dim = if q.scale.len() > 1 {
            perm.iter().position(|&p| p == q.axis + lead).unwrap_or(0)
        } else {
            0
        };
        Some(super::model::TQuant {
            scale: q.scale.clone(),
            zero_point: if q.zero_point.is_empty() {
                vec![0; q.scale.len()]
            } else {
                q.zero_point.clone()
            },
            quantized_dimension: dim as i32,
        })
    }

    fn set_quant(&mut self, t: i32, v: ValueId, perm: &[usize]) {
        self.set_quant_lead(t, v, perm, 0);
    }

    /// Gives tensor `t` the quantization of `v` (held in order `perm`, with `lead` leading
    /// 1-dims added), when `v` has one.
    pub(crate) fn set_quant_lead(&mut self, t: i32, v: ValueId, perm: &[usize], lead: usize) {
        let q = self.tquant_lead(v, perm, lead);
        if let Some(x) = self.m.tensors.get_mut(t as usize)
            && q.is_some()
        {
            x.quant = q;
        }
    }

    /// The constant tensor producing `v`, if any.
    pub(crate) fn const_of(&self, v: ValueId) -> Option<&'g Tensor> {
        let v = self.res(v);
        match &self.g.get(v.node)?.op {
            Op::Constant(c) => Some(&c.value),
            _ => None,
        }
    }

    pub(crate) fn const_i64(&self, v: ValueId) -> Option<Vec<i64>> {
        self.const_of(v)?.to_i64_vec()
    }

    pub(crate) fn const_f64(&self, v: ValueId) -> Option<Vec<f64>> {
        self.const_of(v)?.to_f64_vec()
    }

    /// A constant scalar (or one-element tensor) as f64.
    pub(crate) fn const_scalar(&self, v: ValueId) -> Option<f64> {
        let x = self.const_f64(v)?;
        (x.len() == 1).then(|| x[0])
    }

    /// The dtype of a value.
    pub(crate) fn dtype(&self, v: ValueId) -> LResult<DType> {
        let v = self.res(v);
        if let Some(c) = self.const_of(v) {
            return Ok(c.dtype);
        }
        match self.g.value(v).and_then(|x| x.ty.as_ref()).and_then(|t| t.as_tensor()) {
            Some(t) => Ok(t.dtype),
            None => err(format!("value {} has no known tensor type", self.vname(v))),
        }
    }

    /// The dims of a value (−1 = not known).
    pub(crate) fn dims(&self, v: ValueId) -> LResult<Vec<i64>> {
        let v = self.res(v);
        if let Some(c) = self.const_of(v) {
            return Ok(c.shape.iter().map(|&d| d as i64).collect());
        }
        let shape = self
            .g
            .value(v)
            .and_then(|x| x.ty.as_ref())
            .and_then(|t| t.as_tensor())
            .and_then(|t| t.shape.as_ref());
        match shape {
            Some(s) => Ok(s
                .0
                .iter()
                .map(|d| match d {
                    Dim::Known(n) => i64::try_from(*n).unwrap_or(-1),
                    Dim::Sym(_) => -1,
                })
                .collect()),
            None => err(format!("value {} has no known rank", self.vname(v))),
        }
    }

    pub(crate) fn rank(&self, v: ValueId) -> LResult<usize> {
        Ok(self.dims(v)?.len())
    }

    /// Writes the DEQUANTIZE of a DequantizeLinear output the first time a float consumer
    /// needs it.
    fn materialize_dq(&mut self, v: ValueId) -> LResult<()> {
        if self.vals.contains_key(&v) {
            return Ok(());
        }
        let Some(&q) = self.dq.get(&v) else {
            return Ok(());
        };
        let rank = self.rank(q)?;
        let perm = self.perm_of(q).unwrap_or_else(|| ident(rank));
        let qt = self.get(q, &perm)?;
        let yt = self.out(v, perm)?;
        self.emit(B::DEQUANTIZE, vec![qt], vec![yt], None);
        Ok(())
    }

    pub(crate) fn vname(&self, v: ValueId) -> String {
        self.g.value(v).map(|x| x.name.clone()).unwrap_or_else(|| format!("{v}"))
    }

    // ---- building tensors ----

    /// A name not used yet, based on `base`.
    pub(crate) fn unique(&mut self, base: &str) -> String {
        let base = if base.is_empty() { "t" } else { base };
        let mut name = base.to_string();
        let mut i = 1;
        while self.names.contains(&name) {
            name = format!("{base}_{i}");
            i += 1;
        }
        self.names.insert(name.clone());
        name
    }

    /// A new tensor without data.
    pub(crate) fn tensor(&mut self, name: &str, dims: &[i64], ty: TensorType) -> i32 {
        let name = self.unique(name);
        let dynamic = dims.iter().any(|&d| d < 0);
        let shape: Vec<i32> = dims
            .iter()
            .map(|&d| if d < 0 { 1 } else { d.min(i32::MAX as i64) as i32 })
            .collect();
        let sig = dynamic.then(|| {
            dims.iter()
                .map(|&d| if d < 0 { -1 } else { d.min(i32::MAX as i64) as i32 })
                .collect()
        });
        self.m.add_tensor(TTensor {
            name,
            shape,
            shape_signature: sig,
            ty,
            buffer: 0,
            quant: None,
            sparsity: None,
        })
    }

    /// A new constant tensor.
    pub(crate) fn const_tensor(&mut self, name: &str, dims: &[i64], ty: TensorType, data: BufData) -> i32 {
        let t = self.tensor(name, dims, ty);
        let b = self.m.add_buffer(data);
        if let Some(x) = self.m.tensors.get_mut(t as usize) {
            x.buffer = b;
        }
        t
    }

    /// A constant int32 vector (shapes, axes, permutations).
    pub(crate) fn const_i32(&mut self, name: &str, v: &[i32]) -> i32 {
        self.const_tensor(
            name,
            &[v.len() as i64],
            TensorType::INT32,
            BufData::Owned(super::util::i32_bytes(v)),
        )
    }

    /// A constant f32 tensor.
    pub(crate) fn const_f32(&mut self, name: &str, dims: &[i64], v: &[f32]) -> i32 {
        self.const_tensor(name, dims, TensorType::FLOAT32, BufData::Owned(super::util::f32_bytes(v)))
    }

    /// Appends an operator.
    pub(crate) fn emit(&mut self, code: B, inputs: Vec<i32>, outputs: Vec<i32>, options: Option<Options>) {
        self.m.add_op(TOp {
            code,
            inputs,
            outputs,
            options,
            custom: None,
        });
    }

    /// Creates the tensor of IR value `v`, held in dim order `perm`, and registers it.
    pub(crate) fn out(&mut self, v: ValueId, perm: Vec<usize>) -> LResult<i32> {
        let v = self.res(v);
        let dims = self.dims(v)?;
        let ty = tensor_type(self.dtype(v)?)?;
        if perm.len() != dims.len() {
            return err(format!(
                "value {}: order of rank {} for a rank-{} value",
                self.vname(v),
                perm.len(),
                dims.len()
            ));
        }
        let tdims: Vec<i64> = perm.iter().map(|&p| dims[p]).collect();
        let name = self.vname(v);
        let t = self.tensor(&name, &tdims, ty);
        self.set_quant(t, v, &perm);
        self.bind(v, Repr { t, perm });
        Ok(t)
    }

    /// Creates the tensor of `v` in its own (identity) order.
    pub(crate) fn out_id(&mut self, v: ValueId) -> LResult<i32> {
        let r = self.rank(v)?;
        self.out(v, ident(r))
    }

    /// Registers which tensor holds `v`.
    pub(crate) fn bind(&mut self, v: ValueId, r: Repr) {
        let v = self.res(v);
        self.views.remove(&v);
        self.cache.insert((v, r.perm.clone()), r.t);
        self.vals.insert(v, r);
    }

    /// How `v` is currently held (constants: in their own order).
    pub(crate) fn repr(&mut self, v: ValueId) -> LResult<Repr> {
        let v = self.res(v);
        self.materialize_dq(v)?;
        if let Some(fv) = self.views.get(&v) {
            let perm = fv.plain().map(|p| p.1).unwrap_or_else(|| ident(fv.groups.len()));
            let t = self.get(v, &perm)?;
            return Ok(Repr { t, perm });
        }
        if let Some(r) = self.vals.get(&v) {
            return Ok(r.clone());
        }
        if self.const_of(v).is_some() {
            let rank = self.rank(v)?;
            let t = self.get(v, &ident(rank))?;
            return Ok(Repr { t, perm: ident(rank) });
        }
        Err(LErr::Upstream)
    }

    /// The order `v` is held in (identity for constants and unlowered values).
    pub(crate) fn perm_of(&self, v: ValueId) -> Option<Vec<usize>> {
        let v = self.res(v);
        if let Some(fv) = self.views.get(&v) {
            return fv.plain().map(|p| p.1);
        }
        self.vals.get(&v).map(|r| r.perm.clone())
    }

    /// The tensor holding `v` in dim order `perm`, making it (constant data permuted at write
    /// time, or a TRANSPOSE/RESHAPE op) when needed.
    pub(crate) fn get(&mut self, v: ValueId, perm: &[usize]) -> LResult<i32> {
        let v = self.res(v);
        if let Some(&t) = self.cache.get(&(v, perm.to_vec())) {
            return Ok(t);
        }
        if let Some(c) = self.const_of(v) {
            let t = self.const_value(v, c, perm)?;
            self.cache.insert((v, perm.to_vec()), t);
            return Ok(t);
        }
        self.materialize_dq(v)?;
        if let Some(fv) = self.views.get(&v).cloned() {
            let t = self.materialize_view(v, &fv, perm)?;
            self.cache.insert((v, perm.to_vec()), t);
            return Ok(t);
        }
        let r = self.vals.get(&v).cloned().ok_or(LErr::Upstream)?;
        if r.perm == perm {
            return Ok(r.t);
        }
        let dims = self.dims(v)?;
        if perm.len() != dims.len() {
            return err(format!(
                "value {}: order of rank {} for a rank-{} value",
                self.vname(v),
                perm.len(),
                dims.len()
            ));
        }
        let inv = invert(&r.perm);
        let tperm: Vec<usize> = perm.iter().map(|&p| inv[p]).collect();
        let held: Vec<i64> = r.perm.iter().map(|&p| dims[p]).collect();
        let want: Vec<i64> = perm.iter().map(|&p| dims[p]).collect();
        let ty = tensor_type(self.dtype(v)?)?;
        let suffix = if is_ident(perm) { "" } else { "_perm" };
        let name = format!("{}{suffix}", self.vname(v));
        let t = self.tensor(&name, &want, ty);
        self.set_quant(t, v, perm);
        if perm_is_reshape(&held, &tperm) && want.iter().filter(|&&d| d < 0).count() <= 1 {
            let shape: Vec<i32> = want.iter().map(|&d| d as i32).collect();
            let s = self.const_i32(&format!("{name}_shape"), &shape);
            self.emit(B::RESHAPE, vec![r.t, s], vec![t], None);
        } else {
            let p: Vec<i32> = tperm.iter().map(|&x| x as i32).collect();
            let pt = self.const_i32(&format!("{name}_order"), &p);
            self.emit(B::TRANSPOSE, vec![r.t, pt], vec![t], None);
        }
        self.cache.insert((v, perm.to_vec()), t);
        Ok(t)
    }

    /// The tensor of `v` in its own order.
    pub(crate) fn get_id(&mut self, v: ValueId) -> LResult<i32> {
        let r = self.rank(v)?;
        self.get(v, &ident(r))
    }

    /// A constant's tensor in dim order `perm` (f32 data as f16 + DEQUANTIZE when asked).
    fn const_value(&mut self, v: ValueId, c: &Tensor, perm: &[usize]) -> LResult<i32> {
        if perm.len() != c.shape.len() {
            return err(format!(
                "constant {}: order of rank {} for rank {}",
                self.vname(v),
                perm.len(),
                c.shape.len()
            ));
        }
        // A constant the importer permuted lazily (`edgeport_ir::lazy`): compose both orders
        // over its source, so the weight is moved once, when written.
        let (raw, src_shape, src_perm) = match &c.data {
            edgeport_ir::TensorData::Permuted(p) if p.shape() == c.shape.as_slice() => {
                let (src, _, sshape, pp) = p.parts();
                (src.clone(), sshape.to_vec(), perm.iter().map(|&i| pp[i]).collect::<Vec<_>>())
            }
            _ => match c.raw() {
                Some(r) => (r.clone(), c.shape.clone(), perm.to_vec()),
                None => return err(format!("constant {} holds strings", self.vname(v))),
            },
        };
        let ty = tensor_type(c.dtype)?;
        let dims: Vec<i64> = perm.iter().map(|&p| c.shape[p] as i64).collect();
        let name = self.vname(v);
        let elem = c.dtype.bits() / 8;
        if elem == 0 {
            return err(format!("constant {}: sub-byte dtype {}", name, c.dtype.name()));
        }
        let f16 = self.opts.f16_weights && c.dtype == DType::F32 && c.numel() > 1;
        let data = if is_ident(&src_perm) && !f16 {
            BufData::Shared(raw)
        } else {
            BufData::Lazy {
                src: raw,
                elem,
                shape: src_shape,
                perm: src_perm,
                to_f16: f16,
            }
        };
        if f16 {
            let h = self.const_tensor(&format!("{name}_f16"), &dims, TensorType::FLOAT16, data);
            let t = self.tensor(&name, &dims, TensorType::FLOAT32);
            self.emit(B::DEQUANTIZE, vec![h], vec![t], None);
            Ok(t)
        } else {
            let t = self.const_tensor(&name, &dims, ty, data);
            self.set_quant(t, v, perm);
            Ok(t)
        }
    }

    /// The fused activation that can absorb the only consumer of `node`'s output 0: returns the
    /// activation code and the value the op's output then stands for.
    pub(crate) fn fuse_activation(&mut self, node: NodeId) -> (i8, ValueId) {
        let v = ValueId { node, port: 0 };
        let none = (0i8, v);
        if self.g.is_output(v) {
            return none;
        }
        let cons = self.g.consumers(v);
        let [(c, 0)] = cons.as_slice() else {
            return none;
        };
        let c = *c;
        let code = match &self.g.node(c).op {
            // Not Tanh (4): LiteRT's kernels clamp only for the ReLU family and ignore a fused
            // TANH (CONV_2D, DEPTHWISE_CONV_2D, ADD) or reject it (FULLY_CONNECTED).
            Op::Relu(_) => 1,
            Op::Clip(_) => {
                let lo = self.opt_input(c, 1).map(|x| self.const_scalar(x));
                let hi = self.opt_input(c, 2).map(|x| self.const_scalar(x));
                match (lo, hi) {
                    (Some(Some(l)), Some(Some(h))) if l == 0.0 && h == 6.0 => 3,
                    (Some(Some(l)), Some(Some(h))) if l == -1.0 && h == 1.0 => 2,
                    (Some(Some(0.0)), None) => 1,
                    _ => return none,
                }
            }
            _ => return none,
        };
        // LiteRT quantizes a fused activation's bounds with the output scale and refuses the
        // model when a bound then overflows int32 (a vanishing activation gives a scale near
        // 1e-12). The int8 range of such an output lies far inside (-1, 1), so the upper bound
        // (and RELU_N1_TO_1's lower one) clamp nothing: keep what still does.
        let out = ValueId { node: c, port: 0 };
        let scale = self
            .qp
            .get(&out)
            .or_else(|| {
                self.g.consumers(out).iter().find_map(|&(n, _)| {
                    matches!(self.g.node(n).op, Op::QuantizeLinear(_))
                        .then(|| self.qp.get(&ValueId { node: n, port: 0 }))
                        .flatten()
                })
            })
            .and_then(|q| q.scale.first().copied());
        let code = match scale {
            Some(s) if code == 3 && 6.0 / (s as f64) > i32::MAX as f64 => 1,
            Some(s) if code == 2 && 1.0 / (s as f64) > i32::MAX as f64 => 0,
            _ => code,
        };
        self.skip.insert(c);
        (code, out)
    }

    /// The order to use for an element-wise op over `vs` (all of the output's rank): the order of
    /// the first non-constant input already held permuted, else identity.
    pub(crate) fn common_perm(&self, vs: &[ValueId], rank: usize) -> Vec<usize> {
        for &v in vs {
            if let Some(p) = self.perm_of(v)
                && p.len() == rank
                && !is_ident(&p)
            {
                return p;
            }
        }
        ident(rank)
    }

    // ---- the whole graph ----

    /// Lowers the graph; problems are collected in `self.issues`.
    pub(crate) fn run(&mut self) {
        let order = match self.g.topo_order() {
            Ok(o) => o,
            Err(e) => {
                self.issues.push(format!("graph: {e}"));
                return;
            }
        };
        self.gelu = super::ops::gelu::find(self);
        super::ops::quant::prescan(self);
        super::ops::static_shapes::skip_dead(self);
        for &i in self.g.inputs() {
            let v = ValueId { node: i, port: 0 };
            let r = match self.rank(v) {
                Ok(r) => r,
                Err(LErr::Msg(m)) => {
                    self.issues.push(format!("input {}: {m}", self.vname(v)));
                    continue;
                }
                Err(LErr::Upstream) => continue,
            };
            let perm = if self.opts.nhwc_io && r == 4 { to_last(r) } else { ident(r) };
            let n = self.vname(v);
            let v = match super::ops::quant::int_input(self, v) {
                Some(q) => q,
                None => v,
            };
            match self.out(v, perm) {
                Ok(t) => {
                    self.m.inputs.push(t);
                    self.m.sig_inputs.push((n, t));
                }
                Err(LErr::Msg(m)) => self.issues.push(format!("input {}: {m}", self.vname(v))),
                Err(LErr::Upstream) => {}
            }
        }
        for id in order {
            if self.skip.contains(&id) {
                continue;
            }
            let node = self.g.node(id);
            if matches!(node.op, Op::Input(_) | Op::Constant(_)) {
                continue;
            }
            if node.n_captures > 0 || !node.op.subgraphs().is_empty() {
                self.issues.push(format!(
                    "node '{}' ({}): control flow is not exported to TFLite",
                    node.name,
                    node.op.name()
                ));
                continue;
            }
            match super::ops::lower_node(self, id, node) {
                Ok(()) => {}
                Err(LErr::Msg(m)) => self.issues.push(format!("node '{}' ({}): {m}", node.name, node.op.name())),
                Err(LErr::Upstream) => {}
            }
        }
        self.finish_outputs();
    }

    fn finish_outputs(&mut self) {
        let outs: Vec<(String, ValueId)> = self.g.outputs().to_vec();
        let mut taken: HashSet<i32> = self.m.inputs.iter().copied().collect();
        for (name, v) in outs {
            let v = match self.dq.get(&v) {
                Some(&q) if self.opts.int8_io => q,
                _ => v,
            };
            let res = (|| -> LResult<i32> {
                let rank = self.rank(v)?;
                let want = match self.perm_of(v) {
                    Some(p) if self.opts.nhwc_io && rank == 4 && p == to_last(rank) => p,
                    _ => ident(rank),
                };
                let mut t = self.get(v, &want)?;
                let is_const = self.m.tensors.get(t as usize).is_some_and(|x| x.buffer != 0);
                if taken.contains(&t) || is_const {
                    let dims: Vec<i64> = self.m.tensors[t as usize].shape.iter().map(|&d| d as i64).collect();
                    let ty = self.m.tensors[t as usize].ty;
                    let c = self.tensor(&name, &dims, ty);
                    let s: Vec<i32> = dims.iter().map(|&d| d as i32).collect();
                    let st = self.const_i32(&format!("{name}_shape"), &s);
                    self.emit(B::RESHAPE, vec![t, st], vec![c], None);
                    t = c;
                }
                Ok(t)
            })();
            match res {
                Ok(t) => {
                    taken.insert(t);
                    self.rename(t, &name);
                    self.m.outputs.push(t);
                    self.m.sig_outputs.push((name, t));
                }
                Err(LErr::Msg(m)) => self.issues.push(format!("output {name}: {m}")),
                Err(LErr::Upstream) => {}
            }
        }
    }

    /// Gives tensor `t` the exact name `name`, moving another tensor of that name aside.
    fn rename(&mut self, t: i32, name: &str) {
        let cur = self.m.tensors.get(t as usize).map(|x| x.name.clone());
        if cur.as_deref() == Some(name) {
            return;
        }
        if let Some(i) = self.m.tensors.iter().position(|x| x.name == name) {
            let new = self.unique(&format!("{name}_inner"));
            self.m.tensors[i].name = new;
        }
        self.names.insert(name.to_string());
        if let Some(x) = self.m.tensors.get_mut(t as usize) {
            x.name = name.to_string();
        }
    }
}

/// A builtin options table (shorthand).
pub(crate) fn opts(ty: BuiltinOptions) -> Options {
    Options::new(ty)
}

impl Lower<'_> {
    /// A tensor whose bytes hold `v` in row-major order of its own dims (the dims of the tensor
    /// may differ only by where size-1 dims sit): the held tensor when its order is such, else
    /// the value in identity order. Good as the data input of RESHAPE.
    pub(crate) fn get_flat(&mut self, v: ValueId) -> LResult<i32> {
        let rank = self.rank(v)?;
        if self.views.contains_key(&self.res(v)) {
            return self.get(v, &ident(rank));
        }
        if let Some(r) = self.vals.get(&v).cloned()
            && !is_ident(&r.perm)
        {
            let dims = self.dims(v)?;
            let held: Vec<i64> = r.perm.iter().map(|&p| dims[p]).collect();
            let back = invert(&r.perm);
            if perm_is_reshape(&held, &back) {
                return Ok(r.t);
            }
        }
        self.get(v, &ident(rank))
    }
}

impl Lower<'_> {
    /// The static dims of tensor `t` (`None` when some dim is dynamic).
    pub(crate) fn tensor_dims(&self, t: i32) -> Option<Vec<i64>> {
        let x = self.m.tensors.get(usize::try_from(t).ok()?)?;
        if x.shape_signature.is_some() {
            return None;
        }
        Some(x.shape.iter().map(|&d| d as i64).collect())
    }

    /// How `v` is held, as a factor view (`None` for constants, unlowered values and dynamic
    /// shapes).
    pub(crate) fn held_view(&self, v: ValueId) -> Option<FView> {
        let v = self.res(v);
        if let Some(fv) = self.views.get(&v) {
            return Some(fv.clone());
        }
        let r = self.vals.get(&v)?;
        let dims = self.tensor_dims(r.t)?;
        FView::from_held(r.t, &dims, &r.perm)
    }

    /// Whether `v` is held through a view not yet written as a tensor.
    pub(crate) fn has_view(&self, v: ValueId) -> bool {
        self.views.contains_key(&self.res(v))
    }

    /// Registers `v` as held through `fv` (a plain tensor when `fv` is one already).
    pub(crate) fn bind_view(&mut self, v: ValueId, fv: FView) -> LResult<()> {
        let v = self.res(v);
        let want = self.dims(v)?;
        if fv.vdims() != want {
            return err(format!(
                "value {}: a view of dims {:?} for dims {:?}",
                self.vname(v),
                fv.vdims(),
                want
            ));
        }
        if let Some((tdims, perm)) = fv.plain()
            && self.tensor_dims(fv.t).as_deref() == Some(&tdims[..])
        {
            self.bind(v, Repr { t: fv.t, perm });
            return Ok(());
        }
        self.vals.remove(&v);
        self.views.insert(v, fv);
        Ok(())
    }

    /// The tensor of `fv` reshaped to its factor dims (no op when it has them already).
    pub(crate) fn factor_tensor(&mut self, v: ValueId, fv: &FView) -> LResult<i32> {
        self.reshaped(v, fv.t, &fv.tf, "factors")
    }

    /// `t` reshaped to `dims` (a RESHAPE op unless it has them already).
    pub(crate) fn reshaped(&mut self, v: ValueId, t: i32, dims: &[i64], what: &str) -> LResult<i32> {
        if self.tensor_dims(t).as_deref() == Some(dims) {
            return Ok(t);
        }
        let ty = match self.m.tensors.get(t as usize) {
            Some(x) => x.ty,
            None => return Err(LErr::Upstream),
        };
        let name = format!("{}_{what}", self.vname(v));
        let o = self.tensor(&name, dims, ty);
        self.copy_scalar_quant(t, o);
        let s: Vec<i32> = dims.iter().map(|&d| d as i32).collect();
        let st = self.const_i32(&format!("{name}_shape"), &s);
        self.emit(
            B::RESHAPE,
            vec![t, st],
            vec![o],
            Some(opts(BuiltinOptions::ReshapeOptions).with(0, super::model::Field::VecI32(s))),
        );
        Ok(o)
    }

    /// Copies per-tensor quantization from tensor `from` to `to`.
    pub(crate) fn copy_scalar_quant(&mut self, from: i32, to: i32) {
        let q = self
            .m
            .tensors
            .get(from as usize)
            .and_then(|x| x.quant.clone())
            .filter(|q| q.scale.len() == 1);
        if let (Some(q), Some(x)) = (q, self.m.tensors.get_mut(to as usize)) {
            x.quant = Some(q);
        }
    }

    /// Writes the tensor of a view in order `perm`: RESHAPE when the factors are already in that
    /// order, else RESHAPE to the factors, TRANSPOSE, RESHAPE.
    fn materialize_view(&mut self, v: ValueId, fv: &FView, perm: &[usize]) -> LResult<i32> {
        let vd = fv.vdims();
        if perm.len() != vd.len() || !super::util::is_perm(perm) {
            return err(format!(
                "value {}: order of rank {} for a rank-{} value",
                self.vname(v),
                perm.len(),
                vd.len()
            ));
        }
        let want: Vec<i64> = perm.iter().map(|&p| vd[p]).collect();
        let fo = fv.factor_order(perm);
        let t = if is_ident(&fo) {
            self.reshaped(v, fv.t, &want, "view")?
        } else {
            let ft = self.factor_tensor(v, fv)?;
            let ty = match self.m.tensors.get(ft as usize) {
                Some(x) => x.ty,
                None => return Err(LErr::Upstream),
            };
            let tdims: Vec<i64> = fo.iter().map(|&f| fv.tf[f]).collect();
            let name = format!("{}_perm", self.vname(v));
            let tt = self.tensor(&name, &tdims, ty);
            self.copy_scalar_quant(ft, tt);
            let p: Vec<i32> = fo.iter().map(|&x| x as i32).collect();
            let pt = self.const_i32(&format!("{name}_order"), &p);
            self.emit(B::TRANSPOSE, vec![ft, pt], vec![tt], None);
            self.reshaped(v, tt, &want, "view")?
        };
        self.set_quant(t, v, perm);
        Ok(t)
    }
}
