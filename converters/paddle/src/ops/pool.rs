//! Pooling: `pool2d` (max/avg; global, adaptive, ceil_mode, exclusive, padding algorithms).

use super::{Rule, auto_pad, check_nchw, onnx_pads_2d};
use crate::build::{Attrs, Ctx, RuleResult};
use crate::program::OpDesc;
use edgeport_ir::Op;
use edgeport_ir::ops::defs::nn::{AveragePool, GlobalAveragePool, GlobalMaxPool, MaxPool};

pub const RULES: &[(&str, Rule)] = &[("pool2d", pool2d)];

fn pool2d(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    check_nchw(op)?;
    let x = cx.input(op, "X")?;
    let kind = op.string("pooling_type", "max");
    let is_max = match kind.as_str() {
        "max" => true,
        "avg" => false,
        o => return Err(format!("pooling_type '{o}' is not supported")),
    };
    let mut ksize = cx.ints_attr_or_input(op, "ksize", "KsizeTensor")?.unwrap_or_default();
    let global = op.boolean("global_pooling", false);
    let adaptive = op.boolean("adaptive", false);
    if global || (adaptive && ksize.iter().all(|&k| k == 1)) {
        let ir = if is_max {
            Op::GlobalMaxPool(GlobalMaxPool::default())
        } else {
            Op::GlobalAveragePool(GlobalAveragePool::default())
        };
        return cx.emit(op, "Out", ir, &[Some(x)]);
    }
    let mut strides = op.ints("strides");
    let mut pads = onnx_pads_2d(&op.ints("paddings"))?;
    let mut auto = auto_pad(op)?;
    if adaptive {
        // Adaptive pooling is a plain pooling when the input divides into the output.
        let dims = cx.input_dims(op, "X").ok_or("adaptive pool2d needs the input shape declared")?;
        if dims.len() != 4 || ksize.len() != 2 {
            return Err(format!("adaptive pool2d of input {dims:?} to {ksize:?} is not supported"));
        }
        let mut k = Vec::with_capacity(2);
        for (i, &o) in ksize.iter().enumerate() {
            let n = dims[2 + i];
            if n <= 0 || o <= 0 || n % o != 0 {
                return Err(format!("adaptive pool2d from size {n} to {o} (not a divisor) is not supported"));
            }
            k.push(n / o);
        }
        ksize = k.clone();
        strides = k;
        pads = vec![0; 4];
        auto = None;
    }
    if ksize.len() != 2 {
        return Err(format!("ksize {ksize:?} must have 2 entries"));
    }
    if strides.is_empty() {
        strides = vec![1, 1];
    }
    let ceil_mode = i64::from(op.boolean("ceil_mode", false));
    let (auto_pad, pads) = match auto {
        Some(a) => (a.to_string(), Vec::new()),
        None => ("NOTSET".to_string(), pads),
    };
    let ir = if is_max {
        Op::MaxPool(MaxPool {
            auto_pad,
            ceil_mode,
            kernel_shape: ksize,
            pads,
            strides,
            ..Default::default()
        })
    } else {
        Op::AveragePool(AveragePool {
            auto_pad,
            ceil_mode,
            count_include_pad: i64::from(!op.boolean("exclusive", true)),
            kernel_shape: ksize,
            pads,
            strides,
            ..Default::default()
        })
    };
    cx.emit(op, "Out", ir, &[Some(x)])
}
