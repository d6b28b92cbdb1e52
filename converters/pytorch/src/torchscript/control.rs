//! Control flow that depends on tensor values, built as IR subgraphs:
//!
//! - `if <tensor>:` (`if bool(torch.gt(torch.sum(x), 0)):`) becomes an IR `If`. Both branches
//!   run symbolically on copies of the scope, each into its own subgraph; the names either
//!   branch assigns (and a `return` both branches make) become the `If` outputs where the two
//!   branches leave them different.
//! - `for i in range(int(n))` with `n` a tensor becomes an IR `Loop` with trip count `n`; the
//!   loop variable is the body's iteration number, and names the body assigns that exist
//!   before the loop are loop-carried.
//! - `while <tensor>:` becomes a `Loop` with no trip count, its condition re-evaluated at the
//!   end of the body.
//!
//! Values of enclosing graphs that a subgraph reads are captured ([`Ctx::capture`]); weights
//! always live in the root graph. `break`/`continue`/`return` inside a data-dependent loop,
//! a `return` in only one branch, and loop-carried values that are not tensors or numbers are
//! reported as unsupported with their line.

use super::ast::{Expr, Stmt, StmtKind, Target};
use super::interp::{Flow, Interp, R, Scope};
use super::value::{Num, V};
use crate::export_program::ctx::{Frame, ai};
use crate::export_program::schema::Meta;
use edgeport_ir::ops::controlflow::{If, Loop};
use edgeport_ir::{DType, Graph, Op, Shape, ValueId, ValueType};
use std::collections::HashMap;
use std::rc::Rc;

/// How a merged `If` result is rebuilt from the node's outputs.
enum Tmpl {
    Same(V),
    Out(usize),
    Seq { tuple: bool, items: Vec<Tmpl> },
}

/// Names a block assigns (targets of assignments, augmented assignments and `for` loops,
/// nested blocks included), in first-assignment order.
fn assigned(stmts: &[Stmt], out: &mut Vec<String>) {
    fn target(t: &Target, out: &mut Vec<String>) {
        match t {
            Target::Name(n) => {
                if !out.contains(n) {
                    out.push(n.clone());
                }
            }
            Target::Tuple(ts) => ts.iter().for_each(|t| target(t, out)),
            Target::Other(_) => {}
        }
    }
    for st in stmts {
        match &st.kind {
            StmtKind::Assign { target: t, .. } | StmtKind::AugAssign { target: t, .. } => target(t, out),
            StmtKind::If { then, els, .. } => {
                assigned(then, out);
                assigned(els, out);
            }
            StmtKind::For { target: t, body, .. } => {
                target(t, out);
                assigned(body, out);
            }
            StmtKind::While { body, .. } => assigned(body, out),
            _ => {}
        }
    }
}

fn scalar_ty(d: DType) -> Option<ValueType> {
    Some(ValueType::tensor(d, Some(Shape(vec![]))))
}

impl Interp<'_> {
    fn new_frame(&mut self, base: &str) -> Frame {
        let name = self.cx.fresh(base);
        Frame {
            g: Graph::new(name),
            env: HashMap::new(),
            captured: Vec::new(),
        }
    }

    /// Runs `f` inside `frame`; the frame is closed (with its graph's metadata synced) whether
    /// or not `f` fails.
    fn inside<T>(&mut self, frame: Frame, f: impl FnOnce(&mut Self) -> R<T>) -> R<(Frame, T)> {
        self.sync_metas()?;
        self.cx.enter(frame);
        let r = f(self).and_then(|t| self.sync_metas().map(|_| t));
        let frame = self.cx.leave().ok_or("subgraph frame lost")?;
        // Tensors of the closed subgraph are no longer pending in the enclosing graph.
        self.pending.retain(|p| !frame.env.contains_key(&**p));
        r.map(|t| (frame, t))
    }

    /// A value as a tensor of the current graph (captured from an enclosing graph, or a
    /// known number as a constant). `Identity` stands in for a capture or constant, so that
    /// a subgraph output is always a value computed in that subgraph.
    fn local_tensor(&mut self, v: &V, what: &str) -> R<ValueId> {
        let name: Rc<str> = match v {
            V::Tensor(t) => t.clone(),
            V::Num(n) => self.materialize(*n)?,
            V::Int(i) => self.materialize(Num::Int(*i))?,
            V::Float(f) => self.materialize(Num::Float(*f))?,
            V::Bool(b) => self.materialize(Num::Bool(*b))?,
            other => return Err(format!("{what} is a {}, expected a tensor or a number", other.kind())),
        };
        self.cx.capture(&name);
        let id = *self.cx.env.get(&*name).ok_or_else(|| format!("{what} ('{name}') is not defined"))?;
        let plain = matches!(self.cx.g.get(id.node).map(|n| &n.op), Some(Op::Input(_) | Op::Constant(_)));
        if plain {
            let base = format!("{name}_out");
            return self.cx.tmp("Identity", vec![], &[id], &base);
        }
        Ok(id)
    }

    /// A tensor condition as a bool scalar of the current graph.
    fn cond_value(&mut self, c: &V) -> R<ValueId> {
        let V::Tensor(t) = c else {
            return self.local_tensor(c, "the condition");
        };
        let t = t.clone();
        let m = self.meta_of(&t)?;
        let id = self.cx.value(&t)?;
        if m.dtype == DType::Bool {
            return Ok(id);
        }
        let code = i64::from(edgeport_ir::DType::Bool.onnx_code());
        self.cx.tmp("Cast", vec![("to", ai(code))], &[id], &format!("{t}_bool"))
    }

    /// Binds the outputs of a new node in the environment and metadata (via inference).
    fn bind_outputs(&mut self, node: edgeport_ir::NodeId, names: &[String]) -> Vec<V> {
        names
            .iter()
            .enumerate()
            .map(|(port, n)| {
                self.cx.env.insert(n.clone(), node.out(port));
                let rc: Rc<str> = Rc::from(n.as_str());
                self.pending.push(rc.clone());
                V::Tensor(rc)
            })
            .collect()
    }

    /// Makes both subgraphs capture the same outer names in the same slot order and connects
    /// those names to the node's capture slots.
    fn wire_captures(&mut self, subs: Vec<(&mut Graph, &[String])>) -> R<Vec<String>> {
        let mut union: Vec<String> = Vec::new();
        for (_, caps) in &subs {
            for c in caps.iter() {
                if !union.contains(c) {
                    union.push(c.clone());
                }
            }
        }
        for (g, caps) in subs {
            let mut by_name: HashMap<&str, edgeport_ir::NodeId> = HashMap::new();
            for (c, &id) in caps.iter().zip(g.captures().to_vec().iter()) {
                by_name.insert(c.as_str(), id);
            }
            let mut list = Vec::with_capacity(union.len());
            for name in &union {
                match by_name.get(name.as_str()) {
                    Some(&id) => list.push(id),
                    None => {
                        let ty = self
                            .cx
                            .metas
                            .get(name)
                            .map(|m| ValueType::tensor(m.dtype, Some(Shape(m.shape.clone()))));
                        list.push(g.add_capture(name.clone(), ty).node);
                    }
                }
            }
            g.set_captures(list).map_err(|e| e.to_string())?;
        }
        Ok(union)
    }

    fn attach_captures(&mut self, node: edgeport_ir::NodeId, union: &[String]) -> R<()> {
        for name in union {
            self.cx.capture(name);
            let v = self.cx.value(name)?;
            self.cx.g.push_input(node, Some(v), true).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Pairs up what the two branches left, recording the pairs that need an `If` output.
    fn merge(&self, a: &V, b: &V, pairs: &mut Vec<(V, V)>) -> Option<Tmpl> {
        let same = match (a, b) {
            (V::None, V::None) => true,
            (V::Str(x), V::Str(y)) => x == y,
            (V::Tensor(x), V::Tensor(y)) => x == y && self.cx.defined(x),
            (V::Obj(x), V::Obj(y)) => Rc::ptr_eq(x, y) || x.path == y.path,
            (V::Device(x), V::Device(y)) => x == y,
            (V::Int(_) | V::Float(_) | V::Bool(_), V::Int(_) | V::Float(_) | V::Bool(_)) => a.as_num() == b.as_num(),
            _ => false,
        };
        if same {
            return Some(Tmpl::Same(a.clone()));
        }
        match (a, b) {
            (V::Tuple(x), V::Tuple(y)) | (V::List(x), V::List(y)) if x.len() == y.len() => {
                let items = x
                    .iter()
                    .zip(y.iter())
                    .map(|(p, q)| self.merge(p, q, pairs))
                    .collect::<Option<Vec<_>>>()?;
                Some(Tmpl::Seq {
                    tuple: matches!(a, V::Tuple(_)),
                    items,
                })
            }
            _ => {
                let numeric = |v: &V| matches!(v, V::Tensor(_) | V::Num(_) | V::Int(_) | V::Float(_) | V::Bool(_));
                if numeric(a) && numeric(b) {
                    pairs.push((a.clone(), b.clone()));
                    Some(Tmpl::Out(pairs.len() - 1))
                } else {
                    None
                }
            }
        }
    }

    fn rebuild(t: &Tmpl, outs: &[V]) -> V {
        match t {
            Tmpl::Same(v) => v.clone(),
            Tmpl::Out(i) => outs.get(*i).cloned().unwrap_or(V::Poison),
            Tmpl::Seq { tuple, items } => {
                let v: Vec<V> = items.iter().map(|t| Self::rebuild(t, outs)).collect();
                if *tuple { V::Tuple(Rc::new(v)) } else { V::List(Rc::new(v)) }
            }
        }
    }

    /// `if` on a tensor condition: an IR `If`.
    pub fn if_tensor(&mut self, c: &V, then: &[Stmt], els: &[Stmt], scope: &mut Scope) -> R<Flow> {
        let cond = self.cond_value(c)?;
        let line = self.line;
        let mut names = Vec::new();
        assigned(then, &mut names);
        assigned(els, &mut names);
        let branch = |me: &mut Self, body: &[Stmt], tag: &str| -> R<(Frame, (Scope, Flow))> {
            let frame = me.new_frame(&format!("if_{tag}"));
            let mut s = scope.clone();
            me.inside(frame, |me| {
                let flow = me.block(body, &mut s)?;
                Ok((s, flow))
            })
        };
        let (then_f, (then_s, then_flow)) = branch(self, then, "then")?;
        let (else_f, (else_s, else_flow)) = branch(self, els, "else")?;
        self.line = line;
        // What the branches leave: assigned names (and the returned value when both return).
        let mut pairs = Vec::new();
        let mut merged: Vec<(String, Tmpl)> = Vec::new();
        let mut dropped = Vec::new();
        for n in &names {
            match (then_s.get(n), else_s.get(n)) {
                (Some(a), Some(b)) => match self.merge(a, b, &mut pairs) {
                    Some(t) => merged.push((n.clone(), t)),
                    None => {
                        self.unsupported(format!(
                            "'{n}' is a {} in one branch and a {} in the other of a data-dependent 'if'",
                            a.kind(),
                            b.kind()
                        ));
                        return Err(self.stop());
                    }
                },
                _ => dropped.push(n.clone()),
            }
        }
        let ret = match (&then_flow, &else_flow) {
            (Flow::Normal, Flow::Normal) => None,
            (Flow::Return(a), Flow::Return(b)) => match self.merge(a, b, &mut pairs) {
                Some(t) => Some(t),
                None => {
                    self.unsupported("branches of a data-dependent 'if' return different kinds of values");
                    return Err(self.stop());
                }
            },
            _ => {
                self.unsupported("'return', 'break' or 'continue' in only one branch of a data-dependent 'if'");
                return Err(self.stop());
            }
        };
        if pairs.is_empty() {
            // Nothing differs: the branches only computed values nobody reads.
            for (n, t) in &merged {
                scope.insert(n.clone(), Self::rebuild(t, &[]));
            }
            for n in &dropped {
                scope.remove(n);
            }
            return Ok(match ret {
                Some(t) => Flow::Return(Self::rebuild(&t, &[])),
                None => Flow::Normal,
            });
        }
        // Branch outputs, computed inside each branch.
        let (a_vals, b_vals): (Vec<V>, Vec<V>) = pairs.into_iter().unzip();
        let finish = |me: &mut Self, f: Frame, vals: Vec<V>| -> R<Frame> {
            let (f, ()) = me.inside(f, |me| {
                for (i, v) in vals.iter().enumerate() {
                    let id = me.local_tensor(v, &format!("branch result {i}"))?;
                    let name = me.cx.fresh("if_out");
                    me.cx.g.add_output(name, id).map_err(|e| e.to_string())?;
                }
                Ok(())
            })?;
            Ok(f)
        };
        let then_f = finish(self, then_f, a_vals)?;
        let else_f = finish(self, else_f, b_vals)?;
        let (mut tg, mut eg) = (then_f.g, else_f.g);
        let union = self.wire_captures(vec![(&mut tg, &then_f.captured), (&mut eg, &else_f.captured)])?;
        let n_out = tg.outputs().len();
        let base = self.cx.fresh("if");
        let outs: Vec<String> = (0..n_out).map(|i| format!("{base}_{i}")).collect();
        let refs: Vec<&str> = outs.iter().map(String::as_str).collect();
        let op = Op::If(If {
            then_branch: Box::new(tg),
            else_branch: Box::new(eg),
        });
        let node = self.cx.g.add_op(base, op, &[Some(cond)], &refs).map_err(|e| e.to_string())?;
        self.attach_captures(node, &union)?;
        let vals = self.bind_outputs(node, &outs);
        for (n, t) in &merged {
            scope.insert(n.clone(), Self::rebuild(t, &vals));
        }
        for n in &dropped {
            scope.remove(n);
        }
        Ok(match ret {
            Some(t) => Flow::Return(Self::rebuild(&t, &vals)),
            None => Flow::Normal,
        })
    }

    /// A loop whose trip count (`for` over `range(<tensor>)`) or condition (`while <tensor>`)
    /// is known only at run time: an IR `Loop`.
    pub fn loop_tensor(
        &mut self,
        trip: Option<&V>,
        target: Option<&Target>,
        cond: Option<(&V, &Expr)>,
        body: &[Stmt],
        scope: &mut Scope,
    ) -> R<Flow> {
        let line = self.line;
        let m = match trip {
            Some(V::Tensor(t)) => {
                let t = t.clone();
                let meta = self.meta_of(&t)?;
                let id = self.cx.value(&t)?;
                Some(if meta.dtype == DType::I64 {
                    id
                } else {
                    let code = i64::from(DType::I64.onnx_code());
                    self.cx.tmp("Cast", vec![("to", ai(code))], &[id], "trip_count")?
                })
            }
            Some(other) => Some(self.local_tensor(other, "the trip count")?),
            None => None,
        };
        let c0 = match cond {
            Some((c, _)) => Some(self.cond_value(c)?),
            None => None,
        };
        // Loop-carried: names the body assigns that exist before the loop.
        let mut names = Vec::new();
        assigned(body, &mut names);
        let mut carried: Vec<(String, V)> = Vec::new();
        for n in names {
            if target.is_some_and(|t| matches!(t, Target::Name(x) if *x == n)) {
                continue;
            }
            if let Some(v) = scope.get(&n) {
                match v {
                    V::Tensor(_) | V::Num(_) | V::Int(_) | V::Float(_) | V::Bool(_) => carried.push((n, v.clone())),
                    other => {
                        self.unsupported(format!(
                            "'{n}' (a {}) is changed inside a loop whose trip count is only known at run time",
                            other.kind()
                        ));
                        return Err(self.stop());
                    }
                }
            }
        }
        let mut inits = Vec::with_capacity(carried.len());
        for (n, v) in &carried {
            inits.push(self.local_tensor(v, &format!("loop variable '{n}'"))?);
        }
        self.sync_metas()?;
        self.infer_values(&inits)?;
        let mut metas = Vec::with_capacity(inits.len());
        for &id in &inits {
            let ty = self.cx.g.value(id).and_then(|x| x.ty.clone());
            let t = ty.as_ref().and_then(|t| t.as_tensor()).cloned();
            metas.push(t);
        }
        let frame = self.new_frame("loop_body");
        let mut s = scope.clone();
        let (frame, ()) = self.inside(frame, |me| {
            let it = me.cx.fresh("iter");
            let it_v = me.cx.g.add_input(it.clone(), scalar_ty(DType::I64));
            me.cx.env.insert(it.clone(), it_v);
            me.cx.metas.insert(
                it.clone(),
                Meta {
                    dtype: DType::I64,
                    shape: vec![],
                },
            );
            let ci = me.cx.fresh("cond_in");
            let ci_v = me.cx.g.add_input(ci.clone(), scalar_ty(DType::Bool));
            me.cx.env.insert(ci.clone(), ci_v);
            for ((n, _), t) in carried.iter().zip(&metas) {
                let name = me.cx.fresh(n);
                let ty = t.clone().map(ValueType::Tensor);
                let v = me.cx.g.add_input(name.clone(), ty);
                me.cx.env.insert(name.clone(), v);
                if let Some(t) = t
                    && let Some(sh) = &t.shape
                {
                    me.cx.metas.insert(
                        name.clone(),
                        Meta {
                            dtype: t.dtype,
                            shape: sh.0.clone(),
                        },
                    );
                }
                s.insert(n.clone(), V::Tensor(Rc::from(name.as_str())));
            }
            if let Some(t) = target {
                match t {
                    Target::Name(n) => {
                        s.insert(n.clone(), V::Tensor(Rc::from(it.as_str())));
                    }
                    _ => {
                        me.unsupported("tuple target of a loop whose trip count is only known at run time");
                        return Err(me.stop());
                    }
                }
            }
            match me.block(body, &mut s)? {
                Flow::Normal | Flow::Continue => {}
                Flow::Break | Flow::Return(_) => {
                    me.line = line;
                    me.unsupported("'break' or 'return' inside a loop whose trip count is only known at run time");
                    return Err(me.stop());
                }
            }
            me.line = line;
            let c_out = match cond {
                Some((_, e)) => {
                    let c = me.eval(e, &mut s)?;
                    if c.is_poison() {
                        return Err(me.stop());
                    }
                    let id = me.cond_value(&c)?;
                    me.cx.tmp("Identity", vec![], &[id], "cond_out")?
                }
                None => me.cx.tmp("Identity", vec![], &[ci_v], "cond_out")?,
            };
            let name = me.cx.fresh("cond_out");
            me.cx.g.add_output(name, c_out).map_err(|e| e.to_string())?;
            for (n, _) in &carried {
                let v = s.get(n).cloned().unwrap_or(V::None);
                let id = me.local_tensor(&v, &format!("loop variable '{n}'"))?;
                let name = me.cx.fresh(&format!("{n}_next"));
                me.cx.g.add_output(name, id).map_err(|e| e.to_string())?;
            }
            Ok(())
        })?;
        let mut body_g = frame.g;
        let union = self.wire_captures(vec![(&mut body_g, &frame.captured)])?;
        let base = self.cx.fresh("loop");
        let outs: Vec<String> = carried.iter().map(|(n, _)| self.cx.fresh(n)).collect();
        let refs: Vec<&str> = outs.iter().map(String::as_str).collect();
        let mut inputs = vec![m, c0];
        inputs.extend(inits.iter().map(|&v| Some(v)));
        let node = self
            .cx
            .g
            .add_op(base, Op::Loop(Loop { body: Box::new(body_g) }), &inputs, &refs)
            .map_err(|e| e.to_string())?;
        self.attach_captures(node, &union)?;
        let vals = self.bind_outputs(node, &outs);
        for ((n, _), v) in carried.iter().zip(vals) {
            scope.insert(n.clone(), v);
        }
        Ok(Flow::Normal)
    }
}
