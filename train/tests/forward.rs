//! The differentiable forward pass equals the reference evaluator (and onnxruntime's saved
//! outputs) on a graph touching every implemented op family and on the digits CNNs; every
//! trainable weight receives a gradient; ops without a gradient are reported before training.

mod common;
use common::*;
use edgeport_ir::{Graph, Op, ValueId};
use edgeport_train::{Model, RtVal, TrainError};

#[test]
fn ops_mix_matches_evaluator_and_onnxruntime() {
    let g = import("distill/ops_mix.onnx");
    let x = npz("distill/ops_mix.npz", "x");
    let ids = npz("distill/ops_mix.npz", "ids");
    let want = eval(&g, &[x.clone(), ids.clone()]);
    for trainable in [false, true] {
        let m = Model::new(&g, trainable).unwrap();
        let got = m.run(&[x.clone(), ids.clone()]).unwrap();
        assert_eq!(got.len(), 3);
        for (i, name) in ["prob", "logp", "rm"].iter().enumerate() {
            let d = max_diff(&got[i], &want[i]);
            assert!(d <= 1e-5, "{name}: max diff to the evaluator {d}");
            let ort = npz("distill/ops_mix.npz", name);
            let d = max_diff(&got[i], &ort);
            assert!(d <= 1e-4, "{name}: max diff to onnxruntime {d}");
        }
    }
}

#[test]
fn every_trainable_weight_gets_a_gradient() {
    let g = import("distill/ops_mix.onnx");
    let m = Model::new(&g, true).unwrap();
    m.check_gradients().unwrap();
    let names: Vec<&str> = m.params().iter().map(|p| p.name.as_str()).collect();
    for w in ["w1", "b1", "bn_s", "bn_b", "w2", "fc_w", "fc_b", "ln_s", "ln_b", "g_w", "g_b"] {
        assert!(names.contains(&w), "{w} should be trainable, got {names:?}");
    }
    // Frozen: BN statistics and the embedding table.
    for w in ["bn_m", "bn_v", "emb"] {
        assert!(!names.contains(&w), "{w} should be frozen");
    }
    let x = RtVal::from_host(npz("distill/ops_mix.npz", "x")).unwrap();
    let ids = RtVal::from_host(npz("distill/ops_mix.npz", "ids")).unwrap();
    let (outs, _) = m.forward(vec![x, ids], &[]).unwrap();
    let mut total: Option<candle_core::Tensor> = None;
    for o in &outs {
        let s = o.float().unwrap().sqr().unwrap().sum_all().unwrap();
        total = Some(match total {
            None => s,
            Some(t) => t.add(&s).unwrap(),
        });
    }
    let grads = total.unwrap().backward().unwrap();
    for p in m.params() {
        let g = grads.get(p.var.as_tensor()).unwrap_or_else(|| panic!("no gradient for {}", p.name));
        let n: f32 = g.abs().unwrap().sum_all().unwrap().to_scalar().unwrap();
        assert!(n.is_finite() && n > 0.0, "gradient of {} is {n}", p.name);
    }
}

#[test]
fn digits_cnns_match_evaluator() {
    let x = npz("distill/digits_student_labels.npz", "init_image");
    for (model, ort) in [
        ("quant/digits_cnn.onnx", None),
        ("distill/digits_student_init.onnx", Some("init_logits")),
    ] {
        let g = import(model);
        let m = Model::new(&g, true).unwrap();
        let got = m.run(std::slice::from_ref(&x)).unwrap();
        let want = eval(&g, std::slice::from_ref(&x));
        let d = max_diff(&got[0], &want[0]);
        assert!(d <= 1e-5, "{model}: max diff to the evaluator {d}");
        if let Some(name) = ort {
            let d = max_diff(&got[0], &npz("distill/digits_student_labels.npz", name));
            assert!(d <= 1e-4, "{model}: max diff to onnxruntime {d}");
        }
    }
}

/// x -> MatMul(W) -> Floor -> MatMul(V): Floor has no gradient and sits on the path of W.
fn floor_graph() -> Graph {
    let mut g = Graph::new("floor");
    let ty = edgeport_ir::ValueType::tensor(
        edgeport_ir::DType::F32,
        Some(edgeport_ir::Shape(vec![
            edgeport_ir::Dim::Sym("N".into()),
            edgeport_ir::Dim::Known(4),
        ])),
    );
    let x = g.add_input("x", Some(ty));
    let w = g.add_constant("W", edgeport_ir::Tensor::from_f32(vec![4, 3], &[0.5; 12]).unwrap());
    let v = g.add_constant("V", edgeport_ir::Tensor::from_f32(vec![3, 2], &[0.25; 6]).unwrap());
    let mm = g.add_op("mm", Op::MatMul(Default::default()), &[Some(x), Some(w)], &["h"]).unwrap();
    let fl = g.add_op("fl", Op::Floor(Default::default()), &[Some(mm.out(0))], &["f"]).unwrap();
    let mm2 = g
        .add_op("mm2", Op::MatMul(Default::default()), &[Some(fl.out(0)), Some(v)], &["y"])
        .unwrap();
    g.add_output("y", mm2.out(0)).unwrap();
    g
}

#[test]
fn op_without_gradient_is_reported_before_training() {
    let g = floor_graph();
    let m = Model::new(&g, true).unwrap();
    match m.check_gradients() {
        Err(TrainError::NoGradient(list)) => {
            assert_eq!(list.len(), 1, "{list:?}");
            assert!(list[0].contains("'fl'") && list[0].contains("Floor"), "{list:?}");
        }
        other => panic!("expected NoGradient, got {other:?}"),
    }
    // Frozen, the same graph still runs (Floor on the evaluator).
    let m = Model::new(&g, false).unwrap();
    let x = edgeport_eval::Tensor::from_f64(edgeport_ir::DType::F32, &[1, 4], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
    let got = m.run(std::slice::from_ref(&x)).unwrap();
    let want = eval(&g, &[x]);
    assert!(max_diff(&got[0], &want[0]) == 0.0);
}

#[test]
fn fake_quant_weights_train_through_ste_and_requantize() {
    // W stored as int8 codes feeding DequantizeLinear: trained in float, written back as int8.
    let mut g = Graph::new("qw");
    let ty = edgeport_ir::ValueType::tensor(
        edgeport_ir::DType::F32,
        Some(edgeport_ir::Shape(vec![edgeport_ir::Dim::Known(2), edgeport_ir::Dim::Known(3)])),
    );
    let x = g.add_input("x", Some(ty));
    let codes = edgeport_ir::Tensor::from_bytes(
        edgeport_ir::DType::I8,
        vec![3, 2],
        edgeport_ir::Bytes::from_vec(vec![10u8, 250, 3, 7, 128, 127]),
    )
    .unwrap();
    let c = g.add_constant("Wq", codes);
    let s = g.add_constant("Ws", edgeport_ir::Tensor::from_f32(vec![], &[0.1]).unwrap());
    let dq = g
        .add_op("dq", Op::DequantizeLinear(Default::default()), &[Some(c), Some(s), None], &["W"])
        .unwrap();
    let mm = g
        .add_op("mm", Op::MatMul(Default::default()), &[Some(x), Some(dq.out(0))], &["y"])
        .unwrap();
    g.add_output("y", mm.out(0)).unwrap();
    let m = Model::new(&g, true).unwrap();
    m.check_gradients().unwrap();
    assert_eq!(m.params().len(), 1);
    let xin = edgeport_eval::Tensor::from_f64(edgeport_ir::DType::F32, &[2, 3], vec![1.0, -2.0, 0.5, 0.0, 1.0, 3.0]).unwrap();
    let d = max_diff(
        &m.run(std::slice::from_ref(&xin)).unwrap()[0],
        &eval(&g, std::slice::from_ref(&xin))[0],
    );
    assert!(d <= 1e-6, "{d}");
    // Move the weights by +0.3 (3 codes) and write back.
    let w = m.params()[0].var.as_tensor().affine(1.0, 0.3).unwrap();
    m.params()[0].var.set(&w).unwrap();
    let tg = m.trained_graph().unwrap();
    let node = tg.node(ValueId { node: c.node, port: 0 }.node);
    let Op::Constant(k) = &node.op else { panic!() };
    assert_eq!(k.value.dtype, edgeport_ir::DType::I8);
    let v = k.value.to_i64_vec().unwrap();
    assert_eq!(v, vec![13, -3, 6, 10, -125, 127], "codes move by 3, clamped at 127");
}

#[test]
fn gradients_match_finite_differences() {
    // Through Conv (pads), MaxPool, Relu, Flatten, Gemm and the KL loss, on the digits student.
    let g = import("distill/digits_student_init.onnx");
    let m = Model::new(&g, true).unwrap();
    let x = npz("distill/digits_student_labels.npz", "init_image");
    let t = npz("distill/digits_student_labels.npz", "init_logits");
    let tt = RtVal::from_host(t).unwrap().float().unwrap();
    let loss = |m: &Model| -> candle_core::Tensor {
        let (outs, _) = m.forward(vec![RtVal::from_host(x.clone()).unwrap()], &[]).unwrap();
        let s = outs[0].float().unwrap().affine(1.7, 0.3).unwrap();
        edgeport_train::loss::kl(&s, &tt, 2.0).unwrap()
    };
    let grads = loss(&m).backward().unwrap();
    let mut worst = 0f64;
    let mut bad = Vec::new();
    for p in m.params() {
        let g = grads
            .get(p.var.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let w0 = p.var.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        // The element with the largest gradient, perturbed both ways.
        let k = (0..g.len()).fold(0, |b, i| if g[i].abs() > g[b].abs() { i } else { b });
        let eps = 1e-2f32;
        let at = |d: f32| -> f64 {
            let mut w = w0.clone();
            w[k] += d;
            p.var
                .set(&candle_core::Tensor::from_vec(w, p.var.dims(), &candle_core::Device::Cpu).unwrap())
                .unwrap();
            loss(&m).to_scalar::<f32>().unwrap() as f64
        };
        let fd = (at(eps) - at(-eps)) / (2.0 * eps as f64);
        at(0.0);
        let rel = (fd - g[k] as f64).abs() / (g[k].abs() as f64).max(1e-3);
        worst = worst.max(rel);
        eprintln!("{}: autograd {} vs finite difference {fd} (rel {rel:.2e})", p.name, g[k]);
        bad.push((rel >= 0.05).then(|| p.name.clone()));
    }
    let bad: Vec<String> = bad.into_iter().flatten().collect();
    assert!(bad.is_empty(), "gradients off for {bad:?}");
    eprintln!("worst relative gradient error {worst:.2e}");
}

/// One-node graphs over hostile operands: errors naming the node, never panics.
#[test]
fn hostile_operands_are_errors() {
    let f32t = |shape: Vec<usize>, n: usize| edgeport_ir::Tensor::from_f32(shape, &vec![0.5; n]).unwrap();
    let cases: Vec<(&str, Op, Vec<edgeport_ir::Tensor>, &str)> = vec![
        (
            "gather",
            Op::Gather(Default::default()),
            vec![f32t(vec![3, 2], 6), edgeport_ir::Tensor::from_i64(vec![2], &[1, 99]).unwrap()],
            "out of range",
        ),
        (
            "reshape",
            Op::Reshape(Default::default()),
            vec![f32t(vec![3, 2], 6), edgeport_ir::Tensor::from_i64(vec![2], &[4, -1]).unwrap()],
            "cannot reshape",
        ),
        (
            "conv",
            Op::Conv(Default::default()),
            vec![f32t(vec![1, 2, 4, 4], 32), f32t(vec![3, 2, 2], 12)],
            "rank",
        ),
        (
            "slice",
            Op::Slice(Default::default()),
            vec![
                f32t(vec![4], 4),
                edgeport_ir::Tensor::from_i64(vec![1], &[0]).unwrap(),
                edgeport_ir::Tensor::from_i64(vec![2], &[1, 2]).unwrap(),
            ],
            "differ in length",
        ),
    ];
    for (name, op, consts, want) in cases {
        let mut g = Graph::new(name);
        let ins: Vec<Option<ValueId>> = consts
            .into_iter()
            .enumerate()
            .map(|(i, t)| Some(g.add_constant(format!("c{i}"), t)))
            .collect();
        let x = g.add_input("x", None);
        // A trainable path makes the node run natively: x * c0 feeds the op's first input.
        let mul = g.add_op("mul", Op::Mul(Default::default()), &[Some(x), ins[0]], &["m"]).unwrap();
        let mut slots = ins.clone();
        slots[0] = Some(mul.out(0));
        let n = g.add_op(name, op, &slots, &["y"]).unwrap();
        g.add_output("y", n.out(0)).unwrap();
        let m = Model::new(&g, false).unwrap();
        let e = m.run(&[edgeport_eval::Tensor::scalar_f32(1.0)]).unwrap_err().to_string();
        assert!(e.contains(&format!("'{name}'")) && e.contains(want), "{name}: {e}");
    }
}
