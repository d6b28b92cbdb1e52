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
