//! The state of one subgraph conversion (`SgState`: tensor index → IR value, cached float views
//! of quantized tensors, failed tensors) and the context op rules work with (`OpCx`): reading
//! inputs (dequantized when quantized), constants, options and weights, adding nodes, and
//! binding outputs (fused activation, then QuantizeLinear when the output tensor is quantized).

use super::Env;
use super::subgraph::value_type;
use super::tensors::{self, dtype_of, is_quantized, quant_params, static_shape};
use crate::codes::{ActivationFunctionType, TensorType};
use crate::fb::Table;
use crate::import::irops::{Cast, Clip, DequantizeLinear, QuantizeLinear, Relu, Sign, Tanh};
use crate::model::{OpCode, OperatorInfo, SubGraph, TensorInfo};
use edgeport_ir::{DType, Graph, Op, QuantGranularity, QuantParams, Tensor, ValueId};
use std::collections::{HashMap, HashSet};

/// Unique value names within one IR graph.
#[derive(Default)]
pub struct Names {
    used: HashSet<String>,
}

impl Names {
    /// `base`, or `base_1`, `base_2`, … when taken.
    pub fn unique(&mut self, base: &str) -> String {
        let base = if base.is_empty() { "t" } else { base };
        if self.used.insert(base.to_string()) {
            return base.to_string();
        }
        for i in 1.. {
            let n = format!("{base}_{i}");
            if self.used.insert(n.clone()) {
                return n;
            }
        }
        base.to_string()
    }
}

/// The state of one subgraph conversion.
pub struct SgState<'s, 'm> {
    pub index: usize,
    pub sg: &'s SubGraph<'m>,
    pub names: &'s mut Names,
    values: Vec<Option<ValueId>>,
    floats: HashMap<usize, ValueId>,
    failed: HashSet<usize>,
}

impl<'s, 'm> SgState<'s, 'm> {
    pub fn new(index: usize, sg: &'s SubGraph<'m>, names: &'s mut Names) -> Self {
        SgState {
            index,
            sg,
            names,
            values: vec![None; sg.tensors.len()],
            floats: HashMap::new(),
            failed: HashSet::new(),
        }
    }

    fn tensor_index(&self, ti: i32) -> Result<usize, String> {
        usize::try_from(ti)
            .ok()
            .filter(|&i| i < self.sg.tensors.len())
            .ok_or_else(|| format!("tensor index {ti} out of range ({} tensors)", self.sg.tensors.len()))
    }

    /// Binds tensor `ti` to `v`.
    pub fn bind(&mut self, ti: i32, v: ValueId) -> Result<(), String> {
        let i = self.tensor_index(ti)?;
        self.values[i] = Some(v);
        Ok(())
    }

    /// The first out-of-range tensor index of an operator, as a message.
    pub fn check_indices(&self, op: &OperatorInfo<'_>) -> Option<String> {
        for &ti in op.inputs.iter().chain(&op.outputs) {
            if ti != -1 && self.tensor_index(ti).is_err() {
                return Some(format!("tensor index {ti} out of range ({} tensors)", self.sg.tensors.len()));
            }
        }
        None
    }

    pub fn any_input_failed(&self, op: &OperatorInfo<'_>) -> bool {
        op.inputs
            .iter()
            .any(|&t| usize::try_from(t).is_ok_and(|i| self.failed.contains(&i)))
    }

    pub fn fail_outputs(&mut self, op: &OperatorInfo<'_>) {
        for &t in &op.outputs {
            if let Ok(i) = usize::try_from(t) {
                self.failed.insert(i);
            }
        }
    }

    /// The value of a subgraph output (`None` when its producer failed).
    pub fn output_value(&mut self, g: &mut Graph, env: &Env<'_, '_>, ti: i32) -> Result<Option<ValueId>, String> {
        let i = self.tensor_index(ti)?;
        if self.failed.contains(&i) {
            return Ok(None);
        }
        match self.value(g, env, i) {
            Ok(v) => Ok(Some(v)),
            // Already explained by an operator issue (e.g. a bad output index).
            Err(_) if !env.issues.is_empty() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The IR value of tensor `i` in its own dtype; constants are created on first use.
    pub fn value(&mut self, g: &mut Graph, env: &Env<'_, '_>, i: usize) -> Result<ValueId, String> {
        if let Some(v) = self.values.get(i).copied().flatten() {
            return Ok(v);
        }
        let t = self.sg.tensors.get(i).ok_or_else(|| format!("tensor index {i} out of range"))?;
        let Some(tensor) = self.constant(env, i)? else {
            if t.is_variable {
                return Err(format!(
                    "tensor {i} '{}' is a variable (resource variables are not supported)",
                    t.name
                ));
            }
            return Err(format!("tensor {i} '{}' is used before any operator produces it", t.name));
        };
        let name = self.names.unique(&t.name);
        let v = g.add_constant(name, tensor);
        self.values[i] = Some(v);
        Ok(v)
    }

    /// The constant data of tensor `i` (dense, with quantization parameters), if it has any.
    pub fn constant(&self, env: &Env<'_, '_>, i: usize) -> Result<Option<Tensor>, String> {
        let t = self.sg.tensors.get(i).ok_or_else(|| format!("tensor index {i} out of range"))?;
        if t.buffer == 0 {
            return Ok(None);
        }
        let b = env.model.buffers.get(t.buffer as usize).ok_or_else(|| {
            format!(
                "tensor {i} '{}': buffer index {} out of range ({} buffers)",
                t.name,
                t.buffer,
                env.model.buffers.len()
            )
        })?;
        if b.len == 0 {
            return Ok(None);
        }
        let tensor_err = |m: String| format!("tensor {i} '{}': {m}", t.name);
        let dtype = dtype_of(t.ty).ok_or_else(|| tensor_err(format!("unsupported tensor type {}", t.ty)))?;
        let shape = static_shape(t).map_err(tensor_err)?;
        let bytes = env
            .data
            .slice(b.pos, b.len)
            .ok_or_else(|| tensor_err("buffer data is past the end of the file".into()))?;
        let mut tensor = match &t.sparsity {
            Some(sp) if dtype.bits().is_multiple_of(8) => {
                // A sparse tensor may be far larger dense than in the file, but not unboundedly.
                let max = env.data.len().saturating_mul(64).max(1 << 20);
                let dense = tensors::densify(sp, &bytes, dtype.bits() / 8, &shape, max).map_err(tensor_err)?;
                tensors::constant(dtype, shape.clone(), edgeport_ir::Bytes::from_vec(dense))
            }
            Some(_) => Err(format!("sparse {dtype} tensors are not supported")),
            None => tensors::constant(dtype, shape.clone(), bytes),
        }
        .map_err(tensor_err)?;
        if is_quantized(t)
            && let Some(q) = &t.quant
        {
            tensor.quant = Some(quant_params(q, dtype, shape.len(), &shape).map_err(tensor_err)?);
        }
        Ok(Some(tensor))
    }

    /// The float view of tensor `i`: itself, or DequantizeLinear of it when quantized.
    pub fn float(&mut self, g: &mut Graph, env: &Env<'_, '_>, i: usize) -> Result<ValueId, String> {
        let v = self.value(g, env, i)?;
        let t = self.sg.tensors.get(i).ok_or("bad tensor index")?;
        if !is_quantized(t) {
            return Ok(v);
        }
        if let Some(&f) = self.floats.get(&i) {
            return Ok(f);
        }
        let dtype = dtype_of(t.ty).ok_or("bad tensor type")?;
        let dims = static_shape(t).unwrap_or_default();
        let q = t.quant.as_ref().ok_or("missing quantization")?;
        let qp = quant_params(q, dtype, t.shape.len(), &dims).map_err(|m| format!("tensor {i} '{}': {m}", t.name))?;
        let name = self.names.unique(&format!("{}/dequant", t.name));
        let f = dequantize(g, &mut *self.names, v, &qp, &name)?;
        self.floats.insert(i, f);
        Ok(f)
    }
}

/// Adds scale/zero-point constants and a DequantizeLinear of `v` (quantized with `qp`).
pub fn dequantize(g: &mut Graph, names: &mut Names, v: ValueId, qp: &QuantParams, name: &str) -> Result<ValueId, String> {
    let (s, z, axis) = qdq_params(g, names, qp, name)?;
    let op = Op::DequantizeLinear(DequantizeLinear {
        axis,
        ..Default::default()
    });
    let id = g
        .add_op(name, op, &[Some(v), Some(s), Some(z)], &[name])
        .map_err(|e| e.to_string())?;
    Ok(id.out(0))
}

/// Adds scale/zero-point constants and a QuantizeLinear of float `v` into `qp`'s storage type.
pub fn quantize(g: &mut Graph, names: &mut Names, v: ValueId, qp: &QuantParams, name: &str) -> Result<ValueId, String> {
    let (s, z, axis) = qdq_params(g, names, qp, name)?;
    let op = Op::QuantizeLinear(QuantizeLinear {
        axis,
        ..Default::default()
    });
    let id = g
        .add_op(name, op, &[Some(v), Some(s), Some(z)], &[name])
        .map_err(|e| e.to_string())?;
    if let Some(val) = g.value_mut(id.out(0)) {
        val.quant = Some(qp.clone());
    }
    Ok(id.out(0))
}

fn qdq_params(g: &mut Graph, names: &mut Names, qp: &QuantParams, name: &str) -> Result<(ValueId, ValueId, i64), String> {
    let n = qp.scale.len();
    let shape = if n == 1 && qp.granularity == QuantGranularity::PerTensor {
        vec![]
    } else {
        vec![n]
    };
    let axis = match qp.granularity {
        QuantGranularity::PerAxis { axis } => axis as i64,
        _ => 1,
    };
    let scale = Tensor::from_f32(shape.clone(), &qp.scale).map_err(|e| e.to_string())?;
    let zp = int_tensor(qp.storage, shape, &qp.zero_point)?;
    let s = g.add_constant(names.unique(&format!("{name}/scale")), scale);
    let z = g.add_constant(names.unique(&format!("{name}/zero_point")), zp);
    Ok((s, z, axis))
}

/// An integer constant of `dtype` (i8/u8/i16/i32/i64/u16/i4) holding `vals`.
pub fn int_tensor(dtype: DType, shape: Vec<usize>, vals: &[i64]) -> Result<Tensor, String> {
    let mut b = Vec::new();
    match dtype {
        DType::I8 | DType::U8 => vals.iter().for_each(|&v| b.push(v as u8)),
        DType::I16 | DType::U16 => vals.iter().for_each(|&v| b.extend_from_slice(&(v as i16).to_le_bytes())),
        DType::I32 | DType::U32 => vals.iter().for_each(|&v| b.extend_from_slice(&(v as i32).to_le_bytes())),
        DType::I64 | DType::U64 => vals.iter().for_each(|&v| b.extend_from_slice(&v.to_le_bytes())),
        DType::I4 | DType::U4 => {
            for pair in vals.chunks(2) {
                let lo = pair.first().copied().unwrap_or(0) as u8 & 0xf;
                let hi = pair.get(1).copied().unwrap_or(0) as u8 & 0xf;
                b.push(lo | (hi << 4));
            }
        }
        _ => return Err(format!("no integer constants of type {dtype}")),
    }
    Tensor::from_bytes(dtype, shape, edgeport_ir::Bytes::from_vec(b)).map_err(|e| e.to_string())
}

/// What an op rule works with.
pub struct OpCx<'e, 'a, 'm, 's> {
    pub env: &'e mut Env<'a, 'm>,
    pub st: &'e mut SgState<'s, 'm>,
    pub op: &'e OperatorInfo<'m>,
    pub code: OpCode,
    pub index: usize,
}

impl<'e, 'a, 'm, 's> OpCx<'e, 'a, 'm, 's> {
    pub fn n_inputs(&self) -> usize {
        self.op.inputs.len()
    }
    /// True when input `i` is present (not omitted with −1).
    pub fn has_input(&self, i: usize) -> bool {
        self.op.inputs.get(i).is_some_and(|&t| t >= 0)
    }
    fn in_index(&self, i: usize) -> Result<usize, String> {
        let t = *self
            .op
            .inputs
            .get(i)
            .ok_or_else(|| format!("missing input {i} (operator has {})", self.op.inputs.len()))?;
        usize::try_from(t).map_err(|_| format!("input {i} is omitted but required"))
    }
    fn out_index(&self, j: usize) -> Result<usize, String> {
        let t = *self
            .op
            .outputs
            .get(j)
            .ok_or_else(|| format!("missing output {j} (operator has {})", self.op.outputs.len()))?;
        usize::try_from(t).map_err(|_| format!("output {j} is omitted"))
    }
    /// Metadata of input tensor `i`.
    pub fn in_info(&self, i: usize) -> Result<&'s TensorInfo, String> {
        let k = self.in_index(i)?;
        let sg: &'s SubGraph<'m> = self.st.sg;
        sg.tensors.get(k).ok_or_else(|| "bad tensor index".to_string())
    }
    /// Metadata of output tensor `j`.
    pub fn out_info(&self, j: usize) -> Result<&'s TensorInfo, String> {
        let k = self.out_index(j)?;
        let sg: &'s SubGraph<'m> = self.st.sg;
        sg.tensors.get(k).ok_or_else(|| "bad tensor index".to_string())
    }
    /// Static shape of input `i`.
    pub fn in_shape(&self, i: usize) -> Result<Vec<usize>, String> {
        static_shape(self.in_info(i)?)
    }
    /// Rank of input `i`.
    pub fn in_rank(&self, i: usize) -> Result<usize, String> {
        Ok(self.in_info(i)?.shape.len())
    }
    /// Static shape of output `j`.
    pub fn out_shape(&self, j: usize) -> Result<Vec<usize>, String> {
        static_shape(self.out_info(j)?)
    }

    /// Input `i` as a float value when quantized (DequantizeLinear), else as is.
    pub fn input(&mut self, g: &mut Graph, i: usize) -> Result<ValueId, String> {
        let k = self.in_index(i)?;
        self.st.float(g, self.env, k)
    }
    /// Input `i`, or `None` when omitted.
    pub fn opt_input(&mut self, g: &mut Graph, i: usize) -> Result<Option<ValueId>, String> {
        if self.has_input(i) { self.input(g, i).map(Some) } else { Ok(None) }
    }
    /// Input `i` in its stored dtype (quantized integers stay integers).
    pub fn raw_input(&mut self, g: &mut Graph, i: usize) -> Result<ValueId, String> {
        let k = self.in_index(i)?;
        self.st.value(g, self.env, k)
    }
    /// True when input `i` is quantized.
    pub fn in_quantized(&self, i: usize) -> bool {
        self.in_info(i).is_ok_and(is_quantized)
    }
    /// The constant tensor behind input `i`, if it is a constant.
    pub fn konst(&self, i: usize) -> Result<Option<Tensor>, String> {
        let k = self.in_index(i)?;
        self.st.constant(self.env, k)
    }
    /// The integer values of constant input `i` (error when not constant).
    pub fn ints(&self, i: usize) -> Result<Vec<i64>, String> {
        self.konst(i)?
            .and_then(|t| t.to_i64_vec())
            .ok_or_else(|| format!("input {i} must be a constant integer tensor"))
    }
    /// The float values of constant input `i`.
    pub fn floats(&self, i: usize) -> Result<Vec<f64>, String> {
        self.konst(i)?
            .and_then(|t| t.to_f64_vec())
            .ok_or_else(|| format!("input {i} must be a constant tensor"))
    }

    /// A weight input permuted by `perm` (constants permuted at import, quantized ones kept as
    /// integer constants + DequantizeLinear; dynamic ones through a Transpose), as float.
    pub fn weight(&mut self, g: &mut Graph, i: usize, perm: &[usize]) -> Result<ValueId, String> {
        let identity = perm.iter().enumerate().all(|(a, &b)| a == b);
        if identity {
            return self.input(g, i);
        }
        let info = self.in_info(i)?;
        if let Some(t) = self.konst(i)? {
            let p = tensors::permute(&t, perm).map_err(|m| format!("weight '{}': {m}", info.name))?;
            let name = self.st.names.unique(&info.name);
            let quant = p.quant.clone();
            let v = g.add_constant(name.clone(), p);
            return match quant {
                Some(qp) if is_quantized(info) => {
                    let dq = self.st.names.unique(&format!("{name}/dequant"));
                    dequantize(g, self.st.names, v, &qp, &dq)
                }
                _ => Ok(v),
            };
        }
        let x = self.input(g, i)?;
        let perm = perm.iter().map(|&p| p as i64).collect();
        self.node1(g, "transpose", Op::Transpose(crate::import::irops::Transpose { perm }), &[Some(x)])
    }

    /// A unique name derived from the op's first output tensor.
    pub fn name(&mut self, suffix: &str) -> String {
        let base = self
            .out_info(0)
            .map(|t| t.name.clone())
            .unwrap_or_else(|_| format!("op{}", self.index));
        let n = if suffix.is_empty() { base } else { format!("{base}/{suffix}") };
        self.st.names.unique(&n)
    }

    /// Adds a node with `n_out` outputs.
    pub fn node(&mut self, g: &mut Graph, suffix: &str, op: Op, inputs: &[Option<ValueId>], n_out: usize) -> Result<Vec<ValueId>, String> {
        let name = self.name(suffix);
        let outs: Vec<String> = (0..n_out)
            .map(|k| {
                if k == 0 {
                    name.clone()
                } else {
                    self.st.names.unique(&format!("{name}:{k}"))
                }
            })
            .collect();
        let refs: Vec<&str> = outs.iter().map(String::as_str).collect();
        let id = g.add_op(name.clone(), op, inputs, &refs).map_err(|e| e.to_string())?;
        Ok((0..n_out).map(|p| id.out(p)).collect())
    }
    /// Adds a one-output node.
    pub fn node1(&mut self, g: &mut Graph, suffix: &str, op: Op, inputs: &[Option<ValueId>]) -> Result<ValueId, String> {
        self.node(g, suffix, op, inputs, 1)?
            .into_iter()
            .next()
            .ok_or_else(|| "node has no output".into())
    }
    /// A new constant.
    pub fn constant(&mut self, g: &mut Graph, suffix: &str, t: Tensor) -> ValueId {
        let name = self.name(suffix);
        g.add_constant(name, t)
    }
    /// An int64 vector constant.
    pub fn const_i64(&mut self, g: &mut Graph, suffix: &str, vals: &[i64]) -> Result<ValueId, String> {
        let t = Tensor::from_i64(vec![vals.len()], vals).map_err(|e| e.to_string())?;
        Ok(self.constant(g, suffix, t))
    }
    /// A float scalar constant.
    pub fn const_f32(&mut self, g: &mut Graph, suffix: &str, v: f32) -> Result<ValueId, String> {
        let t = Tensor::from_f32(vec![], &[v]).map_err(|e| e.to_string())?;
        Ok(self.constant(g, suffix, t))
    }
    /// Input `i` as int64: constants converted at import, others through Cast.
    pub fn i64_input(&mut self, g: &mut Graph, i: usize) -> Result<ValueId, String> {
        if let Some(t) = self.konst(i)?
            && let Some(v) = t.to_i64_vec()
        {
            let tt = Tensor::from_i64(t.shape.clone(), &v).map_err(|e| e.to_string())?;
            return Ok(self.constant(g, "i64", tt));
        }
        let x = self.raw_input(g, i)?;
        if self.in_info(i)?.ty == TensorType::INT64 {
            return Ok(x);
        }
        self.cast(g, x, DType::I64)
    }
    /// Casts `v` to `to`.
    pub fn cast(&mut self, g: &mut Graph, v: ValueId, to: DType) -> Result<ValueId, String> {
        self.node1(
            g,
            "cast",
            Op::Cast(Cast {
                to: to.onnx_code() as i64,
                ..Default::default()
            }),
            &[Some(v)],
        )
    }

    /// Reads a builtin options table (`None` when absent: every field takes its default).
    pub fn opts(&self) -> Opts<'m> {
        Opts(self.op.options)
    }

    /// Applies a fused activation to a float value.
    pub fn activation(&mut self, g: &mut Graph, v: ValueId, act: i8) -> Result<ValueId, String> {
        let clip = |cx: &mut Self, g: &mut Graph, lo: f32, hi: f32| -> Result<ValueId, String> {
            let a = cx.const_f32(g, "min", lo)?;
            let b = cx.const_f32(g, "max", hi)?;
            cx.node1(g, "clip", Op::Clip(Clip {}), &[Some(v), Some(a), Some(b)])
        };
        match ActivationFunctionType(act) {
            ActivationFunctionType::NONE => Ok(v),
            ActivationFunctionType::RELU => self.node1(g, "relu", Op::Relu(Relu {}), &[Some(v)]),
            ActivationFunctionType::RELU_N1_TO_1 => clip(self, g, -1.0, 1.0),
            ActivationFunctionType::RELU6 => clip(self, g, 0.0, 6.0),
            ActivationFunctionType::TANH => self.node1(g, "tanh", Op::Tanh(Tanh {}), &[Some(v)]),
            ActivationFunctionType::SIGN_BIT => self.node1(g, "sign", Op::Sign(Sign {}), &[Some(v)]),
            other => Err(format!("unknown fused activation {}", other.0)),
        }
    }

    /// Binds output `j` to float `v` after the fused activation; quantizes when the output
    /// tensor is quantized.
    pub fn output_act(&mut self, g: &mut Graph, j: usize, v: ValueId, act: i8) -> Result<(), String> {
        let v = self.activation(g, v, act)?;
        self.output(g, j, v)
    }

    /// Binds output `j` to `v` (a float value when the output is quantized: QuantizeLinear is
    /// added; otherwise `v` must already have the output's dtype).
    pub fn output(&mut self, g: &mut Graph, j: usize, v: ValueId) -> Result<(), String> {
        let k = self.out_index(j)?;
        let info = self.out_info(j)?;
        let mut v = v;
        if is_quantized(info) {
            let dtype = dtype_of(info.ty).ok_or("bad output type")?;
            let dims = static_shape(info).unwrap_or_default();
            let q = info.quant.as_ref().ok_or("missing quantization")?;
            let qp = quant_params(q, dtype, info.shape.len(), &dims).map_err(|m| format!("output '{}': {m}", info.name))?;
            let name = self.st.names.unique(&format!("{}/quant", info.name));
            v = quantize(g, self.st.names, v, &qp, &name)?;
        }
        self.bind_value(g, k, v, info)
    }

    /// Binds output `j` to `v` as is (already in the output's dtype and representation).
    pub fn output_raw(&mut self, g: &mut Graph, j: usize, v: ValueId) -> Result<(), String> {
        let k = self.out_index(j)?;
        let info = self.out_info(j)?;
        if let Some(qp) = info.quant.as_ref().filter(|_| is_quantized(info)).and_then(|q| {
            let dims = static_shape(info).unwrap_or_default();
            quant_params(q, dtype_of(info.ty)?, info.shape.len(), &dims).ok()
        }) && let Some(val) = g.value_mut(v)
        {
            val.quant = Some(qp);
        }
        self.bind_value(g, k, v, info)
    }

    fn bind_value(&mut self, g: &mut Graph, k: usize, v: ValueId, info: &TensorInfo) -> Result<(), String> {
        let name = self.st.names.unique(&info.name);
        if let Some(val) = g.value_mut(v) {
            val.name = name;
            if let Some(ty) = value_type(info) {
                val.ty = Some(ty);
            }
        }
        self.st.bind(k as i32, v)
    }

    /// The dtype of output `j`.
    pub fn out_dtype(&self, j: usize) -> Result<DType, String> {
        let t = self.out_info(j)?;
        dtype_of(t.ty).ok_or_else(|| format!("unsupported output type {}", t.ty))
    }
    /// The dtype of input `i` (as stored).
    pub fn in_dtype(&self, i: usize) -> Result<DType, String> {
        let t = self.in_info(i)?;
        dtype_of(t.ty).ok_or_else(|| format!("unsupported input type {}", t.ty))
    }
}

/// Typed reads of a builtin options table by field slot; absent table or field = default.
#[derive(Clone, Copy)]
pub struct Opts<'m>(pub Option<Table<'m>>);

impl Opts<'_> {
    pub fn i32(&self, slot: usize, d: i32) -> Result<i32, String> {
        self.0.map_or(Ok(d), |t| t.i32(slot, d).map_err(|e| format!("options: {e}")))
    }
    pub fn i8(&self, slot: usize, d: i8) -> Result<i8, String> {
        self.0.map_or(Ok(d), |t| t.i8(slot, d).map_err(|e| format!("options: {e}")))
    }
    pub fn bool(&self, slot: usize, d: bool) -> Result<bool, String> {
        self.0.map_or(Ok(d), |t| t.bool(slot, d).map_err(|e| format!("options: {e}")))
    }
    pub fn f32(&self, slot: usize, d: f32) -> Result<f32, String> {
        self.0.map_or(Ok(d), |t| t.f32(slot, d).map_err(|e| format!("options: {e}")))
    }
    pub fn i32s(&self, slot: usize) -> Result<Vec<i32>, String> {
        self.0.map_or(Ok(Vec::new()), |t| t.i32s(slot).map_err(|e| format!("options: {e}")))
    }
}
