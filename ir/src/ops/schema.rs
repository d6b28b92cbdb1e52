//! Static op schemas: formal parameters and type constraints, as written in the op list.

/// The static description of an op.
#[derive(Debug, Clone, Copy)]
pub struct OpSchema {
    pub name: &'static str,
    /// "" for ai.onnx; otherwise the ONNX domain of the reference op.
    pub domain: &'static str,
    /// The opset version whose semantics the op follows.
    pub since: i64,
    /// Formal inputs: `name[?|...|...*]:type`.
    pub inputs: &'static [&'static str],
    pub outputs: &'static [&'static str],
    /// Type constraints: `T=f16|f32|...`.
    pub types: &'static [&'static str],
    /// Attribute names.
    pub attrs: &'static [&'static str],
}

/// How a formal parameter may appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    Single,
    Optional,
    /// Zero or more (ONNX requires at least one unless the op says otherwise); `homogeneous`
    /// means all share the type variable.
    Variadic {
        homogeneous: bool,
    },
}

/// A parsed formal parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    pub name: &'static str,
    pub kind: ParamKind,
    /// A type variable (`T`) or a concrete type (`tensor(int64)`).
    pub ty: &'static str,
}

fn parse_param(s: &'static str) -> Param {
    let (head, ty) = s.split_once(':').unwrap_or((s, ""));
    let (name, kind) = if let Some(n) = head.strip_suffix("...*") {
        (n, ParamKind::Variadic { homogeneous: false })
    } else if let Some(n) = head.strip_suffix("...") {
        (n, ParamKind::Variadic { homogeneous: true })
    } else if let Some(n) = head.strip_suffix('?') {
        (n, ParamKind::Optional)
    } else {
        (head, ParamKind::Single)
    };
    Param { name, kind, ty }
}

impl OpSchema {
    pub fn input_params(&self) -> Vec<Param> {
        self.inputs.iter().map(|s| parse_param(s)).collect()
    }
    pub fn output_params(&self) -> Vec<Param> {
        self.outputs.iter().map(|s| parse_param(s)).collect()
    }
    /// The allowed dtype names of a type variable (empty if unconstrained or unknown).
    pub fn allowed(&self, var: &str) -> Vec<&'static str> {
        self.types
            .iter()
            .find_map(|t| t.split_once('=').filter(|(v, _)| *v == var).map(|(_, a)| a.split('|').collect()))
            .unwrap_or_default()
    }
    /// Minimum and maximum (None = unbounded) number of inputs.
    pub fn input_arity(&self) -> (usize, Option<usize>) {
        arity(&self.input_params())
    }
    /// Minimum and maximum number of outputs.
    pub fn output_arity(&self) -> (usize, Option<usize>) {
        arity(&self.output_params())
    }
}

fn arity(ps: &[Param]) -> (usize, Option<usize>) {
    let mut min = 0;
    let mut max = Some(0usize);
    for (i, p) in ps.iter().enumerate() {
        match p.kind {
            ParamKind::Single => {
                min = i + 1;
                max = max.map(|m| m + 1);
            }
            ParamKind::Optional => max = max.map(|m| m + 1),
            ParamKind::Variadic { .. } => {
                // Loop's and Scan's variadic state may be empty, so count none as required.
                min = i;
                max = None;
            }
        }
    }
    (min, max)
}

/// Strips the raw-identifier prefix from a field name (`r#type` → `type`).
pub const fn field_name(s: &'static str) -> &'static str {
    let b = s.as_bytes();
    if b.len() > 2 && b[0] == b'r' && b[1] == b'#' {
        let (_, rest) = s.split_at(2);
        rest
    } else {
        s
    }
}
