//! The pickle opcode loop: protocols 0–5 as far as torch and plain data need them. It builds
//! [`Value`]s only; globals go through the allow-list in `globals.rs`, persistent ids must be
//! torch storage tuples, and the stack, mark stack, nesting depth and memo are all bounded.

use super::globals::{call, resolve};
use super::value::{Global, StorageRef, Value};
use std::collections::HashMap;
use std::rc::Rc;

/// Limits and switches of one load.
#[derive(Clone, Debug)]
pub struct Options {
    /// Allow `__torch__.*` classes (TorchScript module objects) for NEWOBJ + BUILD.
    pub script_classes: bool,
    /// Deepest container nesting accepted.
    pub max_depth: u32,
    /// Most values on the stack at once.
    pub max_stack: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            script_classes: false,
            max_depth: 500,
            max_stack: 1 << 20,
        }
    }
}

/// A stack slot: the value, its nesting depth and the memo index it was stored under.
#[derive(Clone)]
struct Slot {
    v: Value,
    depth: u32,
    memo: Option<u32>,
}

/// A load failure: byte offset of the opcode and the reason.
#[derive(Debug)]
pub struct PickleError {
    pub offset: usize,
    pub msg: String,
}

struct Vm<'a> {
    b: &'a [u8],
    pos: usize,
    op_at: usize,
    stack: Vec<Slot>,
    marks: Vec<usize>,
    memo: HashMap<u32, Slot>,
    opts: &'a Options,
}

type R<T> = Result<T, String>;

impl<'a> Vm<'a> {
    fn take(&mut self, n: usize) -> R<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| format!("pickle ends in the middle of an opcode (needs {n} more bytes)"))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> R<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> R<u16> {
        let s = self.take(2)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }
    fn u32(&mut self) -> R<u32> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn u64(&mut self) -> R<u64> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(u64::from_le_bytes(a))
    }
    fn len_u64(&mut self) -> R<usize> {
        let n = self.u64()?;
        usize::try_from(n).map_err(|_| format!("length {n} is too large"))
    }
    fn line(&mut self) -> R<&'a str> {
        let rest = &self.b[self.pos..];
        let nl = rest
            .iter()
            .position(|&c| c == b'\n')
            .ok_or("pickle ends in the middle of a text line")?;
        self.pos += nl + 1;
        std::str::from_utf8(&rest[..nl]).map_err(|_| "text argument is not UTF-8".to_string())
    }

    fn push(&mut self, v: Value, depth: u32) -> R<()> {
        if self.stack.len() >= self.opts.max_stack {
            return Err(format!("stack holds more than {} values", self.opts.max_stack));
        }
        if depth > self.opts.max_depth {
            return Err(format!("values nested deeper than {} levels", self.opts.max_depth));
        }
        self.stack.push(Slot { v, depth, memo: None });
        Ok(())
    }
    fn push0(&mut self, v: Value) -> R<()> {
        self.push(v, 0)
    }
    fn pop(&mut self) -> R<Slot> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return Err("pop across a MARK".into());
        }
        self.stack.pop().ok_or_else(|| "stack underflow".to_string())
    }
    fn pop_mark(&mut self) -> R<Vec<Slot>> {
        let m = self.marks.pop().ok_or("no MARK on the stack")?;
        if m > self.stack.len() {
            return Err("MARK past the stack".into());
        }
        Ok(self.stack.split_off(m))
    }
    fn depth_of(items: &[Slot]) -> u32 {
        items.iter().map(|s| s.depth).max().unwrap_or(0) + 1
    }
    fn tuple(&mut self, items: Vec<Slot>) -> R<()> {
        let d = Self::depth_of(&items);
        self.push(Value::Tuple(Rc::new(items.into_iter().map(|s| s.v).collect())), d)
    }

    /// Mutates the container on top of the stack (below a mark's items), keeping its memo copy
    /// in step so a later GET sees the same contents.
    fn mutate_top(&mut self, add_depth: u32, f: impl FnOnce(&mut Value) -> R<()>) -> R<()> {
        let top = self.stack.last_mut().ok_or("stack underflow")?;
        if let Some(m) = top.memo {
            // Drop the memo's reference first so the container is unique (no copy on write).
            if self.memo.get(&m).is_some_and(|s| s.v == Value::None || ptr_eq(&s.v, &top.v)) {
                self.memo.remove(&m);
            } else {
                top.memo = None;
            }
        }
        f(&mut top.v)?;
        top.depth = top.depth.max(add_depth + 1);
        if top.depth > self.opts.max_depth {
            return Err(format!("values nested deeper than {} levels", self.opts.max_depth));
        }
        if let Some(m) = top.memo {
            let s = top.clone();
            self.memo.insert(m, s);
        }
        Ok(())
    }

    fn memo_put(&mut self, idx: u32) -> R<()> {
        let top = self.stack.last_mut().ok_or("memo PUT with an empty stack")?;
        top.memo = Some(idx);
        let s = top.clone();
        self.memo.insert(idx, s);
        Ok(())
    }
    fn memo_get(&mut self, idx: u32) -> R<()> {
        let s = self
            .memo
            .get(&idx)
            .cloned()
            .ok_or_else(|| format!("memo index {idx} was never stored"))?;
        if self.stack.len() >= self.opts.max_stack {
            return Err(format!("stack holds more than {} values", self.opts.max_stack));
        }
        self.stack.push(s);
        Ok(())
    }

    fn persistent(&self, pid: Value) -> R<Value> {
        let t = pid
            .as_seq()
            .ok_or_else(|| format!("persistent id is a {}, expected a storage tuple", pid.kind()))?;
        match t {
            [Value::Str(tag), Value::Global(Global::Storage(dt)), key, _location, numel, ..] if &**tag == "storage" => {
                let key = match key {
                    Value::Str(s) => s.to_string(),
                    Value::Int(i) => i.to_string(),
                    o => return Err(format!("storage key is a {}", o.kind())),
                };
                let numel = numel
                    .as_int()
                    .filter(|&n| n >= 0)
                    .ok_or("storage numel is not a non-negative int")?;
                Ok(Value::Storage(StorageRef {
                    key,
                    dtype: *dt,
                    numel: numel as u64,
                }))
            }
            _ => Err("persistent id is not a ('storage', <Storage type>, key, location, numel) tuple".into()),
        }
    }

    fn step(&mut self, op: u8) -> R<bool> {
        match op {
            0x80 => {
                let p = self.u8()?;
                if p > 5 {
                    return Err(format!("pickle protocol {p} is not supported (0–5 are)"));
                }
            }
            0x95 => {
                self.u64()?;
            }
            b'.' => return Ok(true),
            b'(' => {
                if self.marks.len() >= self.opts.max_depth as usize {
                    return Err(format!("more than {} nested MARKs", self.opts.max_depth));
                }
                self.marks.push(self.stack.len());
            }
            b'0' => {
                self.pop()?;
            }
            b'1' => {
                self.pop_mark()?;
            }
            b'2' => {
                let top = self.stack.last().cloned().ok_or("DUP with an empty stack")?;
                let d = top.depth;
                self.push(top.v, d)?;
            }
            b'N' => self.push0(Value::None)?,
            0x88 => self.push0(Value::Bool(true))?,
            0x89 => self.push0(Value::Bool(false))?,
            b'J' => {
                let v = self.u32()? as i32;
                self.push0(Value::Int(v as i64))?
            }
            b'K' => {
                let v = self.u8()?;
                self.push0(Value::Int(v as i64))?
            }
            b'M' => {
                let v = self.u16()?;
                self.push0(Value::Int(v as i64))?
            }
            0x8a | 0x8b => {
                let n = if op == 0x8a { self.u8()? as usize } else { self.u32()? as usize };
                let bytes = self.take(n)?;
                self.push0(long_value(bytes))?
            }
            b'I' | b'L' => {
                let s = self.line()?.trim_end_matches('L');
                let v = match s {
                    "00" => Value::Bool(false),
                    "01" => Value::Bool(true),
                    _ => Value::Int(s.parse::<i64>().map_err(|_| format!("bad integer literal {s:?}"))?),
                };
                self.push0(v)?
            }
            b'G' => {
                let s = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(s);
                self.push0(Value::Float(f64::from_be_bytes(a)))?
            }
            b'F' => {
                let s = self.line()?;
                self.push0(Value::Float(
                    s.trim().parse::<f64>().map_err(|_| format!("bad float literal {s:?}"))?,
                ))?
            }
            b'X' | 0x8c | 0x8d => {
                let n = match op {
                    b'X' => self.u32()? as usize,
                    0x8c => self.u8()? as usize,
                    _ => self.len_u64()?,
                };
                let s = std::str::from_utf8(self.take(n)?).map_err(|_| "string is not UTF-8".to_string())?;
                self.push0(Value::Str(Rc::from(s)))?
            }
            b'U' | b'T' => {
                let n = if op == b'U' { self.u8()? as usize } else { self.u32()? as usize };
                let s: String = self.take(n)?.iter().map(|&c| c as char).collect();
                self.push0(Value::Str(Rc::from(s.as_str())))?
            }
            b'B' | b'C' | 0x8e | 0x96 => {
                let n = match op {
                    b'B' => self.u32()? as usize,
                    b'C' => self.u8()? as usize,
                    _ => self.len_u64()?,
                };
                let s = self.take(n)?.to_vec();
                self.push0(Value::Bytes(Rc::new(s)))?
            }
            b')' => self.push(Value::Tuple(Rc::new(vec![])), 1)?,
            b't' => {
                let items = self.pop_mark()?;
                self.tuple(items)?
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.pop()?);
                }
                items.reverse();
                self.tuple(items)?
            }
            b']' => self.push(Value::List(Rc::new(vec![])), 1)?,
            b'l' => {
                let items = self.pop_mark()?;
                let d = Self::depth_of(&items);
                self.push(Value::List(Rc::new(items.into_iter().map(|s| s.v).collect())), d)?
            }
            b'a' | b'e' => {
                let items = if op == b'a' { vec![self.pop()?] } else { self.pop_mark()? };
                let d = items.iter().map(|s| s.depth).max().unwrap_or(0);
                self.mutate_top(d, |c| match c {
                    Value::List(l) => {
                        Rc::make_mut(l).extend(items.into_iter().map(|s| s.v));
                        Ok(())
                    }
                    o => Err(format!("APPEND to a {}", o.kind())),
                })?
            }
            b'}' => self.push(Value::Dict(Rc::new(vec![])), 1)?,
            b'd' => {
                let items = self.pop_mark()?;
                let d = Self::depth_of(&items);
                let pairs = pairs(items)?;
                self.push(Value::Dict(Rc::new(pairs)), d)?
            }
            b's' | b'u' => {
                let items = if op == b's' {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    vec![k, v]
                } else {
                    self.pop_mark()?
                };
                let d = items.iter().map(|s| s.depth).max().unwrap_or(0);
                let kv = pairs(items)?;
                self.mutate_top(d, |c| match c {
                    Value::Dict(m) => {
                        let m = Rc::make_mut(m);
                        for (k, v) in kv {
                            if let Some(slot) = m.iter_mut().find(|(k2, _)| *k2 == k) {
                                slot.1 = v;
                            } else {
                                m.push((k, v));
                            }
                        }
                        Ok(())
                    }
                    o => Err(format!("SETITEM on a {}", o.kind())),
                })?
            }
            0x8f => self.push(Value::Set(Rc::new(vec![])), 1)?,
            0x90 => {
                let items = self.pop_mark()?;
                let d = items.iter().map(|s| s.depth).max().unwrap_or(0);
                self.mutate_top(d, |c| match c {
                    Value::Set(l) => {
                        Rc::make_mut(l).extend(items.into_iter().map(|s| s.v));
                        Ok(())
                    }
                    o => Err(format!("ADDITEMS to a {}", o.kind())),
                })?
            }
            0x91 => {
                let items = self.pop_mark()?;
                let d = Self::depth_of(&items);
                self.push(Value::Set(Rc::new(items.into_iter().map(|s| s.v).collect())), d)?
            }
            b'c' => {
                let module = self.line()?;
                let name = self.line()?;
                let g = resolve(module, name, self.opts.script_classes)?;
                self.push0(Value::Global(g))?
            }
            0x93 => {
                let name = self.pop()?.v;
                let module = self.pop()?.v;
                let (Some(m), Some(n)) = (module.as_str(), name.as_str()) else {
                    return Err("STACK_GLOBAL needs two strings".into());
                };
                let g = resolve(m, n, self.opts.script_classes)?;
                self.push0(Value::Global(g))?
            }
            b'R' => {
                let args = self.pop()?;
                let f = self.pop()?;
                let Value::Global(g) = &f.v else {
                    return Err(format!("REDUCE on a {}, not an allowed callable", f.v.kind()));
                };
                let v = call(g, &args.v)?;
                self.push(v, args.depth)?
            }
            0x81 | 0x92 => {
                if op == 0x92 {
                    let kw = self.pop()?;
                    if !matches!(&kw.v, Value::Dict(d) if d.is_empty()) {
                        return Err("NEWOBJ_EX with keyword arguments is not allowed".into());
                    }
                }
                let args = self.pop()?;
                let cls = self.pop()?;
                let v = match &cls.v {
                    Value::Global(Global::ScriptClass(c)) => Value::Object {
                        class: c.clone(),
                        state: Rc::new(Value::None),
                    },
                    Value::Global(g @ (Global::OrderedDict | Global::Set | Global::FrozenSet | Global::TorchSize)) => call(g, &args.v)?,
                    o => return Err(format!("NEWOBJ of {} is not allowed", o.kind())),
                };
                self.push(v, args.depth)?
            }
            b'b' => {
                let state = self.pop()?;
                self.mutate_top(state.depth, |obj| match obj {
                    Value::Object { state: s, .. } => {
                        *s = Rc::new(state.v);
                        Ok(())
                    }
                    // OrderedDict attributes (`_metadata`) and tensor/parameter state: ignored.
                    Value::Dict(_) | Value::Tensor(_) => Ok(()),
                    o => Err(format!("BUILD on a {} is not allowed", o.kind())),
                })?
            }
            b'q' => {
                let i = self.u8()? as u32;
                self.memo_put(i)?
            }
            b'r' => {
                let i = self.u32()?;
                self.memo_put(i)?
            }
            0x94 => {
                let i = u32::try_from(self.memo.len()).map_err(|_| "memo too large")?;
                self.memo_put(i)?
            }
            b'p' => {
                let s = self.line()?;
                let i = s.parse::<u32>().map_err(|_| format!("bad memo index {s:?}"))?;
                self.memo_put(i)?
            }
            b'h' => {
                let i = self.u8()? as u32;
                self.memo_get(i)?
            }
            b'j' => {
                let i = self.u32()?;
                self.memo_get(i)?
            }
            b'g' => {
                let s = self.line()?;
                let i = s.parse::<u32>().map_err(|_| format!("bad memo index {s:?}"))?;
                self.memo_get(i)?
            }
            b'Q' => {
                let pid = self.pop()?;
                let v = self.persistent(pid.v)?;
                self.push0(v)?
            }
            b'P' => return Err("text persistent ids (PERSID) are not allowed".into()),
            b'i' | b'o' => return Err("INST/OBJ (calling a class) is not allowed".into()),
            0x82..=0x84 => return Err("extension registry opcodes (EXT1/2/4) are not allowed".into()),
            0x97 | 0x98 => return Err("out-of-band buffers are not supported".into()),
            other => return Err(format!("unknown opcode 0x{other:02x}")),
        }
        Ok(false)
    }
}

fn ptr_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::List(x), Value::List(y)) | (Value::Set(x), Value::Set(y)) | (Value::Tuple(x), Value::Tuple(y)) => Rc::ptr_eq(x, y),
        (Value::Dict(x), Value::Dict(y)) => Rc::ptr_eq(x, y),
        (Value::Object { state: x, .. }, Value::Object { state: y, .. }) => Rc::ptr_eq(x, y),
        _ => false,
    }
}

fn pairs(items: Vec<Slot>) -> R<Vec<(Value, Value)>> {
    if !items.len().is_multiple_of(2) {
        return Err("odd number of items for a dict".into());
    }
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k.v, v.v));
    }
    Ok(out)
}

/// LONG1/LONG4 payload: little-endian two's complement.
fn long_value(b: &[u8]) -> Value {
    if b.is_empty() {
        return Value::Int(0);
    }
    if b.len() <= 8 {
        let neg = b[b.len() - 1] & 0x80 != 0;
        let mut a = [if neg { 0xFF } else { 0 }; 8];
        a[..b.len()].copy_from_slice(b);
        return Value::Int(i64::from_le_bytes(a));
    }
    Value::BigInt(Rc::new(b.to_vec()))
}

/// Loads one pickle starting at `start`; returns the value and the offset just past STOP.
pub fn load(b: &[u8], start: usize, opts: &Options) -> Result<(Value, usize), PickleError> {
    let mut vm = Vm {
        b,
        pos: start,
        op_at: start,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        opts,
    };
    loop {
        vm.op_at = vm.pos;
        let op = match vm.u8() {
            Ok(o) => o,
            Err(_) => {
                return Err(PickleError {
                    offset: vm.pos,
                    msg: "pickle ends without a STOP opcode".into(),
                });
            }
        };
        match vm.step(op) {
            Ok(false) => {}
            Ok(true) => {
                let at = vm.op_at;
                let top = vm.stack.pop().ok_or_else(|| PickleError {
                    offset: at,
                    msg: "STOP with an empty stack".into(),
                })?;
                return Ok((top.v, vm.pos));
            }
            Err(msg) => {
                return Err(PickleError {
                    offset: vm.op_at,
                    msg: format!("opcode 0x{op:02x}: {msg}"),
                });
            }
        }
    }
}
