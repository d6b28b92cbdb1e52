//! Bad input: prototxt syntax errors (with line and column), weight blobs that do not match the
//! layer parameters, unknown layer types, truncated or random caffemodels — clear errors naming
//! the file and layer, never a panic.

use edgeport_caffe::{Error, Options, import_bytes};
use std::path::PathBuf;

fn fixture(name: &str) -> Vec<u8> {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/caffe");
    std::fs::read(d.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn syntax_error_shows_line_and_column() {
    let src = b"name: \"x\"\nlayer {\n  name: \"data\"\n  type: \"Input\" top: \"data\"\n  input_param { shape { dim: 1 dim: } }\n}\n";
    let e = import_bytes(src, None, "deploy.prototxt", &Options::default()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::Syntax { .. }), "{msg}");
    assert!(msg.starts_with("deploy.prototxt: line 5, column 37"), "{msg}");
}

#[test]
fn unterminated_string_and_brace() {
    let e = import_bytes(b"name: \"abc\nlayer {}", None, "a.prototxt", &Options::default()).unwrap_err();
    assert!(e.to_string().contains("line 1, column 7: unterminated string"), "{e}");
    let e = import_bytes(b"layer {\n name: \"a\"\n", None, "b.prototxt", &Options::default()).unwrap_err();
    assert!(e.to_string().contains("expected '}' before end of file"), "{e}");
    let e = import_bytes(b"layer { type: CONV }", None, "c.prototxt", &Options::default()).unwrap_err();
    assert!(e.to_string().contains("line 1, column 15: field 'type': expected a string"), "{e}");
    let e = import_bytes(b"layer { pooling_param { pool: MEDIAN } }", None, "d.prototxt", &Options::default()).unwrap_err();
    assert!(
        e.to_string()
            .contains("'MEDIAN' is not a value of enum caffe.PoolingParameter.PoolMethod"),
        "{e}"
    );
}

#[test]
fn blob_size_mismatch_names_the_layer() {
    // Give conv1 fewer output channels in the prototxt than the caffemodel holds.
    let proto = String::from_utf8(fixture("cnn.prototxt")).unwrap().replacen(
        "num_output: 8 kernel_size: 3 stride: 2",
        "num_output: 6 kernel_size: 3 stride: 2",
        1,
    );
    let e = import_bytes(
        proto.as_bytes(),
        Some(fixture("cnn.caffemodel")),
        "cnn.prototxt",
        &Options::default(),
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("layer 'conv1' (Convolution)") && msg.contains("216 values") && msg.contains("162"),
        "{msg}"
    );
}

#[test]
fn unknown_and_broken_layers_are_listed_together() {
    let src = br#"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 dim: 4 dim: 4 } } }
layer { name: "a" type: "FancyLayer" bottom: "data" top: "a" }
layer { name: "b" type: "ReLU" bottom: "nowhere" top: "b" }
layer { name: "c" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 2 kernel_size: 1 } }
"#;
    let e = import_bytes(src, None, "n.prototxt", &Options::default()).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("3 layer(s)"), "{msg}");
    assert!(msg.contains("'a' (FancyLayer): unsupported layer type"), "{msg}");
    assert!(msg.contains("'b' (ReLU): bottom blob(s) [\"nowhere\"]"), "{msg}");
    assert!(msg.contains("'c' (Convolution): needs weight blob 0"), "{msg}");
}

#[test]
fn truncated_and_random_caffemodels_fail_cleanly() {
    let proto = fixture("cnn.prototxt");
    let model = fixture("cnn.caffemodel");
    for cut in (1..model.len()).step_by(131) {
        let r = import_bytes(&proto, Some(model[..cut].to_vec()), "cnn.caffemodel", &Options::default());
        assert!(r.is_err(), "truncated at {cut} imported");
    }
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for len in [1usize, 7, 64, 1000] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let _ = import_bytes(&proto, Some(bytes.clone()), "r.caffemodel", &Options::default());
        let _ = import_bytes(&bytes, None, "r.prototxt", &Options::default());
    }
}

#[test]
fn in_place_layers_keep_blob_names_unique() {
    let g = import_bytes(
        &fixture("cnn.prototxt"),
        Some(fixture("cnn.caffemodel")),
        "cnn.prototxt",
        &Options::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<String> = g.outputs().iter().map(|o| o.0.clone()).collect();
    assert_eq!(names, vec!["prob".to_string()]);
    let mut seen = std::collections::HashSet::new();
    for id in g.node_ids() {
        for v in &g.node(id).outputs {
            assert!(seen.insert(v.name.clone()), "duplicate value name {}", v.name);
        }
    }
}
