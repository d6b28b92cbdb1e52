//! Calls by dotted name: Python builtins the printer uses (`int`, `float`, `bool`, `len`,
//! `getattr`, `range`, `annotate`, `uninitialized`, `unchecked_cast`, `isinstance` on None),
//! `ops.prim.*` (`NumToTensor`, `device`, `dtype`, `min`/`max`, `RaiseException`), the
//! size queries (`torch.size`, `torch.dim`, `torch.numel`, `torch.len`) answered from the known
//! shapes, free functions of the archive (`__torch__.…`), and everything else under `torch.` or
//! `ops.aten.` as an ATen op.

use super::interp::{Interp, MAX_RANGE, R, Scope};
use super::schema::c10_code;
use super::value::{Num, V, num_value};
use std::rc::Rc;

/// `torch.*` / `ops.aten.*` names answered here rather than by an op rule.
const HANDLED_HERE: [&str; 10] = [
    "Int",
    "Float",
    "Bool",
    "ScalarImplicit",
    "scalar_to_tensor",
    "len",
    "device",
    "size",
    "dim",
    "numel",
];

impl Interp<'_> {
    pub fn builtin(&mut self, path: &str, args: Vec<V>, kwargs: Vec<(String, V)>, scope: &mut Scope) -> R<V> {
        let _ = scope;
        // Container and type helpers pass poison through untouched.
        match path {
            "annotate" | "unchecked_cast" | "ops.prim.unchecked_cast" => {
                return args.get(1).cloned().ok_or_else(|| format!("{path} needs two arguments"));
            }
            "uninitialized" => return Ok(V::None),
            "getattr" => {
                let (Some(o), Some(V::Str(a))) = (args.first(), args.get(1)) else {
                    return Err("getattr(object, \"name\") expected".into());
                };
                let (o, a) = (o.clone(), a.clone());
                return self.attr(&o, &a);
            }
            "hasattr" => return Ok(self.unsupported("hasattr")),
            "isinstance" => return Ok(self.unsupported("isinstance")),
            "print" | "torch.warn" | "warnings.warn" | "ops.aten.warn" => return Ok(V::None),
            _ => {}
        }
        if args.iter().any(V::is_poison) || kwargs.iter().any(|(_, v)| v.is_poison()) {
            // An ATen op still gets checked, so that every unsupported op is listed.
            if let Some(op) = path.strip_prefix("torch.").or_else(|| path.strip_prefix("ops.aten."))
                && !op.contains('.')
                && !HANDLED_HERE.contains(&op)
            {
                return self.aten(op, args, kwargs);
            }
            return Ok(V::Poison);
        }
        let first = args.first().cloned().unwrap_or(V::None);
        // Python scalars of tensors known only at run time stay 0-d tensors (int64, float32,
        // bool), so that they can drive an IR `If`/`Loop`.
        if let V::Tensor(_) = &first {
            let code = match path {
                "int" | "ops.aten.Int" | "torch.Int" => Some(4),
                "float" | "ops.aten.Float" | "torch.Float" => Some(6),
                "bool" | "ops.aten.Bool" | "torch.Bool" => Some(11),
                _ => None,
            };
            if let Some(code) = code {
                return self.aten("to", vec![first, V::Int(code)], vec![]);
            }
            if path == "range" && args.len() == 1 {
                let n = self.aten("to", vec![first, V::Int(4)], vec![])?;
                return Ok(match n {
                    V::Tensor(t) => V::RunRange(t),
                    other => other,
                });
            }
        }
        match path {
            "int" | "ops.aten.Int" | "torch.Int" => self.number_of(&first, "int").map(|n| V::Int(n.i64())),
            "float" | "ops.aten.Float" | "torch.Float" => self.number_of(&first, "float").map(|n| V::Float(n.f64())),
            "bool" | "ops.aten.Bool" | "torch.Bool" => match self.truth(&first) {
                Some(b) => Ok(V::Bool(b)),
                None => Ok(self.unsupported(format!("bool() of a {} computed at run time", first.kind()))),
            },
            "ops.aten.ScalarImplicit" | "ops.prim.ScalarImplicit" => self.number_of(&first, "scalar").map(num_value),
            "ops.prim.NumToTensor" | "torch.scalar_to_tensor" => match first.as_num() {
                Some(n) => Ok(V::Num(n)),
                None => Ok(self.unsupported(format!("NumToTensor of a {}", first.kind()))),
            },
            "len" | "torch.len" | "ops.aten.len" => match &first {
                V::List(v) | V::Tuple(v) => Ok(V::Int(v.len() as i64)),
                V::Str(s) => Ok(V::Int(s.chars().count() as i64)),
                V::Tensor(_) => self.size_of(&first, Some(0)),
                V::Obj(o) => {
                    let o = o.clone();
                    self.call_method(o, "__len__", vec![], vec![])
                }
                other => Err(format!("len() of a {}", other.kind())),
            },
            "range" => {
                let ints: Vec<i64> = args
                    .iter()
                    .map(|a| a.as_int().ok_or_else(|| format!("range() of a {}", a.kind())))
                    .collect::<R<_>>()?;
                let (start, end, step) = match ints.as_slice() {
                    [e] => (0, *e, 1),
                    [s, e] => (*s, *e, 1),
                    [s, e, st] => (*s, *e, *st),
                    _ => return Err("range() takes 1 to 3 arguments".into()),
                };
                if step == 0 {
                    return Err("range() step is 0".into());
                }
                let count = if step > 0 {
                    (end.saturating_sub(start).max(0) + step - 1) / step
                } else {
                    (start.saturating_sub(end).max(0) + (-step) - 1) / (-step)
                };
                if count > MAX_RANGE {
                    return Err(format!("range of {count} items is too long to unroll"));
                }
                Ok(V::List(Rc::new((0..count).map(|i| V::Int(start + i * step)).collect())))
            }
            "ops.prim.device" => Ok(V::Device(Rc::from("cpu"))),
            "torch.device" => Ok(V::Device(Rc::from(match &first {
                V::Str(s) => &**s,
                _ => "cpu",
            }))),
            "ops.prim.dtype" => match &first {
                V::Tensor(t) => {
                    let t = t.clone();
                    let dt = self.meta_of(&t)?.dtype;
                    c10_code(dt)
                        .map(V::Int)
                        .ok_or_else(|| format!("dtype {dt} has no TorchScript code"))
                }
                V::Num(n) => Ok(V::Int(c10_code(n.dtype()).unwrap_or(6))),
                other => Err(format!("prim::dtype of a {}", other.kind())),
            },
            "ops.prim.min" | "ops.prim.max" | "min" | "max" => {
                let items: Vec<V> = match (&first, args.len()) {
                    (V::List(v) | V::Tuple(v), 1) => v.to_vec(),
                    _ => args.clone(),
                };
                let nums: Vec<Num> = items
                    .iter()
                    .map(|v| v.as_num().ok_or_else(|| format!("{path} of a {}", v.kind())))
                    .collect::<R<_>>()?;
                let pick = nums
                    .into_iter()
                    .reduce(|a, b| {
                        let less = b.f64() < a.f64();
                        if less == path.ends_with("min") { b } else { a }
                    })
                    .ok_or_else(|| format!("{path} of nothing"))?;
                Ok(num_value(pick))
            }
            "ops.prim.RaiseException" | "ops.prim.RaiseExceptionWithMessage" => {
                Err(format!("the model raises an exception here: {:?}", args.first()))
            }
            "ops.prim.TupleConstruct" => Ok(V::Tuple(Rc::new(args))),
            "ops.prim.ListConstruct" => Ok(V::List(Rc::new(args))),
            "torch.size" | "ops.aten.size" => {
                let dim = args
                    .get(1)
                    .map(|d| d.as_int().ok_or("size() dimension is not an int"))
                    .transpose()?;
                self.size_of(&first, dim)
            }
            "torch.dim" | "ops.aten.dim" => match &first {
                V::Tensor(t) => {
                    let t = t.clone();
                    Ok(V::Int(self.meta_of(&t)?.rank() as i64))
                }
                V::Num(_) => Ok(V::Int(0)),
                other => Err(format!("dim() of a {}", other.kind())),
            },
            "torch.numel" | "ops.aten.numel" => match &first {
                V::Tensor(t) => {
                    let t = t.clone();
                    let dims = self.known_shape(&t)?;
                    let n = dims.iter().try_fold(1i64, |a, &d| a.checked_mul(d)).ok_or("numel overflows")?;
                    Ok(V::Int(n))
                }
                V::Num(_) => Ok(V::Int(1)),
                other => Err(format!("numel() of a {}", other.kind())),
            },
            p => {
                if let Some(op) = p.strip_prefix("torch.").or_else(|| p.strip_prefix("ops.aten."))
                    && !op.contains('.')
                {
                    return self.aten(op, args, kwargs);
                }
                if p.starts_with("__torch__.") {
                    if let Some(f) = self.s.functions.get(p) {
                        let (def, entry) = (f.def.clone(), f.entry.clone());
                        return self.call_def(&def, entry, args, kwargs);
                    }
                    return Ok(self.unsupported(format!("call of {p} (a class constructor or a function not in the archive)")));
                }
                Ok(self.unsupported(format!("call of {p}")))
            }
        }
    }

    fn number_of(&mut self, v: &V, what: &str) -> R<Num> {
        match v.as_num() {
            Some(n) => Ok(n),
            None => match v {
                V::Str(s) => s.parse::<i64>().map(Num::Int).map_err(|_| format!("{what}() of the string {s:?}")),
                _ => Err(format!(
                    "{what}() of a {} whose value is only known at run time (data-dependent)",
                    v.kind()
                )),
            },
        }
    }

    /// `size(x)` (a list) or `size(x, d)` (an int) from the known shape.
    fn size_of(&mut self, x: &V, dim: Option<i64>) -> R<V> {
        let dims = match x {
            V::Tensor(t) => {
                let t = t.clone();
                self.known_shape(&t)?
            }
            V::Num(_) => vec![],
            other => return Err(format!("size() of a {}", other.kind())),
        };
        match dim {
            None => Ok(V::List(Rc::new(dims.into_iter().map(V::Int).collect()))),
            Some(d) => {
                let r = dims.len() as i64;
                let i = if d < 0 { d + r } else { d };
                usize::try_from(i)
                    .ok()
                    .and_then(|i| dims.get(i))
                    .map(|&s| V::Int(s))
                    .ok_or_else(|| format!("size() dimension {d} out of range for rank {r}"))
            }
        }
    }
}
