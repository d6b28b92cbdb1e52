//! Unstructured (magnitude) and semi-structured (N:M) pruning of Conv/Gemm/MatMul weights.
//! Weights keep their dense shape; the report says how many are zero, and backends that store
//! sparse tensors can use it. N:M groups run along the reduction (input-channel) axis, the
//! layout sparse tensor cores use.

use super::tensor::const_input;
use super::{LayerSparsity, PruneError};
use edgeport_ir::{Bytes, DType, Graph, NodeId, Op, Tensor};

/// A weight that sparsity pruning may touch: (node, port, reduction axis).
fn weights(g: &Graph, keep: &[String]) -> Vec<(NodeId, usize, usize)> {
    let mut out = Vec::new();
    for id in g.node_ids() {
        let n = g.node(id);
        if keep.contains(&n.name) {
            continue;
        }
        let axis = match &n.op {
            Op::Conv(_) | Op::ConvTranspose(_) => 1,
            Op::Gemm(gm) => usize::from(gm.transB != 0),
            Op::MatMul(_) => 0,
            _ => continue,
        };
        if let Some(t) = const_input(g, id, 1)
            && t.dtype == DType::F32
            && t.shape.len() >= 2
        {
            out.push((id, 1, axis));
        }
    }
    out.sort_by_key(|w| w.0.index());
    out
}

fn replace(g: &mut Graph, node: NodeId, port: usize, shape: Vec<usize>, v: &[f32]) -> Result<(), PruneError> {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    let t = Tensor::from_bytes(DType::F32, shape, Bytes::from_vec(bytes)).map_err(|e| PruneError::Graph(e.to_string()))?;
    let name = format!("{}_sparse{port}", g.node(node).name);
    let c = g.add_constant(name, t);
    g.set_input(node, port, Some(c)).map_err(|e| PruneError::Graph(e.to_string()))
}

fn zeros(v: &[f32]) -> usize {
    v.iter().filter(|x| **x == 0.0).count()
}

/// Magnitude pruning to `ratio` zeros, per layer or with one global threshold.
pub(crate) fn magnitude(g: &mut Graph, keep: &[String], ratio: f64, global: bool) -> Result<Vec<LayerSparsity>, PruneError> {
    let ws = weights(g, keep);
    let mut vals: Vec<(NodeId, usize, Vec<usize>, Vec<f32>)> = Vec::new();
    for (id, port, _) in &ws {
        let t = const_input(g, *id, *port).ok_or_else(|| PruneError::Graph("weight vanished".into()))?;
        let v: Vec<f32> = t.to_f64_vec().unwrap_or_default().into_iter().map(|x| x as f32).collect();
        vals.push((*id, *port, t.shape.clone(), v));
    }
    let global_thr = if global {
        let mut all: Vec<f32> = vals.iter().flat_map(|x| x.3.iter().map(|v| v.abs())).collect();
        let k = ((all.len() as f64) * ratio).floor() as usize;
        if k == 0 || all.is_empty() {
            None
        } else {
            let (_, t, _) = all.select_nth_unstable_by(k - 1, f32::total_cmp);
            Some(*t)
        }
    } else {
        None
    };
    let mut report = Vec::new();
    for (id, port, shape, mut v) in vals {
        let before = zeros(&v);
        if global {
            if let Some(thr) = global_thr {
                v.iter_mut().filter(|x| x.abs() <= thr).for_each(|x| *x = 0.0);
            }
        } else {
            let k = ((v.len() as f64) * ratio).floor() as usize;
            let mut order: Vec<usize> = (0..v.len()).collect();
            if k > 0 {
                order.select_nth_unstable_by(k - 1, |&a, &b| v[a].abs().total_cmp(&v[b].abs()));
                for &i in &order[..k] {
                    v[i] = 0.0;
                }
            }
        }
        report.push(LayerSparsity {
            name: g.node(id).name.clone(),
            params: v.len(),
            zeros_before: before,
            zeros_after: zeros(&v),
            skipped: None,
        });
        replace(g, id, port, shape, &v)?;
    }
    Ok(report)
}

/// N:M pruning: in every run of `m` weights along the reduction axis keep the `n` largest.
pub(crate) fn n_of_m(g: &mut Graph, keep: &[String], n: usize, m: usize) -> Result<Vec<LayerSparsity>, PruneError> {
    let mut report = Vec::new();
    for (id, port, axis) in weights(g, keep) {
        let t = const_input(g, id, port).ok_or_else(|| PruneError::Graph("weight vanished".into()))?;
        let shape = t.shape.clone();
        let mut v: Vec<f32> = t.to_f64_vec().unwrap_or_default().into_iter().map(|x| x as f32).collect();
        let name = g.node(id).name.clone();
        let before = zeros(&v);
        let dim = shape[axis];
        if dim % m != 0 {
            report.push(LayerSparsity {
                name,
                params: v.len(),
                zeros_before: before,
                zeros_after: before,
                skipped: Some(format!("reduction axis of {dim} is not a multiple of {m}")),
            });
            continue;
        }
        let inner: usize = shape[axis + 1..].iter().product();
        let outer: usize = shape[..axis].iter().product();
        let mut grp: Vec<usize> = Vec::with_capacity(m);
        for o in 0..outer {
            for i in 0..inner {
                for start in (0..dim).step_by(m) {
                    grp.clear();
                    grp.extend((start..start + m).map(|k| (o * dim + k) * inner + i));
                    grp.sort_by(|&a, &b| v[b].abs().total_cmp(&v[a].abs()));
                    for &j in &grp[n..] {
                        v[j] = 0.0;
                    }
                }
            }
        }
        report.push(LayerSparsity {
            name,
            params: v.len(),
            zeros_before: before,
            zeros_after: zeros(&v),
            skipped: None,
        });
        replace(g, id, port, shape, &v)?;
    }
    Ok(report)
}
