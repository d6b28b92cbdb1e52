//! nn ops (see ops/mod.rs for the grouping): convolutions, pools, normalizations, attention,
//! Resize/GridSample/AffineGrid, detection ops and the rest of the nn family.
//!
//! | file | ops |
//! |---|---|
//! | `common` | shared geometry, GEMM and channels-last helpers |
//! | `conv` | Conv, ConvInteger, QLinearConv |
//! | `conv_transpose` | ConvTranspose |
//! | `pool` | AveragePool, MaxPool, LpPool, global pools, MaxUnpool |
//! | `norm` | BatchNormalization, InstanceNormalization, LayerNormalization, GroupNormalization, RMSNormalization, LpNormalization, MeanVarianceNormalization, LRN |
//!
//! Layout-sensitive ops with `layout: ChannelsLast` run on a channels-first transpose of their
//! data input, and their output is transposed back.

pub mod attention;
pub mod common;
pub mod conv;
pub mod conv_transpose;
pub mod deform;
pub mod detection;
pub mod grid;
pub mod misc;
pub mod norm;
pub mod pool;
mod pool2d_f32;
pub mod resize;
#[cfg(test)]
mod tests;
pub mod winograd;

use super::OpResult;
use crate::interp::NodeCtx;
use common::{outs, with_layout};
use conv::ConvAttrs;
use edgeport_ir::Op;
use pool::{Kind, PoolAttrs};

/// Runs the op if it belongs to this group.
/// The geometry attributes that AveragePool, LpPool and MaxPool share.
macro_rules! pool_attrs {
    ($a:expr, $storage_order:expr) => {
        PoolAttrs {
            auto_pad: &$a.auto_pad,
            ceil_mode: $a.ceil_mode != 0,
            dilations: &$a.dilations,
            kernel_shape: &$a.kernel_shape,
            pads: &$a.pads,
            strides: &$a.strides,
            storage_order: $storage_order,
        }
    };
}

pub fn run(op: &Op, cx: &mut NodeCtx<'_>) -> Option<OpResult> {
    let cx: &NodeCtx<'_> = cx;
    Some(match op {
        Op::Conv(a) => (|| {
            let ca = ConvAttrs {
                auto_pad: &a.auto_pad,
                dilations: &a.dilations,
                group: a.group,
                kernel_shape: &a.kernel_shape,
                pads: &a.pads,
                strides: &a.strides,
            };
            let (w, b) = (cx.tensor(1)?, cx.opt_tensor(2)?);
            // A Winograd weight transform is made once per cached constant weight.
            let filter = |tile: winograd::Tile| cx.derived(1, tile.key(), || winograd::Filter::new(tile, &conv::f32s(w)?, w.shape()));
            with_layout(a.layout, cx.tensor(0)?, 1, |x| {
                Ok(vec![conv::conv_with(&ca, x, w, b, cx.is_cached_const(1), filter)?])
            })
        })(),
        Op::ConvInteger(a) => (|| {
            let ca = ConvAttrs {
                auto_pad: &a.auto_pad,
                dilations: &a.dilations,
                group: a.group,
                kernel_shape: &a.kernel_shape,
                pads: &a.pads,
                strides: &a.strides,
            };
            let (w, xz, wz) = (cx.tensor(1)?, cx.opt_tensor(2)?, cx.opt_tensor(3)?);
            with_layout(a.layout, cx.tensor(0)?, 1, |x| Ok(vec![conv::conv_integer(&ca, x, w, xz, wz)?]))
        })(),
        Op::QLinearConv(a) => (|| {
            let ca = ConvAttrs {
                auto_pad: &a.auto_pad,
                dilations: &a.dilations,
                group: a.group,
                kernel_shape: &a.kernel_shape,
                pads: &a.pads,
                strides: &a.strides,
            };
            let t: Vec<_> = (1..8).map(|i| cx.tensor(i)).collect::<Result<_, _>>()?;
            let b = cx.opt_tensor(8)?;
            with_layout(a.layout, cx.tensor(0)?, 1, |x| {
                Ok(vec![conv::qlinear_conv(&ca, x, t[0], t[1], t[2], t[3], t[4], t[5], t[6], b)?])
            })
        })(),
        Op::ConvTranspose(a) => (|| {
            let (w, b) = (cx.tensor(1)?, cx.opt_tensor(2)?);
            with_layout(a.layout, cx.tensor(0)?, 1, |x| {
                Ok(vec![conv_transpose::conv_transpose(a, x, w, b)?])
            })
        })(),
        Op::AveragePool(a) => {
            let pa = pool_attrs!(a, 0);
            let k = Kind::Avg {
                include_pad: a.count_include_pad != 0,
            };
            cx.tensor(0)
                .and_then(|x| with_layout(a.layout, x, 1, |x| pool::pool(k, &pa, x, false)))
        }
        Op::LpPool(a) => {
            let pa = pool_attrs!(a, 0);
            let k = Kind::Lp(a.p as f64);
            cx.tensor(0)
                .and_then(|x| with_layout(a.layout, x, 1, |x| pool::pool(k, &pa, x, false)))
        }
        Op::MaxPool(a) => {
            let pa = pool_attrs!(a, a.storage_order);
            let want = cx.wants_output(1);
            cx.tensor(0)
                .and_then(|x| with_layout(a.layout, x, 2, |x| pool::pool(Kind::Max, &pa, x, want)))
        }
        Op::GlobalAveragePool(a) => cx.tensor(0).and_then(|x| {
            with_layout(a.layout, x, 1, |x| {
                Ok(vec![pool::global_pool(Kind::Avg { include_pad: false }, x)?])
            })
        }),
        Op::GlobalMaxPool(a) => cx
            .tensor(0)
            .and_then(|x| with_layout(a.layout, x, 1, |x| Ok(vec![pool::global_pool(Kind::Max, x)?]))),
        Op::GlobalLpPool(a) => cx
            .tensor(0)
            .and_then(|x| with_layout(a.layout, x, 1, |x| Ok(vec![pool::global_pool(Kind::Lp(a.p as f64), x)?]))),
        Op::MaxUnpool(a) => (|| {
            let (i, os) = (cx.tensor(1)?, cx.opt_tensor(2)?);
            with_layout(a.layout, cx.tensor(0)?, 1, |x| {
                let il = match a.layout {
                    edgeport_ir::ops::Layout::ChannelsFirst => i.clone(),
                    edgeport_ir::ops::Layout::ChannelsLast => common::to_channels_first(i)?,
                };
                Ok(vec![pool::max_unpool(&a.kernel_shape, &a.pads, &a.strides, x, &il, os)?])
            })
        })(),
        Op::BatchNormalization(a) => (|| {
            let t: Vec<_> = (1..5).map(|i| cx.tensor(i)).collect::<Result<_, _>>()?;
            let n = cx.n_outputs();
            with_layout(a.layout, cx.tensor(0)?, 1, |x| {
                norm::batch_norm(
                    a.epsilon as f64,
                    a.momentum as f64,
                    a.training_mode != 0,
                    x,
                    t[0],
                    t[1],
                    t[2],
                    t[3],
                    n,
                )
            })
        })(),
        Op::InstanceNormalization(a) => (|| {
            let (s, b) = (cx.tensor(1)?, cx.tensor(2)?);
            with_layout(a.layout, cx.tensor(0)?, 1, |x| {
                Ok(vec![norm::instance_norm(a.epsilon as f64, x, s, b)?])
            })
        })(),
        Op::LRN(a) => (|| {
            with_layout(a.layout, cx.tensor(0)?, 1, |x| {
                Ok(vec![norm::lrn(a.alpha as f64, a.beta as f64, a.bias as f64, a.size, x)?])
            })
        })(),
        Op::LayerNormalization(a) => (|| {
            let r = norm::layer_norm(
                a.axis,
                a.epsilon as f64,
                a.stash_type,
                cx.tensor(0)?,
                cx.tensor(1)?,
                cx.opt_tensor(2)?,
            )?;
            outs(r)
        })(),
        Op::GroupNormalization(a) => (|| {
            outs(vec![norm::group_norm(
                a.epsilon as f64,
                a.num_groups,
                cx.tensor(0)?,
                cx.tensor(1)?,
                cx.tensor(2)?,
            )?])
        })(),
        Op::RMSNormalization(a) => (|| outs(vec![norm::rms_norm(a.axis, a.epsilon as f64, cx.tensor(0)?, cx.tensor(1)?)?]))(),
        Op::LpNormalization(a) => (|| outs(vec![norm::lp_norm(a.axis, a.p, cx.tensor(0)?)?]))(),
        Op::MeanVarianceNormalization(a) => (|| outs(vec![norm::mvn(&a.axes, cx.tensor(0)?)?]))(),
        Op::Attention(a) => (|| {
            let ins = [
                cx.opt_tensor(0)?,
                cx.opt_tensor(1)?,
                cx.opt_tensor(2)?,
                cx.opt_tensor(3)?,
                cx.opt_tensor(4)?,
                cx.opt_tensor(5)?,
                cx.opt_tensor(6)?,
            ];
            outs(attention::attention(a, ins)?)
        })(),
        Op::RotaryEmbedding(a) => (|| {
            outs(vec![attention::rotary(
                a,
                cx.tensor(0)?,
                cx.tensor(1)?,
                cx.tensor(2)?,
                cx.opt_tensor(3)?,
            )?])
        })(),
        Op::Resize(a) => (|| {
            outs(vec![resize::resize(
                a,
                cx.tensor(0)?,
                cx.opt_tensor(1)?,
                cx.opt_tensor(2)?,
                cx.opt_tensor(3)?,
            )?])
        })(),
        Op::GridSample(a) => (|| {
            let g = cx.tensor(1)?;
            with_layout(a.layout, cx.tensor(0)?, 1, |x| Ok(vec![grid::grid_sample(a, x, g)?]))
        })(),
        Op::AffineGrid(a) => (|| outs(vec![grid::affine_grid(a, cx.tensor(0)?, cx.tensor(1)?)?]))(),
        Op::NonMaxSuppression(a) => (|| {
            outs(vec![detection::nms(
                a.center_point_box,
                cx.tensor(0)?,
                cx.tensor(1)?,
                cx.opt_tensor(2)?,
                cx.opt_tensor(3)?,
                cx.opt_tensor(4)?,
            )?])
        })(),
        Op::RoiAlign(a) => (|| {
            let (r, b) = (cx.tensor(1)?, cx.tensor(2)?);
            with_layout(a.layout, cx.tensor(0)?, 1, |x| Ok(vec![detection::roi_align(a, x, r, b)?]))
        })(),
        Op::Dropout(a) => (|| outs(misc::dropout(a.seed, cx.tensor(0)?, cx.opt_tensor(1)?, cx.opt_tensor(2)?)?))(),
        Op::Col2Im(a) => (|| outs(vec![misc::col2im(a, cx.tensor(0)?, cx.tensor(1)?, cx.tensor(2)?)?]))(),
        Op::TfIdfVectorizer(a) => (|| outs(vec![misc::tfidf(a, cx.tensor(0)?)?]))(),
        Op::MaxRoiPool(a) => (|| {
            let r = cx.tensor(1)?;
            with_layout(a.layout, cx.tensor(0)?, 1, |x| {
                Ok(vec![misc::max_roi_pool(&a.pooled_shape, a.spatial_scale as f64, x, r)?])
            })
        })(),
        Op::CausalConvWithState(a) => (|| {
            outs(misc::causal_conv(
                &a.activation,
                cx.tensor(0)?,
                cx.tensor(1)?,
                cx.opt_tensor(2)?,
                cx.opt_tensor(3)?,
            )?)
        })(),
        Op::LinearAttention(a) => (|| {
            let ins = [
                cx.opt_tensor(0)?,
                cx.opt_tensor(1)?,
                cx.opt_tensor(2)?,
                cx.opt_tensor(3)?,
                cx.opt_tensor(4)?,
                cx.opt_tensor(5)?,
            ];
            outs(misc::linear_attention(a, ins)?)
        })(),
        Op::ImageDecoder(_) => Err(crate::OpError::unsupported(
            "ImageDecoder (image decoding is not built into the evaluator)",
        )),
        Op::DeformConv(a) => (|| {
            let (w, o, b, m) = (cx.tensor(1)?, cx.tensor(2)?, cx.opt_tensor(3)?, cx.opt_tensor(4)?);
            with_layout(a.layout, cx.tensor(0)?, 1, |x| {
                let o = match a.layout {
                    edgeport_ir::ops::Layout::ChannelsFirst => o.clone(),
                    edgeport_ir::ops::Layout::ChannelsLast => common::to_channels_first(o)?,
                };
                let m = match (a.layout, m) {
                    (edgeport_ir::ops::Layout::ChannelsLast, Some(m)) => Some(common::to_channels_first(m)?),
                    (_, m) => m.cloned(),
                };
                Ok(vec![deform::deform_conv(a, x, w, &o, b, m.as_ref())?])
            })
        })(),
        Op::Flatten(a) => (|| {
            let x = cx.tensor(0)?;
            let r = x.rank();
            let ax = if a.axis < 0 { a.axis + r as i64 } else { a.axis };
            if ax < 0 || ax > r as i64 {
                return Err(crate::OpError::invalid(format!(
                    "Flatten axis {} out of range for rank {r}",
                    a.axis
                )));
            }
            let ax = ax as usize;
            let s = x.shape();
            let shape = [s[..ax].iter().product::<usize>(), s[ax..].iter().product::<usize>()];
            outs(vec![x.reshape(&shape)?])
        })(),
        Op::Shrink(a) => (|| {
            let x = cx.tensor(0)?;
            let (l, b) = (a.lambd as f64, a.bias as f64);
            let v = x
                .to_f64_vec()?
                .into_iter()
                .map(|v| {
                    if v < -l {
                        v + b
                    } else if v > l {
                        v - b
                    } else {
                        0.0
                    }
                })
                .collect();
            outs(vec![crate::Tensor::from_f64(x.dtype(), x.shape(), v)?])
        })(),
        _ => return None,
    })
}
