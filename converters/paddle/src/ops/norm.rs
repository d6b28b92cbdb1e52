//! Normalizations: `batch_norm` (inference: running statistics) and `layer_norm`.

use super::{Rule, check_nchw};
use crate::build::{Attrs, Ctx, RuleResult};
use crate::program::OpDesc;
use edgeport_ir::Op;
use edgeport_ir::ops::defs::nn::{BatchNormalization, LayerNormalization};
use edgeport_ir::ops::defs::tensor::Reshape;

pub const RULES: &[(&str, Rule)] = &[("batch_norm", batch_norm), ("layer_norm", layer_norm)];

fn batch_norm(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    check_nchw(op)?;
    let x = cx.input(op, "X")?;
    let scale = cx.input(op, "Scale")?;
    let bias = cx.input(op, "Bias")?;
    let mean = cx.input(op, "Mean")?;
    let var = cx.input(op, "Variance")?;
    let bn = BatchNormalization {
        epsilon: op.float("epsilon", 1e-5) as f32,
        ..Default::default()
    };
    cx.emit(
        op,
        "Y",
        Op::BatchNormalization(bn),
        &[Some(x), Some(scale), Some(bias), Some(mean), Some(var)],
    )
}

fn layer_norm(cx: &mut Ctx<'_>, op: &OpDesc) -> RuleResult {
    let x = cx.input(op, "X")?;
    let rank = cx.input_rank(op, "X")?;
    let begin = op.int("begin_norm_axis", 1);
    let begin = if begin < 0 { begin + rank as i64 } else { begin };
    if begin < 0 || begin >= rank as i64 {
        return Err(format!("begin_norm_axis {begin} is out of range for rank {rank}"));
    }
    let out = cx.out_name(op, "Y")?;
    // Paddle keeps scale/bias flattened to one dimension; ONNX wants the normalized shape.
    let norm_dims: Vec<i64> = cx.input_dims(op, "X").map(|d| d[begin as usize..].to_vec()).unwrap_or_default();
    let multi = rank - begin as usize > 1;
    if multi && norm_dims.iter().any(|&d| d < 0) {
        return Err("layer_norm over several axes needs their sizes declared".into());
    }
    let reshape = |cx: &mut Ctx<'_>, v: Option<edgeport_ir::ValueId>, what: &str| -> Result<Option<edgeport_ir::ValueId>, String> {
        match v {
            Some(v) if multi => {
                let s = cx.const_i64(&format!("{out}/{what}_shape"), &norm_dims);
                Ok(Some(cx.node(
                    &format!("{out}/{what}"),
                    Op::Reshape(Reshape::default()),
                    &[Some(v), Some(s)],
                )?))
            }
            v => Ok(v),
        }
    };
    let dtype = cx.input_dtype(op, "X");
    let scale = match cx.opt_input(op, "Scale")? {
        Some(s) => Some(s),
        None => {
            // ONNX requires Scale: ones of the normalized shape.
            let n: i64 = norm_dims.iter().product();
            if norm_dims.iter().any(|&d| d < 0) || n <= 0 {
                return Err("layer_norm without Scale needs the normalized sizes declared".into());
            }
            let t = crate::build::scalar_tensor(dtype, 1.0, vec![n as usize])?;
            let name = cx.unique(&format!("{out}/ones"));
            Some(cx.g.add_constant(name, t))
        }
    };
    let scale = reshape(cx, scale, "scale")?;
    let bias = cx.opt_input(op, "Bias")?;
    let bias = reshape(cx, bias, "bias")?;
    let ln = LayerNormalization {
        axis: begin,
        epsilon: op.float("epsilon", 1e-5) as f32,
        ..Default::default()
    };
    cx.emit(op, "Y", Op::LayerNormalization(ln), &[Some(x), scale, bias])
}
