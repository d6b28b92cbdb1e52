//! torch.export programs made by torch 2.15 (`tests/fixtures/pytorch/make_pt2.py`): import →
//! evaluator against torch eager, for both op sets (export() and run_decompositions()) and the
//! three archive layouts; plus the big models when /work/cache/fixtures/pytorch has them.

mod common;
use common::*;

fn check(name: &str) {
    let model = fixture(&format!("{name}.pt2"));
    let base = name.trim_end_matches("_core").trim_end_matches("_gen1").trim_end_matches("_gen2");
    let d = pt2_max_diff(&model, &fixture(&format!("{base}.npz")));
    eprintln!("{name}: max abs diff {d:.3e}");
    assert!(d <= 1e-4, "{name}: max abs diff {d}");
}

#[test]
fn cnn_export() {
    check("cnn");
}
#[test]
fn cnn_core_aten() {
    check("cnn_core");
}
#[test]
fn cnn_torch_2_1_layout() {
    check("cnn_gen1");
}
#[test]
fn cnn_torch_2_8_layout() {
    check("cnn_gen2");
}
#[test]
fn attention_export() {
    check("attn");
}
#[test]
fn attention_core_aten() {
    check("attn_core");
}
#[test]
fn transformer_encoder_layer_export() {
    check("tel");
}
#[test]
fn transformer_encoder_layer_core_aten() {
    check("tel_core");
}

#[test]
fn symbolic_batch() {
    check("cnn_dyn");
    let g = edgeport_pytorch::import_pt2(&fixture("cnn_dyn.pt2")).unwrap();
    let x = g.node(g.inputs()[0]).outputs[0].ty.clone().unwrap();
    let shape = x.as_tensor().unwrap().shape.clone().unwrap();
    assert_eq!(shape.0[0], edgeport_ir::Dim::Sym("s77".into()), "{shape:?}");
    assert_eq!(shape.0[1], edgeport_ir::Dim::Known(3));
}

/// `dynamic_shapes={"x": {0: Dim("batch", min=1, max=8)}}`: the batch dim stays the symbol torch
/// gives it, its range is kept as metadata, and the graph runs at batch 5 and batch 1.
#[test]
fn symbolic_batch_with_range_constraints() {
    let model = fixture("dyn_range.pt2");
    let g = edgeport_pytorch::import_pt2(&model).unwrap();
    let x = g.node(g.inputs()[0]).outputs[0].ty.clone().unwrap();
    let shape = x.as_tensor().unwrap().shape.clone().unwrap();
    assert_eq!(shape.0[0], edgeport_ir::Dim::Sym("s77".into()), "{shape:?}");
    let range = g.metadata.iter().find(|(k, _)| k == "meta.dim_range.s77").map(|(_, v)| v.as_str());
    assert_eq!(range, Some("[1, 8]"), "{:?}", g.metadata);
    // The output keeps the symbolic batch too.
    let (_, out) = g.outputs()[0].clone();
    let oshape = g
        .value(out)
        .unwrap()
        .ty
        .clone()
        .unwrap()
        .as_tensor()
        .unwrap()
        .shape
        .clone()
        .unwrap();
    assert_eq!(oshape.0[0], edgeport_ir::Dim::Sym("s77".into()), "{oshape:?}");
    for set in ["dyn_range.npz", "dyn_range.b1.npz"] {
        let d = graph_max_diff(&g, &model, &fixture(set));
        eprintln!("{set}: max abs diff {d:.3e}");
        assert!(d <= 1e-4, "{set}: max abs diff {d}");
    }
    // Programs without range constraints get no range metadata.
    let g = edgeport_pytorch::import_pt2(&fixture("cnn.pt2")).unwrap();
    assert!(!g.metadata.iter().any(|(k, _)| k.starts_with("meta.dim_range.")));
}

#[test]
fn parameters_are_named_by_fqn() {
    let g = edgeport_pytorch::import_pt2(&fixture("cnn.pt2")).unwrap();
    let w = edgeport_pytorch::safetensors_io::graph_weights(&g);
    let names: Vec<&str> = w.iter().map(|(n, _)| n.as_str()).collect();
    for want in ["conv.weight", "conv.bias", "bn.running_mean", "fc.weight"] {
        assert!(names.contains(&want), "{want} not in {names:?}");
    }
}

/// The big fixtures (made by `make_pt2.py --big`, not committed) when present.
#[test]
fn big_models_when_present() {
    let dir = std::path::Path::new("/work/cache/fixtures/pytorch");
    for name in ["resnet18", "mobilenet_v2", "tel256", "bert"] {
        for suffix in ["", "_core"] {
            let p = dir.join(format!("{name}{suffix}.pt2"));
            if !p.exists() {
                eprintln!("skipping {} (not generated)", p.display());
                continue;
            }
            let d = pt2_max_diff(&p, &dir.join(format!("{name}.npz")));
            eprintln!("{name}{suffix}: max abs diff {d:.3e}");
            assert!(d <= 1e-4, "{name}{suffix}: max abs diff {d}");
        }
    }
}
