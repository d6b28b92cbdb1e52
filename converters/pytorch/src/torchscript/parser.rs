//! A recursive-descent parser for serialized TorchScript (see [`super::ast`]). Anything outside
//! the subset is an error naming the line and what was found; nesting depth is bounded so
//! hostile input cannot overflow the stack.

use super::ast::*;
use super::lexer::{Tok, Token, lex};

/// A parse failure: line and reason.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub line: u32,
    pub msg: String,
}

/// Deepest expression/statement nesting accepted.
const MAX_DEPTH: u32 = 50;

type R<T> = Result<T, ParseError>;
/// Positional and keyword arguments of a call.
type CallArgs = (Vec<Expr>, Vec<(String, Expr)>);

/// Parses one file's source.
pub fn parse(src: &str) -> R<File> {
    let toks = lex(src).map_err(|e| ParseError { line: e.line, msg: e.msg })?;
    let mut p = P { t: toks, i: 0, depth: 0 };
    p.file()
}

struct P {
    t: Vec<Token>,
    i: usize,
    depth: u32,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Name(n) => format!("'{n}'"),
        Tok::Int(i) => format!("number {i}"),
        Tok::Float(f) => format!("number {f}"),
        Tok::Str(_) => "a string".into(),
        Tok::Op(o) => format!("'{o}'"),
        Tok::Newline => "end of line".into(),
        Tok::Indent => "an indented block".into(),
        Tok::Dedent => "end of block".into(),
        Tok::Eof => "end of file".into(),
    }
}

impl P {
    fn peek(&self) -> &Tok {
        self.t.get(self.i).map(|t| &t.tok).unwrap_or(&Tok::Eof)
    }
    fn peek_at(&self, k: usize) -> &Tok {
        self.t.get(self.i + k).map(|t| &t.tok).unwrap_or(&Tok::Eof)
    }
    fn line(&self) -> u32 {
        self.t.get(self.i).or_else(|| self.t.last()).map(|t| t.line).unwrap_or(1)
    }
    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.i < self.t.len() {
            self.i += 1;
        }
        t
    }
    fn err<T>(&self, msg: impl Into<String>) -> R<T> {
        Err(ParseError {
            line: self.line(),
            msg: msg.into(),
        })
    }
    fn is_op(&self, o: &str) -> bool {
        matches!(self.peek(), Tok::Op(x) if *x == o)
    }
    fn is_name(&self, n: &str) -> bool {
        matches!(self.peek(), Tok::Name(x) if x == n)
    }
    fn eat_op(&mut self, o: &str) -> bool {
        if self.is_op(o) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect_op(&mut self, o: &str) -> R<()> {
        if self.eat_op(o) {
            Ok(())
        } else {
            self.err(format!("expected '{o}', found {}", describe(self.peek())))
        }
    }
    fn name(&mut self) -> R<String> {
        match self.next() {
            Tok::Name(n) => Ok(n),
            t => {
                self.i = self.i.saturating_sub(1);
                self.err(format!("expected a name, found {}", describe(&t)))
            }
        }
    }
    fn newline(&mut self) -> R<()> {
        match self.peek() {
            Tok::Newline => {
                self.i += 1;
                Ok(())
            }
            Tok::Eof | Tok::Dedent => Ok(()),
            t => self.err(format!("expected end of line, found {}", describe(t))),
        }
    }
    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err("nested too deep");
        }
        Ok(())
    }

    fn file(&mut self) -> R<File> {
        let mut f = File::default();
        loop {
            match self.peek().clone() {
                Tok::Eof => return Ok(f),
                Tok::Newline => {
                    self.i += 1;
                }
                Tok::Name(n) if n == "class" => f.classes.push(self.class()?),
                Tok::Name(n) if n == "def" => f.functions.push(self.def()?),
                Tok::Name(n) if n == "import" || n == "from" => {
                    while !matches!(self.peek(), Tok::Newline | Tok::Eof) {
                        self.i += 1;
                    }
                }
                Tok::Name(n) if matches!(self.peek_at(1), Tok::Op("=")) => {
                    self.i += 2;
                    let v = self.expr()?;
                    self.newline()?;
                    f.globals.push((n, v));
                }
                t => return self.err(format!("unexpected {} at file level", describe(&t))),
            }
        }
    }

    fn class(&mut self) -> R<Class> {
        let line = self.line();
        self.next(); // class
        let name = self.name()?;
        let mut bases = Vec::new();
        if self.eat_op("(") {
            while !self.is_op(")") {
                bases.push(self.expr()?);
                if !self.eat_op(",") {
                    break;
                }
            }
            self.expect_op(")")?;
        }
        self.expect_op(":")?;
        self.newline()?;
        let mut c = Class {
            name,
            bases,
            attrs: Vec::new(),
            methods: Vec::new(),
            line,
        };
        if !matches!(self.next(), Tok::Indent) {
            return self.err("expected an indented class body");
        }
        loop {
            match self.peek().clone() {
                Tok::Dedent => {
                    self.i += 1;
                    return Ok(c);
                }
                Tok::Eof => return Ok(c),
                Tok::Newline => self.i += 1,
                Tok::Name(n) if n == "def" => c.methods.push(self.def()?),
                Tok::Name(n) if n == "pass" => {
                    self.i += 1;
                    self.newline()?;
                }
                Tok::Name(_) | Tok::Str(_) => {
                    // `name : T [= v]`, `name = v`, `__annotations__["k"] = T`, or a docstring.
                    let target = self.expr()?;
                    let mut value = None;
                    if self.eat_op(":") {
                        let _ty = self.expr()?;
                    }
                    if self.eat_op("=") {
                        value = Some(self.expr()?);
                    }
                    self.newline()?;
                    let name = match target {
                        Expr::Name(n) => n,
                        Expr::Index(base, key) if matches!(*base, Expr::Name(ref b) if b == "__annotations__") => match *key {
                            Expr::Str(s) => s,
                            _ => return self.err("__annotations__ key is not a string"),
                        },
                        Expr::Str(_) => continue,
                        _ => return self.err("unexpected class-level statement"),
                    };
                    c.attrs.push(ClassAttr { name, value });
                }
                t => return self.err(format!("unexpected {} in a class body", describe(&t))),
            }
        }
    }

    fn def(&mut self) -> R<Def> {
        let line = self.line();
        self.next(); // def
        let name = self.name()?;
        self.expect_op("(")?;
        let mut params = Vec::new();
        while !self.is_op(")") {
            if self.eat_op("*") {
                if !self.eat_op(",") {
                    break;
                }
                continue;
            }
            let p = self.name()?;
            if self.eat_op(":") {
                let _ty = self.expr()?;
            }
            if self.eat_op("=") {
                let _default = self.expr()?;
            }
            params.push(p);
            if !self.eat_op(",") {
                break;
            }
        }
        self.expect_op(")")?;
        if self.eat_op("->") {
            let _ret = self.expr()?;
        }
        self.expect_op(":")?;
        let body = self.block()?;
        Ok(Def { name, params, body, line })
    }

    /// `NEWLINE INDENT stmt+ DEDENT`, or a simple statement on the same line.
    fn block(&mut self) -> R<Vec<Stmt>> {
        self.enter()?;
        let mut out = Vec::new();
        if !matches!(self.peek(), Tok::Newline) {
            out.push(self.simple()?);
            self.depth -= 1;
            return Ok(out);
        }
        self.i += 1;
        if !matches!(self.next(), Tok::Indent) {
            self.i = self.i.saturating_sub(1);
            return self.err("expected an indented block");
        }
        loop {
            match self.peek() {
                Tok::Dedent => {
                    self.i += 1;
                    break;
                }
                Tok::Eof => break,
                Tok::Newline => self.i += 1,
                _ => out.push(self.stmt()?),
            }
        }
        self.depth -= 1;
        Ok(out)
    }

    fn stmt(&mut self) -> R<Stmt> {
        let line = self.line();
        let kind = match self.peek().clone() {
            Tok::Name(n) if n == "if" => {
                self.i += 1;
                return self.if_rest(line);
            }
            Tok::Name(n) if n == "for" => {
                self.i += 1;
                let target = self.target_list()?;
                if !self.is_name("in") {
                    return self.err(format!("expected 'in', found {}", describe(self.peek())));
                }
                self.i += 1;
                let iter = self.expr_list()?;
                self.expect_op(":")?;
                let body = self.block()?;
                StmtKind::For { target, iter, body }
            }
            Tok::Name(n) if n == "while" => {
                self.i += 1;
                let cond = self.expr()?;
                self.expect_op(":")?;
                let body = self.block()?;
                StmtKind::While { cond, body }
            }
            Tok::Name(n) if n == "def" || n == "class" || n == "with" || n == "try" || n == "lambda" || n == "global" => {
                return self.err(format!("'{n}' inside a function is not supported"));
            }
            _ => return self.simple(),
        };
        Ok(Stmt { kind, line })
    }

    fn if_rest(&mut self, line: u32) -> R<Stmt> {
        let cond = self.expr()?;
        self.expect_op(":")?;
        let then = self.block()?;
        let els = if self.is_name("elif") {
            let l = self.line();
            self.i += 1;
            vec![self.if_rest(l)?]
        } else if self.is_name("else") {
            self.i += 1;
            self.expect_op(":")?;
            self.block()?
        } else {
            Vec::new()
        };
        Ok(Stmt {
            kind: StmtKind::If { cond, then, els },
            line,
        })
    }

    fn simple(&mut self) -> R<Stmt> {
        let line = self.line();
        let kind = match self.peek().clone() {
            Tok::Name(n) if n == "return" => {
                self.i += 1;
                if matches!(self.peek(), Tok::Newline | Tok::Eof | Tok::Dedent) {
                    StmtKind::Return(None)
                } else {
                    StmtKind::Return(Some(self.expr_list()?))
                }
            }
            Tok::Name(n) if n == "pass" => {
                self.i += 1;
                StmtKind::Pass
            }
            Tok::Name(n) if n == "break" => {
                self.i += 1;
                StmtKind::Break
            }
            Tok::Name(n) if n == "continue" => {
                self.i += 1;
                StmtKind::Continue
            }
            Tok::Name(n) if n == "raise" => {
                self.i += 1;
                if matches!(self.peek(), Tok::Newline | Tok::Eof | Tok::Dedent) {
                    StmtKind::Raise(None)
                } else {
                    StmtKind::Raise(Some(self.expr()?))
                }
            }
            Tok::Name(n) if n == "assert" => {
                self.i += 1;
                let e = self.expr()?;
                if self.eat_op(",") {
                    let _msg = self.expr()?;
                }
                StmtKind::Assert(e)
            }
            _ => {
                let first = self.expr_list()?;
                if self.eat_op(":") {
                    // `x : T = v`
                    let _ty = self.expr()?;
                    if self.eat_op("=") {
                        let value = self.expr_list()?;
                        StmtKind::Assign {
                            target: to_target(first),
                            value,
                        }
                    } else {
                        StmtKind::Pass
                    }
                } else if self.eat_op("=") {
                    let value = self.expr_list()?;
                    StmtKind::Assign {
                        target: to_target(first),
                        value,
                    }
                } else if let Some(op) = ["+=", "-=", "*=", "/="].iter().find(|o| self.is_op(o)) {
                    let op = match *op {
                        "+=" => BinOp::Add,
                        "-=" => BinOp::Sub,
                        "*=" => BinOp::Mul,
                        _ => BinOp::Div,
                    };
                    self.i += 1;
                    let value = self.expr()?;
                    StmtKind::AugAssign {
                        target: to_target(first),
                        op,
                        value,
                    }
                } else {
                    StmtKind::Expr(first)
                }
            }
        };
        self.newline()?;
        Ok(Stmt { kind, line })
    }

    fn target_list(&mut self) -> R<Target> {
        // Not `or_expr`: it would read `in` as the membership operator.
        let mut items = vec![to_target(self.binary(0)?)];
        let mut tuple = false;
        while self.eat_op(",") {
            tuple = true;
            if self.is_name("in") || self.is_op("=") {
                break;
            }
            items.push(to_target(self.binary(0)?));
        }
        Ok(if tuple { Target::Tuple(items) } else { items.remove(0) })
    }

    /// `a, b, c` (a tuple when a comma appears, even trailing).
    fn expr_list(&mut self) -> R<Expr> {
        let first = self.expr()?;
        if !self.is_op(",") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_op(",") {
            if matches!(self.peek(), Tok::Newline | Tok::Eof | Tok::Dedent) || self.is_op("=") || self.is_op(":") {
                break;
            }
            items.push(self.expr()?);
        }
        Ok(Expr::Tuple(items))
    }

    fn expr(&mut self) -> R<Expr> {
        self.enter()?;
        let e = self.or_expr()?;
        let e = if self.is_name("if") {
            self.i += 1;
            let cond = self.or_expr()?;
            if !self.is_name("else") {
                return self.err("conditional expression without 'else'");
            }
            self.i += 1;
            let els = self.expr()?;
            Expr::IfElse {
                cond: Box::new(cond),
                then: Box::new(e),
                els: Box::new(els),
            }
        } else {
            e
        };
        self.depth -= 1;
        Ok(e)
    }

    fn or_expr(&mut self) -> R<Expr> {
        let mut a = self.and_expr()?;
        while self.is_name("or") {
            self.i += 1;
            let b = self.and_expr()?;
            a = Expr::Bin(BinOp::Or, Box::new(a), Box::new(b));
        }
        Ok(a)
    }
    fn and_expr(&mut self) -> R<Expr> {
        let mut a = self.not_expr()?;
        while self.is_name("and") {
            self.i += 1;
            let b = self.not_expr()?;
            a = Expr::Bin(BinOp::And, Box::new(a), Box::new(b));
        }
        Ok(a)
    }
    fn not_expr(&mut self) -> R<Expr> {
        if self.is_name("not") {
            self.i += 1;
            self.enter()?;
            let e = self.not_expr()?;
            self.depth -= 1;
            return Ok(Expr::Un(UnOp::Not, Box::new(e)));
        }
        self.comparison()
    }
    fn comparison(&mut self) -> R<Expr> {
        let a = self.binary(0)?;
        let op = match self.peek() {
            Tok::Op("==") => BinOp::Eq,
            Tok::Op("!=") => BinOp::Ne,
            Tok::Op("<") => BinOp::Lt,
            Tok::Op("<=") => BinOp::Le,
            Tok::Op(">") => BinOp::Gt,
            Tok::Op(">=") => BinOp::Ge,
            Tok::Name(n) if n == "is" => {
                if matches!(self.peek_at(1), Tok::Name(m) if m == "not") {
                    self.i += 1;
                    BinOp::IsNot
                } else {
                    BinOp::Is
                }
            }
            Tok::Name(n) if n == "in" => BinOp::In,
            Tok::Name(n) if n == "not" && matches!(self.peek_at(1), Tok::Name(m) if m == "in") => {
                self.i += 1;
                BinOp::NotIn
            }
            _ => return Ok(a),
        };
        self.i += 1;
        let b = self.binary(0)?;
        Ok(Expr::Bin(op, Box::new(a), Box::new(b)))
    }

    /// Binary operators by precedence level (0 = `|` … 5 = `* / // % @`).
    fn binary(&mut self, level: u8) -> R<Expr> {
        const LEVELS: [&[(&str, BinOp)]; 6] = [
            &[("|", BinOp::BitOr)],
            &[("^", BinOp::BitXor)],
            &[("&", BinOp::BitAnd)],
            &[("<<", BinOp::Shl), (">>", BinOp::Shr)],
            &[("+", BinOp::Add), ("-", BinOp::Sub)],
            &[
                ("*", BinOp::Mul),
                ("/", BinOp::Div),
                ("//", BinOp::FloorDiv),
                ("%", BinOp::Mod),
                ("@", BinOp::MatMul),
            ],
        ];
        let Some(ops) = LEVELS.get(level as usize) else {
            return self.unary();
        };
        let mut a = self.binary(level + 1)?;
        loop {
            let Some((_, op)) = ops.iter().find(|(s, _)| self.is_op(s)) else {
                return Ok(a);
            };
            self.i += 1;
            let b = self.binary(level + 1)?;
            a = Expr::Bin(*op, Box::new(a), Box::new(b));
        }
    }

    fn unary(&mut self) -> R<Expr> {
        let op = match self.peek() {
            Tok::Op("-") => UnOp::Neg,
            Tok::Op("+") => UnOp::Pos,
            Tok::Op("~") => UnOp::Invert,
            _ => return self.power(),
        };
        self.i += 1;
        self.enter()?;
        // `-9223372036854775808` must not overflow.
        let e = if op == UnOp::Neg
            && let Tok::Int(v) = *self.peek()
            && v == 1u128 << 63
            && !matches!(self.peek_at(1), Tok::Op("**") | Tok::Op(".") | Tok::Op("(") | Tok::Op("["))
        {
            self.i += 1;
            Expr::Int(i64::MIN)
        } else {
            Expr::Un(op, Box::new(self.unary()?))
        };
        self.depth -= 1;
        Ok(e)
    }

    fn power(&mut self) -> R<Expr> {
        let a = self.postfix()?;
        if self.eat_op("**") {
            let b = self.unary()?;
            return Ok(Expr::Bin(BinOp::Pow, Box::new(a), Box::new(b)));
        }
        Ok(a)
    }

    fn postfix(&mut self) -> R<Expr> {
        let mut e = self.atom()?;
        loop {
            if self.eat_op(".") {
                let n = self.name()?;
                e = Expr::Attr(Box::new(e), n);
            } else if self.eat_op("(") {
                let (args, kwargs) = self.call_args()?;
                e = Expr::Call {
                    func: Box::new(e),
                    args,
                    kwargs,
                };
            } else if self.eat_op("[") {
                let idx = self.subscript()?;
                self.expect_op("]")?;
                e = Expr::Index(Box::new(e), Box::new(idx));
            } else {
                return Ok(e);
            }
        }
    }

    fn call_args(&mut self) -> R<CallArgs> {
        let mut args = Vec::new();
        let mut kwargs = Vec::new();
        while !self.is_op(")") {
            if let (Tok::Name(n), Tok::Op("=")) = (self.peek().clone(), self.peek_at(1).clone()) {
                self.i += 2;
                kwargs.push((n, self.expr()?));
            } else {
                if !kwargs.is_empty() {
                    return self.err("positional argument after a keyword argument");
                }
                args.push(self.expr()?);
            }
            if !self.eat_op(",") {
                break;
            }
        }
        self.expect_op(")")?;
        Ok((args, kwargs))
    }

    fn subscript(&mut self) -> R<Expr> {
        let mut items = vec![self.slice_item()?];
        let mut tuple = false;
        while self.eat_op(",") {
            tuple = true;
            if self.is_op("]") {
                break;
            }
            items.push(self.slice_item()?);
        }
        Ok(if tuple { Expr::Tuple(items) } else { items.remove(0) })
    }

    fn slice_item(&mut self) -> R<Expr> {
        let start = if self.is_op(":") { None } else { Some(self.expr()?) };
        if !self.eat_op(":") {
            return start.ok_or_else(|| ParseError {
                line: self.line(),
                msg: "empty subscript".into(),
            });
        }
        let bound = |p: &mut P| -> R<Option<Box<Expr>>> {
            if p.is_op(":") || p.is_op("]") || p.is_op(",") {
                Ok(None)
            } else {
                Ok(Some(Box::new(p.expr()?)))
            }
        };
        let stop = bound(self)?;
        let step = if self.eat_op(":") { bound(self)? } else { None };
        Ok(Expr::Slice(start.map(Box::new), stop, step))
    }

    fn atom(&mut self) -> R<Expr> {
        let line = self.line();
        match self.next() {
            Tok::Name(n) => Ok(match n.as_str() {
                "None" => Expr::None,
                "True" => Expr::Bool(true),
                "False" => Expr::Bool(false),
                "lambda" | "yield" | "await" => {
                    return Err(ParseError {
                        line,
                        msg: format!("'{n}' is not supported"),
                    });
                }
                _ => Expr::Name(n),
            }),
            Tok::Int(v) => i64::try_from(v).map(Expr::Int).map_err(|_| ParseError {
                line,
                msg: format!("integer {v} does not fit 64 bits"),
            }),
            Tok::Float(f) => Ok(Expr::Float(f)),
            Tok::Str(s) => {
                let mut s = s;
                while let Tok::Str(more) = self.peek().clone() {
                    self.i += 1;
                    s.push_str(&more);
                }
                Ok(Expr::Str(s))
            }
            Tok::Op("(") => {
                if self.eat_op(")") {
                    return Ok(Expr::Tuple(vec![]));
                }
                let first = self.expr()?;
                if self.eat_op(")") {
                    return Ok(first);
                }
                let mut items = vec![first];
                while self.eat_op(",") {
                    if self.is_op(")") {
                        break;
                    }
                    items.push(self.expr()?);
                }
                self.expect_op(")")?;
                Ok(Expr::Tuple(items))
            }
            Tok::Op("[") => {
                let mut items = Vec::new();
                while !self.is_op("]") {
                    items.push(self.expr()?);
                    if !self.eat_op(",") {
                        break;
                    }
                }
                self.expect_op("]")?;
                Ok(Expr::List(items))
            }
            Tok::Op("{") => {
                let mut items = Vec::new();
                while !self.is_op("}") {
                    let k = self.expr()?;
                    self.expect_op(":")?;
                    let v = self.expr()?;
                    items.push((k, v));
                    if !self.eat_op(",") {
                        break;
                    }
                }
                self.expect_op("}")?;
                Ok(Expr::Dict(items))
            }
            t => Err(ParseError {
                line,
                msg: format!("unexpected {}", describe(&t)),
            }),
        }
    }
}

fn to_target(e: Expr) -> Target {
    match e {
        Expr::Name(n) => Target::Name(n),
        Expr::Tuple(items) => Target::Tuple(items.into_iter().map(to_target).collect()),
        other => Target::Other(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = r#"class Attn(Module):
  __parameters__ = []
  training : bool
  out : __torch__.torch.nn.modules.linear.___torch_mangle_9.Linear
  __annotations__["0"] = __torch__.X
  out_features : Final[int] = 8
  def forward(self: __torch__.Attn,
    ids: Tensor) -> Tuple[Tensor, Tensor]:
    out = self.out
    _9 = torch.split((out).forward(ids, ), 16, -1)
    q, k, v, = _9
    x = torch.div(q, CONSTANTS.c0, rounding_mode="trunc")
    if bool(x):
      y = -9223372036854775808
    else:
      y = annotate(List[int], [])
    for i in range(3):
      pass
    return (x, torch.select(y, 1, 0))
"#;

    #[test]
    fn parses_a_traced_module() {
        let f = parse(SRC).unwrap();
        let c = &f.classes[0];
        assert_eq!(c.name, "Attn");
        assert_eq!(
            c.attrs.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
            ["__parameters__", "training", "out", "0", "out_features"]
        );
        let m = &c.methods[0];
        assert_eq!(m.params, ["self", "ids"]);
        assert_eq!(m.body.len(), 7);
        assert!(matches!(&m.body[2].kind, StmtKind::Assign { target: Target::Tuple(t), .. } if t.len() == 3));
        assert_eq!(m.body[4].line, 13);
        let StmtKind::If { then, .. } = &m.body[4].kind else { panic!() };
        assert!(matches!(
            &then[0].kind,
            StmtKind::Assign {
                value: Expr::Int(i64::MIN),
                ..
            }
        ));
    }

    #[test]
    fn unknown_syntax_names_the_line() {
        let e = parse("class A(Module):\n  def forward(self):\n    x = 1\n    with y:\n      pass\n").unwrap_err();
        assert_eq!(e.line, 4);
        assert!(e.msg.contains("with"), "{}", e.msg);
        let e = parse("def f(x):\n  return x +\n").unwrap_err();
        assert_eq!(e.line, 2);
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let src = format!("x = {}1{}\n", "(".repeat(150), ")".repeat(150));
        assert!(parse(&src).unwrap_err().msg.contains("too deep"));
        let src = format!("x = {}1\n", "-".repeat(100_000));
        assert!(parse(&src).is_err());
    }
}
