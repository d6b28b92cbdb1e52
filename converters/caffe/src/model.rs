//! Builds the graph of a net: inputs (Input/Data layers or the net-level `input` fields), the
//! layers of the TEST phase in file order through the rules in [`crate::ops`], SSA renaming of
//! blobs (in-place layers write a new value under the same blob name), and the outputs (blobs
//! that no later layer reads). Every layer that cannot be imported is collected into one error.

use crate::build::Ctx;
use crate::decode::{Blob, LayerParameter, NetParameter, blob_from_proto, upgraded_layers};
use crate::error::{Error, LayerIssue};
use crate::ops::{self, Layer};
use edgeport_ir::{Graph, ValueId};
use edgeport_proto::caffe as pb;
use std::collections::{HashMap, HashSet};

/// Layer types that only matter for training and are left out of a deploy graph.
const TRAINING_ONLY: &[&str] = &["Accuracy", "Silence", "HDF5Output"];

/// Imports `net` with weights by layer name.
pub fn build(
    net: &NetParameter,
    weights: &HashMap<String, Vec<Blob>>,
    file: &str,
    input_shapes: &[(String, Vec<usize>)],
) -> Result<Graph, Error> {
    let ferr = |msg: String| Error::Net { file: file.into(), msg };
    let layers = upgraded_layers(net).map_err(ferr)?;
    let mut cx = Ctx::new(net.name.as_deref().filter(|s| !s.is_empty()).unwrap_or("caffe"));
    let mut blobs: HashMap<String, ValueId> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut consumed: HashSet<String> = HashSet::new();
    let override_shape = |name: &str| input_shapes.iter().find(|(n, _)| n == name).map(|(_, s)| s.clone());

    // Net-level inputs: `input` + `input_shape` or `input_dim` (4 per input).
    for (i, name) in net.input.iter().enumerate() {
        let shape = if let Some(s) = override_shape(name) {
            s
        } else if let Some(s) = net.input_shape.get(i) {
            dims(&s.dim).map_err(|m| ferr(format!("input '{name}': {m}")))?
        } else if net.input_dim.len() >= 4 * (i + 1) {
            let d: Vec<i64> = net.input_dim[4 * i..4 * i + 4].iter().map(|&v| v.into()).collect();
            dims(&d).map_err(|m| ferr(format!("input '{name}': {m}")))?
        } else {
            return Err(ferr(format!("input '{name}' has no shape (input_shape/input_dim)")));
        };
        let v = cx.input(name, edgeport_ir::DType::F32, &shape);
        blobs.insert(name.clone(), v);
    }

    let mut issues = Vec::new();
    for l in &layers {
        if !included(l, net.state.as_ref()) {
            continue;
        }
        let ty = l.r#type().to_string();
        let lname = l.name().to_string();
        if TRAINING_ONLY.contains(&ty.as_str()) || ty.ends_with("Loss") {
            continue;
        }
        cx.layer = lname.clone();
        let issue = |reason: String| LayerIssue {
            layer: lname.clone(),
            ty: ty.clone(),
            reason,
        };
        // Inputs.
        if matches!(
            ty.as_str(),
            "Input" | "Data" | "ImageData" | "MemoryData" | "DummyData" | "HDF5Data" | "WindowData" | "AnnotatedData"
        ) {
            let shapes: Vec<Option<Vec<i64>>> = l
                .input_param
                .as_ref()
                .map(|p| p.shape.iter().map(|s| Some(s.dim.clone())).collect())
                .unwrap_or_default();
            for (i, top) in l.top.iter().enumerate() {
                let shape = match override_shape(top) {
                    Some(s) => Ok(s),
                    None => match shapes.get(i).or(shapes.first()) {
                        Some(Some(d)) => dims(d),
                        _ => Err(format!("top '{top}' has no shape: give one with the input-shape option")),
                    },
                };
                match shape {
                    Ok(s) => {
                        let v = cx.input(top, edgeport_ir::DType::F32, &s);
                        blobs.insert(top.clone(), v);
                        order.push(top.clone());
                    }
                    Err(m) => issues.push(issue(m)),
                }
            }
            continue;
        }
        let mut ins = Vec::new();
        let mut missing = Vec::new();
        for b in &l.bottom {
            match blobs.get(b) {
                Some(v) => ins.push(*v),
                None => missing.push(b.clone()),
            }
            consumed.insert(b.clone());
        }
        if !missing.is_empty() {
            issues.push(issue(format!("bottom blob(s) {missing:?} are produced by no earlier layer")));
            continue;
        }
        let layer_blobs: Vec<Blob> = match weights.get(&lname) {
            Some(w) => w.clone(),
            None => match l.blobs.iter().map(blob_from_proto).collect::<Result<Vec<_>, _>>() {
                Ok(b) => b,
                Err(m) => {
                    issues.push(issue(m));
                    continue;
                }
            },
        };
        let layer = Layer {
            p: l,
            ty: &ty,
            ins: &ins,
            blobs: &layer_blobs,
        };
        let Some(rule) = ops::rule(&ty) else {
            issues.push(issue("unsupported layer type".into()));
            continue;
        };
        let before: HashSet<ValueId> = blobs.values().copied().collect();
        match rule(&mut cx, &layer) {
            Ok(outs) => {
                if outs.len() != l.top.len() {
                    issues.push(issue(format!(
                        "produces {} outputs but the layer lists {} tops",
                        outs.len(),
                        l.top.len()
                    )));
                    continue;
                }
                for (top, v) in l.top.iter().zip(outs) {
                    // A fresh value takes the blob's name (unique: in-place layers get `_1`, …).
                    if !before.contains(&v) && !cx.g.inputs().iter().any(|n| n.out(0) == v) {
                        let n = cx.unique(top);
                        if let Some(val) = cx.g.value_mut(v) {
                            val.name = n;
                        }
                    }
                    blobs.insert(top.clone(), v);
                    consumed.remove(top);
                    order.retain(|o| o != top);
                    order.push(top.clone());
                }
            }
            Err(m) => issues.push(issue(m)),
        }
    }
    if !issues.is_empty() {
        return Err(Error::Layers { file: file.into(), issues });
    }
    // Outputs: blobs whose last version no layer reads.
    let mut outs = Vec::new();
    for name in &order {
        if !consumed.contains(name)
            && let Some(v) = blobs.get(name)
        {
            outs.push((name.clone(), *v));
        }
    }
    if outs.is_empty() {
        return Err(ferr("the net has no output blob".into()));
    }
    let mut g = cx.g;
    g.set_outputs(outs).map_err(|e| ferr(e.to_string()))?;
    Ok(g)
}

fn dims(d: &[i64]) -> Result<Vec<usize>, String> {
    d.iter()
        .map(|&v| usize::try_from(v).map_err(|_| format!("bad dimension {v} in shape {d:?}")))
        .collect()
}

/// Caffe's include/exclude rules, for the TEST phase (or the net's declared state).
fn included(l: &LayerParameter, state: Option<&pb::NetState>) -> bool {
    let phase = state.map_or(pb::Phase::Test, |s| s.phase());
    let level = state.map_or(0, |s| s.level());
    let stages: Vec<&String> = state.map(|s| s.stage.iter().collect()).unwrap_or_default();
    let meets = |r: &pb::NetStateRule| {
        (r.phase.is_none() || r.phase() == phase)
            && r.min_level.is_none_or(|m| level >= m)
            && r.max_level.is_none_or(|m| level <= m)
            && r.stage.iter().all(|s| stages.contains(&s))
            && !r.not_stage.iter().any(|s| stages.contains(&s))
    };
    if !l.include.is_empty() {
        l.include.iter().any(meets)
    } else {
        !l.exclude.iter().any(meets)
    }
}
