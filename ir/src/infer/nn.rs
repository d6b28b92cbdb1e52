//! Shapes of the neural-network ops: MatMul/Gemm (and their integer and quantized forms), Conv
//! and ConvTranspose, pools (pads, strides, dilations, auto_pad, ceil_mode), global pools,
//! normalizations and the recurrent ops.

use super::elementwise::broadcast;
use super::{Cx, Rule, axis, one};
use crate::ops::{Layout, Op};
use crate::shape::{Dim, Shape};

fn matmul(a: &[Dim], b: &[Dim]) -> Result<Option<Shape>, String> {
    if a.is_empty() || b.is_empty() {
        return Err("MatMul of a scalar".into());
    }
    let (mut a2, mut b2) = (a.to_vec(), b.to_vec());
    let (va, vb) = (a.len() == 1, b.len() == 1);
    if va {
        a2.insert(0, Dim::Known(1));
    }
    if vb {
        b2.push(Dim::Known(1));
    }
    let (ka, kb) = (&a2[a2.len() - 1], &b2[b2.len() - 2]);
    if let (Dim::Known(x), Dim::Known(y)) = (ka, kb)
        && x != y
    {
        return Err(format!("MatMul inner dimensions differ: {x} vs {y}"));
    }
    let Some(batch) = broadcast(&Shape(a2[..a2.len() - 2].to_vec()), &Shape(b2[..b2.len() - 2].to_vec()))? else {
        return Ok(None);
    };
    let mut out = batch.0;
    if !va {
        out.push(a2[a2.len() - 2].clone());
    }
    if !vb {
        out.push(b2[b2.len() - 1].clone());
    }
    Ok(Some(Shape(out)))
}

/// Pooling/convolution window attributes.
struct Window<'a> {
    kernel: Vec<i64>,
    strides: &'a [i64],
    dilations: &'a [i64],
    pads: &'a [i64],
    auto_pad: &'a str,
    ceil: bool,
}

/// Output spatial sizes; `None` when an input size is symbolic.
fn window_out(input: &[Dim], w: &Window<'_>) -> Result<Option<Vec<Dim>>, String> {
    let n = input.len();
    if w.kernel.len() != n {
        return Err(format!("kernel has {} dims, input has {n} spatial dims", w.kernel.len()));
    }
    let get = |v: &[i64], i: usize, d: i64| v.get(i).copied().unwrap_or(d);
    let mut out = Vec::with_capacity(n);
    for (i, d) in input.iter().enumerate() {
        let Dim::Known(x) = d else { return Ok(None) };
        let x = *x as i64;
        let (k, s, dl) = (w.kernel[i], get(w.strides, i, 1), get(w.dilations, i, 1));
        if s <= 0 || dl <= 0 || k <= 0 {
            return Err("kernel, strides and dilations must be positive".into());
        }
        let eff = (k - 1).saturating_mul(dl).saturating_add(1);
        let o = match w.auto_pad {
            "SAME_UPPER" | "SAME_LOWER" => x.saturating_add(s - 1) / s,
            _ => {
                let (pb, pe) = if w.auto_pad == "VALID" {
                    (0, 0)
                } else {
                    (get(w.pads, i, 0), get(w.pads, i + n, 0))
                };
                let span = x.saturating_add(pb).saturating_add(pe).saturating_sub(eff);
                if span < 0 {
                    return Err(format!("window of {eff} does not fit input of {x} plus padding"));
                }
                if w.ceil {
                    let mut o = span.saturating_add(s - 1) / s + 1;
                    // The last window must start inside the input or the left padding.
                    if (o - 1).saturating_mul(s) >= x.saturating_add(pb) {
                        o -= 1;
                    }
                    o
                } else {
                    span / s + 1
                }
            }
        };
        out.push(Dim::Known(o as u64));
    }
    Ok(Some(out))
}

fn split_layout(d: &[Dim], layout: Layout) -> Option<(Dim, Dim, Vec<Dim>)> {
    if d.len() < 2 {
        return None;
    }
    Some(match layout {
        Layout::ChannelsFirst => (d[0].clone(), d[1].clone(), d[2..].to_vec()),
        Layout::ChannelsLast => (d[0].clone(), d[d.len() - 1].clone(), d[1..d.len() - 1].to_vec()),
    })
}

fn join_layout(n: Dim, c: Dim, sp: Vec<Dim>, layout: Layout) -> Shape {
    let mut out = vec![n];
    match layout {
        Layout::ChannelsFirst => {
            out.push(c);
            out.extend(sp);
        }
        Layout::ChannelsLast => {
            out.extend(sp);
            out.push(c);
        }
    }
    Shape(out)
}

#[allow(clippy::too_many_arguments)]
fn conv(
    cx: &Cx<'_>,
    x: usize,
    wi: usize,
    kernel: &[i64],
    strides: &[i64],
    dilations: &[i64],
    pads: &[i64],
    auto_pad: &str,
    layout: Layout,
) -> Result<Option<Shape>, String> {
    // Weights are [M, C/group, k...] whatever the layout of the data.
    let (Some(xd), Some(wd)) = (cx.dims(x), cx.dims(wi)) else {
        return Ok(None);
    };
    let Some((n, _, sp)) = split_layout(xd, layout) else {
        return Ok(None);
    };
    if wd.len() != sp.len() + 2 {
        return Err(format!("weights of rank {} for {} spatial dims", wd.len(), sp.len()));
    }
    let kernel: Vec<i64> = if kernel.is_empty() {
        match wd[2..].iter().map(|d| d.known().map(|k| k as i64)).collect::<Option<Vec<_>>>() {
            Some(k) => k,
            None => return Ok(None),
        }
    } else {
        kernel.to_vec()
    };
    let w = Window {
        kernel,
        strides,
        dilations,
        pads,
        auto_pad,
        ceil: false,
    };
    let Some(osp) = window_out(&sp, &w)? else {
        return Ok(None);
    };
    Ok(Some(join_layout(n, wd[0].clone(), osp, layout)))
}

fn conv_transpose(cx: &Cx<'_>, c: &crate::ops::defs::nn::ConvTranspose) -> Result<Option<Shape>, String> {
    let (Some(xd), Some(wd)) = (cx.dims(0), cx.dims(1)) else {
        return Ok(None);
    };
    let Some((n, _, sp)) = split_layout(xd, c.layout) else {
        return Ok(None);
    };
    if wd.len() != sp.len() + 2 {
        return Err("weights rank does not fit the input".into());
    }
    let Some(m) = wd[1].known().map(|m| m * c.group.max(1) as u64) else {
        return Ok(None);
    };
    let get = |v: &[i64], i: usize, d: i64| v.get(i).copied().unwrap_or(d);
    let nsp = sp.len();
    let mut out = Vec::new();
    for (i, d) in sp.iter().enumerate() {
        if !c.output_shape.is_empty() {
            let o = c
                .output_shape
                .get(c.output_shape.len().saturating_sub(nsp) + i)
                .copied()
                .unwrap_or(0);
            out.push(Dim::Known(u64::try_from(o).map_err(|_| "negative output_shape")?));
            continue;
        }
        let Dim::Known(x) = d else { return Ok(None) };
        let k = match c.kernel_shape.get(i) {
            Some(&k) => k,
            None => match wd[2 + i].known() {
                Some(k) => k as i64,
                None => return Ok(None),
            },
        };
        let (s, dl) = (get(&c.strides, i, 1), get(&c.dilations, i, 1));
        let o = match c.auto_pad.as_str() {
            "SAME_UPPER" | "SAME_LOWER" => (*x as i64).saturating_mul(s),
            _ => {
                let (pb, pe) = if c.auto_pad == "VALID" {
                    (0, 0)
                } else {
                    (get(&c.pads, i, 0), get(&c.pads, i + nsp, 0))
                };
                let (x, op) = (*x as i128, get(&c.output_padding, i, 0) as i128);
                let (s, k, dl, pb, pe) = (s as i128, k as i128, dl as i128, pb as i128, pe as i128);
                let o = s * (x - 1) + op + (k - 1) * dl + 1 - pb - pe;
                i64::try_from(o).map_err(|_| "output size out of range")?
            }
        };
        out.push(Dim::Known(u64::try_from(o).map_err(|_| "negative output size")?));
    }
    Ok(Some(join_layout(n, Dim::Known(m), out, c.layout)))
}

#[allow(clippy::too_many_arguments)]
fn pool(
    cx: &Cx<'_>,
    kernel: &[i64],
    strides: &[i64],
    dilations: &[i64],
    pads: &[i64],
    auto_pad: &str,
    ceil: bool,
    layout: Layout,
) -> Result<Option<Shape>, String> {
    let Some(xd) = cx.dims(0) else {
        return Ok(None);
    };
    let Some((n, c, sp)) = split_layout(xd, layout) else {
        return Ok(None);
    };
    let w = Window {
        kernel: kernel.to_vec(),
        strides,
        dilations,
        pads,
        auto_pad,
        ceil,
    };
    Ok(window_out(&sp, &w)?.map(|o| join_layout(n, c, o, layout)))
}

fn global(cx: &Cx<'_>, layout: Layout) -> Option<Shape> {
    let (n, c, sp) = split_layout(cx.dims(0)?, layout)?;
    Some(join_layout(n, c, vec![Dim::Known(1); sp.len()], layout))
}

fn recurrent(cx: &Cx<'_>, hidden: Option<i64>, direction: &str, layout: i64) -> Vec<Option<Shape>> {
    let dirs = Dim::Known(if direction == "bidirectional" { 2 } else { 1 });
    let r = (|| {
        let x = cx.dims(0)?;
        let h = Dim::Known(u64::try_from(hidden?).ok()?);
        if x.len() != 3 {
            return None;
        }
        Some(if layout == 0 {
            let (seq, batch) = (x[0].clone(), x[1].clone());
            (
                Shape(vec![seq, dirs.clone(), batch.clone(), h.clone()]),
                Shape(vec![dirs.clone(), batch, h]),
            )
        } else {
            let (batch, seq) = (x[0].clone(), x[1].clone());
            (
                Shape(vec![batch.clone(), seq, dirs.clone(), h.clone()]),
                Shape(vec![batch, dirs.clone(), h]),
            )
        })
    })();
    (0..cx.n_out)
        .map(|k| r.as_ref().map(|(y, yh)| if k == 0 { y.clone() } else { yh.clone() }))
        .collect()
}

pub(crate) fn infer(cx: &Cx<'_>) -> Rule {
    match cx.op {
        Op::MatMul(_) | Op::MatMulInteger(_) => {
            let (Some(a), Some(b)) = (cx.dims(0), cx.dims(1)) else {
                return one(None);
            };
            one(matmul(a, b)?)
        }
        Op::QLinearMatMul(_) => {
            let (Some(a), Some(b)) = (cx.dims(0), cx.dims(3)) else {
                return one(None);
            };
            one(matmul(a, b)?)
        }
        Op::Gemm(g) => {
            let (Some(a), Some(b)) = (cx.dims(0), cx.dims(1)) else {
                return one(None);
            };
            if a.len() != 2 || b.len() != 2 {
                return Err("Gemm inputs must be matrices".into());
            }
            let m = if g.transA != 0 { &a[1] } else { &a[0] };
            let n = if g.transB != 0 { &b[0] } else { &b[1] };
            one(Some(Shape(vec![m.clone(), n.clone()])))
        }
        Op::Conv(c) => one(conv(
            cx,
            0,
            1,
            &c.kernel_shape,
            &c.strides,
            &c.dilations,
            &c.pads,
            &c.auto_pad,
            c.layout,
        )?),
        Op::ConvInteger(c) => one(conv(
            cx,
            0,
            1,
            &c.kernel_shape,
            &c.strides,
            &c.dilations,
            &c.pads,
            &c.auto_pad,
            c.layout,
        )?),
        Op::QLinearConv(c) => one(conv(
            cx,
            0,
            3,
            &c.kernel_shape,
            &c.strides,
            &c.dilations,
            &c.pads,
            &c.auto_pad,
            c.layout,
        )?),
        Op::ConvTranspose(c) => one(conv_transpose(cx, c)?),
        Op::MaxPool(p) => {
            let s = pool(
                cx,
                &p.kernel_shape,
                &p.strides,
                &p.dilations,
                &p.pads,
                &p.auto_pad,
                p.ceil_mode != 0,
                p.layout,
            )?;
            Ok(Some(vec![s; cx.n_out]))
        }
        Op::AveragePool(p) => one(pool(
            cx,
            &p.kernel_shape,
            &p.strides,
            &p.dilations,
            &p.pads,
            &p.auto_pad,
            p.ceil_mode != 0,
            p.layout,
        )?),
        Op::LpPool(p) => one(pool(
            cx,
            &p.kernel_shape,
            &p.strides,
            &p.dilations,
            &p.pads,
            &p.auto_pad,
            p.ceil_mode != 0,
            p.layout,
        )?),
        Op::GlobalAveragePool(p) => one(global(cx, p.layout)),
        Op::GlobalMaxPool(p) => one(global(cx, p.layout)),
        Op::GlobalLpPool(p) => one(global(cx, p.layout)),
        Op::BatchNormalization(b) => {
            let c = cx.dims(0).and_then(|d| split_layout(d, b.layout)).map(|(_, c, _)| Shape(vec![c]));
            Ok(Some(
                (0..cx.n_out)
                    .map(|k| if k == 0 { cx.shape(0).cloned() } else { c.clone() })
                    .collect(),
            ))
        }
        Op::LayerNormalization(l) => {
            let stats = match cx.dims(0) {
                Some(d) => {
                    let a = axis(l.axis, d.len())?;
                    Some(Shape(
                        d.iter()
                            .enumerate()
                            .map(|(i, x)| if i >= a { Dim::Known(1) } else { x.clone() })
                            .collect(),
                    ))
                }
                None => None,
            };
            Ok(Some(
                (0..cx.n_out)
                    .map(|k| if k == 0 { cx.shape(0).cloned() } else { stats.clone() })
                    .collect(),
            ))
        }
        Op::RMSNormalization(_) => one(cx.shape(0).cloned()),
        Op::LSTM(r) => Ok(Some(recurrent(cx, r.hidden_size, &r.direction, r.layout))),
        Op::GRU(r) => Ok(Some(recurrent(cx, r.hidden_size, &r.direction, r.layout))),
        Op::RNN(r) => Ok(Some(recurrent(cx, r.hidden_size, &r.direction, r.layout))),
        _ => Ok(None),
    }
}
