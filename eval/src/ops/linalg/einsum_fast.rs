//! Fast path of `Einsum` for two float operands: sum out the labels private to one operand,
//! then one batched matmul (batch · free · contracted labels) and a final permutation.
//! Used when no label repeats inside a term and no dim broadcasts.

use super::matmul::{Plan, matmul_float};
use crate::error::OpError;
use ndarray::{ArrayD, Axis, IxDyn};

/// The result values and shape.
type Product = (Vec<f64>, Vec<usize>);

/// `labels` of each operand, `output` labels, and the f64 data/shape of both operands.
/// Returns `None` when the fast path does not apply.
pub fn try_pair(
    labels: &[Vec<usize>],
    output: &[usize],
    data: [(&[f64], &[usize]); 2],
    size: &[usize],
) -> Result<Option<Product>, OpError> {
    let [la, lb] = labels else { return Ok(None) };
    for (l, (_, s)) in [la, lb].iter().zip(&data) {
        let mut u = l.to_vec();
        u.sort_unstable();
        u.dedup();
        if u.len() != l.len() || l.iter().zip(s.iter()).any(|(&x, &d)| size[x] != d) {
            return Ok(None);
        }
    }
    let arr = |(v, s): (&[f64], &[usize])| ArrayD::from_shape_vec(IxDyn(s), v.to_vec()).map_err(|e| OpError::invalid(e.to_string()));
    let (mut a, mut b) = (arr(data[0])?, arr(data[1])?);
    let (mut la, mut lb) = (la.clone(), lb.clone());
    // Sum out labels private to one operand and absent from the output.
    let (oa, ob) = (la.clone(), lb.clone());
    sum_private(&mut a, &mut la, &ob, output);
    sum_private(&mut b, &mut lb, &oa, output);
    let batch: Vec<usize> = output.iter().copied().filter(|x| la.contains(x) && lb.contains(x)).collect();
    let ml: Vec<usize> = output.iter().copied().filter(|x| la.contains(x) && !lb.contains(x)).collect();
    let nl: Vec<usize> = output.iter().copied().filter(|x| lb.contains(x) && !la.contains(x)).collect();
    let kl: Vec<usize> = la.iter().copied().filter(|x| lb.contains(x) && !output.contains(x)).collect();
    let pos = |l: &[usize], x: usize| l.iter().position(|&y| y == x).unwrap_or(0);
    let prod = |ls: &[usize]| ls.iter().map(|&x| size[x]).product::<usize>();
    let (nb, m, n, k) = (prod(&batch), prod(&ml), prod(&nl), prod(&kl));
    let pa: Vec<usize> = batch.iter().chain(&ml).chain(&kl).map(|&x| pos(&la, x)).collect();
    let pb: Vec<usize> = batch.iter().chain(&kl).chain(&nl).map(|&x| pos(&lb, x)).collect();
    let av: Vec<f64> = a.permuted_axes(IxDyn(&pa)).iter().copied().collect();
    let bv: Vec<f64> = b.permuted_axes(IxDyn(&pb)).iter().copied().collect();
    let plan = Plan {
        m,
        k,
        n,
        a_off: (0..nb).collect(),
        b_off: (0..nb).collect(),
        out_shape: vec![nb, m, n],
    };
    let r = matmul_float(&av, &bv, &plan)?;
    let r = if r.is_empty() { vec![0.0; nb * m * n] } else { r };
    let order: Vec<usize> = batch.iter().chain(&ml).chain(&nl).copied().collect();
    let rshape: Vec<usize> = order.iter().map(|&x| size[x]).collect();
    let ra = ArrayD::from_shape_vec(IxDyn(&rshape), r).map_err(|e| OpError::invalid(e.to_string()))?;
    let perm: Vec<usize> = output.iter().map(|&x| pos(&order, x)).collect();
    let out_shape: Vec<usize> = output.iter().map(|&x| size[x]).collect();
    Ok(Some((ra.permuted_axes(IxDyn(&perm)).iter().copied().collect(), out_shape)))
}

/// Sums `x` over its labels that neither the output nor the other operand has.
fn sum_private(x: &mut ArrayD<f64>, l: &mut Vec<usize>, other: &[usize], output: &[usize]) {
    let mut i = l.len();
    while i > 0 {
        i -= 1;
        if !output.contains(&l[i]) && !other.contains(&l[i]) {
            *x = x.sum_axis(Axis(i));
            l.remove(i);
        }
    }
}
