//! Control flow: WHILE → Loop (the condition subgraph is inlined once before the loop for the
//! first test and again at the end of the body), IF → If (branches read the operands through
//! captures). Subgraph indices are checked and cycles (a body reaching itself) are errors.

use super::{Fail, R};
use crate::codes::BuiltinOperator as B;
use crate::import::Env;
use crate::import::cx::{Names, OpCx};
use crate::import::irops::{If, Loop};
use crate::import::subgraph::{Bound, convert as convert_sg, value_type};
use edgeport_ir::{DType, Graph, Op, Shape, ValueId, ValueType};

pub fn convert(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> Option<R> {
    Some(match cx.code.builtin {
        B::WHILE => while_(cx, g),
        B::IF => if_(cx, g),
        _ => return None,
    })
}

fn sg_index(cx: &OpCx<'_, '_, '_, '_>, v: i32, what: &str) -> Result<usize, Fail> {
    usize::try_from(v)
        .ok()
        .filter(|&i| i < cx.env.model.subgraphs.len())
        .ok_or_else(|| {
            Fail::Issue(format!(
                "{what} subgraph index {v} out of range ({} subgraphs)",
                cx.env.model.subgraphs.len()
            ))
        })
}

/// Converts subgraph `idx` into `g` with `inputs`; all outputs must exist.
fn inline(env: &mut Env<'_, '_>, idx: usize, g: &mut Graph, names: &mut Names, inputs: &[ValueId]) -> Result<Vec<ValueId>, Fail> {
    let outs = convert_sg(env, idx, g, names, Bound::Inputs(inputs)).map_err(Fail::Fatal)?;
    outs.into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| Fail::Issue(format!("subgraph {idx} could not be converted (see its operators)")))
}

/// Types of a subgraph's input tensors.
fn input_types(cx: &OpCx<'_, '_, '_, '_>, idx: usize) -> Vec<(String, Option<ValueType>)> {
    let Some(sg) = cx.env.model.subgraphs.get(idx) else {
        return Vec::new();
    };
    sg.inputs
        .iter()
        .map(|&t| {
            let info = usize::try_from(t).ok().and_then(|i| sg.tensors.get(i));
            (info.map(|i| i.name.clone()).unwrap_or_default(), info.and_then(value_type))
        })
        .collect()
}

fn while_(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let o = cx.opts();
    let cond_idx = sg_index(cx, o.i32(0, -1)?, "condition")?;
    let body_idx = sg_index(cx, o.i32(1, -1)?, "body")?;
    let mut xs = Vec::new();
    for i in 0..cx.n_inputs() {
        xs.push(cx.raw_input(g, i)?);
    }
    // First test, in the enclosing graph.
    let c0 = inline(cx.env, cond_idx, g, cx.st.names, &xs)?;
    let c0 = *c0.first().ok_or("condition subgraph has no output")?;
    // Body: (iteration, cond, vars…) → (cond', vars'…).
    let mut body = Graph::new(format!("while_body_{body_idx}"));
    let mut bnames = Names::default();
    let it = body.add_input(bnames.unique("iteration"), Some(ValueType::tensor(DType::I64, Some(Shape(vec![])))));
    let cin = body.add_input(bnames.unique("cond_in"), Some(ValueType::tensor(DType::Bool, Some(Shape(vec![])))));
    let _ = (it, cin);
    let mut vs = Vec::new();
    for (name, ty) in input_types(cx, body_idx) {
        vs.push(body.add_input(bnames.unique(&name), ty));
    }
    let outs = inline(cx.env, body_idx, &mut body, &mut bnames, &vs)?;
    let c = inline(cx.env, cond_idx, &mut body, &mut bnames, &outs)?;
    let c = *c.first().ok_or("condition subgraph has no output")?;
    let mut body_outs = vec![(bnames.unique("cond_out"), c)];
    for (k, v) in outs.iter().enumerate() {
        body_outs.push((format!("{}_out{k}", body.name), *v));
    }
    body.set_outputs(body_outs).map_err(|e| e.to_string())?;
    let mut ins = vec![None, Some(c0)];
    ins.extend(xs.iter().map(|&x| Some(x)));
    let n = cx.op.outputs.len();
    let ys = cx.node(g, "while", Op::Loop(Loop { body: Box::new(body) }), &ins, n)?;
    for (j, y) in ys.into_iter().enumerate() {
        cx.output_raw(g, j, y)?;
    }
    Ok(())
}

fn if_(cx: &mut OpCx<'_, '_, '_, '_>, g: &mut Graph) -> R {
    let o = cx.opts();
    let then_idx = sg_index(cx, o.i32(0, -1)?, "then")?;
    let else_idx = sg_index(cx, o.i32(1, -1)?, "else")?;
    let cond = cx.raw_input(g, 0)?;
    let mut args = Vec::new();
    for i in 1..cx.n_inputs() {
        args.push(cx.raw_input(g, i)?);
    }
    let mut branches = Vec::new();
    for idx in [then_idx, else_idx] {
        let mut b = Graph::new(format!("if_branch_{idx}"));
        let mut bn = Names::default();
        let types = input_types(cx, idx);
        if types.len() != args.len() {
            return Err(Fail::Issue(format!(
                "subgraph {idx} takes {} inputs, IF passes {}",
                types.len(),
                args.len()
            )));
        }
        let mut caps = Vec::new();
        for (k, (_, ty)) in types.into_iter().enumerate() {
            let name = g.value(args[k]).map(|v| v.name.clone()).unwrap_or_default();
            caps.push(b.add_capture(bn.unique(&name), ty));
        }
        let outs = inline(cx.env, idx, &mut b, &mut bn, &caps)?;
        let list = outs.iter().enumerate().map(|(k, v)| (format!("{}_out{k}", b.name), *v)).collect();
        b.set_outputs(list).map_err(|e| e.to_string())?;
        branches.push(b);
    }
    let (then_branch, else_branch) = match (branches.pop(), branches.pop()) {
        (Some(e), Some(t)) => (t, e),
        _ => return Err("missing branch".into()),
    };
    let n = cx.op.outputs.len();
    let op = Op::If(If {
        then_branch: Box::new(then_branch),
        else_branch: Box::new(else_branch),
    });
    let ys = cx.node(g, "if", op, &[Some(cond)], n)?;
    if let Some(first) = ys.first() {
        for &a in &args {
            g.push_input(first.node, Some(a), true).map_err(|e| e.to_string())?;
        }
    }
    for (j, y) in ys.into_iter().enumerate() {
        cx.output_raw(g, j, y)?;
    }
    Ok(())
}
