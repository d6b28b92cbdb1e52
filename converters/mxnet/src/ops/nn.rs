//! Neural-network ops: Convolution/Deconvolution (1-D to 3-D, NCHW layouts), Pooling (max/avg
//! with `pooling_convention` valid/full/same, `global_pool`, `count_include_pad`),
//! FullyConnected (`flatten`, `no_bias`) and BatchNorm (`fix_gamma`, `eps`, `axis`).

use super::N;
use crate::build::{Ctx, axis, float, int, ints};
use edgeport_ir::ValueId;

/// A per-spatial-dim attribute (kernel, stride, pad, …), each value within ±2^31.
fn spatial(n: &N<'_>, k: &str, rank: usize, default: i64) -> Result<Vec<i64>, String> {
    let v = spatial_raw(n, k, rank, default)?;
    if v.iter().any(|&x| x.unsigned_abs() > i32::MAX as u64) {
        return Err(format!("attribute '{k}' {v:?} is out of range"));
    }
    Ok(v)
}

fn spatial_raw(n: &N<'_>, k: &str, rank: usize, default: i64) -> Result<Vec<i64>, String> {
    match n.ints(k)? {
        Some(v) if v.is_empty() => Ok(vec![default; rank]),
        Some(v) if v.len() == rank || rank == 0 => Ok(v),
        Some(v) => Err(format!("attribute '{k}' has {} values for {rank} spatial dims", v.len())),
        None => Ok(vec![default; rank]),
    }
}

fn check_layout(n: &N<'_>) -> Result<(), String> {
    match n.attr("layout") {
        None | Some("NCW" | "NCHW" | "NCDHW") => Ok(()),
        Some(l) => Err(format!("layout {l} is not supported (only channels-first)")),
    }
}

pub fn conv(cx: &mut Ctx, n: &N<'_>) -> Result<Vec<ValueId>, String> {
    check_layout(n)?;
    let deconv = n.node.op == "Deconvolution";
    let kernel = n.ints("kernel")?.ok_or("missing attribute 'kernel'")?;
    let r = kernel.len();
    if r == 0 || kernel.iter().any(|&k| k <= 0 || k > i64::from(i32::MAX)) {
        return Err(format!("bad kernel {kernel:?}"));
    }
    let stride = spatial(n, "stride", r, 1)?;
    let dilate = spatial(n, "dilate", r, 1)?;
    let pad = spatial(n, "pad", r, 0)?;
    if stride.iter().chain(&dilate).any(|&v| v <= 0) || pad.iter().any(|&v| v < 0) {
        return Err("stride/dilate must be positive and pad non-negative".into());
    }
    let group = n.int("num_group", 1)?;
    let no_bias = n.bool("no_bias", deconv)?;
    let x = n.input(0)?;
    let w = n.input(1)?;
    let b = if no_bias { None } else { Some(n.input(2)?) };
    let mut pads = pad.clone();
    pads.extend(&pad);
    let mut attrs = vec![
        ints("kernel_shape", &kernel),
        ints("strides", &stride),
        ints("pads", &pads),
        ints("dilations", &dilate),
        int("group", group),
    ];
    if deconv {
        if n.attr("target_shape").is_some_and(parse_nonempty) {
            return Err("Deconvolution with target_shape is not supported".into());
        }
        let adj = spatial(n, "adj", r, 0)?;
        if adj.iter().any(|&a| a != 0) {
            attrs.push(ints("output_padding", &adj));
        }
    }
    let op = if deconv { "ConvTranspose" } else { "Conv" };
    cx.op_n("", op, attrs, &[Some(x), Some(w), b], 1)
}

fn parse_nonempty(s: &str) -> bool {
    crate::symbol::parse_ints(s).is_ok_and(|v| !v.is_empty() && v.iter().any(|&d| d != 0))
}

pub fn pooling(cx: &mut Ctx, n: &N<'_>) -> Result<Vec<ValueId>, String> {
    check_layout(n)?;
    let x = n.input(0)?;
    let kind = n.str("pool_type", "max");
    let max = match kind.as_str() {
        "max" => true,
        "avg" => false,
        other => return Err(format!("pool_type '{other}' is not supported")),
    };
    if n.bool("global_pool", false)? {
        let op = if max { "GlobalMaxPool" } else { "GlobalAveragePool" };
        return Ok(vec![cx.op("", op, vec![], &[x])?]);
    }
    let kernel = spatial(n, "kernel", 0, 0)?;
    let r = kernel.len();
    if r == 0 {
        return Err("missing attribute 'kernel'".into());
    }
    let stride = spatial(n, "stride", r, 1)?;
    let pad = spatial(n, "pad", r, 0)?;
    if kernel.iter().chain(&stride).any(|&v| v <= 0) || pad.iter().any(|&v| v < 0) {
        return Err("kernel/stride must be positive and pad non-negative".into());
    }
    let shape = cx.shape(x)?;
    if shape.len() != r + 2 {
        return Err(format!("{r}-D kernel for an input of shape {shape:?}"));
    }
    let conv = n.str("pooling_convention", "valid");
    let include_pad = n.bool("count_include_pad", true)?;
    // Output sizes and end pads; `full` rounds up (windows may pass the padded end).
    let mut outs = Vec::new();
    let mut end_pads = Vec::new();
    for i in 0..r {
        let len = shape[i + 2] as i64;
        let span = len + 2 * pad[i] - kernel[i];
        if span < 0 {
            return Err(format!("kernel {} is larger than the padded input {}", kernel[i], len + 2 * pad[i]));
        }
        let out = match conv.as_str() {
            "valid" => span / stride[i] + 1,
            "full" => (span + stride[i] - 1) / stride[i] + 1,
            "same" => (len + stride[i] - 1) / stride[i],
            other => return Err(format!("pooling_convention '{other}' is not supported")),
        };
        let (begin, end) = if conv == "same" {
            let total = ((out - 1) * stride[i] + kernel[i] - len).max(0);
            (total / 2, total - total / 2)
        } else {
            (pad[i], ((out - 1) * stride[i] + kernel[i] - len - pad[i]).max(0))
        };
        outs.push((out, begin));
        end_pads.push(end);
    }
    let mut pads: Vec<i64> = outs.iter().map(|o| o.1).collect();
    pads.extend(&end_pads);
    let mut attrs = vec![ints("kernel_shape", &kernel), ints("strides", &stride), ints("pads", &pads)];
    if max {
        return Ok(vec![cx.op("", "MaxPool", attrs, &[x])?]);
    }
    attrs.push(int("count_include_pad", 0));
    let avg = cx.op("avg", "AveragePool", attrs, &[x])?;
    if !include_pad || conv == "same" {
        return Ok(vec![avg]);
    }
    // count_include_pad: MXNet divides by the window clipped to the padded extent.
    let total = outs.iter().try_fold(1i64, |a, o| a.checked_mul(o.0)).filter(|&t| t <= 1 << 24);
    if total.is_none() {
        return Err("output too large for a divisor table".into());
    }
    let mut ratio = vec![1f32];
    let mut dims = vec![1usize, 1];
    let mut trivial = true;
    for i in 0..r {
        let len = shape[i + 2] as i64;
        let (out, begin) = outs[i];
        let mut next = Vec::with_capacity(ratio.len() * out as usize);
        for &acc in &ratio {
            for o in 0..out {
                let start = o * stride[i] - begin;
                let end = (start + kernel[i]).min(len + pad[i]);
                let real = end.min(len) - start.max(0);
                let full = end - start;
                if full <= 0 {
                    return Err("an output window lies entirely outside the input".into());
                }
                trivial &= real == full;
                next.push(acc * real as f32 / full as f32);
            }
        }
        ratio = next;
        dims.push(out as usize);
    }
    if trivial {
        return Ok(vec![avg]);
    }
    let rv = cx.f32s("divisor", dims, &ratio)?;
    Ok(vec![cx.op("", "Mul", vec![], &[avg, rv])?])
}

pub fn fully_connected(cx: &mut Ctx, n: &N<'_>) -> Result<Vec<ValueId>, String> {
    let x = n.input(0)?;
    let w = n.input(1)?;
    let no_bias = n.bool("no_bias", false)?;
    let b = if no_bias { None } else { Some(n.input(2)?) };
    if n.bool("flatten", true)? {
        let xs = cx.shape(x)?;
        let flat = if xs.len() == 2 {
            x
        } else {
            cx.op("flatten", "Flatten", vec![int("axis", 1)], &[x])?
        };
        return cx.op_n("", "Gemm", vec![int("transB", 1)], &[Some(flat), Some(w), b], 1);
    }
    // Applied to the last axis.
    let wt = cx.op("weight_t", "Transpose", vec![ints("perm", &[1, 0])], &[w])?;
    match b {
        None => Ok(vec![cx.op("", "MatMul", vec![], &[x, wt])?]),
        Some(b) => {
            let y = cx.op("matmul", "MatMul", vec![], &[x, wt])?;
            Ok(vec![cx.op("", "Add", vec![], &[y, b])?])
        }
    }
}

pub fn batch_norm(cx: &mut Ctx, n: &N<'_>) -> Result<Vec<ValueId>, String> {
    let x = n.input(0)?;
    let (gamma, beta, mean, var) = (n.input(1)?, n.input(2)?, n.input(3)?, n.input(4)?);
    let shape = cx.shape(x)?;
    let ax = axis(n.int("axis", 1)?, shape.len())?;
    if ax != 1 {
        return Err(format!("BatchNorm over axis {ax} is not supported (only 1)"));
    }
    let eps = n.float("eps", 1e-3)? as f32;
    let gamma = if n.bool("fix_gamma", true)? {
        let c = cx.shape(gamma)?;
        let n = c
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .filter(|&n| n <= 1 << 24)
            .ok_or("gamma too large")?;
        let ones = vec![1f32; n];
        cx.f32s("gamma_fixed", c, &ones)?
    } else {
        gamma
    };
    cx.op_n(
        "",
        "BatchNormalization",
        vec![float("epsilon", eps)],
        &[Some(x), Some(gamma), Some(beta), Some(mean), Some(var)],
        1,
    )
}
