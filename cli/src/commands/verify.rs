//! `edgeport verify`: runs a reference and a candidate model on the same inputs and compares
//! every output (max abs/rel error, cosine); with `per_node`, finds the first node whose value
//! diverges (values matched by name between the two graphs, in the candidate's order).

use super::{CommandError, load};
use crate::inputs::{InputSpec, build};
use edgeport_eval::{EvalOptions, Value};
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

/// Options of `verify`.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    pub reference: PathBuf,
    pub candidate: PathBuf,
    pub inputs: InputSpec,
    pub atol: f64,
    pub rtol: f64,
    pub per_node: bool,
}

/// Errors of one output.
#[derive(Debug, Clone, Serialize)]
pub struct OutputDiff {
    pub name: String,
    pub max_abs: f64,
    pub max_rel: f64,
    pub cosine: f64,
    pub ok: bool,
    pub note: Option<String>,
}

/// The first diverging node.
#[derive(Debug, Clone, Serialize)]
pub struct Divergence {
    pub value: String,
    pub node: String,
    pub op: String,
    pub max_abs: f64,
}

/// The `verify` report.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub reference: String,
    pub candidate: String,
    pub atol: f64,
    pub rtol: f64,
    pub outputs: Vec<OutputDiff>,
    pub ok: bool,
    pub first_divergence: Option<Divergence>,
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "verify {} against {} (atol {}, rtol {})",
            self.candidate, self.reference, self.atol, self.rtol
        )?;
        for o in &self.outputs {
            write!(
                f,
                "  {} {}: max abs {:.3e}, max rel {:.3e}, cosine {:.6}",
                if o.ok { "ok  " } else { "FAIL" },
                o.name,
                o.max_abs,
                o.max_rel,
                o.cosine
            )?;
            if let Some(n) = &o.note {
                write!(f, " ({n})")?;
            }
            writeln!(f)?;
        }
        if let Some(d) = &self.first_divergence {
            writeln!(
                f,
                "  first divergence: value '{}' of node '{}' ({}), max abs {:.3e}",
                d.value, d.node, d.op, d.max_abs
            )?;
        }
        write!(f, "{}", if self.ok { "PASS" } else { "FAIL" })
    }
}

/// Compares two tensors: (max abs, max rel, cosine, all within tolerance).
pub fn diff(a: &Value, b: &Value, atol: f64, rtol: f64) -> Result<(f64, f64, f64, bool), String> {
    let (Value::Tensor(x), Value::Tensor(y)) = (a, b) else {
        return Err(format!("cannot compare {} with {}", a.describe(), b.describe()));
    };
    if x.shape() != y.shape() {
        return Err(format!("shape {:?} vs {:?}", x.shape(), y.shape()));
    }
    let xv = x.to_f64_vec().map_err(|e| e.to_string())?;
    let yv = y.to_f64_vec().map_err(|e| e.to_string())?;
    let (mut ma, mut mr, mut dot, mut nx, mut ny, mut ok) = (0f64, 0f64, 0f64, 0f64, 0f64, true);
    for (&p, &q) in xv.iter().zip(&yv) {
        if p.is_nan() && q.is_nan() {
            continue;
        }
        let d = (p - q).abs();
        if d.is_nan() || d > atol + rtol * p.abs() {
            ok = false;
        }
        ma = ma.max(d);
        if p != 0.0 {
            mr = mr.max(d / p.abs());
        }
        dot += p * q;
        nx += p * p;
        ny += q * q;
    }
    let cos = if nx == 0.0 && ny == 0.0 {
        1.0
    } else {
        dot / (nx.sqrt() * ny.sqrt()).max(f64::MIN_POSITIVE)
    };
    Ok((ma, mr, cos, ok))
}

/// Runs `verify`.
pub fn run(o: &VerifyOptions) -> Result<VerifyReport, CommandError> {
    let r = load(&o.reference, None)?;
    let c = load(&o.candidate, None)?;
    let ins = build(&r, &o.inputs).map_err(|e| CommandError::Input(e.to_string()))?;
    // The candidate gets the same inputs, matched by name (falling back to position).
    let c_names: Vec<String> = crate::inputs::graph_inputs(&c).into_iter().map(|(n, _)| n).collect();
    let mut c_ins = Vec::new();
    for (i, n) in c_names.iter().enumerate() {
        let v = ins.iter().find(|(k, _)| k == n).or_else(|| ins.get(i)).map(|(_, v)| v.clone());
        c_ins.push(v.ok_or_else(|| CommandError::Input(format!("candidate input '{n}' has no counterpart in the reference")))?);
    }
    let opts = EvalOptions {
        keep_all: o.per_node,
        ..Default::default()
    };
    let (r_out, r_all) = edgeport_eval::run_graph_with(&r, ins.into_iter().map(|(_, v)| v).collect(), &opts)
        .map_err(|e| CommandError::Unsupported(format!("reference: {e}")))?;
    let (c_out, c_all) =
        edgeport_eval::run_graph_with(&c, c_ins, &opts).map_err(|e| CommandError::Unsupported(format!("candidate: {e}")))?;
    let mut outputs = Vec::new();
    for (i, (name, _)) in r.outputs().iter().enumerate() {
        let j = c.outputs().iter().position(|(n, _)| n == name).unwrap_or(i);
        let entry = match (r_out.get(i), c_out.get(j)) {
            (Some(a), Some(b)) => match diff(a, b, o.atol, o.rtol) {
                Ok((ma, mr, cos, ok)) => OutputDiff {
                    name: name.clone(),
                    max_abs: ma,
                    max_rel: mr,
                    cosine: cos,
                    ok,
                    note: None,
                },
                Err(e) => OutputDiff {
                    name: name.clone(),
                    max_abs: f64::NAN,
                    max_rel: f64::NAN,
                    cosine: f64::NAN,
                    ok: false,
                    note: Some(e),
                },
            },
            _ => OutputDiff {
                name: name.clone(),
                max_abs: f64::NAN,
                max_rel: f64::NAN,
                cosine: f64::NAN,
                ok: false,
                note: Some("missing in candidate".into()),
            },
        };
        outputs.push(entry);
    }
    let ok = outputs.iter().all(|o| o.ok);
    let first_divergence = if o.per_node && !ok {
        first_divergence(&r, &r_all, &c, &c_all, o.atol, o.rtol)
    } else {
        None
    };
    Ok(VerifyReport {
        reference: o.reference.display().to_string(),
        candidate: o.candidate.display().to_string(),
        atol: o.atol,
        rtol: o.rtol,
        outputs,
        ok,
        first_divergence,
    })
}

fn first_divergence(
    r: &edgeport_ir::Graph,
    r_all: &std::collections::HashMap<edgeport_ir::ValueId, Value>,
    c: &edgeport_ir::Graph,
    c_all: &std::collections::HashMap<edgeport_ir::ValueId, Value>,
    atol: f64,
    rtol: f64,
) -> Option<Divergence> {
    let mut by_name = std::collections::HashMap::new();
    for (id, v) in r_all {
        if let Some(val) = r.value(*id) {
            by_name.insert(val.name.clone(), v);
        }
    }
    for n in c.topo_order().ok()? {
        let node = c.node(n);
        for (p, out) in node.outputs.iter().enumerate() {
            let (Some(cv), Some(rv)) = (c_all.get(&n.out(p)), by_name.get(&out.name)) else {
                continue;
            };
            if let Ok((ma, _, _, false)) = diff(rv, cv, atol, rtol) {
                return Some(Divergence {
                    value: out.name.clone(),
                    node: node.name.clone(),
                    op: node.op.name().to_string(),
                    max_abs: ma,
                });
            }
        }
    }
    None
}
