//! `edgeport inspect`: inputs/outputs, op histogram, parameters per dtype, a MACs estimate,
//! opset/producer and custom ops.

use super::{CommandError, load};
use edgeport_ir::{Graph, Op};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// One graph input or output.
#[derive(Debug, Clone, Serialize)]
pub struct Io {
    pub name: String,
    pub ty: String,
}

/// The `inspect` report.
#[derive(Debug, Clone, Serialize)]
pub struct InspectReport {
    pub path: String,
    pub format: String,
    pub inputs: Vec<Io>,
    pub outputs: Vec<Io>,
    pub nodes: usize,
    pub ops: BTreeMap<String, usize>,
    pub parameters: u64,
    pub parameter_bytes: BTreeMap<String, u64>,
    /// Multiply-accumulates of Conv/MatMul/Gemm whose shapes are known, symbolic dims as 1
    /// (others not counted).
    pub macs: u64,
    pub metadata: BTreeMap<String, String>,
    pub custom_ops: Vec<String>,
}

impl fmt::Display for InspectReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} ({})", self.path, self.format)?;
        for (k, v) in &self.metadata {
            writeln!(f, "  {k}: {v}")?;
        }
        writeln!(f, "inputs:")?;
        for i in &self.inputs {
            writeln!(f, "  {}: {}", i.name, i.ty)?;
        }
        writeln!(f, "outputs:")?;
        for o in &self.outputs {
            writeln!(f, "  {}: {}", o.name, o.ty)?;
        }
        writeln!(f, "nodes: {}", self.nodes)?;
        let mut ops: Vec<_> = self.ops.iter().collect();
        ops.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (op, n) in ops {
            writeln!(f, "  {n:>6}  {op}")?;
        }
        writeln!(
            f,
            "parameters: {} ({})",
            self.parameters,
            human_bytes(self.parameter_bytes.values().sum())
        )?;
        for (d, b) in &self.parameter_bytes {
            writeln!(f, "  {d}: {}", human_bytes(*b))?;
        }
        writeln!(f, "MACs (Conv/MatMul/Gemm, symbolic dims as 1): {}", self.macs)?;
        if !self.custom_ops.is_empty() {
            writeln!(f, "custom ops: {}", self.custom_ops.join(", "))?;
        }
        Ok(())
    }
}

fn human_bytes(b: u64) -> String {
    if b >= 1 << 30 {
        format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64)
    } else if b >= 1 << 20 {
        format!("{:.2} MiB", b as f64 / (1u64 << 20) as f64)
    } else if b >= 1 << 10 {
        format!("{:.1} KiB", b as f64 / 1024.0)
    } else {
        format!("{b} B")
    }
}

fn ty_text(g: &Graph, v: edgeport_ir::ValueId) -> String {
    g.value(v)
        .and_then(|x| x.ty.as_ref())
        .map(|t| t.to_string())
        .unwrap_or_else(|| "?".into())
}

fn known_shape(g: &Graph, v: Option<edgeport_ir::ValueId>) -> Option<Vec<u64>> {
    let v = v?;
    // Symbolic dims (batch, sequence) count as 1: MACs are per sample.
    Some(
        g.value(v)?
            .ty
            .as_ref()?
            .as_tensor()?
            .shape
            .as_ref()?
            .0
            .iter()
            .map(|d| d.known().unwrap_or(1))
            .collect(),
    )
}

/// MACs of one node when shapes are known.
fn macs(g: &Graph, id: edgeport_ir::NodeId) -> u64 {
    let n = g.node(id);
    let ins = g.inputs_of(id);
    let out = known_shape(g, Some(id.out(0)));
    match &n.op {
        Op::Conv(_) | Op::ConvTranspose(_) => {
            let (Some(w), Some(y)) = (known_shape(g, ins.get(1).copied().flatten()), out) else {
                return 0;
            };
            // y elements × (C_in/group × kernel) — the weight's per-output-channel size.
            let per_out: u64 = w.iter().skip(1).product();
            let y_elems: u64 = y.iter().product();
            y_elems.saturating_mul(per_out)
        }
        Op::MatMul(_) | Op::Gemm(_) => {
            let (Some(a), Some(y)) = (known_shape(g, ins.first().copied().flatten()), out) else {
                return 0;
            };
            let k = match &n.op {
                Op::Gemm(gm) if gm.transA != 0 => a.first().copied().unwrap_or(0),
                _ => a.last().copied().unwrap_or(0),
            };
            y.iter().product::<u64>().saturating_mul(k)
        }
        _ => 0,
    }
}

/// Parameters, parameter bytes and MACs per sample of a graph (shapes inferred beforehand).
pub(crate) fn graph_stats(g: &Graph) -> (u64, u64, u64) {
    let (mut params, mut bytes) = (0u64, 0u64);
    for id in g.node_ids() {
        if let Op::Constant(c) = &g.node(id).op {
            params += c.value.numel() as u64;
            bytes += c.value.nbytes() as u64;
        }
    }
    let mut total = graph_macs(g);
    if total == 0 {
        // Shapes computed from shapes (Shape → Gather → Concat → Expand, as exported
        // transformers do) leave the layers' shapes unknown until folded: count on a folded copy
        // (constants share their bytes, so the copy is cheap).
        let mut f = g.clone();
        let folded = edgeport_passes::Manager::from_names("shapes")
            .ok()
            .and_then(|m| m.run(&mut f, &mut Default::default()).ok())
            .is_some();
        if folded && edgeport_ir::infer::infer_types(&mut f).is_ok() {
            total = graph_macs(&f);
        }
    }
    (params, bytes, total)
}

fn graph_macs(g: &Graph) -> u64 {
    g.node_ids().fold(0u64, |t, id| t.saturating_add(macs(g, id)))
}

/// Runs `inspect`.
pub fn run(path: &Path, from: Option<&str>) -> Result<InspectReport, CommandError> {
    let fmt = match from {
        Some(f) => crate::formats::by_name(f)?.name,
        None => crate::formats::sniff(path)?.name,
    };
    let mut g = load(path, Some(&fmt))?;
    let _ = edgeport_ir::infer::infer_types(&mut g);
    let mut ops = BTreeMap::new();
    let mut parameters = 0u64;
    let mut parameter_bytes = BTreeMap::new();
    let mut total_macs = 0u64;
    let mut custom = Vec::new();
    for id in g.node_ids() {
        let n = g.node(id);
        match &n.op {
            Op::Input(_) => continue,
            Op::Constant(c) => {
                parameters += c.value.numel() as u64;
                *parameter_bytes.entry(c.value.dtype.to_string()).or_insert(0) += c.value.nbytes() as u64;
            }
            Op::Custom(c) => {
                let name = format!("{}::{}", c.domain, c.name);
                if !custom.contains(&name) {
                    custom.push(name);
                }
            }
            _ => {}
        }
        *ops.entry(n.op.name().to_string()).or_insert(0) += 1;
    }
    total_macs = total_macs.saturating_add(graph_stats(&g).2);
    custom.sort();
    let inputs = g
        .inputs()
        .iter()
        .map(|&n| Io {
            name: g.node(n).outputs[0].name.clone(),
            ty: ty_text(&g, n.out(0)),
        })
        .collect();
    let outputs = g
        .outputs()
        .iter()
        .map(|(name, v)| Io {
            name: name.clone(),
            ty: ty_text(&g, *v),
        })
        .collect();
    Ok(InspectReport {
        path: path.display().to_string(),
        format: fmt,
        inputs,
        outputs,
        nodes: g
            .node_ids()
            .filter(|&n| !matches!(g.node(n).op, Op::Input(_) | Op::Constant(_)))
            .count(),
        ops,
        parameters,
        parameter_bytes,
        macs: total_macs,
        metadata: g.metadata.iter().cloned().collect(),
        custom_ops: custom,
    })
}
