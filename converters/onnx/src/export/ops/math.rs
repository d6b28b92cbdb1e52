//! Export rules for math ops: Clip's `min`/`max` and TopK's `k` (attributes before 11/10),
//! Softmax/LogSoftmax/Hardmax (2-D coercion before 13: a non-last axis is transposed to the
//! end), and decompositions of activations newer than the target: HardSwish (<14), Celu
//! (<12), Mish (<18), Gelu (<20), Swish (<24).

use super::{Emit, OnnxNode, Rule, keep, norm_axis};
use crate::model::RawAttrValue;

pub(super) fn rule(op_type: &str) -> Option<Rule> {
    match op_type {
        "Clip" => Some(clip),
        "TopK" => Some(topk),
        "Softmax" | "LogSoftmax" | "Hardmax" => Some(softmax),
        "HardSwish" => Some(hard_swish),
        "Celu" => Some(celu),
        "Mish" => Some(mish),
        "Gelu" => Some(gelu),
        "Swish" => Some(swish),
        _ => None,
    }
}

fn clip(mut n: OnnxNode, em: &mut Emit<'_>) -> Result<(), String> {
    if em.opset >= 11 {
        return keep(n, em);
    }
    for (i, a) in [(1, "min"), (2, "max")] {
        let s = n.input(i).to_string();
        if !s.is_empty() {
            let v = em
                .const_floats(&s)
                .ok_or_else(|| format!("Clip: {a} must be a constant below opset 11"))?;
            n.set_attr(a, RawAttrValue::Float(v.first().copied().unwrap_or(0.0) as f32));
        }
    }
    n.inputs.truncate(1);
    keep(n, em)
}

fn topk(mut n: OnnxNode, em: &mut Emit<'_>) -> Result<(), String> {
    if em.opset >= 10 {
        return keep(n, em);
    }
    let k = em
        .const_ints(n.input(1))
        .and_then(|v| v.first().copied())
        .ok_or("TopK: k must be a constant below opset 10")?;
    n.inputs.truncate(1);
    n.set_attr("k", RawAttrValue::Int(k));
    keep(n, em)
}

fn softmax(mut n: OnnxNode, em: &mut Emit<'_>) -> Result<(), String> {
    if em.opset >= 13 {
        return keep(n, em);
    }
    let axis = n.int_attr("axis").unwrap_or(-1);
    let x = n.input(0).to_string();
    let Some(rank) = em.rank(&x) else {
        // Unknown rank: -1 names the last axis (formally from opset 11; onnxruntime and the
        // checker accept it at older opsets too).
        if axis == -1 {
            n.set_attr("axis", RawAttrValue::Int(-1));
            return keep(n, em);
        }
        return Err(format!("{}: the input rank must be known below opset 13", n.op_type));
    };
    let a = norm_axis(axis, rank)?;
    let last = rank.saturating_sub(1);
    if a == last {
        n.set_attr("axis", RawAttrValue::Int(last as i64));
        return keep(n, em);
    }
    // Move the axis last, apply, move it back (a swap is its own inverse).
    let mut perm: Vec<i64> = (0..rank as i64).collect();
    perm.swap(a, last);
    let t = em.op("perm_in", "Transpose", &[&x], vec![("perm", RawAttrValue::Ints(perm.clone()))]);
    let y = em.fresh("swapped");
    em.op_to(
        &n.name,
        &n.op_type.clone(),
        &[&t],
        vec![("axis", RawAttrValue::Int(last as i64))],
        &y,
    );
    let out = n.outputs.first().cloned().unwrap_or_default();
    em.op_to("perm_out", "Transpose", &[&y], vec![("perm", RawAttrValue::Ints(perm))], &out);
    Ok(())
}

fn out0(n: &OnnxNode) -> String {
    n.outputs.first().cloned().unwrap_or_default()
}

fn hard_swish(n: OnnxNode, em: &mut Emit<'_>) -> Result<(), String> {
    if em.opset >= 14 {
        return keep(n, em);
    }
    let x = n.input(0).to_string();
    let hs = em.op(
        "hardsigmoid",
        "HardSigmoid",
        &[&x],
        vec![("alpha", RawAttrValue::Float(1.0 / 6.0)), ("beta", RawAttrValue::Float(0.5))],
    );
    em.op_to(&n.name, "Mul", &[&x, &hs], vec![], &out0(&n));
    Ok(())
}

fn celu(n: OnnxNode, em: &mut Emit<'_>) -> Result<(), String> {
    if em.opset >= 12 {
        return keep(n, em);
    }
    // Celu(x) = alpha * Elu(x / alpha).
    let alpha = n.float_attr("alpha").unwrap_or(1.0) as f64;
    let x = n.input(0).to_string();
    let a = em.like_const("alpha", &x, alpha)?;
    let d = em.op("celu_div", "Div", &[&x, &a], vec![]);
    let e = em.op("celu_elu", "Elu", &[&d], vec![]);
    em.op_to(&n.name, "Mul", &[&e, &a], vec![], &out0(&n));
    Ok(())
}

fn mish(n: OnnxNode, em: &mut Emit<'_>) -> Result<(), String> {
    if em.opset >= 18 {
        return keep(n, em);
    }
    let x = n.input(0).to_string();
    let sp = em.op("mish_softplus", "Softplus", &[&x], vec![]);
    let t = em.op("mish_tanh", "Tanh", &[&sp], vec![]);
    em.op_to(&n.name, "Mul", &[&x, &t], vec![], &out0(&n));
    Ok(())
}

fn gelu(n: OnnxNode, em: &mut Emit<'_>) -> Result<(), String> {
    if em.opset >= 20 {
        return keep(n, em);
    }
    let x = n.input(0).to_string();
    let tanh = matches!(n.attr("approximate"), Some(RawAttrValue::String(s)) if s.as_slice() == b"tanh");
    let half = em.like_const("half", &x, 0.5)?;
    let one = em.like_const("one", &x, 1.0)?;
    let inner = if tanh {
        // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        let c = em.like_const("gelu_c", &x, 0.044715)?;
        let k = em.like_const("gelu_k", &x, (2.0 / std::f64::consts::PI).sqrt())?;
        let x2 = em.op("gelu_x2", "Mul", &[&x, &x], vec![]);
        let x3 = em.op("gelu_x3", "Mul", &[&x2, &x], vec![]);
        let cx3 = em.op("gelu_cx3", "Mul", &[&c, &x3], vec![]);
        let s = em.op("gelu_sum", "Add", &[&x, &cx3], vec![]);
        let ks = em.op("gelu_ks", "Mul", &[&k, &s], vec![]);
        em.op("gelu_tanh", "Tanh", &[&ks], vec![])
    } else {
        // 0.5 x (1 + erf(x / sqrt 2))
        let r = em.like_const("sqrt2", &x, std::f64::consts::SQRT_2)?;
        let d = em.op("gelu_div", "Div", &[&x, &r], vec![]);
        em.op("gelu_erf", "Erf", &[&d], vec![])
    };
    let p = em.op("gelu_1p", "Add", &[&one, &inner], vec![]);
    let hx = em.op("gelu_hx", "Mul", &[&half, &x], vec![]);
    em.op_to(&n.name, "Mul", &[&hx, &p], vec![], &out0(&n));
    Ok(())
}

fn swish(n: OnnxNode, em: &mut Emit<'_>) -> Result<(), String> {
    if em.opset >= 24 {
        return keep(n, em);
    }
    let x = n.input(0).to_string();
    let alpha = n.float_attr("alpha").unwrap_or(1.0) as f64;
    let ax = if alpha == 1.0 {
        x.clone()
    } else {
        let a = em.like_const("alpha", &x, alpha)?;
        em.op("swish_ax", "Mul", &[&a, &x], vec![])
    };
    let s = em.op("swish_sigmoid", "Sigmoid", &[&ax], vec![]);
    em.op_to(&n.name, "Mul", &[&x, &s], vec![], &out0(&n));
    Ok(())
}
