//! NN-family ops whose older forms differ: BatchNormalization (`spatial`, `is_test`, training
//! outputs), Dropout (`ratio`/`is_test` attributes, float mask), GroupNormalization's per-group
//! scale (< 21), MeanVarianceNormalization-1, ImageScaler (removed; became Mul + Add),
//! RoiAlign's implied coordinate mode (< 16), recurrent ops' `output_sequence` (< 7), LpPool's
//! float `p` (< 2) and Scan-8.

use super::{B, NodeIn, Rule, rebuild};
use crate::import::Built;
use edgeport_ir::{AttrValue, Graph};

pub(crate) fn rule(op_type: &str) -> Option<Rule> {
    match op_type {
        "BatchNormalization" => Some(batch_norm),
        "Dropout" => Some(dropout),
        "GroupNormalization" => Some(group_norm),
        "MeanVarianceNormalization" => Some(mvn),
        "ImageScaler" => Some(image_scaler),
        "RoiAlign" => Some(roi_align),
        "GRU" | "LSTM" | "RNN" => Some(recurrent),
        "LpPool" | "GlobalLpPool" => Some(lp_pool),
        "Scan" => Some(scan),
        _ => None,
    }
}

fn batch_norm(n: &mut NodeIn<'_>, g: &mut Graph) -> Option<Result<Built, String>> {
    (n.opset < 14).then(|| {
        n.take_attr("is_test");
        let spatial = n.take_int("spatial")?.unwrap_or(1);
        if spatial == 0 {
            return Err("BatchNormalization with spatial=0 (per-activation statistics) is not supported".into());
        }
        let extra = n.raw.outputs.iter().skip(3).any(|o| !o.is_empty());
        if extra {
            return Err("BatchNormalization's saved_mean/saved_var training outputs (before opset 14) are not supported".into());
        }
        if n.used_outputs() > 1 {
            n.set_attr("training_mode", AttrValue::Int(1));
        }
        let inputs = n.inputs.clone();
        let r = rebuild(n, g, None, &inputs)?;
        Ok(r)
    })
}

fn dropout(n: &mut NodeIn<'_>, g: &mut Graph) -> Option<Result<Built, String>> {
    (n.opset < 12).then(|| {
        let x = n.req(0)?;
        n.take_attr("is_test");
        let ratio = n.take_float("ratio")?.unwrap_or(0.5);
        let mut b = B::new(n, g);
        let r = b.f32s("ratio", vec![], &[ratio])?;
        let mut built = rebuild(n, g, None, &[Some(x), Some(r)])?;
        // The mask had the data's type before opset 10; it is bool since.
        if n.opset < 10 && n.raw.outputs.get(1).is_some_and(|o| !o.is_empty()) && built.outputs.len() > 1 {
            let mask = built.outputs[1];
            let mut b = B::new(n, g);
            built.outputs[1] = b.op("mask_cast", "CastLike", vec![], &[Some(mask), Some(x)])?;
        }
        Ok(built)
    })
}

/// GroupNormalization-18 took scale and bias per group; since 21 they are per channel: each
/// group's value is repeated C/G times.
fn group_norm(n: &mut NodeIn<'_>, g: &mut Graph) -> Option<Result<Built, String>> {
    (n.opset < 21).then(|| {
        let x = n.req(0)?;
        let groups = match n.attrs.iter().find(|(k, _)| k == "num_groups") {
            Some((_, AttrValue::Int(v))) => *v,
            _ => return Err("GroupNormalization needs 'num_groups'".into()),
        };
        let mut b = B::new(n, g);
        let c = b.op(
            "channels",
            "Shape",
            vec![("start".into(), AttrValue::Int(1)), ("end".into(), AttrValue::Int(2))],
            &[Some(x)],
        )?;
        let gs = b.ints("groups", &[groups])?;
        let per = b.op("per_group", "Div", vec![], &[Some(c), Some(gs)])?;
        let target = b.op(
            "expand_shape",
            "Concat",
            vec![("axis".into(), AttrValue::Int(0))],
            &[Some(gs), Some(per)],
        )?;
        let col = b.ints("column", &[groups, 1])?;
        let flat = b.ints("flat", &[-1])?;
        let per_channel = |b: &mut B<'_>, v, what: &str| -> Result<_, String> {
            let r = b.op(&format!("{what}_col"), "Reshape", vec![], &[Some(v), Some(col)])?;
            let e = b.op(&format!("{what}_expanded"), "Expand", vec![], &[Some(r), Some(target)])?;
            b.op(&format!("{what}_per_channel"), "Reshape", vec![], &[Some(e), Some(flat)])
        };
        let scale = per_channel(&mut b, n.req(1)?, "scale")?;
        let bias = per_channel(&mut b, n.req(2)?, "bias")?;
        rebuild(n, g, None, &[Some(x), Some(scale), Some(bias)])
    })
}

fn mvn(n: &mut NodeIn<'_>, g: &mut Graph) -> Option<Result<Built, String>> {
    let old = n.attrs.iter().any(|(k, _)| k == "across_channels" || k == "normalize_variance");
    old.then(|| {
        let x = n.req(0)?;
        let across = n.take_int("across_channels")?.unwrap_or(0);
        let normalize = n.take_int("normalize_variance")?.unwrap_or(1);
        let axes: Vec<i64> = if across != 0 { vec![0, 1, 2, 3] } else { vec![0, 2, 3] };
        if normalize != 0 {
            n.set_attr("axes", AttrValue::Ints(axes));
            return rebuild(n, g, None, &[Some(x)]);
        }
        let mut b = B::new(n, g);
        let ax = b.ints("axes", &axes)?;
        let mean = b.op("mean", "ReduceMean", vec![], &[Some(x), Some(ax)])?;
        n.attrs.clear();
        rebuild(n, g, Some("Sub"), &[Some(x), Some(mean)])
    })
}

/// ImageScaler (experimental, removed in opset 10): `y = x * scale + bias[c]`.
fn image_scaler(n: &mut NodeIn<'_>, g: &mut Graph) -> Option<Result<Built, String>> {
    Some((|| {
        let x = n.req(0)?;
        let scale = n.take_float("scale")?.unwrap_or(1.0);
        let bias = n.take_floats("bias")?.unwrap_or_default();
        let mut b = B::new(n, g);
        let s = b.floats_like("scale", vec![], &[scale as f64], x)?;
        let scaled = b.op("scaled", "Mul", vec![], &[Some(x), Some(s)])?;
        let bias: Vec<f64> = bias.iter().map(|&v| v as f64).collect();
        let bv = b.floats_like("bias", vec![1, bias.len(), 1, 1], &bias, x)?;
        n.attrs.clear();
        rebuild(n, g, Some("Add"), &[Some(scaled), Some(bv)])
    })())
}

fn roi_align(n: &mut NodeIn<'_>, g: &mut Graph) -> Option<Result<Built, String>> {
    (n.opset < 16 && !n.attrs.iter().any(|(k, _)| k == "coordinate_transformation_mode")).then(|| {
        n.set_attr("coordinate_transformation_mode", AttrValue::String("output_half_pixel".into()));
        let inputs = n.inputs.clone();
        rebuild(n, g, None, &inputs)
    })
}

fn recurrent(n: &mut NodeIn<'_>, g: &mut Graph) -> Option<Result<Built, String>> {
    (n.opset < 7).then(|| {
        n.take_attr("output_sequence");
        let inputs = n.inputs.clone();
        rebuild(n, g, None, &inputs)
    })
}

fn lp_pool(n: &mut NodeIn<'_>, g: &mut Graph) -> Option<Result<Built, String>> {
    let float_p = n.attrs.iter().any(|(k, v)| k == "p" && matches!(v, AttrValue::Float(_)));
    float_p.then(|| {
        let p = n.take_float("p")?.unwrap_or(2.0);
        n.set_attr("p", AttrValue::Int(p.round() as i64));
        let inputs = n.inputs.clone();
        rebuild(n, g, None, &inputs)
    })
}

fn scan(n: &mut NodeIn<'_>, _g: &mut Graph) -> Option<Result<Built, String>> {
    (n.opset < 9).then(|| Err("Scan-8 (batched, with sequence_lens) is not supported; re-export at opset 9 or later".into()))
}
