//! GPTQ act-order with static groups: on activations whose channels have very different
//! energies, it reconstructs `X·W` better than round-to-nearest, its block parameters are the
//! storage-order ones, and mismatched sizes are refused instead of indexed out of range.

use edgeport_ir::DType;
use edgeport_passes::quantize::gptq_order::gptq_act_order;
use edgeport_passes::quantize::params::{per_block, qrange};

fn rnd(seed: &mut u64) -> f64 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    ((*seed >> 33) as f64 / (1u64 << 31) as f64) - 0.5
}

/// Samples `n × k` with channel `j` scaled by `1 + 8·(j mod 5 == 0)` and correlated through a
/// shared component.
fn acts(n: usize, k: usize, seed: &mut u64) -> Vec<f64> {
    (0..n)
        .flat_map(|_| {
            let a = rnd(seed);
            (0..k)
                .map(|j| (a + 0.3 * rnd(seed)) * if j % 5 == 0 { 9.0 } else { 1.0 })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Σ over samples of ‖x·(W − Ŵ)ᵀ‖² for `rows × k` weights.
fn out_err(xs: &[f64], k: usize, w: &[f64], wq: &[f64], rows: usize) -> f64 {
    let mut e = 0.0;
    for x in xs.chunks(k) {
        for r in 0..rows {
            let d: f64 = (0..k).map(|j| x[j] * (w[r * k + j] - wq[r * k + j])).sum();
            e += d * d;
        }
    }
    e
}

fn dequant(codes: &[i32], scales: &[f32], zps: &[i32], rows: usize, k: usize, block: usize) -> Vec<f64> {
    let nb = k / block;
    (0..rows * k)
        .map(|i| {
            let (r, j) = (i / k, i % k);
            let p = r * nb + j / block;
            f64::from(codes[i] - zps[p]) * f64::from(scales[p])
        })
        .collect()
}

#[test]
fn act_order_beats_rounding_and_keeps_storage_order_blocks() {
    let (k, rows, n, block) = (64, 8, 512, 16);
    let mut seed = 3u64;
    let xs = acts(n, k, &mut seed);
    let w: Vec<f64> = (0..rows * k).map(|_| rnd(&mut seed)).collect();
    let mut h = vec![0.0; k * k];
    for x in xs.chunks(k) {
        for i in 0..k {
            for j in 0..k {
                h[i * k + j] += x[i] * x[j];
            }
        }
    }
    let (codes, scales, zps) = gptq_act_order(&w, rows, k, &h, block, DType::U4, 0.01).unwrap();
    assert_eq!(codes.len(), rows * k);
    assert_eq!(scales.len(), rows * k / block);
    let (lo, hi) = qrange(DType::U4);
    assert!(codes.iter().all(|&c| (lo..=hi).contains(&c)));
    // Static groups: the parameters are fitted per storage-order block of the original weights.
    let rtn = per_block(&w, &[rows, k], 1, block, DType::U4, false);
    assert_eq!(scales, rtn.scales);
    assert_eq!(zps, rtn.zps);
    let e_ao = out_err(&xs, k, &w, &dequant(&codes, &scales, &zps, rows, k, block), rows);
    let e_rtn = out_err(&xs, k, &w, &dequant(&rtn.codes, &rtn.scales, &rtn.zps, rows, k, block), rows);
    assert!(e_ao < 0.7 * e_rtn, "act-order {e_ao} vs rtn {e_rtn}");
}

#[test]
fn mismatched_sizes_are_refused() {
    let w = vec![0.5; 4 * 32];
    let h = vec![0.0; 32 * 32];
    // Block does not divide k, a Gram of the wrong size, weights of the wrong size, block 0.
    assert!(gptq_act_order(&w, 4, 32, &h, 24, DType::U4, 0.01).is_none());
    assert!(gptq_act_order(&w, 4, 32, &h[..100], 16, DType::U4, 0.01).is_none());
    assert!(gptq_act_order(&w[..50], 4, 32, &h, 16, DType::U4, 0.01).is_none());
    assert!(gptq_act_order(&w, 4, 32, &h, 0, DType::U4, 0.01).is_none());
    assert!(gptq_act_order(&w, usize::MAX, 2, &h, 16, DType::U4, 0.01).is_none());
    // An all-zero Gram (no activation energy) still factors after dampening: a result.
    assert!(gptq_act_order(&w, 4, 32, &h, 16, DType::U4, 0.01).is_some());
}
