//! The syntax tree of serialized TorchScript: a file holds classes (attribute declarations and
//! methods) and free functions; statements and expressions are the Python subset the
//! TorchScript printer emits. Statements and expressions carry their source line.

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
    MatMul,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Is,
    IsNot,
    In,
    NotIn,
    And,
    Or,
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    Pos,
    Not,
    Invert,
}

/// An expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Name(String),
    Int(i64),
    Float(f64),
    Str(String),
    None,
    Bool(bool),
    Attr(Box<Expr>, String),
    Call {
        func: Box<Expr>,
        args: Vec<Expr>,
        kwargs: Vec<(String, Expr)>,
    },
    Index(Box<Expr>, Box<Expr>),
    /// `a:b:c` inside an index.
    Slice(Option<Box<Expr>>, Option<Box<Expr>>, Option<Box<Expr>>),
    Tuple(Vec<Expr>),
    List(Vec<Expr>),
    Dict(Vec<(Expr, Expr)>),
    Bin(BinOp, Box<Expr>, Box<Expr>),
    Un(UnOp, Box<Expr>),
    /// `a if cond else b`.
    IfElse {
        cond: Box<Expr>,
        then: Box<Expr>,
        els: Box<Expr>,
    },
}

/// An assignment target.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    Name(String),
    /// `a, b = …` (also `a, = …`).
    Tuple(Vec<Target>),
    /// `x.attr = …` or `x[i] = …`, kept for error reporting (not supported by the importer).
    Other(Expr),
}

/// A statement kind.
#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    Assign {
        target: Target,
        value: Expr,
    },
    /// `a += b` and friends.
    AugAssign {
        target: Target,
        op: BinOp,
        value: Expr,
    },
    /// `x : T = v` inside a function (the annotation is ignored).
    Expr(Expr),
    Return(Option<Expr>),
    If {
        cond: Expr,
        then: Vec<Stmt>,
        els: Vec<Stmt>,
    },
    For {
        target: Target,
        iter: Expr,
        body: Vec<Stmt>,
    },
    While {
        cond: Expr,
        body: Vec<Stmt>,
    },
    Pass,
    Break,
    Continue,
    Raise(Option<Expr>),
    Assert(Expr),
}

/// A statement and its line.
#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub line: u32,
}

/// A function or method.
#[derive(Clone, Debug, PartialEq)]
pub struct Def {
    pub name: String,
    pub params: Vec<String>,
    pub body: Vec<Stmt>,
    pub line: u32,
}

/// A class-level declaration: `name : Type` (optionally `= value`) or `name = value`.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassAttr {
    pub name: String,
    pub value: Option<Expr>,
}

/// A class.
#[derive(Clone, Debug, PartialEq)]
pub struct Class {
    pub name: String,
    pub bases: Vec<Expr>,
    pub attrs: Vec<ClassAttr>,
    pub methods: Vec<Def>,
    pub line: u32,
}

/// One `code/…py` file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct File {
    pub classes: Vec<Class>,
    pub functions: Vec<Def>,
    /// `name = value` at file level (`op_version_set = 1`, …).
    pub globals: Vec<(String, Expr)>,
}
