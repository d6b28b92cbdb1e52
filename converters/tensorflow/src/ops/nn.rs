//! Neural-network ops: convolutions (weights moved from TF's HWIO into ONNX's OIHW order), batch
//! norm, bias add, matmuls, pools, activations and softmax. NHWC nodes become IR ops with
//! `layout: ChannelsLast`, NCHW nodes `ChannelsFirst`.

use super::{Cx, Rule, elem_type, permute, same_inputs, scalar};
use edgeport_ir::ops::Layout;
use edgeport_ir::ops::math::{Add, Clip, Elu, LeakyRelu, LogSoftmax, MatMul, Relu, Selu, Sigmoid, Softmax, Softplus, Softsign, Tanh};
use edgeport_ir::ops::nn::{AveragePool, BatchNormalization, Conv, ConvTranspose, MaxPool};
use edgeport_ir::ops::tensor::Reshape;
use edgeport_ir::{Op, ValueId};

pub const OPS: &[&str] = &[
    "Conv2D",
    "Conv3D",
    "DepthwiseConv2dNative",
    "Conv2DBackpropInput",
    "FusedBatchNorm",
    "FusedBatchNormV2",
    "FusedBatchNormV3",
    "BiasAdd",
    "BiasAddV1",
    "MatMul",
    "BatchMatMul",
    "BatchMatMulV2",
    "BatchMatMulV3",
    "AvgPool",
    "AvgPool3D",
    "MaxPool",
    "MaxPool3D",
    "MaxPoolV2",
    "Relu",
    "Relu6",
    "Elu",
    "Selu",
    "LeakyRelu",
    "Sigmoid",
    "Tanh",
    "Softplus",
    "Softsign",
    "Softmax",
    "LogSoftmax",
];

pub fn rule(op: &str) -> Option<Rule> {
    Some(match op {
        "Conv2D" | "Conv3D" => conv,
        "DepthwiseConv2dNative" => depthwise,
        "Conv2DBackpropInput" => conv_transpose,
        "FusedBatchNorm" | "FusedBatchNormV2" | "FusedBatchNormV3" => batch_norm,
        "BiasAdd" | "BiasAddV1" => bias_add,
        "MatMul" => matmul,
        "BatchMatMul" | "BatchMatMulV2" | "BatchMatMulV3" => batch_matmul,
        "AvgPool" | "AvgPool3D" | "MaxPool" | "MaxPool3D" | "MaxPoolV2" => pool,
        "Relu" => |cx| same_inputs(cx, Op::Relu(Relu {})),
        "Relu6" => relu6,
        "Elu" => |cx| same_inputs(cx, Op::Elu(Elu::default())),
        "Selu" => |cx| same_inputs(cx, Op::Selu(Selu::default())),
        "LeakyRelu" => |cx| {
            let alpha = cx.attr_f("alpha").unwrap_or(0.2);
            same_inputs(cx, Op::LeakyRelu(LeakyRelu { alpha }))
        },
        "Sigmoid" => |cx| same_inputs(cx, Op::Sigmoid(Sigmoid {})),
        "Tanh" => |cx| same_inputs(cx, Op::Tanh(Tanh {})),
        "Softplus" => |cx| same_inputs(cx, Op::Softplus(Softplus {})),
        "Softsign" => |cx| same_inputs(cx, Op::Softsign(Softsign {})),
        "Softmax" => |cx| same_inputs(cx, Op::Softmax(Softmax { axis: -1 })),
        "LogSoftmax" => |cx| same_inputs(cx, Op::LogSoftmax(LogSoftmax { axis: -1 })),
        _ => return None,
    })
}

fn layout(cx: &Cx<'_>) -> Layout {
    if cx.channels_first() {
        Layout::ChannelsFirst
    } else {
        Layout::ChannelsLast
    }
}

/// Indices of the spatial axes of a rank-`rank` tensor in the node's data format.
fn spatial_axes(cx: &Cx<'_>, rank: usize) -> Vec<usize> {
    if cx.channels_first() {
        (2..rank).collect()
    } else {
        (1..rank - 1).collect()
    }
}

/// Picks the spatial entries of a per-axis attribute (`strides`, `dilations`, `ksize`).
fn spatial(cx: &Cx<'_>, v: &[i64], rank: usize, what: &str) -> Result<Vec<i64>, String> {
    if v.is_empty() {
        return Ok(vec![1; rank - 2]);
    }
    if v.len() != rank {
        return Err(format!("'{what}' has {} values, expected {rank}", v.len()));
    }
    Ok(spatial_axes(cx, rank).iter().map(|&a| v[a]).collect())
}

/// (auto_pad, pads) from `padding` / `explicit_paddings`.
fn padding(cx: &Cx<'_>, rank: usize) -> Result<(String, Vec<i64>), String> {
    match cx.attr_s("padding").as_deref() {
        Some("SAME") => Ok(("SAME_UPPER".into(), vec![])),
        Some("VALID") => Ok(("VALID".into(), vec![])),
        Some("EXPLICIT") => {
            let ep = cx.attr_ints("explicit_paddings");
            if ep.len() != 2 * rank {
                return Err(format!("explicit_paddings has {} values, expected {}", ep.len(), 2 * rank));
            }
            let ax = spatial_axes(cx, rank);
            let mut pads: Vec<i64> = ax.iter().map(|&a| ep[2 * a]).collect();
            pads.extend(ax.iter().map(|&a| ep[2 * a + 1]));
            Ok(("NOTSET".into(), pads))
        }
        other => Err(format!("unsupported padding {other:?}")),
    }
}

/// The filter moved into ONNX order by `perm` (a constant is permuted, a value transposed).
fn filter(cx: &mut Cx<'_>, w: ValueId, perm: &[usize]) -> Result<ValueId, String> {
    if let Some(t) = cx.konst(w) {
        let t = permute(t, perm)?;
        return Ok(cx.constant("filter", t));
    }
    let p: Vec<i64> = perm.iter().map(|&x| x as i64).collect();
    cx.transpose(w, &p, "filter")
}

fn conv(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let rank = if cx.node.op == "Conv3D" { 5 } else { 4 };
    let (x, w) = (cx.input(0)?, cx.input(1)?);
    let perm: Vec<usize> = if rank == 5 { vec![4, 3, 0, 1, 2] } else { vec![3, 2, 0, 1] };
    let w = filter(cx, w, &perm)?;
    let (auto_pad, pads) = padding(cx, rank)?;
    let op = Op::Conv(Conv {
        auto_pad,
        pads,
        strides: spatial(cx, &cx.attr_ints("strides"), rank, "strides")?,
        dilations: spatial(cx, &cx.attr_ints("dilations"), rank, "dilations")?,
        layout: layout(cx),
        ..Default::default()
    });
    cx.op1("", op, &[x, w]).map(|v| vec![v])
}

fn depthwise(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let (x, w) = (cx.input(0)?, cx.input(1)?);
    let (channels, w) = if let Some(t) = cx.konst(w) {
        let [h, wd, c, m] = t.shape[..] else {
            return Err(format!("depthwise filter has shape {:?}, expected [H, W, C, M]", t.shape));
        };
        let mut p = permute(t, &[2, 3, 0, 1])?;
        p.shape = vec![c * m, 1, h, wd];
        (c, cx.constant("filter", p))
    } else {
        let s = cx.static_shape(w).ok_or("depthwise filter needs a known shape")?;
        let [h, wd, c, m] = s[..] else {
            return Err(format!("depthwise filter has shape {s:?}, expected [H, W, C, M]"));
        };
        let t = cx.transpose(w, &[2, 3, 0, 1], "filter_t")?;
        let shape = cx.const_i64("filter_shape", &[(c * m) as i64, 1, h as i64, wd as i64], false)?;
        (c as usize, cx.op1("filter", Op::Reshape(Reshape::default()), &[t, shape])?)
    };
    let (auto_pad, pads) = padding(cx, 4)?;
    let op = Op::Conv(Conv {
        auto_pad,
        pads,
        group: channels as i64,
        strides: spatial(cx, &cx.attr_ints("strides"), 4, "strides")?,
        dilations: spatial(cx, &cx.attr_ints("dilations"), 4, "dilations")?,
        layout: layout(cx),
        ..Default::default()
    });
    cx.op1("", op, &[x, w]).map(|v| vec![v])
}

fn conv_transpose(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let sizes = cx.const_ints(0).map_err(|_| "input_sizes must be a constant".to_string())?;
    let (w, x) = (cx.input(1)?, cx.input(2)?);
    if sizes.len() != 4 {
        return Err(format!("input_sizes has {} values, expected 4", sizes.len()));
    }
    let w = filter(cx, w, &[3, 2, 0, 1])?;
    let out_spatial: Vec<i64> = spatial_axes(cx, 4).iter().map(|&a| sizes[a]).collect();
    let strides = spatial(cx, &cx.attr_ints("strides"), 4, "strides")?;
    let dilations = spatial(cx, &cx.attr_ints("dilations"), 4, "dilations")?;
    let (auto_pad, pads) = padding(cx, 4)?;
    let mut ct = ConvTranspose {
        strides: strides.clone(),
        dilations: dilations.clone(),
        layout: layout(cx),
        ..Default::default()
    };
    match auto_pad.as_str() {
        "SAME_UPPER" => {
            ct.auto_pad = auto_pad;
            ct.output_shape = out_spatial;
        }
        _ => {
            // VALID/EXPLICIT: out = s*(in-1) + k_eff - pads + output_padding; extra rows go last.
            let xs = cx
                .static_shape(x)
                .ok_or("VALID/EXPLICIT transposed convolution needs a known input shape")?;
            let ws = cx.konst(w).map(|t| t.shape.clone()).ok_or("filter must be constant")?;
            let ax = spatial_axes(cx, 4);
            let pads = if pads.is_empty() { vec![0; 4] } else { pads };
            let mut op = Vec::new();
            for i in 0..2 {
                let n_in = xs.get(ax[i]).copied().ok_or("bad input rank")? as i64;
                let k = ws.get(2 + i).copied().ok_or("bad filter rank")? as i64;
                let base = strides[i] * (n_in - 1) + (k - 1) * dilations[i] + 1 - pads[i] - pads[i + 2];
                let extra = out_spatial[i] - base;
                if extra < 0 || extra >= strides[i].max(1) {
                    return Err(format!("input_sizes {sizes:?} do not match the transposed convolution"));
                }
                op.push(extra);
            }
            ct.pads = pads;
            ct.output_padding = op;
        }
    }
    cx.op1("", Op::ConvTranspose(ct), &[x, w]).map(|v| vec![v])
}

fn batch_norm(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    if cx.attr_b("is_training") {
        return Err("is_training=true (training-mode batch norm) is not supported; export the model for inference".into());
    }
    let ins: Vec<ValueId> = (0..5).map(|i| cx.input(i)).collect::<Result<_, _>>()?;
    let op = Op::BatchNormalization(BatchNormalization {
        epsilon: cx.attr_f("epsilon").unwrap_or(1e-4),
        layout: layout(cx),
        ..Default::default()
    });
    let y = cx.op1("", op, &ins)?;
    // In inference mode the batch statistics outputs are the given mean and variance.
    Ok(vec![y, ins[3], ins[4], ins[3], ins[4], ins[4]])
}

fn bias_add(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let (x, b) = (cx.input(0)?, cx.input(1)?);
    let b = if cx.channels_first() {
        let r = cx.rank(x).ok_or("NCHW BiasAdd needs the input's rank")?;
        let mut shape = vec![-1i64];
        shape.extend(std::iter::repeat_n(1, r.saturating_sub(2)));
        let s = cx.const_i64("bias_shape", &shape, false)?;
        cx.op1("bias", Op::Reshape(Reshape::default()), &[b, s])?
    } else {
        b
    };
    cx.op1("", Op::Add(Add {}), &[x, b]).map(|v| vec![v])
}

fn swap_last(cx: &mut Cx<'_>, v: ValueId, suffix: &str) -> Result<ValueId, String> {
    if let Some(t) = cx.konst(v) {
        let r = t.shape.len();
        if r >= 2 {
            let mut perm: Vec<usize> = (0..r).collect();
            perm.swap(r - 2, r - 1);
            let t = permute(t, &perm)?;
            return Ok(cx.constant(suffix, t));
        }
    }
    let r = cx.rank(v).ok_or("transposed matmul operand needs a known rank")?;
    if r < 2 {
        return Err("matmul operand has rank < 2".into());
    }
    let mut perm: Vec<i64> = (0..r as i64).collect();
    perm.swap(r - 2, r - 1);
    cx.transpose(v, &perm, suffix)
}

fn matmul_with(cx: &mut Cx<'_>, ta: bool, tb: bool) -> Result<Vec<ValueId>, String> {
    let (mut a, mut b) = (cx.input(0)?, cx.input(1)?);
    if ta {
        a = swap_last(cx, a, "a_t")?;
    }
    if tb {
        b = swap_last(cx, b, "b_t")?;
    }
    cx.op1("", Op::MatMul(MatMul {}), &[a, b]).map(|v| vec![v])
}

fn matmul(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let (ta, tb) = (cx.attr_b("transpose_a"), cx.attr_b("transpose_b"));
    matmul_with(cx, ta, tb)
}

fn batch_matmul(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let (ta, tb) = (cx.attr_b("adj_x"), cx.attr_b("adj_y"));
    matmul_with(cx, ta, tb)
}

fn pool(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let rank = if cx.node.op.ends_with("3D") { 5 } else { 4 };
    let x = cx.input(0)?;
    let (ksize, strides) = if cx.node.op == "MaxPoolV2" {
        (cx.const_ints(1)?, cx.const_ints(2)?)
    } else {
        (cx.attr_ints("ksize"), cx.attr_ints("strides"))
    };
    let kernel_shape = spatial(cx, &ksize, rank, "ksize")?;
    let strides = spatial(cx, &strides, rank, "strides")?;
    let (auto_pad, pads) = padding(cx, rank)?;
    let op = if cx.node.op.starts_with("Avg") {
        Op::AveragePool(AveragePool {
            auto_pad,
            pads,
            kernel_shape,
            strides,
            count_include_pad: 0,
            layout: layout(cx),
            ..Default::default()
        })
    } else {
        Op::MaxPool(MaxPool {
            auto_pad,
            pads,
            kernel_shape,
            strides,
            layout: layout(cx),
            ..Default::default()
        })
    };
    cx.op1("", op, &[x]).map(|v| vec![v])
}

fn relu6(cx: &mut Cx<'_>) -> Result<Vec<ValueId>, String> {
    let x = cx.input(0)?;
    let dt = elem_type(cx);
    let lo = scalar(cx, dt, 0.0, "min")?;
    let hi = scalar(cx, dt, 6.0, "max")?;
    cx.op1("", Op::Clip(Clip {}), &[x, lo, hi]).map(|v| vec![v])
}
