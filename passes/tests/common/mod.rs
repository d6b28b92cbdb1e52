//! Helpers shared by the pass tests: deterministic pseudo-random f32 values and samples.

/// `n` values in [-1, 1) from a xorshift generator seeded by `seed`.
#[allow(dead_code)]
pub fn rand(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2654435761).wrapping_add(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s % 2000) as f32 / 1000.0 - 1.0
        })
        .collect()
}

/// The next value in [-1, 1) of a 64-bit linear congruential generator whose state is `seed`.
#[allow(dead_code)]
pub fn rng(seed: &mut u64) -> f32 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
}

/// `n` single-input samples of `shape`, values `rng` × `scale` (seeded by `seed`).
#[allow(dead_code)]
pub fn samples(n: usize, seed: u64, shape: &[usize], scale: f64) -> Vec<Vec<edgeport_eval::Value>> {
    let mut s = seed;
    let numel: usize = shape.iter().product();
    (0..n)
        .map(|_| {
            let v: Vec<f64> = (0..numel).map(|_| rng(&mut s) as f64 * scale).collect();
            let t = edgeport_eval::Tensor::from_f64(edgeport_ir::DType::F32, shape, v).unwrap();
            vec![edgeport_eval::Value::Tensor(t)]
        })
        .collect()
}
