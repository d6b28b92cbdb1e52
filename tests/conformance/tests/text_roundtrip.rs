//! Text-form round trip over every ONNX node-test model: import, print (large tensors as
//! `@"key"` references), parse with the weights map, print again; the two prints must be
//! identical. Prints how many cases round-trip. Without the test data the test is skipped.

use edgeport_conformance::DataDir;
use edgeport_ir::text::{PrintOptions, parse_graph_with_weights, print_graph_split};
use std::collections::HashMap;

#[test]
fn every_node_model_round_trips_through_text() {
    let Some(data) = DataDir::locate() else {
        eprintln!("ONNX test data not found; skipping");
        return;
    };
    let opts = PrintOptions { inline_limit: 16 };
    let (mut imported, mut ok) = (0usize, 0usize);
    let mut failures = Vec::new();
    for dir in data.node_cases() {
        let name = dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let Ok(g) = edgeport_onnx::import_path(&dir.join("model.onnx"), &Default::default()) else {
            continue;
        };
        imported += 1;
        let (text, weights) = print_graph_split(&g, &opts, &|_| true);
        let weights: HashMap<_, _> = weights.into_iter().collect();
        match parse_graph_with_weights(&text, &weights) {
            Ok(back) => {
                let (again, _) = print_graph_split(&back, &opts, &|_| true);
                if again == text {
                    ok += 1;
                } else {
                    let line = text.lines().zip(again.lines()).find(|(a, b)| a != b);
                    failures.push(format!("{name}: prints differ: {line:?}"));
                }
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    eprintln!("text round trip: {ok} of {imported} imported node-test models");
    for f in failures.iter().take(30) {
        eprintln!("  {f}");
    }
    assert!(imported > 0, "no model imported");
    assert_eq!(failures.len(), 0, "{} models do not round-trip", failures.len());
}

/// Shape and dtype inference against the declared output types of every node-test model: the
/// declared types of node outputs are stripped, inference runs, and each graph output's
/// inferred type is compared with the declared one. Prints the agreement rate; a wrong answer
/// (as opposed to an unknown one) fails the test.
#[test]
fn inference_agrees_with_declared_output_types() {
    use edgeport_ir::ops::Op;
    use edgeport_ir::{ValueType, infer::infer_types};
    let Some(data) = DataDir::locate() else {
        eprintln!("ONNX test data not found; skipping");
        return;
    };
    let (mut outputs, mut exact, mut dtype_only, mut unknown) = (0usize, 0usize, 0usize, 0usize);
    let mut wrong = Vec::new();
    let mut errors = Vec::new();
    for dir in data.node_cases() {
        let name = dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let Ok(mut g) = edgeport_onnx::import_path(&dir.join("model.onnx"), &Default::default()) else {
            continue;
        };
        let declared: Vec<(String, Option<ValueType>)> = g
            .outputs()
            .iter()
            .map(|(n, v)| (n.clone(), g.value(*v).and_then(|x| x.ty.clone())))
            .collect();
        let ids: Vec<_> = g.node_ids().collect();
        for id in ids {
            if !matches!(g.node(id).op, Op::Input(_) | Op::Constant(_)) {
                for v in &mut g.node_mut(id).outputs {
                    v.ty = None;
                }
            }
        }
        if let Err(e) = infer_types(&mut g) {
            errors.push(format!("{name}: {e}"));
            continue;
        }
        for ((oname, decl), (_, v)) in declared.iter().zip(g.outputs()) {
            let Some(decl) = decl else { continue };
            outputs += 1;
            let got = g.value(*v).and_then(|x| x.ty.clone());
            match got.as_ref().map(|a| (a, relation(a, decl))) {
                Some((_, Some(true))) => exact += 1,
                Some((_, Some(false))) => {
                    if std::env::var("EDGEPORT_SHOW_PARTIAL").is_ok() {
                        eprintln!("partial {name}/{oname}: declared {decl}");
                    }
                    dtype_only += 1
                }
                None => {
                    if std::env::var("EDGEPORT_SHOW_PARTIAL").is_ok() {
                        eprintln!("unknown {name}/{oname}: declared {decl}");
                    }
                    unknown += 1
                }
                Some((a, None)) => wrong.push(format!("{name}/{oname}: inferred {a}, declared {decl}")),
            }
        }
    }
    let pct = |n: usize| 100.0 * n as f64 / outputs.max(1) as f64;
    eprintln!(
        "inference over {outputs} declared node-test outputs: {exact} exact ({:.1}%), {dtype_only} partial ({:.1}%), {unknown} unknown ({:.1}%), {} wrong, {} models with errors",
        pct(exact),
        pct(dtype_only),
        pct(unknown),
        wrong.len(),
        errors.len()
    );
    for w in wrong.iter().chain(&errors).take(60) {
        eprintln!("  {w}");
    }
    assert!(wrong.is_empty(), "{} outputs inferred wrongly", wrong.len());
}

/// How an inferred type relates to a declared one: `Some(true)` consistent and as informative
/// (symbols match any symbol, a declared `?` matches anything), `Some(false)` consistent but
/// less informative (an unknown shape or a symbol where a size is declared), `None` a conflict.
fn relation(a: &edgeport_ir::ValueType, b: &edgeport_ir::ValueType) -> Option<bool> {
    use edgeport_ir::{Dim, ValueType as V};
    let tt = |a: &edgeport_ir::TensorType, b: &edgeport_ir::TensorType| -> Option<bool> {
        if a.dtype != b.dtype {
            return None;
        }
        match (&a.shape, &b.shape) {
            (Some(x), Some(y)) => {
                if x.rank() != y.rank() {
                    return None;
                }
                let mut full = true;
                for (p, q) in x.0.iter().zip(&y.0) {
                    match (p, q) {
                        (Dim::Known(m), Dim::Known(n)) if m != n => return None,
                        (Dim::Sym(_), Dim::Known(_)) => full = false,
                        _ => {}
                    }
                }
                Some(full)
            }
            (None, Some(_)) => Some(false),
            _ => Some(true),
        }
    };
    match (a, b) {
        (V::Tensor(x), V::Tensor(y)) | (V::SparseTensor(x), V::SparseTensor(y)) => tt(x, y),
        (V::Sequence(x), V::Sequence(y)) | (V::Optional(x), V::Optional(y)) => relation(x, y),
        (V::Map(k, x), V::Map(l, y)) if k == l => relation(x, y),
        _ => None,
    }
}

/// The validator (integrity and type checks) over every imported node-test model, before and
/// after inference. Prints how many pass; lists the failures.
#[test]
fn validator_accepts_imported_models() {
    use edgeport_ir::{infer::infer_types, validate::validate};
    let Some(data) = DataDir::locate() else {
        eprintln!("ONNX test data not found; skipping");
        return;
    };
    let (mut n, mut ok, mut ok_inferred) = (0usize, 0usize, 0usize);
    let mut fails = Vec::new();
    for dir in data.node_cases() {
        let name = dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let Ok(mut g) = edgeport_onnx::import_path(&dir.join("model.onnx"), &Default::default()) else {
            continue;
        };
        n += 1;
        match validate(&g) {
            Ok(_) => ok += 1,
            Err(e) => fails.push(format!("{name}: {e}")),
        }
        if infer_types(&mut g).is_ok() {
            match validate(&g) {
                Ok(_) => ok_inferred += 1,
                Err(e) => fails.push(format!("{name} (after inference): {e}")),
            }
        }
    }
    eprintln!("validator: {ok} of {n} imported node-test models valid as imported, {ok_inferred} after inference");
    for f in fails.iter().take(40) {
        eprintln!("  {f}");
    }
}

/// The IR bundle over every imported node-test model: write, read back, print identical.
#[test]
fn every_node_model_round_trips_through_a_bundle() {
    use edgeport_ir::bundle::{read_bundle, write_bundle};
    use edgeport_ir::text::print_graph;
    let Some(data) = DataDir::locate() else {
        eprintln!("ONNX test data not found; skipping");
        return;
    };
    let root = std::env::temp_dir().join(format!("edgeport-bundle-rt-{}", std::process::id()));
    let (mut n, mut ok) = (0usize, 0usize);
    let mut fails = Vec::new();
    for dir in data.node_cases() {
        let name = dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let Ok(g) = edgeport_onnx::import_path(&dir.join("model.onnx"), &Default::default()) else {
            continue;
        };
        n += 1;
        let path = root.join(format!("{name}.epir"));
        let res = write_bundle(&g, &path).and_then(|_| read_bundle(&path));
        match res {
            Ok(back) if print_graph(&back) == print_graph(&g) => ok += 1,
            Ok(_) => fails.push(format!("{name}: prints differ")),
            Err(e) => fails.push(format!("{name}: {e}")),
        }
    }
    let _ = std::fs::remove_dir_all(&root);
    eprintln!("bundle round trip: {ok} of {n} imported node-test models");
    for f in fails.iter().take(20) {
        eprintln!("  {f}");
    }
    assert!(fails.is_empty(), "{} models do not round-trip through a bundle", fails.len());
}
