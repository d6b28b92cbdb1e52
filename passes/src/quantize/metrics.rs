//! Output error between a float model and its quantized form over a set of samples: max abs
//! difference, cosine similarity (mean and worst per sample, over all outputs flattened), and
//! top-1 agreement where an output looks like class scores (`[batch, classes]`).

use edgeport_eval::Value;

/// Error figures over a sample set.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics {
    pub samples: usize,
    pub max_abs: f64,
    pub cosine: f64,
    pub min_cosine: f64,
    /// Fraction of rows whose argmax agrees (`None` when no output is class-score shaped).
    pub top1_agreement: Option<f64>,
}

fn flat(v: &Value) -> Option<(Vec<f64>, Vec<usize>)> {
    let t = v.as_tensor()?;
    if !t.dtype().is_float() {
        return None;
    }
    Some((t.to_f64_vec().ok()?, t.shape().to_vec()))
}

fn argmax(x: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in x.iter().enumerate() {
        if v > x[best] {
            best = i;
        }
    }
    best
}

/// Compares reference outputs `a[s]` with candidate outputs `b[s]`, sample by sample.
pub fn compare(a: &[Vec<Value>], b: &[Vec<Value>]) -> Metrics {
    let mut m = Metrics {
        min_cosine: f64::INFINITY,
        ..Default::default()
    };
    let (mut agree, mut rows) = (0usize, 0usize);
    let mut cos_sum = 0.0;
    for (sa, sb) in a.iter().zip(b) {
        let (mut dot, mut na, mut nb) = (0.0, 0.0, 0.0);
        for (va, vb) in sa.iter().zip(sb) {
            let (Some((xa, shape)), Some((xb, _))) = (flat(va), flat(vb)) else {
                continue;
            };
            if xa.len() != xb.len() {
                m.max_abs = f64::INFINITY;
                continue;
            }
            for (&p, &q) in xa.iter().zip(&xb) {
                let d = (p - q).abs();
                m.max_abs = if d.is_nan() { f64::INFINITY } else { m.max_abs.max(d) };
                dot += p * q;
                na += p * p;
                nb += q * q;
            }
            if shape.len() == 2 && shape[1] > 1 {
                for (ra, rb) in xa.chunks(shape[1]).zip(xb.chunks(shape[1])) {
                    rows += 1;
                    agree += usize::from(argmax(ra) == argmax(rb));
                }
            }
        }
        let c = if na == 0.0 && nb == 0.0 {
            1.0
        } else {
            dot / (na.sqrt() * nb.sqrt()).max(1e-300)
        };
        let c = if c.is_nan() { 0.0 } else { c };
        cos_sum += c;
        m.min_cosine = m.min_cosine.min(c);
        m.samples += 1;
    }
    if m.samples > 0 {
        m.cosine = cos_sum / m.samples as f64;
    } else {
        m.min_cosine = 0.0;
    }
    m.top1_agreement = (rows > 0).then(|| agree as f64 / rows as f64);
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgeport_eval::Tensor;

    fn v(shape: &[usize], x: Vec<f64>) -> Value {
        Value::Tensor(Tensor::from_f64(edgeport_ir::DType::F32, shape, x).unwrap())
    }

    #[test]
    fn identical_and_flipped() {
        let a = vec![vec![v(&[1, 3], vec![1.0, 2.0, 3.0])]];
        let same = compare(&a, &a.clone());
        assert!((same.cosine - 1.0).abs() < 1e-12);
        assert_eq!(same.top1_agreement, Some(1.0));
        let b = vec![vec![v(&[1, 3], vec![3.0, 2.0, 1.0])]];
        let m = compare(&a, &b);
        assert_eq!(m.max_abs, 2.0);
        assert!((m.cosine - 10.0 / 14.0).abs() < 1e-12);
        assert_eq!(m.top1_agreement, Some(0.0));
    }
}
