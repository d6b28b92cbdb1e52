//! State dicts (zip, legacy, protocol 4) and safetensors made by torch 2.15
//! (`tests/fixtures/pytorch/make_weights.py`): every tensor's dtype, shape and values against
//! numpy's copy, zero-copy views of the file, and rebinding onto a graph.

mod common;
use common::*;
use edgeport_ir::{DType, Graph, Op, Tensor};
use edgeport_pytorch::{load_weights, rebind};

fn check_against_npz(file: &str, skip: &[&str]) {
    let w = load_weights(&fixture(file)).unwrap();
    let exp = npz(&fixture("sd_dtypes.npz"));
    let names: Vec<&str> = w.iter().map(|(n, _)| n.as_str()).collect();
    for (name, e) in &exp {
        if skip.contains(&name.as_str()) {
            continue;
        }
        let t = &w
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{file}: no tensor {name} in {names:?}"))
            .1;
        assert_eq!(t.shape, e.shape, "{file}: {name} shape");
        let d = max_abs_diff(&values(t), &e.values);
        assert_eq!(d, 0.0, "{file}: {name} differs by {d}");
    }
    assert_eq!(w.len(), exp.len() - skip.len(), "{file}: tensor count");
}

#[test]
fn zip_state_dict_all_dtypes() {
    check_against_npz("sd_dtypes.pt", &[]);
    let w = load_weights(&fixture("sd_dtypes.pt")).unwrap();
    let dt = |n: &str| w.iter().find(|(k, _)| k == n).unwrap().1.dtype;
    assert_eq!(dt("bf16"), DType::BF16);
    assert_eq!(dt("u16"), DType::U16);
    assert_eq!(dt("f8"), DType::F8E4M3FN);
    assert_eq!(dt("bool"), DType::Bool);
    assert_eq!(dt("i16"), DType::I16);
}

#[test]
fn protocol4_state_dict() {
    check_against_npz("sd_dtypes_p4.pt", &[]);
}

#[test]
fn legacy_state_dict() {
    check_against_npz("sd_dtypes_legacy.pt", &["u16", "f8"]);
}

#[test]
fn safetensors_file() {
    check_against_npz("sd_dtypes.safetensors", &["view_base", "view_off"]);
}

#[test]
fn contiguous_views_share_the_file() {
    let w = load_weights(&fixture("sd_dtypes.pt")).unwrap();
    let get = |n: &str| w.iter().find(|(k, _)| k == n).unwrap().1.raw().unwrap().clone();
    // The offset view and its base share one storage record: no copy was made.
    assert!(get("view_off").shares_owner(&get("view_base")));
    assert!(get("f32").shares_owner(&get("view_base")));
    // The transposed view needed a gather: it owns its bytes.
    assert!(!get("transposed").shares_owner(&get("view_base")));
}

#[test]
fn rebind_reports_matched_missing_unexpected_and_mismatched() {
    let mut g = Graph::new("g");
    let c = |t: Tensor| Op::Constant(edgeport_ir::ops::defs::generator::Constant { value: t });
    let f32_zero = Tensor::from_f32(vec![2, 3], &[0.0; 6]).unwrap();
    let a = g.add_op("n1", c(f32_zero), &[], &["f32"]).unwrap();
    let b = g
        .add_op("n2", c(Tensor::from_f32(vec![5], &[0.0; 5]).unwrap()), &[], &["scalar"])
        .unwrap();
    let m = g
        .add_op("n3", c(Tensor::from_f32(vec![4], &[0.0; 4]).unwrap()), &[], &["only_in_graph"])
        .unwrap();
    for (i, n) in [a, b, m].into_iter().enumerate() {
        g.add_output(format!("o{i}"), edgeport_ir::ValueId { node: n, port: 0 }).unwrap();
    }
    let w = load_weights(&fixture("sd_dtypes.pt")).unwrap();
    let r = rebind(&mut g, w.clone());
    assert_eq!(r.matched, vec!["f32".to_string()]);
    assert_eq!(r.missing, vec!["only_in_graph".to_string()]);
    assert_eq!(r.mismatched.len(), 1);
    assert_eq!(r.mismatched[0].0, "scalar");
    assert_eq!(r.unexpected.len(), w.len() - 2);
    let Op::Constant(k) = &g.node(a).op else { panic!() };
    let want = &w.iter().find(|(n, _)| n == "f32").unwrap().1;
    assert_eq!(values(&k.value), values(want));
    assert!(r.to_string().contains("1 matched, 1 missing"));
}

#[test]
fn torchscript_module_weights() {
    // A traced module: `__torch__.*` objects hold the parameters; names follow the attributes.
    let w = load_weights(&fixture("ts_cnn.pt")).unwrap();
    let exp = npz(&fixture("ts_cnn.npz"));
    for (name, e) in &exp {
        let t = &w.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no {name}")).1;
        assert_eq!(t.shape, e.shape, "{name}");
        assert_eq!(max_abs_diff(&values(t), &e.values), 0.0, "{name}");
    }
}
