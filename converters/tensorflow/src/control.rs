//! TF2 control flow: If/StatelessIf become IR `If` with both branch functions inlined into
//! subgraphs (the node's inputs reach them as captures); While/StatelessWhile become IR `Loop`
//! whose body runs the body function then the condition function on the new loop values.

use crate::decode::{Attr, RawNode};
use crate::import::{Fail, Importer};
use crate::ops::Names;
use edgeport_ir::ops::controlflow::{If, Loop};
use edgeport_ir::shape::Shape;
use edgeport_ir::{DType, Graph, Op, ValueId, ValueType};

fn func_attr<'n>(node: &'n RawNode, k: &str) -> Result<&'n str, Fail> {
    match node.attrs.get(k) {
        Some(Attr::Func(f, _)) => Ok(f.as_str()),
        _ => Err(Fail::Msg(format!("missing function attribute '{k}'"))),
    }
}

/// Builds a subgraph with a fresh importer sharing the parent's library and variables.
fn sub_importer<'p>(parent: &'p mut Importer<'_>, name: &str) -> Importer<'p> {
    Importer {
        g: Graph::new(name),
        names: Names::default(),
        functions: parent.functions,
        vars: &mut *parent.vars,
        issues: Vec::new(),
        stack: parent.stack.clone(),
        budget: parent.budget.clone(),
    }
}

fn finish(parent_issues: &mut Vec<crate::error::NodeIssue>, sub: Importer<'_>, r: Result<(), Fail>) -> Result<Graph, Fail> {
    parent_issues.extend(sub.issues);
    r.map(|_| sub.g)
}

/// A branch subgraph: one capture per argument, outputs the function's results.
fn branch(imp: &mut Importer<'_>, fname: &str, n_args: usize, full: &str, tag: &str) -> Result<Graph, Fail> {
    let mut issues = Vec::new();
    let (sub, r) = {
        let mut sub = sub_importer(imp, &format!("{full}/{tag}"));
        let caps: Vec<ValueId> = (0..n_args)
            .map(|i| {
                let n = sub.names.fresh(&format!("{full}/{tag}/arg{i}"));
                sub.g.add_capture(n, None)
            })
            .collect();
        let r = (|| {
            let outs = sub.call(fname, caps, &format!("{full}/{tag}"))?;
            for (i, v) in outs.into_iter().enumerate() {
                let n = sub.names.fresh(&format!("{full}/{tag}/out{i}"));
                sub.output(&n, v)?;
            }
            Ok(())
        })();
        (sub, r)
    };
    let g = finish(&mut issues, sub, r);
    imp.issues.extend(issues);
    g
}

pub fn if_(imp: &mut Importer<'_>, node: &RawNode, full: &str, ins: Vec<ValueId>) -> Result<Vec<ValueId>, Fail> {
    let (then_f, else_f) = (func_attr(node, "then_branch")?, func_attr(node, "else_branch")?);
    let Some((&cond, args)) = ins.split_first() else {
        return Err(Fail::Msg("If without a condition".into()));
    };
    let then_g = branch(imp, then_f, args.len(), full, "then")?;
    let else_g = branch(imp, else_f, args.len(), full, "else")?;
    let n_out = then_g.outputs().len();
    if else_g.outputs().len() != n_out {
        return Err(Fail::Msg(format!(
            "branches return {} and {} values",
            n_out,
            else_g.outputs().len()
        )));
    }
    let node_name = imp.names.fresh(full);
    let outs: Vec<String> = (0..n_out)
        .map(|i| {
            if i == 0 {
                node_name.clone()
            } else {
                imp.names.fresh(&format!("{node_name}:{i}"))
            }
        })
        .collect();
    let refs: Vec<&str> = outs.iter().map(|s| s.as_str()).collect();
    let op = Op::If(If {
        then_branch: Box::new(then_g),
        else_branch: Box::new(else_g),
    });
    let id = imp.g.add_op(node_name, op, &[Some(cond)], &refs).map_err(|e| e.to_string())?;
    for a in args {
        imp.g.push_input(id, Some(*a), true).map_err(|e| e.to_string())?;
    }
    Ok((0..n_out).map(|k| id.out(k)).collect())
}

pub fn while_(imp: &mut Importer<'_>, node: &RawNode, full: &str, ins: Vec<ValueId>) -> Result<Vec<ValueId>, Fail> {
    let (cond_f, body_f) = (func_attr(node, "cond")?, func_attr(node, "body")?);
    let types: Vec<Option<DType>> = match node.attrs.get("T") {
        Some(Attr::List(l)) => l.types.iter().map(|t| crate::decode::dtype(*t)).collect(),
        _ => vec![None; ins.len()],
    };
    let init = imp.call(cond_f, ins.clone(), &format!("{full}/cond_init"))?;
    let [c0] = init[..] else {
        return Err(Fail::Msg(format!("condition function returns {} values", init.len())));
    };
    let mut issues = Vec::new();
    let (sub, r) = {
        let mut sub = sub_importer(imp, &format!("{full}/body"));
        let scalar = |d| Some(ValueType::tensor(d, Some(Shape(vec![]))));
        let it = sub.names.fresh(&format!("{full}/iter"));
        sub.g.add_input(it, scalar(DType::I64));
        let ci = sub.names.fresh(&format!("{full}/cond_in"));
        sub.g.add_input(ci, scalar(DType::Bool));
        let vars: Vec<ValueId> = (0..ins.len())
            .map(|i| {
                let n = sub.names.fresh(&format!("{full}/v{i}"));
                let ty = types.get(i).copied().flatten().map(|d| ValueType::tensor(d, None));
                sub.g.add_input(n, ty)
            })
            .collect();
        let r = (|| {
            let new = sub.call(body_f, vars, &format!("{full}/body"))?;
            let c = sub.call(cond_f, new.clone(), &format!("{full}/cond"))?;
            let [c] = c[..] else {
                return Err(Fail::Msg("condition function must return one value".into()));
            };
            let n = sub.names.fresh(&format!("{full}/cond_out"));
            sub.output(&n, c)?;
            for (i, v) in new.into_iter().enumerate() {
                let n = sub.names.fresh(&format!("{full}/v{i}_out"));
                sub.output(&n, v)?;
            }
            Ok(())
        })();
        (sub, r)
    };
    let body = finish(&mut issues, sub, r);
    imp.issues.extend(issues);
    let body = body?;
    if body.outputs().len() != ins.len() + 1 {
        return Err(Fail::Msg(format!(
            "body returns {} values for {} loop variables",
            body.outputs().len() - 1,
            ins.len()
        )));
    }
    let node_name = imp.names.fresh(full);
    let outs: Vec<String> = (0..ins.len())
        .map(|i| {
            if i == 0 {
                node_name.clone()
            } else {
                imp.names.fresh(&format!("{node_name}:{i}"))
            }
        })
        .collect();
    let refs: Vec<&str> = outs.iter().map(|s| s.as_str()).collect();
    let mut inputs = vec![None, Some(c0)];
    inputs.extend(ins.iter().map(|v| Some(*v)));
    let id = imp
        .g
        .add_op(node_name, Op::Loop(Loop { body: Box::new(body) }), &inputs, &refs)
        .map_err(|e| e.to_string())?;
    Ok((0..ins.len()).map(|k| id.out(k)).collect())
}
