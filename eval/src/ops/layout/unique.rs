//! `Unique`: distinct elements (or slices along an axis) with first-occurrence indices, inverse
//! indices and counts, sorted as numpy's `unique` sorts or in order of first occurrence.

use super::common::{select, take};
use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use crate::ops::util::norm_axis;
use crate::tensor::Tensor;
use crate::value::Value;
use edgeport_ir::ops::tensor::Unique;
use std::cmp::Ordering;

/// A comparable element.
#[derive(Clone, Debug)]
enum Key {
    F(f64),
    I(i128),
    S(String),
}

impl Key {
    /// numpy order: NaN after every number and equal to other NaNs; -0 equals 0.
    fn cmp(&self, o: &Key) -> Ordering {
        match (self, o) {
            (Key::F(a), Key::F(b)) => match (a.is_nan(), b.is_nan()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                _ => a.partial_cmp(b).unwrap_or(Ordering::Equal),
            },
            (Key::I(a), Key::I(b)) => a.cmp(b),
            (Key::S(a), Key::S(b)) => a.cmp(b),
            _ => Ordering::Equal,
        }
    }
}

fn keys(t: &Tensor) -> Result<Vec<Key>, OpError> {
    Ok(match t {
        Tensor::Str(a) => a.iter().map(|s| Key::S(s.clone())).collect(),
        Tensor::U64(a) => a.iter().map(|&x| Key::I(x as i128)).collect(),
        t if t.dtype().is_int() && !matches!(t, Tensor::Bits(..)) || matches!(t, Tensor::Bool(_)) => {
            t.to_i64_vec()?.into_iter().map(|x| Key::I(x as i128)).collect()
        }
        t => t.to_f64_vec()?.into_iter().map(Key::F).collect(),
    })
}

fn cmp_items(a: &[Key], b: &[Key]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        match x.cmp(y) {
            Ordering::Equal => {}
            o => return o,
        }
    }
    a.len().cmp(&b.len())
}

pub fn unique(op: &Unique, cx: &NodeCtx<'_>) -> OpResult {
    let x = cx.tensor(0)?;
    let shape = x.shape().to_vec();
    let axis = op.axis.map(|a| norm_axis(a, shape.len())).transpose()?;
    // Items: single elements, or the slices along `axis` (each flattened).
    let (n, items): (usize, Vec<Vec<Key>>) = match axis {
        None => (x.len(), keys(x)?.into_iter().map(|k| vec![k]).collect()),
        Some(a) => {
            let mut perm: Vec<usize> = vec![a];
            perm.extend((0..shape.len()).filter(|&k| k != a));
            let moved = super::common::transpose(x, &perm)?;
            let ks = keys(&moved)?;
            let n = shape[a];
            let m = ks.len().checked_div(n).unwrap_or(0);
            (n, (0..n).map(|i| ks[i * m..(i + 1) * m].to_vec()).collect())
        }
    };
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| cmp_items(&items[i], &items[j]));
    // Groups of equal items, in sorted order: (first index, count), and each item's group.
    let mut groups: Vec<(usize, i64)> = Vec::new();
    let mut group_of = vec![0usize; n];
    for (p, &i) in order.iter().enumerate() {
        let new = p == 0 || cmp_items(&items[order[p - 1]], &items[i]) != Ordering::Equal;
        if new {
            groups.push((i, 0));
        }
        let g = groups.len() - 1;
        groups[g].1 += 1;
        group_of[i] = g;
    }
    if op.sorted == 0 {
        let mut by_first: Vec<usize> = (0..groups.len()).collect();
        by_first.sort_by_key(|&g| groups[g].0);
        let mut rank = vec![0usize; groups.len()];
        for (r, &g) in by_first.iter().enumerate() {
            rank[g] = r;
        }
        groups = by_first.iter().map(|&g| groups[g]).collect();
        for g in group_of.iter_mut() {
            *g = rank[*g];
        }
    }
    let firsts: Vec<usize> = groups.iter().map(|g| g.0).collect();
    let y = match axis {
        None => take(x, &firsts, &[firsts.len()])?,
        Some(a) => {
            let mut idx: Vec<Vec<usize>> = shape.iter().map(|&d| (0..d).collect()).collect();
            idx[a] = firsts.clone();
            select(x, &idx)?
        }
    };
    Ok(vec![
        Value::Tensor(y),
        Value::Tensor(Tensor::vec_i64(firsts.iter().map(|&i| i as i64).collect())),
        Value::Tensor(Tensor::vec_i64(group_of.iter().map(|&g| g as i64).collect())),
        Value::Tensor(Tensor::vec_i64(groups.iter().map(|g| g.1).collect())),
    ])
}
