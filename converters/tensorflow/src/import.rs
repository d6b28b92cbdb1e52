//! The importer: converts the nodes a set of target tensors depends on, in dependency order,
//! inlining called functions (PartitionedCall, StatefulPartitionedCall, library functions used
//! as ops) and resolving variables to constants. Used for frozen graphs, SavedModel signatures
//! and the bodies of control-flow subgraphs.

use crate::decode::{Attr, RawFunction, RawNode};
use crate::error::NodeIssue;
use crate::ops::{self, Cx, Names};
use edgeport_ir::ops::tensor::Identity;
use edgeport_ir::shape::{Dim, Shape};
use edgeport_ir::{Graph, Op, Tensor, ValueId, ValueType};
use std::collections::HashMap;

/// Deepest nesting of function calls and control-flow bodies.
pub const MAX_CALL_DEPTH: usize = 64;
/// Most nodes converted in one import, counting every inlined copy of a function body (guards
/// against call graphs that multiply: f calls g twice, g calls h twice, …).
pub const MAX_CONVERTED_NODES: u64 = 1_000_000;

/// Where VarHandleOp nodes get their values.
pub trait Variables {
    /// The value of the variable created by the graph node `node` (with `shared_name`).
    /// `Err(Fail::Reported)` means a failure already reported for an earlier variable (such as
    /// an unreadable checkpoint), so it is not repeated for every variable.
    fn read(&mut self, node: &str, shared_name: &str) -> Result<Tensor, Fail>;
}

/// No variables (frozen graphs).
pub struct NoVariables;
impl Variables for NoVariables {
    fn read(&mut self, _: &str, _: &str) -> Result<Tensor, Fail> {
        Err(Fail::Msg("variables are not available in a frozen graph".into()))
    }
}

/// A failed node or scope: `Reported` when the cause is already among the issues.
#[derive(Debug)]
pub enum Fail {
    Reported,
    Msg(String),
}

impl From<String> for Fail {
    fn from(s: String) -> Fail {
        Fail::Msg(s)
    }
}

/// Import state for one IR graph (the main graph or a subgraph).
pub struct Importer<'a> {
    pub g: Graph,
    pub names: Names,
    pub functions: &'a HashMap<String, RawFunction>,
    pub vars: &'a mut dyn Variables,
    pub issues: Vec<NodeIssue>,
    /// Function names being inlined, outermost first (for loop detection).
    pub stack: Vec<String>,
    /// Nodes still allowed to be converted (shared with subgraph importers).
    pub budget: std::rc::Rc<std::cell::Cell<u64>>,
}

/// Ops that pass their inputs through.
const IDENTITY_OPS: &[&str] = &[
    "Identity",
    "IdentityN",
    "StopGradient",
    "Snapshot",
    "PreventGradient",
    "ReadVariableOp",
    "EnsureShape",
    "CheckNumerics",
    "PlaceholderWithDefault",
];
/// TF1 control-flow frame ops.
const TF1_FLOW: &[&str] = &[
    "Switch",
    "Merge",
    "Enter",
    "Exit",
    "NextIteration",
    "LoopCond",
    "RefSwitch",
    "RefMerge",
    "RefEnter",
    "RefExit",
];

/// Output args of multi-output ops, in order (for `node:arg:index` references in functions).
fn output_args(op: &str) -> &'static [&'static str] {
    match op {
        "FusedBatchNorm" | "FusedBatchNormV2" | "FusedBatchNormV3" => &[
            "y",
            "batch_mean",
            "batch_variance",
            "reserve_space_1",
            "reserve_space_2",
            "reserve_space_3",
        ],
        "TopKV2" => &["values", "indices"],
        "Unique" => &["y", "idx"],
        "Switch" => &["output_false", "output_true"],
        _ => &[],
    }
}

/// A parsed tensor reference.
enum Ref<'s> {
    Control,
    /// node name, flat output index or output arg (function form) with index
    Node(&'s str, OutSel<'s>),
}
enum OutSel<'s> {
    Index(usize),
    Arg(&'s str, usize),
}

fn parse_ref(s: &str, in_function: bool) -> Result<Ref<'_>, String> {
    if s.starts_with('^') {
        return Ok(Ref::Control);
    }
    let parts: Vec<&str> = s.split(':').collect();
    let idx = |t: &str| t.parse::<usize>().map_err(|_| format!("bad tensor reference '{s}'"));
    match (parts.len(), in_function) {
        (1, _) => Ok(Ref::Node(parts[0], OutSel::Index(0))),
        (2, false) => Ok(Ref::Node(parts[0], OutSel::Index(idx(parts[1])?))),
        (2, true) => Ok(Ref::Node(parts[0], OutSel::Arg(parts[1], 0))),
        (3, true) => Ok(Ref::Node(parts[0], OutSel::Arg(parts[1], idx(parts[2])?))),
        _ => Err(format!("bad tensor reference '{s}'")),
    }
}

/// One scope: a graph's or function body's nodes, with pre-bound values (function args,
/// placeholders).
pub struct Scope<'s> {
    pub nodes: &'s [RawNode],
    /// Node or arg name → its values.
    pub bound: HashMap<String, Vec<ValueId>>,
    /// Prefix of IR names ("" at top level, "call/" inside an inlined call).
    pub prefix: String,
    pub in_function: bool,
}

impl<'a> Importer<'a> {
    pub fn new(functions: &'a HashMap<String, RawFunction>, vars: &'a mut dyn Variables, name: &str) -> Importer<'a> {
        Importer {
            g: Graph::new(name),
            names: Names::default(),
            functions,
            vars,
            issues: Vec::new(),
            stack: Vec::new(),
            budget: std::rc::Rc::new(std::cell::Cell::new(MAX_CONVERTED_NODES)),
        }
    }

    fn issue(&mut self, node: &str, op: &str, reason: impl Into<String>) {
        self.issues.push(NodeIssue {
            node: node.to_string(),
            op: op.to_string(),
            reason: reason.into(),
        });
    }

    /// The nodes `targets` depend on (data edges only), dependencies first. A cycle is an issue.
    pub fn order<'s>(&mut self, scope: &Scope<'s>, index: &HashMap<&'s str, usize>, targets: &[String]) -> Result<Vec<usize>, Fail> {
        let mut state = vec![0u8; scope.nodes.len()];
        let mut order = Vec::new();
        for t in targets {
            let Ref::Node(name, _) = parse_ref(t, scope.in_function)? else {
                continue;
            };
            if scope.bound.contains_key(name) {
                continue;
            }
            let Some(&start) = index.get(name) else {
                return Err(Fail::Msg(format!("output '{t}' names no node")));
            };
            if state[start] != 0 {
                continue;
            }
            // Iterative DFS: (node, next input to visit).
            let mut stack = vec![(start, 0usize)];
            state[start] = 1;
            while let Some(&mut (n, ref mut next)) = stack.last_mut() {
                let node = &scope.nodes[n];
                if let Some(inp) = node.inputs.get(*next) {
                    *next += 1;
                    let Ok(Ref::Node(dep, _)) = parse_ref(inp, scope.in_function) else {
                        continue;
                    };
                    if scope.bound.contains_key(dep) {
                        continue;
                    }
                    let Some(&d) = index.get(dep) else { continue };
                    match state[d] {
                        0 => {
                            state[d] = 1;
                            stack.push((d, 0));
                        }
                        1 => {
                            let what = if TF1_FLOW.contains(&node.op.as_str()) {
                                "a TF1 while loop (Switch/Merge/NextIteration frames), which is not supported; re-save the model with TF2 control flow"
                            } else {
                                "a cycle in the graph"
                            };
                            let nm = format!("{}{}", scope.prefix, node.name);
                            let op = node.op.clone();
                            self.issue(&nm, &op, format!("input '{inp}' closes {what}"));
                            return Err(Fail::Reported);
                        }
                        _ => {}
                    }
                } else {
                    state[n] = 2;
                    order.push(n);
                    stack.pop();
                }
            }
        }
        Ok(order)
    }

    /// Converts what `targets` need and returns their values. Node failures are collected as
    /// issues (dependents of a failed node are skipped silently).
    pub fn run(&mut self, scope: &Scope<'_>, targets: &[String]) -> Result<Vec<ValueId>, Fail> {
        let index: HashMap<&str, usize> = scope.nodes.iter().enumerate().map(|(i, n)| (n.name.as_str(), i)).collect();
        let order = self.order(scope, &index, targets)?;
        let mut done: HashMap<String, Vec<ValueId>> = scope.bound.clone();
        let mut failed = false;
        for n in order {
            let node = &scope.nodes[n];
            let full = format!("{}{}", scope.prefix, node.name);
            let mut ins = Vec::new();
            let mut missing = false;
            for inp in &node.inputs {
                match self.resolve(scope, &index, &done, inp) {
                    Ok(Some(v)) => ins.push(v),
                    Ok(None) => {}
                    Err(Fail::Reported) => missing = true,
                    Err(Fail::Msg(m)) => {
                        self.issue(&full, &node.op, m);
                        missing = true;
                    }
                }
            }
            if missing {
                failed = true;
                continue;
            }
            let left = self.budget.get();
            if left == 0 {
                self.issue(
                    &full,
                    &node.op,
                    format!("more than {MAX_CONVERTED_NODES} nodes after inlining functions; refused"),
                );
                return Err(Fail::Reported);
            }
            self.budget.set(left - 1);
            match self.convert(node, &full, ins) {
                Ok(outs) => {
                    done.insert(node.name.clone(), outs);
                }
                Err(Fail::Reported) => failed = true,
                Err(Fail::Msg(m)) => {
                    self.issue(&full, &node.op, m);
                    failed = true;
                }
            }
        }
        if failed {
            return Err(Fail::Reported);
        }
        targets
            .iter()
            .map(|t| {
                self.resolve(scope, &index, &done, t)?
                    .ok_or_else(|| Fail::Msg(format!("'{t}' is a control reference")))
            })
            .collect()
    }

    fn resolve(
        &self,
        scope: &Scope<'_>,
        index: &HashMap<&str, usize>,
        done: &HashMap<String, Vec<ValueId>>,
        r: &str,
    ) -> Result<Option<ValueId>, Fail> {
        let Ref::Node(name, sel) = parse_ref(r, scope.in_function)? else {
            return Ok(None);
        };
        let outs = match done.get(name) {
            Some(o) => o,
            // A dependency that failed is already reported.
            None if index.contains_key(name) => return Err(Fail::Reported),
            None => return Err(Fail::Msg(format!("input '{r}' names no node"))),
        };
        let i = match sel {
            OutSel::Index(i) => i,
            OutSel::Arg(arg, i) => {
                let node = index.get(name).and_then(|&k| scope.nodes.get(k));
                let base = node.map(|n| self.arg_offset(n, arg)).unwrap_or(0);
                base + i
            }
        };
        outs.get(i)
            .copied()
            .map(Some)
            .ok_or_else(|| Fail::Msg(format!("input '{r}': node has {} outputs", outs.len())))
    }

    /// Flat offset of output arg `arg` of `node`.
    fn arg_offset(&self, node: &RawNode, arg: &str) -> usize {
        if let Some(p) = output_args(&node.op).iter().position(|a| *a == arg) {
            return p;
        }
        if let Some(f) = self.functions.get(&node.op) {
            return f.outputs.iter().position(|a| a.name == arg).unwrap_or(0);
        }
        0
    }

    /// Converts one node.
    fn convert(&mut self, node: &RawNode, full: &str, ins: Vec<ValueId>) -> Result<Vec<ValueId>, Fail> {
        let op = node.op.as_str();
        if IDENTITY_OPS.contains(&op) {
            return Ok(if op == "PlaceholderWithDefault" {
                ins.into_iter().take(1).collect()
            } else {
                ins
            });
        }
        if TF1_FLOW.contains(&op) {
            return Err(Fail::Msg(
                "TF1 control flow (Switch/Merge frames) is not supported; re-save the model with TF2 control flow (tf.function) or freeze it with lower_control_flow=False".into(),
            ));
        }
        match op {
            "NoOp" => return Ok(vec![]),
            "Const" => return self.constant(node, full).map(|v| vec![v]),
            "Placeholder" => return Err(Fail::Msg("placeholder not bound to a graph input".into())),
            "VarHandleOp" => {
                let shared = match node.attrs.get("shared_name") {
                    Some(Attr::S(s)) => String::from_utf8_lossy(s).into_owned(),
                    _ => node.name.clone(),
                };
                let t = self.vars.read(&node.name, &shared)?;
                let name = self.names.fresh(full);
                return Ok(vec![self.g.add_constant(name, t)]);
            }
            "PartitionedCall" | "StatefulPartitionedCall" => {
                let Some(Attr::Func(f, _)) = node.attrs.get("f") else {
                    return Err(Fail::Msg("call without a function attribute 'f'".into()));
                };
                return self.call(f, ins, full);
            }
            "If" | "StatelessIf" => return crate::control::if_(self, node, full, ins),
            "While" | "StatelessWhile" => return crate::control::while_(self, node, full, ins),
            _ => {}
        }
        if self.functions.contains_key(op) {
            return self.call(op, ins, full);
        }
        let Some(rule) = ops::lookup(op) else {
            return Err(Fail::Msg("unsupported op".into()));
        };
        let mut cx = Cx {
            g: &mut self.g,
            names: &mut self.names,
            node,
            name: full.to_string(),
            ins,
        };
        Ok(rule(&mut cx)?)
    }

    fn constant(&mut self, node: &RawNode, full: &str) -> Result<ValueId, Fail> {
        match node.attrs.get("value") {
            Some(Attr::Tensor(r)) => match r.as_ref() {
                Ok(t) => {
                    let name = self.names.fresh(full);
                    Ok(self.g.add_constant(name, t.clone()))
                }
                Err(e) => Err(Fail::Msg(format!("bad value: {e}"))),
            },
            _ => Err(Fail::Msg("Const without a tensor 'value'".into())),
        }
    }

    /// Inlines function `fname` with `args`; returns its outputs in signature order.
    pub fn call(&mut self, fname: &str, args: Vec<ValueId>, full: &str) -> Result<Vec<ValueId>, Fail> {
        let functions = self.functions;
        let f = functions
            .get(fname)
            .ok_or_else(|| format!("function '{fname}' is not in the graph's library"))?;
        if self.stack.iter().any(|s| s == fname) || self.stack.len() >= MAX_CALL_DEPTH {
            let mut chain = self.stack.clone();
            chain.push(fname.to_string());
            return Err(Fail::Msg(format!(
                "function references loop or nest too deep: {}",
                chain.join(" -> ")
            )));
        }
        if f.inputs.len() != args.len() {
            return Err(Fail::Msg(format!(
                "function '{fname}' takes {} inputs, the call passes {}",
                f.inputs.len(),
                args.len()
            )));
        }
        let bound = f.inputs.iter().zip(args).map(|(a, v)| (a.name.clone(), vec![v])).collect();
        let scope = Scope {
            nodes: &f.nodes,
            bound,
            prefix: format!("{full}/"),
            in_function: true,
        };
        let targets: Vec<String> = f
            .outputs
            .iter()
            .map(|a| {
                f.ret
                    .get(&a.name)
                    .cloned()
                    .ok_or_else(|| format!("function '{fname}' has no value for output '{}'", a.name))
            })
            .collect::<Result<_, _>>()?;
        self.stack.push(fname.to_string());
        let r = self.run(&scope, &targets);
        self.stack.pop();
        r
    }

    /// Gives graph output `name` the value `v` (an Identity is added when `v` is an input, a
    /// constant or already an output; otherwise the value is renamed).
    pub fn output(&mut self, name: &str, v: ValueId) -> Result<(), String> {
        let needs_identity = self.g.is_output(v) || matches!(self.g.get(v.node).map(|n| &n.op), Some(Op::Input(_)) | Some(Op::Constant(_)));
        if needs_identity {
            if let Some(other) = self.g.find_value(name) {
                self.rename_away(other);
            }
            let id = self
                .g
                .add_op(name, Op::Identity(Identity {}), &[Some(v)], &[name])
                .map_err(|e| e.to_string())?;
            self.g.add_output(name, id.out(0)).map_err(|e| e.to_string())
        } else {
            if let Some(other) = self.g.find_value(name).filter(|o| *o != v) {
                self.rename_away(other);
            }
            if let Some(val) = self.g.value_mut(v) {
                val.name = name.to_string();
            }
            self.g.add_output(name, v).map_err(|e| e.to_string())
        }
    }

    fn rename_away(&mut self, v: ValueId) {
        let Some(old) = self.g.value(v).map(|x| x.name.clone()) else {
            return;
        };
        let new = self.names.fresh(&format!("{old}_"));
        if let Some(val) = self.g.value_mut(v) {
            val.name = new;
        }
    }
}

/// The IR type of a Placeholder (dtype and shape attributes; unknown dims become symbols).
pub fn placeholder_type(node: &RawNode, input_name: &str) -> Option<ValueType> {
    let dt = match node.attrs.get("dtype") {
        Some(Attr::Type(t)) => crate::decode::dtype(*t)?,
        _ => return None,
    };
    let shape = match node.attrs.get("shape") {
        Some(Attr::Shape(Some(dims))) => Some(Shape(
            dims.iter()
                .enumerate()
                .map(|(i, &d)| {
                    if d >= 0 {
                        Dim::Known(d as u64)
                    } else {
                        Dim::Sym(if i == 0 { "batch".into() } else { format!("{input_name}_d{i}") })
                    }
                })
                .collect(),
        )),
        _ => None,
    };
    Some(ValueType::tensor(dt, shape))
}
