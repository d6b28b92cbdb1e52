//! Latency-aware structured pruning (`PruneOptions::latency`): on a network with a memory-bound
//! high-resolution depthwise stage, a compute-bound wide stage, a narrow stage and a classifier,
//! the allocation prunes the memory-bound spaces harder than the plain ratio and the
//! compute-bound one less, leaves the narrow space whole, removes the requested share of channels
//! in total, and the result still runs.

use edgeport_eval::{Tensor as ETensor, Value, run_graph};
use edgeport_ir::ops::defs::math::{Gemm, Relu};
use edgeport_ir::ops::defs::nn::{Conv, Flatten, GlobalAveragePool};
use edgeport_ir::{DType, Graph, Op, Shape, Tensor, ValueType};
use edgeport_passes::prune::{Criterion, LatencyModel, PruneMode, PruneOptions, PruneReport, prune};

mod common;
use common::rand;

#[allow(clippy::too_many_arguments)]
fn conv(
    g: &mut Graph,
    name: &str,
    x: edgeport_ir::ValueId,
    cin: usize,
    cout: usize,
    k: usize,
    stride: i64,
    group: usize,
) -> edgeport_ir::ValueId {
    let w = g.add_constant(
        format!("{name}_w"),
        Tensor::from_f32(
            vec![cout, cin / group, k, k],
            &rand(cout * cin / group * k * k, cout as u32 + k as u32),
        )
        .unwrap(),
    );
    let b = g.add_constant(format!("{name}_b"), Tensor::from_f32(vec![cout], &rand(cout, 7)).unwrap());
    let p = (k / 2) as i64;
    let c = g
        .add_op(
            name,
            Op::Conv(Conv {
                pads: vec![p; 4],
                strides: vec![stride, stride],
                group: group as i64,
                ..Default::default()
            }),
            &[Some(x), Some(w), Some(b)],
            &[&format!("{name}_y")],
        )
        .unwrap();
    let r = g
        .add_op(
            format!("{name}_relu"),
            Op::Relu(Relu::default()),
            &[Some(c.out(0))],
            &[&format!("{name}_r")],
        )
        .unwrap();
    r.out(0)
}

/// x[1,32,56,56] → narrow 1×1 (32→32) → expand 1×1 (32→128) → depthwise 3×3 stride 4 (128, to
/// 14×14) → wide 3×3 (128→256) → wide 3×3 (256→256) → GAP → flatten → Gemm (256→10).
fn net() -> Graph {
    let mut g = Graph::new("lat");
    let x = g.add_input("x", Some(ValueType::tensor(DType::F32, Some(Shape::known(&[1, 32, 56, 56])))));
    let a = conv(&mut g, "narrow", x, 32, 32, 1, 1, 1);
    let e = conv(&mut g, "expand", a, 32, 128, 1, 1, 1);
    let d = conv(&mut g, "dw", e, 128, 128, 3, 4, 128);
    let w1 = conv(&mut g, "wide1", d, 128, 256, 3, 1, 1);
    let w2 = conv(&mut g, "wide2", w1, 256, 256, 3, 1, 1);
    let p = g
        .add_op("gap", Op::GlobalAveragePool(GlobalAveragePool::default()), &[Some(w2)], &["p"])
        .unwrap();
    let f = g
        .add_op("flat", Op::Flatten(Flatten { axis: 1 }), &[Some(p.out(0))], &["f"])
        .unwrap();
    let fw = g.add_constant("fc_w", Tensor::from_f32(vec![10, 256], &rand(2560, 9)).unwrap());
    let fc = g
        .add_op(
            "fc",
            Op::Gemm(Gemm {
                transB: 1,
                ..Default::default()
            }),
            &[Some(f.out(0)), Some(fw), None],
            &["y"],
        )
        .unwrap();
    g.add_output("y", fc.out(0)).unwrap();
    edgeport_ir::infer::infer_types(&mut g).unwrap();
    g
}

fn opts(latency: bool, round_to: usize) -> PruneOptions {
    PruneOptions {
        mode: PruneMode::Structured(0.3),
        criterion: Criterion::L1,
        keep: vec![],
        global: false,
        round_to,
        heads: None,
        expansion_only: false,
        latency: latency.then(LatencyModel::default),
    }
}

fn after(r: &PruneReport, producer: &str) -> (usize, usize) {
    let g = r.groups.iter().find(|g| g.producers.iter().any(|p| p == producer)).unwrap();
    (g.before, g.after)
}

#[test]
fn memory_bound_spaces_lose_more_and_compute_bound_ones_less() {
    let mut plain = net();
    let rp = prune(&mut plain, &opts(false, 1)).unwrap();
    let mut g = net();
    let r = prune(&mut g, &opts(true, 1)).unwrap();
    // Plain: every space 30%.
    assert_eq!(after(&rp, "expand"), (128, 90));
    assert_eq!(after(&rp, "wide1"), (256, 180));
    // The high-resolution expansion, which a memory-bound depthwise runs over, loses more than
    // 30%; the compute-bound wide 3×3 stage less.
    let (_, e) = after(&r, "expand");
    let (_, w1) = after(&r, "wide1");
    assert!(e < 90, "expand kept {e}");
    assert!(w1 > 180, "wide1 kept {w1}");
    // In total, 30% of all prunable channels go.
    let total: usize = r.groups.iter().filter(|x| x.locked.is_none()).map(|x| x.before).sum();
    let kept: usize = r.groups.iter().filter(|x| x.locked.is_none()).map(|x| x.after).sum();
    let removed = (total - kept) as f64 / total as f64;
    assert!((removed - 0.3).abs() < 0.01, "removed {removed}");
    // The pruned graph still runs, with the original output shape.
    let x = ETensor::vec_f32(rand(32 * 56 * 56, 3)).reshape(&[1, 32, 56, 56]).unwrap();
    let out = run_graph(&g, vec![Value::Tensor(x)]).unwrap();
    assert_eq!(out[0].as_tensor().unwrap().shape(), &[1, 10]);
}

#[test]
fn narrow_spaces_stay_whole_and_pass_their_share_on() {
    let mut g = net();
    let r = prune(&mut g, &opts(true, 8)).unwrap();
    // 32 channels ≤ 4 blocks of 8: whole.
    assert_eq!(after(&r, "narrow"), (32, 32));
    // 30% of all 672 channels (about 202) still go, from the other spaces, to within the
    // rounding to blocks of 8.
    let total: usize = r.groups.iter().filter(|x| x.locked.is_none()).map(|x| x.before).sum();
    let kept: usize = r.groups.iter().filter(|x| x.locked.is_none()).map(|x| x.after).sum();
    assert_eq!(total, 672);
    assert!((total - kept).abs_diff(202) <= 16, "removed {}", total - kept);
}

#[test]
fn latency_model_is_deterministic_and_the_plain_ratio_is_untouched() {
    let mut a = net();
    let mut b = net();
    let ra = prune(&mut a, &opts(true, 8)).unwrap();
    let rb = prune(&mut b, &opts(true, 8)).unwrap();
    assert_eq!(ra.groups, rb.groups);
    let mut c = net();
    let rc = prune(&mut c, &opts(false, 8)).unwrap();
    assert_eq!(after(&rc, "narrow"), (32, 24));
}
