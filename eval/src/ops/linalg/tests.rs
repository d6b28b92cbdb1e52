//! Unit tests of the linalg kernels that do not need a graph (the conformance suite covers the
//! ops end to end).

use super::det;
use super::matmul::{Plan, matmul_float, matmul_int};
use super::quantize::{expand_param, quantize_values};
use super::softmax::{Kind, apply};
use crate::tensor::Tensor;
use edgeport_ir::DType;

#[test]
fn plan_broadcasts_batches_and_vectors() {
    let p = Plan::new(&[2, 1, 3, 4], &[5, 4, 6]).unwrap();
    assert_eq!(p.out_shape, vec![2, 5, 3, 6]);
    assert_eq!(p.a_off, vec![0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    assert_eq!(p.b_off, vec![0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
    assert_eq!(Plan::new(&[4], &[4]).unwrap().out_shape, Vec::<usize>::new());
    assert_eq!(Plan::new(&[4], &[2, 4, 3]).unwrap().out_shape, vec![2, 3]);
    assert!(Plan::new(&[2, 3], &[4, 5]).is_err());
}

#[test]
fn float_and_int_products_agree() {
    let p = Plan::new(&[2, 3], &[3, 2]).unwrap();
    let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let b = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
    assert_eq!(matmul_float(&a, &b, &p).unwrap(), vec![4.0, 5.0, 10.0, 11.0]);
    let ai: Vec<i64> = a.iter().map(|&x| x as i64).collect();
    let bi: Vec<i64> = b.iter().map(|&x| x as i64).collect();
    assert_eq!(matmul_int(&ai, &bi, &p), vec![4, 5, 10, 11]);
    // Empty inner dim gives zeros.
    let p0 = Plan::new(&[2, 0], &[0, 3]).unwrap();
    assert_eq!(matmul_float::<f32>(&[], &[], &p0).unwrap(), vec![0.0; 6]);
}

#[test]
fn determinants() {
    assert_eq!(det::det(vec![1.0, 2.0, 3.0, 4.0], 2), -2.0);
    assert_eq!(det::det(vec![1.0, 2.0, 2.0, 4.0], 2), 0.0);
    assert_eq!(det::det(vec![], 0), 1.0);
    let d = det::det(vec![0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0], 3);
    assert!((d - 1.0).abs() < 1e-12);
}

#[test]
fn softmax_kinds() {
    let mut v = vec![1.0, 1.0];
    apply(Kind::Soft, &mut v);
    assert_eq!(v, vec![0.5, 0.5]);
    let mut h = vec![3.0, 1.0, 3.0];
    apply(Kind::Hard, &mut h);
    assert_eq!(h, vec![1.0, 0.0, 0.0]);
    let mut l = vec![1000.0, 1000.0];
    apply(Kind::LogSoft, &mut l);
    assert!((l[0] + std::f64::consts::LN_2).abs() < 1e-12);
}

#[test]
fn quantize_rounds_half_even_and_saturates() {
    let t = quantize_values(DType::I8, &[4], &[0.5, 1.5, -300.0, 2.5], &[0.0], true).unwrap();
    assert_eq!(t.to_i64_vec().unwrap(), vec![0, 2, -128, 2]);
    let t = quantize_values(DType::U4, &[3], &[7.6, 20.0, -1.0], &[1.0], true).unwrap();
    assert_eq!(t.to_i64_vec().unwrap(), vec![9, 15, 0]);
}

#[test]
fn blocked_params_expand_with_a_remainder_block() {
    let s = Tensor::from_f64(DType::F32, &[1, 2], vec![1.0, 2.0]).unwrap();
    let v = expand_param(&s, &[1, 3], 1, 2, "scale").unwrap();
    assert_eq!(v, vec![1.0, 1.0, 2.0]);
    let per_axis = Tensor::vec_f32(vec![1.0, 2.0]);
    assert_eq!(expand_param(&per_axis, &[2, 2], 0, 0, "scale").unwrap(), vec![1.0, 1.0, 2.0, 2.0]);
    assert!(expand_param(&per_axis, &[3, 2], 0, 0, "scale").is_err());
}
