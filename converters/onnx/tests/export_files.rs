//! Export to files: external data written (4096-aligned) and re-imported, temporary files
//! removed on failure, writing over an input refused.

mod export_common;
use edgeport_ir::validate::validate;
use edgeport_onnx::{ExportOptions, ExternalDataPolicy, export_bytes, export_path, import_path};
use export_common::*;

#[test]
fn external_data_written_and_reimported() {
    let d = tmpdir("ext");
    let g = sample(3000); // 12 000-byte weight: external
    let v = validate(&g).unwrap();
    let p = d.join("m.onnx");
    let opts = ExportOptions {
        external_data: ExternalDataPolicy::Always,
        ..Default::default()
    };
    export_path(&v, &p, &opts).unwrap();
    let data = d.join("m.data");
    assert!(data.exists());
    assert_eq!(std::fs::metadata(&data).unwrap().len(), 12_000);
    assert!(std::fs::metadata(&p).unwrap().len() < 2000, "weights are not in the model file");
    let back = import_path(&p, &Default::default()).unwrap();
    let w = back.find_value("w").unwrap();
    let edgeport_ir::Op::Constant(c) = &back.node(w.node).op else {
        panic!()
    };
    assert_eq!(c.value.to_f64_vec().unwrap()[2999], 2999.0 * 0.5);
    assert_eq!(io_names(&back), io_names(&g));
    // Determinism holds for external data too.
    let p2 = d.join("n.onnx");
    export_path(&v, &p2, &opts).unwrap();
    assert_eq!(std::fs::read(&data).unwrap(), std::fs::read(d.join("n.data")).unwrap());
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn failure_leaves_nothing() {
    let d = tmpdir("fail");
    let target = d.join("taken.onnx");
    std::fs::create_dir_all(target.join("sub")).unwrap(); // rename onto a non-empty folder fails
    let g = sample(8);
    let v = validate(&g).unwrap();
    assert!(export_path(&v, &target, &ExportOptions::default()).is_err());
    let left: Vec<_> = std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, vec![std::ffi::OsString::from("taken.onnx")]);
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn refuses_to_overwrite_input() {
    let d = tmpdir("self");
    let p = d.join("in.onnx");
    let g = sample(512);
    let v = validate(&g).unwrap();
    let bytes = export_bytes(&v, &ExportOptions::default()).unwrap();
    std::fs::write(&p, &bytes).unwrap();
    let imported = import_path(&p, &Default::default()).unwrap();
    let v2 = validate(&imported).unwrap();
    let e = export_path(&v2, &p, &ExportOptions::default()).unwrap_err();
    assert!(e.to_string().contains("input"), "{e}");
    assert_eq!(std::fs::read(&p).unwrap(), bytes);
    drop(imported);
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn external_tensors_are_4096_aligned() {
    use edgeport_ir::ops::defs::math::Add;
    use edgeport_ir::{Op, Tensor};
    let d = tmpdir("align");
    let mut g = sample(3000);
    let w2 = g.add_constant("w2", Tensor::from_f32(vec![3000], &[1.5; 3000]).unwrap());
    let z = g.outputs()[0].1;
    let s = g.add_op("add3", Op::Add(Add {}), &[Some(z), Some(w2)], &["z2"]).unwrap();
    g.node_mut(s).outputs[0].ty = f32_ty(&[3000]);
    g.add_output("z2", s.out(0)).unwrap();
    let v = validate(&g).unwrap();
    let p = d.join("m.onnx");
    export_path(
        &v,
        &p,
        &ExportOptions {
            external_data: ExternalDataPolicy::Always,
            ..Default::default()
        },
    )
    .unwrap();
    // Two 12 000-byte tensors: the second starts at 12 288 (the next multiple of 4096).
    assert_eq!(std::fs::metadata(d.join("m.data")).unwrap().len(), 12_288 + 12_000);
    let back = import_path(&p, &Default::default()).unwrap();
    let w = back.find_value("w2").unwrap();
    let edgeport_ir::Op::Constant(c) = &back.node(w.node).op else {
        panic!()
    };
    assert_eq!(c.value.to_f64_vec().unwrap()[2999], 1.5);
    let _ = std::fs::remove_dir_all(d);
}
