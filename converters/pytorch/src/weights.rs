//! Weights files (`.pt`/`.pth`/`.bin` torch.save state dicts, zip or legacy, and `.safetensors`)
//! loaded as named IR tensors, and rebinding them onto a graph's constants by parameter name.

use crate::error::{Error, Result};
use crate::file;
use edgeport_ir::ops::defs::generator::Constant;
use edgeport_ir::{Graph, NodeId, Op, Tensor};
use std::collections::HashMap;
use std::fmt;
use std::path::Path;

/// Loads every tensor of a weights file, named as in the file (nested dicts joined with `.`).
/// Tensors borrow the memory-mapped file where the layout allows (contiguous views).
pub fn load_weights(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let name = file::display(path);
    let data = file::map(path)?;
    if crate::safetensors_io::looks_like(&data) {
        return crate::safetensors_io::load_tensors(&name, &data);
    }
    crate::torch_save::load_tensors(&name, data).map_err(|e| match e {
        Error::Format { file, msg } if msg.starts_with("not a torch.save") => Error::Format {
            file,
            msg: "not a weights file (expected a torch.save state dict or a .safetensors file)".into(),
        },
        e => e,
    })
}

/// What [`rebind`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RebindReport {
    /// Graph constants replaced, by graph name.
    pub matched: Vec<String>,
    /// Floating-point graph constants (parameters) no weight was given for.
    pub missing: Vec<String>,
    /// Weights that match no graph constant.
    pub unexpected: Vec<String>,
    /// Weights whose name matched but whose shape or dtype differs: (name, why). Not applied.
    pub mismatched: Vec<(String, String)>,
}

impl RebindReport {
    /// True when every parameter was matched and nothing was left over or mismatched.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.mismatched.is_empty()
    }
}

impl fmt::Display for RebindReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "weights: {} matched, {} missing, {} unexpected, {} shape/dtype mismatches",
            self.matched.len(),
            self.missing.len(),
            self.unexpected.len(),
            self.mismatched.len()
        )?;
        for m in &self.missing {
            writeln!(f, "  missing: {m}")?;
        }
        for u in &self.unexpected {
            writeln!(f, "  unexpected: {u}")?;
        }
        for (n, why) in &self.mismatched {
            writeln!(f, "  mismatch: {n}: {why}")?;
        }
        Ok(())
    }
}

/// Replaces graph constants by weights of the same name (a leading `module.`/`model.`-style
/// prefix that the graph lacks is tolerated). Shapes and dtypes must agree exactly; mismatches
/// are reported and left unchanged.
pub fn rebind(g: &mut Graph, weights: Vec<(String, Tensor)>) -> RebindReport {
    let mut consts: HashMap<String, NodeId> = HashMap::new();
    for id in g.node_ids() {
        let n = g.node(id);
        if matches!(n.op, Op::Constant(_))
            && let Some(v) = n.outputs.first()
        {
            consts.insert(v.name.clone(), id);
        }
    }
    let mut report = RebindReport::default();
    let mut used: HashMap<String, ()> = HashMap::new();
    for (name, t) in weights {
        let target = if consts.contains_key(&name) {
            Some(name.clone())
        } else {
            name.split_once('.')
                .map(|(_, rest)| rest.to_string())
                .filter(|r| consts.contains_key(r) && !used.contains_key(r))
        };
        let Some(target) = target else {
            report.unexpected.push(name);
            continue;
        };
        let id = consts[&target];
        let Op::Constant(c) = &g.node(id).op else {
            continue;
        };
        if c.value.shape != t.shape || c.value.dtype != t.dtype {
            report.mismatched.push((
                name,
                format!(
                    "graph has {} {:?}, weights file has {} {:?}",
                    c.value.dtype, c.value.shape, t.dtype, t.shape
                ),
            ));
            used.insert(target, ());
            continue;
        }
        g.node_mut(id).op = Op::Constant(Constant { value: t });
        used.insert(target.clone(), ());
        report.matched.push(target);
    }
    let mut missing: Vec<String> = consts
        .iter()
        .filter(|(n, id)| {
            !used.contains_key(*n) && matches!(&g.node(**id).op, Op::Constant(c) if c.value.dtype.is_float() && c.value.numel() > 1)
        })
        .map(|(n, _)| n.clone())
        .collect();
    missing.sort();
    report.missing = missing;
    report
}
