//! ai.onnx.ml `TreeEnsemble` (opset 5): walks every tree for every row, aggregates the reached
//! leaves' weights per target (average, sum, min, max) and applies the post transform.

use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use crate::tensor::Tensor;
use crate::value::Value;
use edgeport_ir::ops::defs::ml::TreeEnsemble;

/// One branch node, decoded.
struct Branch {
    mode: u8,
    feature: usize,
    split: f64,
    /// Members for mode 6 (BRANCH_MEMBER).
    members: Vec<f64>,
    missing_true: bool,
    /// (index, is_leaf) of the true and false children.
    on_true: (usize, bool),
    on_false: (usize, bool),
}

impl Branch {
    fn test(&self, x: f64) -> bool {
        if x.is_nan() && self.missing_true {
            return true;
        }
        match self.mode {
            0 => x <= self.split,
            1 => x < self.split,
            2 => x >= self.split,
            3 => x > self.split,
            4 => x == self.split,
            5 => x != self.split,
            _ => self.members.contains(&x),
        }
    }
}

fn idx(v: i64, n: usize, what: &str) -> Result<usize, OpError> {
    usize::try_from(v)
        .ok()
        .filter(|&i| i < n)
        .ok_or_else(|| OpError::invalid(format!("TreeEnsemble {what} {v} is out of range 0..{n}")))
}

fn decode(a: &TreeEnsemble) -> Result<Vec<Branch>, OpError> {
    let n = a.nodes_featureids.len();
    let modes = Tensor::from_ir(&a.nodes_modes)?.to_i64_vec()?;
    let splits = Tensor::from_ir(&a.nodes_splits)?.to_f64_vec()?;
    let lens = [
        modes.len(),
        splits.len(),
        a.nodes_truenodeids.len(),
        a.nodes_falsenodeids.len(),
        a.nodes_trueleafs.len(),
        a.nodes_falseleafs.len(),
    ];
    if lens.iter().any(|&l| l != n) || !a.nodes_missing_value_tracks_true.is_empty() && a.nodes_missing_value_tracks_true.len() != n {
        return Err(OpError::invalid("TreeEnsemble nodes_* attributes differ in length"));
    }
    let members = match &a.membership_values {
        Some(t) => Tensor::from_ir(t)?.to_f64_vec()?,
        None => Vec::new(),
    };
    let mut sets = members.split(|x| x.is_nan());
    let n_leaves = a.leaf_weights.numel();
    let child = |id: i64, leaf: i64| -> Result<(usize, bool), OpError> {
        let is_leaf = leaf != 0;
        Ok((
            idx(id, if is_leaf { n_leaves } else { n }, if is_leaf { "leaf id" } else { "node id" })?,
            is_leaf,
        ))
    };
    (0..n)
        .map(|i| {
            let mode = u8::try_from(modes[i])
                .ok()
                .filter(|&m| m <= 6)
                .ok_or_else(|| OpError::invalid(format!("TreeEnsemble node mode {} is unknown", modes[i])))?;
            let members = if mode == 6 {
                sets.next()
                    .ok_or_else(|| OpError::invalid("TreeEnsemble membership_values has too few sets"))?
                    .to_vec()
            } else {
                Vec::new()
            };
            Ok(Branch {
                mode,
                feature: usize::try_from(a.nodes_featureids[i]).map_err(|_| OpError::invalid("TreeEnsemble feature id is negative"))?,
                split: splits[i],
                members,
                missing_true: a.nodes_missing_value_tracks_true.get(i).is_some_and(|&m| m != 0),
                on_true: child(a.nodes_truenodeids[i], a.nodes_trueleafs[i])?,
                on_false: child(a.nodes_falsenodeids[i], a.nodes_falseleafs[i])?,
            })
        })
        .collect()
}

pub(super) fn run(a: &TreeEnsemble, cx: &mut NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    let (rows, feats) = match x.shape() {
        [r, f] => (*r, *f),
        [f] => (1, *f),
        s => {
            return Err(OpError::invalid(format!("TreeEnsemble input must be 2-d, got {s:?}")));
        }
    };
    let xv = x.to_f64_vec()?;
    let nodes = decode(a)?;
    let weights = Tensor::from_ir(&a.leaf_weights)?.to_f64_vec()?;
    if a.leaf_targetids.len() != weights.len() {
        return Err(OpError::invalid("TreeEnsemble leaf_targetids and leaf_weights differ in length"));
    }
    let n_targets = match a.n_targets {
        Some(t) => usize::try_from(t).map_err(|_| OpError::invalid("n_targets is negative"))?,
        None => a.leaf_targetids.iter().map(|&t| t + 1).max().unwrap_or(0).max(0) as usize,
    };
    let targets: Vec<usize> = a
        .leaf_targetids
        .iter()
        .map(|&t| idx(t, n_targets, "target id"))
        .collect::<Result<_, _>>()?;
    let roots: Vec<(usize, bool)> = a
        .tree_roots
        .iter()
        .map(|&r| {
            let r = idx(r, nodes.len(), "tree root")?;
            let nd = &nodes[r];
            // A tree that is a single leaf: both branches point at the same leaf.
            let leaf = nd.on_true.1 && nd.on_false.1 && nd.on_true.0 == nd.on_false.0;
            Ok(if leaf { nd.on_true } else { (r, false) })
        })
        .collect::<Result<_, OpError>>()?;
    let init = match a.aggregate_function {
        0 | 1 => 0.0,
        2 => f64::MAX,
        3 => f64::MIN,
        f => return Err(OpError::invalid(format!("unknown aggregate_function {f}"))),
    };
    let mut out = vec![init; rows * n_targets];
    let mut hit = vec![false; n_targets];
    for row in 0..rows {
        let xr = &xv[row * feats..(row + 1) * feats];
        let acc = &mut out[row * n_targets..(row + 1) * n_targets];
        hit.iter_mut().for_each(|h| *h = false);
        for &root in &roots {
            let mut cur = root;
            let mut steps = 0;
            while !cur.1 {
                steps += 1;
                if steps > nodes.len() {
                    return Err(OpError::invalid("TreeEnsemble tree has a cycle"));
                }
                let nd = &nodes[cur.0];
                let v = *xr
                    .get(nd.feature)
                    .ok_or_else(|| OpError::invalid(format!("feature id {} is out of range 0..{feats}", nd.feature)))?;
                cur = if nd.test(v) { nd.on_true } else { nd.on_false };
            }
            let (w, t) = (weights[cur.0], targets[cur.0]);
            hit[t] = true;
            acc[t] = match a.aggregate_function {
                0 => acc[t] + w / roots.len() as f64,
                1 => acc[t] + w,
                2 => acc[t].min(w),
                _ => acc[t].max(w),
            };
        }
        // Targets no leaf reached are 0 (as onnxruntime), also for MIN/MAX.
        for (v, h) in acc.iter_mut().zip(&hit) {
            if !h {
                *v = 0.0;
            }
        }
        post_transform(a.post_transform, acc)?;
    }
    let shape = [rows, n_targets];
    Ok(vec![Value::Tensor(Tensor::from_f64(x.dtype(), &shape, out)?)])
}

/// The post transforms of the tree ops, applied to one row of scores.
fn post_transform(kind: i64, row: &mut [f64]) -> Result<(), OpError> {
    match kind {
        0 => {}
        1 => {
            let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let s: f64 = row.iter().map(|&v| (v - m).exp()).sum();
            row.iter_mut().for_each(|v| *v = (*v - m).exp() / s);
        }
        2 => row.iter_mut().for_each(|v| *v = 1.0 / (1.0 + (-*v).exp())),
        3 => {
            let m = row.iter().copied().filter(|&v| v != 0.0).fold(f64::NEG_INFINITY, f64::max);
            let s: f64 = row.iter().filter(|&&v| v != 0.0).map(|&v| (v - m).exp()).sum();
            row.iter_mut().for_each(|v| *v = if *v == 0.0 { 0.0 } else { (*v - m).exp() / s });
        }
        4 => row.iter_mut().for_each(|v| *v = std::f64::consts::SQRT_2 * erf_inv(2.0 * *v - 1.0)),
        k => return Err(OpError::invalid(format!("unknown post_transform {k}"))),
    }
    Ok(())
}

/// Inverse error function (Giles' single-precision approximation, refined by two Newton steps).
fn erf_inv(x: f64) -> f64 {
    if x.is_nan() || !(-1.0..=1.0).contains(&x) {
        return f64::NAN;
    }
    if x <= -1.0 {
        return f64::NEG_INFINITY;
    }
    if x >= 1.0 {
        return f64::INFINITY;
    }
    let w = -((1.0 - x) * (1.0 + x)).ln();
    let mut p;
    if w < 5.0 {
        let w = w - 2.5;
        p = 2.810_226_36e-08;
        for c in [
            3.432_739_39e-07,
            -3.523_387_7e-06,
            -4.391_506_54e-06,
            0.000_218_580_87,
            -0.001_253_725_03,
            -0.004_177_681_64,
            0.246_640_727,
            1.501_409_41,
        ] {
            p = c + p * w;
        }
    } else {
        let w = w.sqrt() - 3.0;
        p = -0.000_200_214_257;
        for c in [
            0.000_100_950_558,
            0.001_349_343_22,
            -0.003_673_428_44,
            0.005_739_507_73,
            -0.007_622_461_3,
            0.009_438_870_47,
            1.001_674_06,
            2.832_976_82,
        ] {
            p = c + p * w;
        }
    }
    let mut y = p * x;
    // Newton refinement on erf(y) = x.
    for _ in 0..2 {
        let err = erf(y) - x;
        y -= err / (2.0 / std::f64::consts::PI.sqrt() * (-y * y).exp());
    }
    y
}

/// The error function (Abramowitz–Stegun 7.1.26 is too coarse for Newton; use a series /
/// continued fraction split).
fn erf(x: f64) -> f64 {
    let ax = x.abs();
    let r = if ax < 2.5 {
        // Maclaurin series.
        let mut sum = ax;
        let mut term = ax;
        let x2 = ax * ax;
        let mut n = 0.0;
        loop {
            n += 1.0;
            term *= -x2 / n;
            let add = term / (2.0 * n + 1.0);
            sum += add;
            if add.abs() < 1e-17 * sum.abs() || n > 200.0 {
                break;
            }
        }
        2.0 / std::f64::consts::PI.sqrt() * sum
    } else {
        // Continued fraction for erfc.
        let mut f = 0.0;
        for k in (1..60).rev() {
            f = (k as f64 / 2.0) / (ax + f);
        }
        1.0 - (-ax * ax).exp() / std::f64::consts::PI.sqrt() / (ax + f)
    };
    if x < 0.0 { -r } else { r }
}
