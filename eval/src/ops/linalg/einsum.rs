//! `Einsum`: general Einstein summation — repeated indices (diagonals), ellipsis broadcasting,
//! implicit output (ellipsis dims, then the labels used once, in alphabetical order).
//! Floats are summed in `f64`, integers exactly with wrapping.

use super::num::{Vals, from_vals, out, vals};
use crate::error::OpError;
use crate::interp::NodeCtx;
use crate::ops::OpResult;
use crate::ops::util::broadcast_shapes;

/// A term's labels: letters as 0..52, ellipsis dims as 52 + j.
const ELL: usize = 52;

fn letter(c: char) -> Result<usize, OpError> {
    match c {
        'a'..='z' => Ok(c as usize - 'a' as usize + 26),
        'A'..='Z' => Ok(c as usize - 'A' as usize),
        _ => Err(OpError::invalid(format!("Einsum: bad label '{c}'"))),
    }
}

/// Parses one term into letters with `None` for the ellipsis.
fn parse_term(t: &str) -> Result<Vec<Option<usize>>, OpError> {
    let mut r = Vec::new();
    let mut rest = t;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("...") {
            if r.contains(&None) {
                return Err(OpError::invalid("Einsum: two ellipses in one term"));
            }
            r.push(None);
            rest = &rest[3..];
        } else {
            r.push(Some(letter(c)?));
            rest = &rest[c.len_utf8()..];
        }
    }
    Ok(r)
}

/// The parsed equation with every label resolved to a size.
struct Spec {
    /// Labels of each input dim.
    inputs: Vec<Vec<usize>>,
    output: Vec<usize>,
    size: Vec<usize>,
}

fn plan(eq: &str, shapes: &[&[usize]]) -> Result<Spec, OpError> {
    let eq: String = eq.chars().filter(|c| !c.is_whitespace()).collect();
    let (lhs, rhs) = match eq.split_once("->") {
        Some((l, r)) => (l, Some(r)),
        None => (eq.as_str(), None),
    };
    let terms: Vec<Vec<Option<usize>>> = lhs.split(',').map(parse_term).collect::<Result<_, _>>()?;
    if terms.len() != shapes.len() {
        return Err(OpError::invalid(format!(
            "Einsum: {} terms for {} inputs",
            terms.len(),
            shapes.len()
        )));
    }
    // Ellipsis ranks and their broadcast shape.
    let mut ell_shapes: Vec<&[usize]> = Vec::new();
    for (t, s) in terms.iter().zip(shapes) {
        let letters = t.iter().filter(|x| x.is_some()).count();
        let has_ell = t.len() != letters;
        if (!has_ell && s.len() != letters) || s.len() < letters {
            return Err(OpError::invalid(format!(
                "Einsum: term of {letters} labels for an input of shape {s:?}"
            )));
        }
        if has_ell {
            let pos = t.iter().position(|x| x.is_none()).unwrap_or(0);
            ell_shapes.push(&s[pos..pos + s.len() - letters]);
        }
    }
    let ell = broadcast_shapes(&ell_shapes)?;
    let er = ell.len();
    let mut size = vec![1usize; ELL + er];
    let mut seen = vec![false; ELL + er];
    size[ELL..].copy_from_slice(&ell);
    seen[ELL..].iter_mut().for_each(|s| *s = true);
    let mut count = [0usize; ELL];
    let mut inputs = Vec::new();
    for (t, s) in terms.iter().zip(shapes) {
        let letters = t.iter().filter(|x| x.is_some()).count();
        let ne = s.len() - letters;
        let mut labels = Vec::with_capacity(s.len());
        for l in t {
            match l {
                Some(l) => labels.push(*l),
                None => labels.extend((er - ne..er).map(|j| ELL + j)),
            }
        }
        for (&l, &d) in labels.iter().zip(s.iter()) {
            if l < ELL {
                count[l] += 1;
            }
            if !seen[l] || size[l] == 1 {
                size[l] = if seen[l] && d == 1 { size[l] } else { d };
                seen[l] = true;
            } else if d != size[l] && d != 1 {
                return Err(OpError::invalid(format!("Einsum: label size mismatch ({d} vs {})", size[l])));
            }
        }
        inputs.push(labels);
    }
    let output = match rhs {
        Some(r) => {
            let mut o = Vec::new();
            for l in parse_term(r)? {
                match l {
                    Some(l) if !seen[l] => {
                        return Err(OpError::invalid("Einsum: output label not in inputs"));
                    }
                    Some(l) => o.push(l),
                    None => o.extend(ELL..ELL + er),
                }
            }
            o
        }
        None => (ELL..ELL + er).chain((0..ELL).filter(|&l| count[l] == 1)).collect(),
    };
    Ok(Spec { inputs, output, size })
}

/// Runs `Einsum`.
pub fn einsum(cx: &NodeCtx<'_>, equation: &str) -> OpResult {
    let ts: Vec<_> = (0..cx.n_inputs()).map(|i| cx.tensor(i)).collect::<Result<_, _>>()?;
    let first = ts.first().ok_or_else(|| OpError::invalid("Einsum needs an input"))?;
    let d = first.dtype();
    let shapes: Vec<&[usize]> = ts.iter().map(|t| t.shape()).collect();
    let sp = plan(equation, &shapes)?;
    if ts.len() == 2 && super::num::is_float(d) {
        let (x, y) = (ts[0].to_f64_vec()?, ts[1].to_f64_vec()?);
        if let Some((v, shape)) = super::einsum_fast::try_pair(&sp.inputs, &sp.output, [(&x, shapes[0]), (&y, shapes[1])], &sp.size)? {
            return out(from_vals(d, &shape, Vals::F(v))?);
        }
    }
    let contr: Vec<usize> = {
        let mut c: Vec<usize> = sp.inputs.iter().flatten().copied().filter(|l| !sp.output.contains(l)).collect();
        c.sort_unstable();
        c.dedup();
        c
    };
    let all: Vec<usize> = sp.output.iter().chain(&contr).copied().collect();
    let dims: Vec<usize> = all.iter().map(|&l| sp.size[l]).collect();
    // Per input: its stride for each label of `all` (0 where absent or broadcast).
    let strides: Vec<Vec<usize>> = sp
        .inputs
        .iter()
        .zip(&shapes)
        .map(|(labels, s)| {
            let mut st = vec![0usize; all.len()];
            let mut acc = 1usize;
            for (&l, &dsz) in labels.iter().zip(s.iter()).rev() {
                if (dsz != 1 || sp.size[l] == 1)
                    && let Some(p) = all.iter().position(|&x| x == l)
                {
                    st[p] += acc;
                }
                acc *= dsz;
            }
            st
        })
        .collect();
    let out_shape: Vec<usize> = sp.output.iter().map(|&l| sp.size[l]).collect();
    let n_out: usize = out_shape.iter().product();
    let n_in: usize = dims[sp.output.len()..].iter().product();
    let no = sp.output.len();
    let all_vals: Vec<Vals> = ts.iter().map(|t| vals(t)).collect::<Result<_, _>>()?;
    let is_f = matches!(all_vals.first(), Some(Vals::F(_)));
    let mut of = Vec::with_capacity(if is_f { n_out } else { 0 });
    let mut oi = Vec::with_capacity(if is_f { 0 } else { n_out });
    let mut idx = vec![0usize; all.len()];
    let mut offs = vec![0usize; ts.len()];
    for _ in 0..n_out {
        let mut sf = 0f64;
        let mut si = 0i128;
        idx[no..].iter_mut().for_each(|x| *x = 0);
        for _ in 0..n_in {
            for (o, st) in offs.iter_mut().zip(&strides) {
                *o = idx.iter().zip(st).map(|(a, b)| a * b).sum();
            }
            if is_f {
                let mut p = 1f64;
                for (v, &o) in all_vals.iter().zip(&offs) {
                    if let Vals::F(v) = v {
                        p *= v.get(o).copied().unwrap_or(0.0);
                    }
                }
                sf += p;
            } else {
                let mut p = 1i128;
                for (v, &o) in all_vals.iter().zip(&offs) {
                    if let Vals::I(v) = v {
                        p = p.wrapping_mul(v.get(o).copied().unwrap_or(0));
                    }
                }
                si = si.wrapping_add(p);
            }
            step(&mut idx[no..], &dims[no..]);
        }
        if is_f {
            of.push(sf);
        } else {
            oi.push(si);
        }
        step(&mut idx[..no], &dims[..no]);
    }
    let v = if is_f { Vals::F(of) } else { Vals::I(oi) };
    out(from_vals(d, &out_shape, v)?)
}

/// Advances a row-major odometer.
fn step(idx: &mut [usize], dims: &[usize]) {
    for j in (0..idx.len()).rev() {
        idx[j] += 1;
        if idx[j] < dims[j] {
            return;
        }
        idx[j] = 0;
    }
}
