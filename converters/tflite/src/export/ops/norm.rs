//! BatchNormalization (inference) → MUL + ADD with per-channel constants folded from
//! scale/bias/mean/var, in the order the input is held (so it follows a channels-last conv
//! with no transpose). LRN → LOCAL_RESPONSE_NORMALIZATION on the channels-last tensor (radius
//! (size − 1)/2, alpha divided by size: TFLite's alpha is per element).

use super::super::lower::{LResult, Lower, err, opts};
use super::super::model::{BufData, Field};
use super::super::util::{f32_bytes, ident};
use crate::codes::{BuiltinOperator as B, BuiltinOptions as O, TensorType};
use edgeport_ir::NodeId;
use edgeport_ir::ops::Layout;

pub(crate) fn batch_norm(cx: &mut Lower, id: NodeId, b: &edgeport_ir::ops::defs::nn::BatchNormalization) -> LResult<()> {
    if b.training_mode != 0 {
        return err("training-mode BatchNormalization is not exported");
    }
    let x = cx.input(id, 0)?;
    let rank = cx.rank(x)?;
    if rank < 2 {
        return err("BatchNormalization needs rank ≥ 2");
    }
    let mut p = Vec::new();
    for slot in 1..5 {
        let v = cx.input(id, slot)?;
        match cx.const_f64(v) {
            Some(vals) => p.push(vals),
            None => return err("scale, bias, mean and var must be constants"),
        }
    }
    let c = p[0].len();
    if p.iter().any(|v| v.len() != c) {
        return err("scale, bias, mean and var differ in length");
    }
    let mul: Vec<f32> = (0..c).map(|i| (p[0][i] / (p[3][i] + b.epsilon as f64).sqrt()) as f32).collect();
    let add: Vec<f32> = (0..c).map(|i| (p[1][i] - p[2][i] * mul[i] as f64) as f32).collect();
    let ch = match b.layout {
        Layout::ChannelsFirst => 1,
        Layout::ChannelsLast => rank - 1,
    };
    let held = cx.perm_of(x).unwrap_or_else(|| ident(rank));
    let dims: Vec<i64> = held.iter().map(|&q| if q == ch { c as i64 } else { 1 }).collect();
    let xt = cx.get(x, &held)?;
    let name = cx.g.node(id).name.clone();
    let mt = cx.const_tensor(&format!("{name}_mul"), &dims, TensorType::FLOAT32, BufData::Owned(f32_bytes(&mul)));
    let at = cx.const_tensor(&format!("{name}_add"), &dims, TensorType::FLOAT32, BufData::Owned(f32_bytes(&add)));
    let xd = cx.dims(x)?;
    let hd: Vec<i64> = held.iter().map(|&q| xd[q]).collect();
    let tmp = cx.tensor(&format!("{name}_scaled"), &hd, TensorType::FLOAT32);
    cx.emit(B::MUL, vec![xt, mt], vec![tmp], Some(opts(O::MulOptions)));
    let (act, yv) = cx.fuse_activation(id);
    let yt = cx.out(yv, held)?;
    cx.emit(B::ADD, vec![tmp, at], vec![yt], Some(opts(O::AddOptions).with(0, Field::I8(act))));
    Ok(())
}

pub(crate) fn lrn(cx: &mut Lower, id: NodeId, l: &edgeport_ir::ops::defs::nn::LRN) -> LResult<()> {
    let x = cx.input(id, 0)?;
    let rank = cx.rank(x)?;
    if rank != 4 {
        return err(format!("only 4-D LRN is exported (rank {rank})"));
    }
    if l.size < 1 || l.size % 2 == 0 {
        return err(format!("LRN size {} is not odd; TFLite's window is symmetric", l.size));
    }
    if cx.dtype(x)? != edgeport_ir::DType::F32 {
        return err("LRN is exported for float32 only");
    }
    let perm = match l.layout {
        Layout::ChannelsFirst => vec![0, 2, 3, 1],
        Layout::ChannelsLast => ident(4),
    };
    let xt = cx.get(x, &perm)?;
    let yt = cx.out(edgeport_ir::ValueId { node: id, port: 0 }, perm)?;
    let o = opts(O::LocalResponseNormalizationOptions)
        .with(0, Field::I32(((l.size - 1) / 2) as i32))
        .with(1, Field::F32(l.bias))
        .with(2, Field::F32(l.alpha / l.size as f32))
        .with(3, Field::F32(l.beta));
    cx.emit(B::LOCAL_RESPONSE_NORMALIZATION, vec![xt], vec![yt], Some(o));
    Ok(())
}
