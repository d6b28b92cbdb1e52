//! TorchScript archives made by torch 2.15 (`tests/fixtures/pytorch/make_ts.py`): import →
//! evaluator against torch eager (traced CNN, attention, TransformerEncoderLayer on the fused
//! fast path and off it, fused MultiheadAttention, a scripted module with a loop and an if),
//! the big models when /work/cache/fixtures/pytorch has them, and hostile archives.

mod common;
use common::*;
use edgeport_pytorch::{TsOptions, import_torchscript};

fn check_with(name: &str, opts: &TsOptions) -> f64 {
    let model = fixture(&format!("{name}.pt"));
    let g = import_torchscript(&model, opts).unwrap_or_else(|e| panic!("{e}"));
    let d = graph_max_diff(&g, &model, &fixture(&format!("{name}.npz")));
    eprintln!("{name}: max abs diff {d:.3e}");
    assert!(d <= 1e-4, "{name}: max abs diff {d}");
    d
}

fn check(name: &str) -> f64 {
    check_with(name, &TsOptions::default())
}

#[test]
fn traced_cnn() {
    check("jit_cnn");
}

#[test]
fn traced_attention() {
    check("jit_attn");
}

#[test]
fn transformer_encoder_layer_fused_fast_path() {
    check("jit_tel");
    // The fast path really is one fused op in the source.
    let ar = edgeport_pytorch::zip::Archive::parse(
        "jit_tel.pt",
        edgeport_ir::Bytes::from_vec(std::fs::read(fixture("jit_tel.pt")).unwrap()),
    )
    .unwrap();
    let code = ar.read_text("jit_tel/code/__torch__/torch/nn/modules/transformer.py").unwrap();
    assert!(code.contains("torch._transformer_encoder_layer_fwd("));
}

#[test]
fn transformer_encoder_layer_fused_with_padding_mask() {
    // eval + no_grad with src_key_padding_mask: the fused op gets an additive [B, S] float mask
    // (mask_type 1); batch row 1 pads its last two positions.
    check("jit_tel_mask");
    let ar = edgeport_pytorch::zip::Archive::parse(
        "jit_tel_mask.pt",
        edgeport_ir::Bytes::from_vec(std::fs::read(fixture("jit_tel_mask.pt")).unwrap()),
    )
    .unwrap();
    let code = ar.read_text("jit_tel_mask/code/__torch__/torch/nn/modules/transformer.py").unwrap();
    assert!(code.contains("torch._transformer_encoder_layer_fwd(") && code.contains("src_key_padding_mask, 1)"));
}

#[test]
fn transformer_encoder_layer_not_fused() {
    check("jit_tel_nf");
}

#[test]
fn multi_head_attention_fused() {
    check("jit_mha");
}

#[test]
fn scripted_module_with_loop_and_if() {
    let opts = TsOptions {
        input_shapes: vec![("x".into(), vec![3, 8])],
        ..Default::default()
    };
    check_with("jit_script", &opts);
    // Without a shape, the scripted module (no traced inputs) is refused with a hint.
    let e = import_torchscript(&fixture("jit_script.pt"), &TsOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("--input-shape x="), "{e}");
}

#[test]
fn parameters_are_named_by_attribute_path() {
    let g = import_torchscript(&fixture("jit_cnn.pt"), &TsOptions::default()).unwrap();
    let w = edgeport_pytorch::safetensors_io::graph_weights(&g);
    let names: Vec<&str> = w.iter().map(|(n, _)| n.as_str()).collect();
    for want in ["conv.weight", "conv.bias", "bn.running_mean", "dw.weight", "fc.weight"] {
        assert!(names.contains(&want), "{want} not in {names:?}");
    }
}

#[test]
fn unknown_syntax_names_file_and_line() {
    let e = import_torchscript(&fixture("jit_bad_syntax.pt"), &TsOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("jit_cnn/code/__torch__.py:15"), "{e}");
    assert!(e.contains("'with'"), "{e}");
}

#[test]
fn unsupported_ops_are_listed_together_with_lines() {
    let e = import_torchscript(&fixture("jit_unsupported.pt"), &TsOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("aten::cumsum"), "{e}");
    assert!(e.contains("aten::flip"), "{e}");
    assert!(e.contains("jit_unsupported/code/__torch__.py:8"), "{e}");
}

#[test]
fn hostile_archives_are_refused_without_panic() {
    let good = std::fs::read(fixture("jit_cnn.pt")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Truncated at many points.
    for cut in (0..good.len()).step_by(997) {
        let p = dir.path().join("cut.pt");
        std::fs::write(&p, &good[..cut]).unwrap();
        assert!(import_torchscript(&p, &TsOptions::default()).is_err());
    }
    // Random byte flips (stored entries keep their CRC unchecked, so code and pickles change).
    let mut seed = 0x2545f4914f6cdd1du64;
    for _ in 0..300 {
        let mut b = good.clone();
        for _ in 0..8 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let i = (seed as usize) % b.len();
            b[i] = (seed >> 32) as u8;
        }
        let p = dir.path().join("flip.pt");
        std::fs::write(&p, &b).unwrap();
        let _ = import_torchscript(&p, &TsOptions::default());
    }
}

#[test]
fn hostile_source_is_refused_without_panic() {
    use edgeport_pytorch::torchscript::parser::parse;
    for src in [
        "class A(Module):\n  def forward(self, x):\n    return x[\n",
        "def f(:\n",
        &format!("x = {}\n", "[".repeat(10_000)),
        &format!("x = {}1\n", "not ".repeat(10_000)),
        "class A(Module):\n    def f(self):\n  return 1\n",
        "x = 99999999999999999999999999999999999999999\n",
        "x = \"\\x\"\n",
    ] {
        assert!(parse(src).is_err(), "{src:.40}");
    }
}

/// The big fixtures (made by `make_ts.py --big`, not committed) when present.
#[test]
fn big_models_when_present() {
    let dir = std::path::Path::new("/work/cache/fixtures/pytorch");
    for name in ["resnet18_jit", "mobilenet_v2_jit", "tel256_jit", "bert_jit"] {
        let p = dir.join(format!("{name}.pt"));
        if !p.exists() {
            eprintln!("skipping {} (not generated)", p.display());
            continue;
        }
        let t = std::time::Instant::now();
        let g = import_torchscript(&p, &TsOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        let dt = t.elapsed();
        let d = graph_max_diff(&g, &p, &dir.join(format!("{name}.npz")));
        eprintln!("{name}: max abs diff {d:.3e} (import {dt:.2?})");
        assert!(d <= 1e-4, "{name}: max abs diff {d}");
    }
}
