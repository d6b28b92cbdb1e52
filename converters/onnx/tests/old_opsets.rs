//! Old-opset models (opsets 7–12, built by `fixtures/old_opsets/make.py` with onnxruntime's
//! outputs beside them) import into the IR's newest-opset forms. The structure is asserted
//! always; the numbers are compared with onnxruntime's where the evaluator runs every op
//! (ops the evaluator does not implement yet are reported and skipped).

use edgeport_ir::{AttrValue, Graph, Op};
use edgeport_onnx::{ImportOptions, import_path};
use std::path::{Path, PathBuf};

fn dir(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/old_opsets").join(case)
}

fn load(case: &str) -> Graph {
    import_path(&dir(case).join("model.onnx"), &ImportOptions::default()).unwrap_or_else(|e| panic!("{case}: {e}"))
}

/// The op names of the graph (without inputs and constants), sorted.
fn ops(g: &Graph) -> Vec<String> {
    let mut v: Vec<String> = g
        .node_ids()
        .map(|n| g.node(n).op.name().to_string())
        .filter(|n| n != "Input" && n != "Constant")
        .collect();
    v.sort();
    v
}

fn attr(g: &Graph, op: &str, name: &str) -> Vec<AttrValue> {
    g.node_ids()
        .filter(|&n| g.node(n).op.name() == op)
        .filter_map(|n| g.node(n).op.attrs().into_iter().find(|(k, _)| k == name).map(|(_, v)| v))
        .collect()
}

/// How many inputs are connected on each node of `op`.
fn connected(g: &Graph, op: &str) -> Vec<usize> {
    let mut v: Vec<usize> = g
        .node_ids()
        .filter(|&n| g.node(n).op.name() == op)
        .map(|n| g.inputs_of(n).iter().flatten().count())
        .collect();
    v.sort();
    v
}

fn read_pb(p: &Path) -> edgeport_ir::Tensor {
    let b = std::fs::read(p).unwrap();
    let ext = edgeport_onnx::decode::ExternalData { base: None };
    let cx = edgeport_onnx::decode::Ctx {
        file: &p.display().to_string(),
        ext: &ext,
    };
    edgeport_onnx::decode::decode_tensor_file(&b, &cx).unwrap()
}

/// Runs the graph on the saved inputs and compares with onnxruntime's outputs. Returns false
/// (and says why) when the evaluator cannot run the graph yet.
fn numeric(case: &str, g: &Graph) -> bool {
    let data = dir(case).join("test_data_set_0");
    let mut inputs = Vec::new();
    for i in 0.. {
        let p = data.join(format!("input_{i}.pb"));
        if !p.exists() {
            break;
        }
        inputs.push(edgeport_eval::Value::Tensor(edgeport_eval::Tensor::from_ir(&read_pb(&p)).unwrap()));
    }
    let got = match edgeport_eval::run_graph(g, inputs) {
        Ok(v) => v,
        Err(e) => {
            let s = e.to_string();
            assert!(
                s.contains("not implemented") || s.contains("not supported"),
                "{case}: evaluator error: {s}"
            );
            eprintln!("{case}: numbers not checked: {s}");
            return false;
        }
    };
    for (i, v) in got.iter().enumerate() {
        let want = read_pb(&data.join(format!("output_{i}.pb")));
        let t = v.as_tensor().expect("tensor output");
        assert_eq!(t.shape(), &want.shape[..], "{case} output {i} shape");
        let (a, b) = (t.to_f64_vec().unwrap(), want.to_f64_vec().unwrap());
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-5 + 1e-4 * y.abs(), "{case} output {i}: {a:?} vs {b:?}");
        }
    }
    true
}

#[test]
fn softmax7_coerces_to_2d() {
    let g = load("softmax7");
    // axis 1 of rank 3 and axis 0: Shape → Flatten → op → Reshape; axis 2 (the last) maps 1:1.
    assert_eq!(
        ops(&g),
        [
            "Flatten",
            "Flatten",
            "Hardmax",
            "LogSoftmax",
            "Reshape",
            "Reshape",
            "Shape",
            "Shape",
            "Softmax"
        ]
    );
    assert_eq!(attr(&g, "LogSoftmax", "axis"), [AttrValue::Int(-1)]);
    assert_eq!(attr(&g, "Softmax", "axis"), [AttrValue::Int(1)]);
    assert_eq!(attr(&g, "Flatten", "axis"), [AttrValue::Int(1), AttrValue::Int(0)]);
    numeric("softmax7", &g);
}

#[test]
fn upsample_slice_pad9() {
    let g = load("upsample_slice_pad9");
    // Pad-2's float `value` becomes an input of the data's type (unknown here: CastLike).
    assert_eq!(ops(&g), ["CastLike", "Dropout", "Pad", "Resize", "ScatterElements", "Slice"]);
    assert_eq!(
        attr(&g, "Resize", "coordinate_transformation_mode"),
        [AttrValue::String("asymmetric".into())]
    );
    assert_eq!(attr(&g, "Resize", "nearest_mode"), [AttrValue::String("floor".into())]);
    assert_eq!(connected(&g, "Slice"), [4]); // data, starts, ends, axes
    assert_eq!(connected(&g, "Pad"), [3]); // data, pads, constant_value
    assert_eq!(connected(&g, "Dropout"), [2]); // data, ratio
    assert_eq!(attr(&g, "ScatterElements", "axis"), [AttrValue::Int(1)]);
    numeric("upsample_slice_pad9", &g);
}

#[test]
fn axes_attrs11_become_inputs() {
    let g = load("axes_attrs11");
    assert_eq!(
        ops(&g),
        ["ReduceMean", "ReduceSum", "Split", "Split", "Squeeze", "TopK", "Unsqueeze"]
    );
    for op in ["Unsqueeze", "Squeeze", "ReduceMean", "ReduceSum"] {
        assert_eq!(connected(&g, op), [2], "{op} takes axes as an input");
    }
    assert_eq!(connected(&g, "Split"), [1, 2]);
    assert_eq!(attr(&g, "Split", "num_outputs"), [AttrValue::Int(2)]);
    numeric("axes_attrs11", &g);
}

#[test]
fn resize10_is_asymmetric() {
    let g = load("resize10");
    assert_eq!(ops(&g), ["Resize"]);
    assert_eq!(
        attr(&g, "Resize", "coordinate_transformation_mode"),
        [AttrValue::String("asymmetric".into())]
    );
    numeric("resize10", &g);
}

#[test]
fn clip_bn7() {
    let g = load("clip_bn7");
    assert_eq!(ops(&g), ["BatchNormalization", "Clip"]);
    assert_eq!(connected(&g, "Clip"), [3]);
    assert!(g.node_ids().all(|n| !matches!(g.node(n).op, Op::Custom(_))));
    // IR 3: the weights are listed as graph inputs too, but are initializers, not user inputs.
    assert_eq!(g.inputs().len(), 1);
    numeric("clip_bn7", &g);
}

#[test]
fn reduce12() {
    let g = load("reduce12");
    assert_eq!(ops(&g), ["ReduceL2", "ReduceMax"]);
    assert_eq!(connected(&g, "ReduceMax"), [2]);
    assert_eq!(connected(&g, "ReduceL2"), [1]);
    numeric("reduce12", &g);
}
