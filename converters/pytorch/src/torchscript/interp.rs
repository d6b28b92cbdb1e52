//! The TorchScript interpreter: it runs `forward` of the root module symbolically, inlining every
//! submodule method call, with tensors as IR values and sizes as known numbers (the graph's
//! input shapes are fixed at import, so traced shape arithmetic folds away). Statements:
//! assignments (also tuple unpacking), `return`, `if` whose condition is known at import,
//! `for` over a known range or list (unrolled), `while` with a known condition, `pass`,
//! `raise`/`assert` (checked when known). An `if`/`while` on a tensor and a `for` over
//! `range(<tensor>)` are built as IR `If`/`Loop` subgraphs ([`super::control`]). Every
//! unsupported construct or op is recorded with its code file and line, and the run continues
//! with a poisoned value so all are listed at once.

use super::archive::Script;
use super::ast::{BinOp, Expr, Stmt, StmtKind, Target, UnOp};
use super::value::{Num, Obj, V, num_value};
use crate::export_program::ctx::Ctx;
use crate::export_program::schema::Meta;
use crate::pickle::Value as P;
use edgeport_ir::Dim;
use std::collections::HashMap;
use std::rc::Rc;

pub type R<T> = Result<T, String>;

/// Most statements one import executes (unrolled loops included).
const MAX_STEPS: u64 = 2_000_000;
/// Deepest method-call nesting.
const MAX_CALL_DEPTH: u32 = 200;
/// Longest `range` unrolled.
pub const MAX_RANGE: i64 = 100_000;

/// How a block ended.
pub enum Flow {
    Normal,
    Return(V),
    Break,
    Continue,
}

pub type Scope = HashMap<String, V>;

/// The interpreter state.
pub struct Interp<'s> {
    pub s: &'s Script,
    pub cx: Ctx,
    /// Tensor attributes already added as constants: attribute path → tensor name.
    pub consts: HashMap<String, Rc<str>>,
    /// `CONSTANTS.c<i>` already converted.
    pub konst: HashMap<usize, V>,
    /// Unsupported constructs found (`entry:line: what`).
    pub unsupported: Vec<String>,
    /// Current code file and line.
    pub entry: Rc<str>,
    pub line: u32,
    /// Tensor names produced since the last shape/dtype sync.
    pub pending: Vec<Rc<str>>,
    /// Name hint for the next produced tensor (the assignment target).
    pub hint: Option<String>,
    steps: u64,
    depth: u32,
}

impl<'s> Interp<'s> {
    pub fn new(s: &'s Script, cx: Ctx) -> Interp<'s> {
        Interp {
            s,
            cx,
            consts: HashMap::new(),
            konst: HashMap::new(),
            unsupported: Vec::new(),
            entry: Rc::from(""),
            line: 0,
            pending: Vec::new(),
            hint: None,
            steps: 0,
            depth: 0,
        }
    }

    /// Records an unsupported construct at the current line and returns a poisoned value.
    pub fn unsupported(&mut self, what: impl Into<String>) -> V {
        let item = format!("{}:{}: {}", self.entry, self.line, what.into());
        if !self.unsupported.contains(&item) {
            self.unsupported.push(item);
        }
        V::Poison
    }

    /// Calls `method` of a module object with positional and keyword arguments.
    pub fn call_method(&mut self, obj: Rc<Obj>, method: &str, args: Vec<V>, kwargs: Vec<(String, V)>) -> R<V> {
        let src = self
            .s
            .classes
            .get(&obj.class)
            .ok_or_else(|| format!("module '{}' has class {} whose code is not in the archive", obj.path, obj.class))?;
        let def = src
            .class
            .methods
            .iter()
            .find(|m| m.name == method)
            .cloned()
            .ok_or_else(|| format!("class {} has no method '{method}'", obj.class))?;
        let entry = src.entry.clone();
        let mut all = vec![V::Obj(obj)];
        all.extend(args);
        self.call_def(&def, entry, all, kwargs)
    }

    /// Runs a function body with its parameters bound.
    pub fn call_def(&mut self, def: &super::ast::Def, entry: Rc<str>, args: Vec<V>, kwargs: Vec<(String, V)>) -> R<V> {
        if args.len() > def.params.len() {
            return Err(format!("{} takes {} arguments, {} given", def.name, def.params.len(), args.len()));
        }
        self.depth += 1;
        if self.depth > MAX_CALL_DEPTH {
            return Err(format!("calls nested deeper than {MAX_CALL_DEPTH} (recursion?)"));
        }
        let mut scope = Scope::new();
        let n_pos = args.len();
        for (p, a) in def.params.iter().zip(args) {
            scope.insert(p.clone(), a);
        }
        for (k, v) in kwargs {
            if !def.params.iter().skip(n_pos).any(|p| *p == k) {
                return Err(format!("{} got an unexpected keyword argument '{k}'", def.name));
            }
            scope.insert(k, v);
        }
        let saved = (self.entry.clone(), self.line);
        self.entry = entry;
        self.line = def.line;
        let flow = self.block(&def.body, &mut scope)?;
        (self.entry, self.line) = saved;
        self.depth -= 1;
        Ok(match flow {
            Flow::Return(v) => v,
            _ => V::None,
        })
    }

    pub fn block(&mut self, stmts: &[Stmt], scope: &mut Scope) -> R<Flow> {
        for st in stmts {
            match self.stmt(st, scope)? {
                Flow::Normal => {}
                f => return Ok(f),
            }
        }
        Ok(Flow::Normal)
    }

    fn stmt(&mut self, st: &Stmt, scope: &mut Scope) -> R<Flow> {
        self.line = st.line;
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(format!("more than {MAX_STEPS} statements executed (a loop that does not end?)"));
        }
        match &st.kind {
            StmtKind::Assign { target, value } => {
                self.hint = match target {
                    Target::Name(n) => Some(n.clone()),
                    _ => None,
                };
                let v = self.eval(value, scope)?;
                self.hint = None;
                self.assign(target, v, scope)?;
            }
            StmtKind::AugAssign { target, op, value } => {
                let Target::Name(n) = target else {
                    self.unsupported("augmented assignment to an attribute or item");
                    return Ok(Flow::Normal);
                };
                let cur = scope.get(n).cloned().ok_or_else(|| format!("name '{n}' is not defined"))?;
                let rhs = self.eval(value, scope)?;
                let v = self.binop(*op, cur, rhs)?;
                scope.insert(n.clone(), v);
            }
            StmtKind::Expr(e) => {
                self.eval(e, scope)?;
            }
            StmtKind::Return(e) => {
                let v = match e {
                    Some(e) => self.eval(e, scope)?,
                    None => V::None,
                };
                return Ok(Flow::Return(v));
            }
            StmtKind::If { cond, then, els } => {
                let c = self.eval(cond, scope)?;
                return match self.truth(&c) {
                    Some(true) => self.block(then, scope),
                    Some(false) => self.block(els, scope),
                    None if matches!(c, V::Tensor(_)) => self.if_tensor(&c, then, els, scope),
                    None => {
                        if !c.is_poison() {
                            self.unsupported(format!("'if' on a {} computed at run time (data-dependent control flow)", c.kind()));
                        }
                        Err(self.stop())
                    }
                };
            }
            StmtKind::For { target, iter, body } => {
                let it = self.eval(iter, scope)?;
                let items: Vec<V> = match &it {
                    V::List(v) | V::Tuple(v) => v.to_vec(),
                    V::RunRange(n) => {
                        let n = V::Tensor(n.clone());
                        return self.loop_tensor(Some(&n), Some(target), None, body, scope);
                    }
                    V::Poison => return Err(self.stop()),
                    other => {
                        self.unsupported(format!("'for' over a {}", other.kind()));
                        return Err(self.stop());
                    }
                };
                for item in items {
                    self.assign(target, item, scope)?;
                    match self.block(body, scope)? {
                        Flow::Break => break,
                        Flow::Return(v) => return Ok(Flow::Return(v)),
                        Flow::Normal | Flow::Continue => {}
                    }
                }
            }
            StmtKind::While { cond, body } => loop {
                let c = self.eval(cond, scope)?;
                match self.truth(&c) {
                    Some(true) => {}
                    Some(false) => break,
                    None if matches!(c, V::Tensor(_)) => {
                        return self.loop_tensor(None, None, Some((&c, cond)), body, scope);
                    }
                    None => {
                        if !c.is_poison() {
                            self.unsupported(format!("'while' on a {} computed at run time", c.kind()));
                        }
                        return Err(self.stop());
                    }
                }
                match self.block(body, scope)? {
                    Flow::Break => break,
                    Flow::Return(v) => return Ok(Flow::Return(v)),
                    Flow::Normal | Flow::Continue => {}
                }
                self.line = st.line;
            },
            StmtKind::Pass => {}
            StmtKind::Break => return Ok(Flow::Break),
            StmtKind::Continue => return Ok(Flow::Continue),
            StmtKind::Raise(e) => {
                let msg = match e {
                    Some(e) => format!("{:?}", self.eval(e, scope)?),
                    None => String::new(),
                };
                return Err(format!("the model raises an exception here {msg}"));
            }
            StmtKind::Assert(e) => {
                let c = self.eval(e, scope)?;
                if self.truth(&c) == Some(false) {
                    return Err("an assert of the model fails for these input shapes".into());
                }
            }
        }
        Ok(Flow::Normal)
    }

    /// The error that ends a run after unsupported control flow (the list is reported).
    pub(super) fn stop(&self) -> String {
        "control flow cannot continue past an unsupported construct".into()
    }

    fn assign(&mut self, target: &Target, v: V, scope: &mut Scope) -> R<()> {
        match target {
            Target::Name(n) => {
                scope.insert(n.clone(), v);
            }
            Target::Tuple(ts) => {
                let items: Vec<V> = match &v {
                    V::Poison => vec![V::Poison; ts.len()],
                    V::List(x) | V::Tuple(x) => x.to_vec(),
                    other => return Err(format!("cannot unpack a {} into {} names", other.kind(), ts.len())),
                };
                if items.len() != ts.len() {
                    return Err(format!("cannot unpack {} values into {} names", items.len(), ts.len()));
                }
                for (t, x) in ts.iter().zip(items) {
                    self.assign(t, x, scope)?;
                }
            }
            Target::Other(_) => {
                self.unsupported("assignment to an attribute or item (module state mutation)");
            }
        }
        Ok(())
    }

    /// Truth of a value known at import time.
    pub fn truth(&self, v: &V) -> Option<bool> {
        match v {
            V::None => Some(false),
            V::Bool(b) => Some(*b),
            V::Int(i) => Some(*i != 0),
            V::Float(f) => Some(*f != 0.0),
            V::Num(n) => Some(n.f64() != 0.0),
            V::Str(s) => Some(!s.is_empty()),
            V::List(l) | V::Tuple(l) => Some(!l.is_empty()),
            V::Obj(_) | V::Device(_) => Some(true),
            V::Tensor(_) | V::Poison | V::RunRange(_) => None,
        }
    }

    /// `a.b.c` when the root name is not a local variable.
    fn dotted(e: &Expr, scope: &Scope) -> Option<String> {
        match e {
            Expr::Name(n) if !scope.contains_key(n) => Some(n.clone()),
            Expr::Attr(b, a) => Self::dotted(b, scope).map(|p| format!("{p}.{a}")),
            _ => None,
        }
    }

    pub fn eval(&mut self, e: &Expr, scope: &mut Scope) -> R<V> {
        Ok(match e {
            Expr::Int(i) => V::Int(*i),
            Expr::Float(f) => V::Float(*f),
            Expr::Str(s) => V::Str(Rc::from(s.as_str())),
            Expr::None => V::None,
            Expr::Bool(b) => V::Bool(*b),
            Expr::Name(n) => match scope.get(n) {
                Some(v) => v.clone(),
                // The printer writes non-finite floats as bare names (`-inf`, `nan`).
                None if n == "inf" => V::Float(f64::INFINITY),
                None if n == "nan" => V::Float(f64::NAN),
                None => return Err(format!("name '{n}' is not defined")),
            },
            Expr::Attr(base, attr) => {
                if let Some(path) = Self::dotted(base, scope) {
                    return self.global_attr(&path, attr);
                }
                let b = self.eval(base, scope)?;
                self.attr(&b, attr)?
            }
            Expr::Call { func, args, kwargs } => {
                // Type arguments are not values: `annotate(List[int], [])`, `unchecked_cast(T, x)`,
                // `uninitialized(T)`, `isinstance(x, T)`.
                if let Expr::Name(f) = &**func
                    && !scope.contains_key(f)
                {
                    match (f.as_str(), args.as_slice()) {
                        ("annotate" | "unchecked_cast", [_, x]) => return self.eval(x, scope),
                        ("uninitialized", _) => return Ok(V::None),
                        ("isinstance", _) => return Ok(self.unsupported("isinstance")),
                        _ => {}
                    }
                }
                let mut a = Vec::with_capacity(args.len());
                let hint = self.hint.take();
                for x in args {
                    a.push(self.eval(x, scope)?);
                }
                let mut kw = Vec::with_capacity(kwargs.len());
                for (k, x) in kwargs {
                    kw.push((k.clone(), self.eval(x, scope)?));
                }
                self.hint = hint;
                match &**func {
                    Expr::Attr(base, method) if Self::dotted(base, scope).is_none() => {
                        let b = self.eval(base, scope)?;
                        match b {
                            V::Obj(o) => self.call_method(o, method, a, kw)?,
                            V::Poison => V::Poison,
                            V::Tensor(_) | V::Num(_) => {
                                let mut all = vec![b];
                                all.extend(a);
                                self.aten(method, all, kw)?
                            }
                            other => self.unsupported(format!("method '{method}' of a {}", other.kind())),
                        }
                    }
                    f => match Self::dotted(f, scope) {
                        Some(path) => self.builtin(&path, a, kw, scope)?,
                        None => self.unsupported("call of a computed function"),
                    },
                }
            }
            Expr::Index(base, idx) => {
                let b = self.eval(base, scope)?;
                let i = self.eval(idx, scope)?;
                self.index(b, i)?
            }
            Expr::Slice(..) => self.unsupported("slice syntax outside torch.slice"),
            Expr::Tuple(items) => V::Tuple(Rc::new(items.iter().map(|x| self.eval(x, scope)).collect::<R<_>>()?)),
            Expr::List(items) => V::List(Rc::new(items.iter().map(|x| self.eval(x, scope)).collect::<R<_>>()?)),
            Expr::Dict(_) => self.unsupported("dict value"),
            Expr::Bin(BinOp::And, a, b) => {
                let x = self.eval(a, scope)?;
                match self.truth(&x) {
                    Some(false) => x,
                    Some(true) => self.eval(b, scope)?,
                    None => self.unsupported("'and' on a value computed at run time"),
                }
            }
            Expr::Bin(BinOp::Or, a, b) => {
                let x = self.eval(a, scope)?;
                match self.truth(&x) {
                    Some(true) => x,
                    Some(false) => self.eval(b, scope)?,
                    None => self.unsupported("'or' on a value computed at run time"),
                }
            }
            Expr::Bin(op, a, b) => {
                let x = self.eval(a, scope)?;
                let y = self.eval(b, scope)?;
                self.binop(*op, x, y)?
            }
            Expr::Un(op, a) => {
                let x = self.eval(a, scope)?;
                self.unop(*op, x)?
            }
            Expr::IfElse { cond, then, els } => {
                let c = self.eval(cond, scope)?;
                match self.truth(&c) {
                    Some(true) => self.eval(then, scope)?,
                    Some(false) => self.eval(els, scope)?,
                    None => self.unsupported("conditional expression on a value computed at run time"),
                }
            }
        })
    }

    /// `CONSTANTS.c<i>` and other dotted names used as values.
    fn global_attr(&mut self, path: &str, attr: &str) -> R<V> {
        if path == "CONSTANTS" {
            let i: usize = attr
                .strip_prefix('c')
                .and_then(|d| d.parse().ok())
                .ok_or_else(|| format!("unknown constant CONSTANTS.{attr}"))?;
            return self.constant(i);
        }
        Ok(self.unsupported(format!("global value {path}.{attr}")))
    }

    fn constant(&mut self, i: usize) -> R<V> {
        if let Some(v) = self.konst.get(&i) {
            return Ok(v.clone());
        }
        let p = self
            .s
            .constants
            .get(i)
            .cloned()
            .ok_or_else(|| format!("CONSTANTS.c{i} is out of range ({} constants)", self.s.constants.len()))?;
        let v = self.pickled(&p, &format!("CONSTANTS.c{i}"), "constants")?;
        self.konst.insert(i, v.clone());
        Ok(v)
    }

    /// Attribute of a value (module attributes: submodules, parameters, buffers, plain values).
    pub fn attr(&mut self, b: &V, attr: &str) -> R<V> {
        let o = match b {
            V::Obj(o) => o.clone(),
            V::Poison => return Ok(V::Poison),
            other => return Ok(self.unsupported(format!("attribute '{attr}' of a {}", other.kind()))),
        };
        let found = match &o.state {
            P::Dict(d) => d.iter().find(|(k, _)| k.as_str() == Some(attr)).map(|(_, v)| v.clone()),
            _ => None,
        };
        let path = if o.path.is_empty() {
            attr.to_string()
        } else {
            format!("{}.{attr}", o.path)
        };
        match found {
            Some(v) => self.pickled(&v, &path, "data"),
            None => {
                // A class-level constant (`out_features : Final[int] = 8`).
                let class = self.s.classes.get(&o.class).map(|c| c.class.clone());
                let val = class.and_then(|c| c.attrs.iter().find(|a| a.name == attr).and_then(|a| a.value.clone()));
                match val {
                    Some(e) => self.eval(&e, &mut Scope::new()),
                    None => Err(format!("module '{}' ({}) has no attribute '{attr}'", o.path, o.class)),
                }
            }
        }
    }

    /// Converts a pickled attribute or constant into a value; tensors become graph constants
    /// named by their path (0-d constants stay known numbers).
    fn pickled(&mut self, v: &P, path: &str, folder: &str) -> R<V> {
        Ok(match v {
            P::None => V::None,
            P::Bool(b) => V::Bool(*b),
            P::Int(i) => V::Int(*i),
            P::Float(f) => V::Float(*f),
            P::Str(s) => V::Str(s.clone()),
            P::Tuple(t) => V::Tuple(Rc::new(
                t.iter()
                    .enumerate()
                    .map(|(i, x)| self.pickled(x, &format!("{path}.{i}"), folder))
                    .collect::<R<_>>()?,
            )),
            P::List(t) => V::List(Rc::new(
                t.iter()
                    .enumerate()
                    .map(|(i, x)| self.pickled(x, &format!("{path}.{i}"), folder))
                    .collect::<R<_>>()?,
            )),
            P::Object { class, state } => V::Obj(Rc::new(Obj {
                class: class.clone(),
                path: path.to_string(),
                state: (**state).clone(),
            })),
            P::Tensor(t) => {
                if let Some(name) = self.consts.get(path) {
                    return Ok(V::Tensor(name.clone()));
                }
                let tensor = self.s.tensor(folder, path, t).map_err(|e| e.to_string())?;
                if tensor.shape.is_empty() && folder == "constants" {
                    let n = match tensor.dtype {
                        d if d.is_float() => tensor.to_f64_vec().and_then(|v| v.first().copied()).map(Num::Float),
                        edgeport_ir::DType::Bool => tensor.to_i64_vec().and_then(|v| v.first().copied()).map(|b| Num::Bool(b != 0)),
                        _ => tensor.to_i64_vec().and_then(|v| v.first().copied()).map(Num::Int),
                    };
                    if let Some(n) = n {
                        return Ok(V::Num(n));
                    }
                }
                let meta = Meta {
                    dtype: tensor.dtype,
                    shape: tensor.shape.iter().map(|&d| Dim::Known(d as u64)).collect(),
                };
                // Weights live in the root graph (a subgraph captures them).
                let name: Rc<str> = Rc::from(path);
                let (g, env) = match self.cx.outer.first_mut() {
                    Some(f) => (&mut f.g, &mut f.env),
                    None => (&mut self.cx.g, &mut self.cx.env),
                };
                let id = g.add_constant(path.to_string(), tensor);
                env.insert(path.to_string(), id);
                self.cx.metas.insert(path.to_string(), meta);
                self.cx.capture(path);
                self.consts.insert(path.to_string(), name.clone());
                V::Tensor(name)
            }
            other => return Ok(self.unsupported(format!("attribute {path} holding a pickled {}", other.kind()))),
        })
    }

    fn index(&mut self, b: V, i: V) -> R<V> {
        if b.is_poison() || i.is_poison() {
            return Ok(V::Poison);
        }
        match (&b, i.as_int()) {
            (V::List(v) | V::Tuple(v), Some(k)) => {
                let n = v.len() as i64;
                let j = if k < 0 { k + n } else { k };
                usize::try_from(j)
                    .ok()
                    .and_then(|j| v.get(j))
                    .cloned()
                    .ok_or_else(|| format!("index {k} out of range for a {} of {n}", b.kind()))
            }
            _ => Ok(self.unsupported(format!("indexing a {} with a {}", b.kind(), i.kind()))),
        }
    }

    /// Python binary operators; on tensors they become the matching ATen op.
    pub fn binop(&mut self, op: BinOp, a: V, b: V) -> R<V> {
        if a.is_poison() || b.is_poison() {
            return Ok(V::Poison);
        }
        let tensor = matches!(a, V::Tensor(_)) || matches!(b, V::Tensor(_));
        if tensor {
            let name = match op {
                BinOp::Add => "add",
                BinOp::Sub => "sub",
                BinOp::Mul => "mul",
                BinOp::Div => "div",
                BinOp::MatMul => "matmul",
                BinOp::Pow => "pow",
                BinOp::Eq => "eq",
                BinOp::Ne => "ne",
                BinOp::Lt => "lt",
                BinOp::Le => "le",
                BinOp::Gt => "gt",
                BinOp::Ge => "ge",
                BinOp::Is | BinOp::IsNot => {
                    // A tensor is never None.
                    let none = matches!(a, V::None) || matches!(b, V::None);
                    return Ok(V::Bool((op == BinOp::IsNot) == none));
                }
                other => return Ok(self.unsupported(format!("operator {other:?} on tensors"))),
            };
            return self.aten(name, vec![a, b], vec![]);
        }
        match op {
            BinOp::Is | BinOp::IsNot => {
                let same = match (&a, &b) {
                    (V::None, V::None) => true,
                    (V::None, _) | (_, V::None) => false,
                    _ => return Ok(self.unsupported("'is' between values that are not None")),
                };
                return Ok(V::Bool(same == (op == BinOp::Is)));
            }
            BinOp::In | BinOp::NotIn => {
                let found = match (&a, &b) {
                    (_, V::List(v) | V::Tuple(v)) => v.iter().any(|x| x.as_num().is_some() && x.as_num() == a.as_num()),
                    (V::Str(x), V::Str(y)) => y.contains(&**x),
                    _ => return Ok(self.unsupported("'in' on these values")),
                };
                return Ok(V::Bool(found == (op == BinOp::In)));
            }
            _ => {}
        }
        if let (V::Str(x), V::Str(y)) = (&a, &b) {
            return Ok(match op {
                BinOp::Eq => V::Bool(x == y),
                BinOp::Ne => V::Bool(x != y),
                BinOp::Add => V::Str(Rc::from(format!("{x}{y}").as_str())),
                _ => self.unsupported(format!("operator {op:?} on strings")),
            });
        }
        if let (V::List(x), V::List(y), BinOp::Add) = (&a, &b, op) {
            let mut v = x.to_vec();
            v.extend(y.iter().cloned());
            return Ok(V::List(Rc::new(v)));
        }
        let (Some(x), Some(y)) = (a.as_num(), b.as_num()) else {
            return Ok(self.unsupported(format!("operator {op:?} on a {} and a {}", a.kind(), b.kind())));
        };
        let r = super::fold::binary(op, x, y)?;
        // Python numbers stay numbers; known 0-d tensors stay tensors.
        Ok(if matches!(a, V::Num(_)) || matches!(b, V::Num(_)) {
            V::Num(r)
        } else {
            num_value(r)
        })
    }

    fn unop(&mut self, op: UnOp, a: V) -> R<V> {
        match (&a, op) {
            (V::Poison, _) => Ok(V::Poison),
            (V::Tensor(_), UnOp::Neg) => self.aten("neg", vec![a], vec![]),
            (V::Tensor(_), UnOp::Pos) => Ok(a),
            (V::Tensor(_), UnOp::Invert | UnOp::Not) => self.aten("bitwise_not", vec![a], vec![]),
            (_, UnOp::Not) => match self.truth(&a) {
                Some(t) => Ok(V::Bool(!t)),
                None => Ok(self.unsupported("'not' of a value computed at run time")),
            },
            _ => {
                let x = a.as_num().ok_or_else(|| format!("unary {op:?} of a {}", a.kind()))?;
                let r = match (op, x) {
                    (UnOp::Neg, Num::Int(i)) => Num::Int(i.checked_neg().ok_or("integer overflow")?),
                    (UnOp::Neg, n) => Num::Float(-n.f64()),
                    (UnOp::Invert, Num::Int(i)) => Num::Int(!i),
                    (UnOp::Invert, Num::Bool(b)) => Num::Int(!(b as i64)),
                    (_, n) => n,
                };
                Ok(if matches!(a, V::Num(_)) { V::Num(r) } else { num_value(r) })
            }
        }
    }
}
