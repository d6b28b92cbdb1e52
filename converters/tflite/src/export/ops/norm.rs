//! BatchNormalization (inference) → MUL + ADD with per-channel constants folded from
//! scale/bias/mean/var, in the order the input is held (so it follows a channels-last conv
//! with no transpose).

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
