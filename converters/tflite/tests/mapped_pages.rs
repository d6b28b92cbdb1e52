//! Memory: a `.tflite` → `.tflite` conversion of a model with an 8 MB weight does not keep the
//! input's pages resident. The importer maps the file and gives back the pages it read; the
//! exporter streams each weight from the map in chunks and gives those pages back as it goes.
//! Checked on the map's own resident size (`/proc/self/smaps`), and the weight must come
//! through byte for byte.

#[path = "common/build.rs"]
#[allow(dead_code)]
mod build;

use build::*;
use std::path::Path;

/// Resident kB of the mappings of `path` (Linux), `None` when smaps is unreadable.
fn resident_kb(path: &Path) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let want = path.canonicalize().ok()?.display().to_string();
    let mut inside = false;
    let mut total = 0;
    for l in s.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.first().is_some_and(|x| x.contains('-') && !x.ends_with(':')) {
            inside = f.get(5).is_some_and(|p| *p == want);
        } else if inside && f.first() == Some(&"Rss:") {
            total += f.get(1).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    Some(total)
}

fn weight_constant(g: &edgeport_ir::Graph, shape: &[usize]) -> Option<Vec<u8>> {
    g.node_ids().find_map(|id| match &g.node(id).op {
        edgeport_ir::Op::Constant(c) if c.value.shape == shape => c.value.raw().map(|b| b.to_vec()),
        _ => None,
    })
}

#[test]
fn conversion_gives_mapped_pages_back() {
    const OUT: usize = 4096;
    const IN: usize = 512;
    let weight: Vec<u8> = (0..OUT * IN).flat_map(|i| ((i % 977) as f32 * 0.001 - 0.4).to_le_bytes()).collect();
    let model = ModelSpec {
        opcodes: vec![9], // FULLY_CONNECTED
        subgraphs: vec![SubgraphSpec {
            tensors: vec![
                TensorSpec {
                    shape: vec![1, IN as i32],
                    buffer: 0,
                    name: "x",
                },
                TensorSpec {
                    shape: vec![OUT as i32, IN as i32],
                    buffer: 1,
                    name: "w",
                },
                TensorSpec {
                    shape: vec![1, OUT as i32],
                    buffer: 0,
                    name: "y",
                },
            ],
            inputs: vec![0],
            outputs: vec![2],
            ops: vec![OpSpec {
                opcode: 0,
                inputs: vec![0, 1, -1],
                outputs: vec![2],
                options: None,
            }],
        }],
        buffers: vec![BufSpec::Empty, BufSpec::Data(weight.clone())],
    };
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("fc.tflite");
    std::fs::write(&src, build(&model)).unwrap();
    let g = edgeport_tflite::import_path(&src).unwrap();
    let Some(after_import) = resident_kb(&src) else {
        eprintln!("no /proc/self/smaps: residency not checked");
        return;
    };
    assert!(after_import < 1024, "{after_import} kB of the input resident after import");
    let v = edgeport_ir::validate::validate(&g).unwrap();
    let dst = dir.path().join("out.tflite");
    edgeport_tflite::export::export_path(&v, &dst, &Default::default()).unwrap();
    let after_export = resident_kb(&src).unwrap_or(u64::MAX);
    // The last 1 MB chunk and the pages around the flatbuffer tables may remain.
    assert!(after_export < 2048, "{after_export} kB of the 8 MB input resident after export");
    let back = edgeport_tflite::import_path(&dst).unwrap();
    assert_eq!(weight_constant(&back, &[OUT, IN]), Some(weight));
}
