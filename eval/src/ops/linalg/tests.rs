//! Unit tests of the linalg kernels that do not need a graph (the conformance suite covers the
//! ops end to end).

use super::det;
use super::matmul::{Plan, matmul_float, matmul_int};
use super::quantize::{dequantize_8bit_f32, expand_param, quantize_f32_8bit, quantize_values};
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

#[test]
fn eight_bit_dequantization_fast_path_matches_the_general_formula() {
    use ndarray::{ArrayD, IxDyn};
    let shape = [3usize, 4, 2];
    let codes: Vec<i8> = (0..24).map(|i| (i * 37 % 255 - 127) as i8).collect();
    let x = Tensor::I8(ArrayD::from_shape_vec(IxDyn(&shape), codes.clone()).unwrap());
    let scales = [0.5f32, 0.25, 0.125, 2.0];
    let s = Tensor::F32(ArrayD::from_shape_vec(IxDyn(&[4]), scales.to_vec()).unwrap());
    let zp = Tensor::I8(ArrayD::from_shape_vec(IxDyn(&[4]), vec![0i8, 3, -5, 1]).unwrap());
    // Per axis 1 (negative axis too), with and without zero points.
    for axis in [1i64, -2] {
        for z in [None, Some(&zp)] {
            let y = dequantize_8bit_f32(&x, &s, z, axis, 0, DType::F32).unwrap().unwrap();
            let sv = expand_param(&s, &shape, axis, 0, "s").unwrap();
            let zv = z.map(|z| expand_param(z, &shape, axis, 0, "z").unwrap());
            let want: Vec<f32> = codes
                .iter()
                .enumerate()
                .map(|(i, &q)| ((q as f64 - zv.as_ref().map_or(0.0, |v| v[i])) as f32) * sv[i] as f32)
                .collect();
            assert_eq!(y.to_f64_vec().unwrap(), want.iter().map(|&v| v as f64).collect::<Vec<_>>());
        }
    }
    // Per tensor, uint8 with a zero point.
    let xu = Tensor::U8(ArrayD::from_shape_vec(IxDyn(&[4]), vec![0u8, 128, 200, 255]).unwrap());
    let s1 = Tensor::F32(ArrayD::from_shape_vec(IxDyn(&[]), vec![0.1f32]).unwrap());
    let z1 = Tensor::U8(ArrayD::from_shape_vec(IxDyn(&[]), vec![128u8]).unwrap());
    let y = dequantize_8bit_f32(&xu, &s1, Some(&z1), 0, 0, DType::F32).unwrap().unwrap();
    let want: Vec<f64> = [0u8, 128, 200, 255].iter().map(|&q| ((q as f32 - 128.0) * 0.1f32) as f64).collect();
    assert_eq!(y.to_f64_vec().unwrap(), want);
    // Other cases go to the general path.
    assert!(dequantize_8bit_f32(&xu, &s1, None, 0, 2, DType::F32).unwrap().is_none());
    assert!(dequantize_8bit_f32(&xu, &s1, None, 0, 0, DType::F16).unwrap().is_none());
    let bad = Tensor::F32(ArrayD::from_shape_vec(IxDyn(&[3]), vec![1.0f32; 3]).unwrap());
    assert!(dequantize_8bit_f32(&x, &bad, None, 1, 0, DType::F32).unwrap().is_none());
}

#[test]
fn eight_bit_quantization_fast_path_matches_the_general_formula() {
    use ndarray::{ArrayD, IxDyn};
    let xs: Vec<f32> = vec![
        0.0,
        -0.0,
        0.05,
        0.15,
        0.25,
        -0.25,
        0.35,
        12.7,
        12.75,
        -12.85,
        1e9,
        -1e9,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        3.3333,
        -7.77,
    ];
    let x = Tensor::F32(ArrayD::from_shape_vec(IxDyn(&[xs.len()]), xs.clone()).unwrap());
    let s = Tensor::F32(ArrayD::from_shape_vec(IxDyn(&[]), vec![0.1f32]).unwrap());
    for (d, z) in [
        (
            DType::U8,
            Some(Tensor::U8(ArrayD::from_shape_vec(IxDyn(&[]), vec![128u8]).unwrap())),
        ),
        (DType::U8, None),
        (DType::I8, Some(Tensor::I8(ArrayD::from_shape_vec(IxDyn(&[]), vec![-3i8]).unwrap()))),
    ] {
        let y = quantize_f32_8bit(&x, &s, z.as_ref(), 0, d).unwrap();
        // The general path: x / s in f32, then quantize_values (round half to even in f64).
        let v: Vec<f64> = xs.iter().map(|&v| (v / 0.1f32) as f64).collect();
        let zv = z.as_ref().map_or(0.0, |z| z.to_f64_vec().unwrap()[0]);
        let want = quantize_values(d, &[xs.len()], &v, &[zv], true).unwrap();
        assert_eq!(y.dtype(), d);
        assert_eq!(y.to_i64_vec().unwrap(), want.to_i64_vec().unwrap(), "{d}");
    }
    // Other cases go to the general path.
    let per_axis = Tensor::F32(ArrayD::from_shape_vec(IxDyn(&[2]), vec![0.1f32, 0.2]).unwrap());
    assert!(quantize_f32_8bit(&x, &per_axis, None, 0, DType::U8).is_none());
    assert!(quantize_f32_8bit(&x, &s, None, 2, DType::U8).is_none());
    assert!(quantize_f32_8bit(&x, &s, None, 0, DType::U16).is_none());
}
