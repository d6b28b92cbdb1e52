//! Graph edits shared by the quantizers: unique names, float constants, quantized weight
//! constants behind a DequantizeLinear, and QuantizeLinear→DequantizeLinear pairs on
//! activations. Every quantized constant and quantized activation carries its `QuantParams`.

use crate::quantize::error::{QuantError, gerr};
use crate::quantize::params::{encode, qparams};
use edgeport_ir::ops::defs::quantization::{DequantizeLinear, QuantizeLinear};
use edgeport_ir::{Bytes, DType, Graph, Op, QuantGranularity, Shape, Tensor, ValueId, ValueType};

/// A name not used by any value or node of `g`, derived from `base`.
pub fn unique(g: &Graph, base: &str) -> String {
    // Used for node names as well as value names: a name is taken if either kind has it (a
    // constant shared by several layers, such as the all-zero bias torch deduplicates, would
    // otherwise give each layer's DequantizeLinear the same node name, which ONNX refuses).
    let taken = |n: &str| g.find_value(n).is_some() || g.node_ids().any(|id| g.node(id).name == n);
    if !taken(base) {
        return base.to_string();
    }
    let mut i = 1;
    loop {
        let n = format!("{base}_{i}");
        if !taken(&n) {
            return n;
        }
        i += 1;
    }
}

/// onnxruntime's `com.microsoft::MatMulNBits` for a `[K] → [N]` weight of `bits`-bit codes in
/// blocks of `block` along K, with an `accuracy_level` when given.
pub fn matmul_nbits(k: usize, n: usize, bits: i64, block: usize, accuracy_level: Option<i64>) -> Op {
    let mut attrs = vec![
        ("K".into(), edgeport_ir::AttrValue::Int(k as i64)),
        ("N".into(), edgeport_ir::AttrValue::Int(n as i64)),
        ("bits".into(), edgeport_ir::AttrValue::Int(bits)),
        ("block_size".into(), edgeport_ir::AttrValue::Int(block as i64)),
    ];
    if let Some(a) = accuracy_level {
        attrs.push(("accuracy_level".into(), edgeport_ir::AttrValue::Int(a)));
    }
    Op::Custom(edgeport_ir::ops::Custom {
        domain: "com.microsoft".into(),
        name: "MatMulNBits".into(),
        attrs,
    })
}

/// A `Cast` of `x` to float32: the node is named `{node}` and its output `{out}` (made unique);
/// errors name `layer`. Returns the output.
pub fn cast_f32(g: &mut Graph, layer: &str, node: &str, out: &str, x: ValueId) -> Result<ValueId, QuantError> {
    let name = unique(g, node);
    let out = unique(g, out);
    let id = g
        .add_op(
            name,
            Op::Cast(edgeport_ir::ops::defs::tensor::Cast {
                to: DType::F32.onnx_code() as i64,
                ..Default::default()
            }),
            &[Some(x)],
            &[&out],
        )
        .map_err(|e| gerr(layer, e))?;
    Ok(id.out(0))
}

/// Adds an f32 constant.
pub fn const_f32(g: &mut Graph, name: &str, shape: Vec<usize>, v: &[f32]) -> Result<ValueId, QuantError> {
    let t = Tensor::from_f32(shape, v).map_err(|e| gerr(name, e))?;
    let n = unique(g, name);
    Ok(g.add_constant(n, t))
}

/// Adds an integer constant of storage type `d` from codes, with `quant` attached.
pub fn const_codes(
    g: &mut Graph,
    name: &str,
    d: DType,
    shape: Vec<usize>,
    codes: &[i32],
    quant: Option<edgeport_ir::QuantParams>,
) -> Result<ValueId, QuantError> {
    let mut t = Tensor::from_bytes(d, shape, Bytes::from_vec(encode(codes, d))).map_err(|e| gerr(name, e))?;
    t.quant = quant;
    let n = unique(g, name);
    Ok(g.add_constant(n, t))
}

/// A quantized weight: codes, scales and zero points with their layout.
pub struct QWeight<'a> {
    pub name: &'a str,
    pub storage: DType,
    pub shape: Vec<usize>,
    pub codes: &'a [i32],
    pub scales: &'a [f32],
    /// Empty = symmetric (no zero-point input).
    pub zps: &'a [i32],
    pub granularity: QuantGranularity,
    /// Shape of the scale tensor (`[]` per tensor, `[C]` per axis, blocked shape per block).
    pub param_shape: Vec<usize>,
    /// Writes the zero-point input even when every zero point is 0 (onnxruntime fuses
    /// `DequantizeLinear → Gemm` into its integer QGemm only when the input is present, and
    /// otherwise dequantizes the weight on every run).
    pub explicit_zero_point: bool,
}

fn f32_type(shape: &[usize]) -> Option<ValueType> {
    Some(ValueType::tensor(
        DType::F32,
        Some(Shape::known(&shape.iter().map(|&d| d as u64).collect::<Vec<_>>())),
    ))
}

/// Adds `codes → DequantizeLinear` and returns the float output.
pub fn dq_weight(g: &mut Graph, w: &QWeight<'_>) -> Result<ValueId, QuantError> {
    let (axis, block) = match w.granularity {
        QuantGranularity::PerTensor => (1, 0),
        QuantGranularity::PerAxis { axis } => (axis as i64, 0),
        QuantGranularity::PerBlock { axis, block_size } => (axis as i64, block_size as i64),
    };
    let qp = qparams(w.storage, w.granularity.clone(), w.scales.to_vec(), w.zps.to_vec());
    let q = const_codes(g, &format!("{}_quantized", w.name), w.storage, w.shape.clone(), w.codes, Some(qp))?;
    let s = const_f32(g, &format!("{}_scale", w.name), w.param_shape.clone(), w.scales)?;
    // All-zero zero points are the input's default: left out unless asked for (per-channel int8
    // weights carry one byte per channel of nothing otherwise).
    let z = if !w.explicit_zero_point && w.zps.iter().all(|&z| z == 0) {
        None
    } else {
        let zeros;
        let zps = if w.zps.is_empty() {
            zeros = vec![0; w.scales.len()];
            &zeros[..]
        } else {
            w.zps
        };
        Some(const_codes(
            g,
            &format!("{}_zero_point", w.name),
            w.storage,
            w.param_shape.clone(),
            zps,
            None,
        )?)
    };
    let out = unique(g, &format!("{}_dequantized", w.name));
    let op = Op::DequantizeLinear(DequantizeLinear {
        axis,
        block_size: block,
        ..Default::default()
    });
    let id = g
        .add_op(
            unique(g, &format!("{}_DequantizeLinear", w.name)),
            op,
            &[Some(q), Some(s), z],
            &[&out],
        )
        .map_err(|e| gerr(w.name, e))?;
    if let Some(v) = g.value_mut(id.out(0)) {
        v.ty = f32_type(&w.shape);
    }
    Ok(id.out(0))
}

/// Adds `v → QuantizeLinear → DequantizeLinear` (per tensor) and returns the float output.
pub fn qdq(g: &mut Graph, v: ValueId, scale: f32, zp: i32, d: DType) -> Result<ValueId, QuantError> {
    let base = g.value(v).map(|x| x.name.clone()).unwrap_or_else(|| "act".into());
    let ty = g.value(v).and_then(|x| x.ty.clone());
    let s = const_f32(g, &format!("{base}_scale"), vec![], &[scale])?;
    let z = const_codes(g, &format!("{base}_zero_point"), d, vec![], &[zp], None)?;
    let qn = unique(g, &format!("{base}_quantized"));
    let qnode = g
        .add_op(
            unique(g, &format!("{base}_QuantizeLinear")),
            Op::QuantizeLinear(QuantizeLinear::default()),
            &[Some(v), Some(s), Some(z)],
            &[&qn],
        )
        .map_err(|e| gerr(&base, e))?;
    if let Some(val) = g.value_mut(qnode.out(0)) {
        val.quant = Some(qparams(d, QuantGranularity::PerTensor, vec![scale], vec![zp]));
        val.ty = ty
            .as_ref()
            .and_then(|t| t.as_tensor())
            .map(|t| ValueType::tensor(d, t.shape.clone()));
    }
    let dn = unique(g, &format!("{base}_dequantized"));
    let dnode = g
        .add_op(
            unique(g, &format!("{base}_DequantizeLinear")),
            Op::DequantizeLinear(DequantizeLinear::default()),
            &[Some(qnode.out(0)), Some(s), Some(z)],
            &[&dn],
        )
        .map_err(|e| gerr(&base, e))?;
    if let Some(val) = g.value_mut(dnode.out(0)) {
        val.ty = ty;
    }
    Ok(dnode.out(0))
}

/// Removes `quant` annotations from constants and values (for writers such as ONNX whose QDQ
/// nodes already carry the parameters); returns how many were removed.
pub fn strip_annotations(g: &mut Graph) -> usize {
    let ids: Vec<_> = g.node_ids().collect();
    let mut n = 0;
    for id in ids {
        let node = g.node_mut(id);
        if let Op::Constant(c) = &mut node.op
            && c.value.quant.take().is_some()
        {
            n += 1;
        }
        for v in &mut node.outputs {
            if v.quant.take().is_some() {
                n += 1;
            }
        }
    }
    n
}
