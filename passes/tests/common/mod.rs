//! Helpers shared by the pass tests: a deterministic pseudo-random f32 buffer.

/// `n` values in [-1, 1) from a xorshift generator seeded by `seed`.
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
