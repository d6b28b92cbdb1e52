//! A constant whose bytes are another constant's with its axes permuted, made only when read.
//!
//! Importers move weights into the IR's layout (a TensorFlow HWIO filter into OIHW, a TFLite
//! OHWI filter into OIHW). Holding [`Permuted`] instead of a permuted copy keeps the weight a
//! view of the (memory-mapped) model file: an exporter that writes it streams the permutation
//! in bounded chunks ([`crate::permute::permute_chunks`]) or composes it with its own layout
//! change, and never holds the whole permuted weight. Anything that reads the bytes
//! ([`crate::Tensor::raw`]) makes them once and keeps them.

use crate::permute::{self, PermuteError};
use crate::tensor::Bytes;
use std::sync::OnceLock;

/// `src` (row-major, `src_shape`, `elem`-byte elements) permuted by `perm`: output axis `i` is
/// source axis `perm[i]`.
pub struct Permuted {
    src: Bytes,
    elem: usize,
    src_shape: Vec<usize>,
    perm: Vec<usize>,
    /// The permuted shape.
    shape: Vec<usize>,
    made: OnceLock<Bytes>,
}

impl Permuted {
    /// Checks the permutation against the source; returns it with the permuted shape.
    pub fn new(src: Bytes, elem: usize, src_shape: Vec<usize>, perm: Vec<usize>) -> Result<(Permuted, Vec<usize>), PermuteError> {
        let shape = permute::check(src.len(), elem, &src_shape, &perm)?;
        Ok((
            Permuted {
                src,
                elem,
                src_shape,
                perm,
                shape: shape.clone(),
                made: OnceLock::new(),
            },
            shape,
        ))
    }

    /// The source view, its element size, shape and the permutation, for exporters that apply
    /// their own layout change on top (compose: their axis `i` is source axis `perm[theirs[i]]`).
    pub fn parts(&self) -> (&Bytes, usize, &[usize], &[usize]) {
        (&self.src, self.elem, &self.src_shape, &self.perm)
    }

    /// The permuted bytes, made on the first call (the source's mapped pages are given back).
    pub fn bytes(&self) -> &Bytes {
        self.made.get_or_init(|| {
            // `new` checked the permutation, so this cannot fail; an empty result is unreachable.
            let v = permute::permute_bytes(&self.src, self.elem, &self.src_shape, &self.perm).unwrap_or_default();
            crate::mapped::release(&self.src);
            Bytes::from_vec(v)
        })
    }

    /// The permuted shape (a tensor holding this may carry a reshape of it).
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Byte length.
    pub fn len(&self) -> usize {
        self.src.len()
    }

    pub fn is_empty(&self) -> bool {
        self.src.is_empty()
    }

    /// Writes the permuted bytes, streaming them when they have not been made.
    pub fn write_to(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        if let Some(b) = self.made.get() {
            return crate::mapped::write_all(w, b);
        }
        match permute::write_permuted(&self.src, self.elem, &self.src_shape, &self.perm, w) {
            Ok(r) => r.map(|_| ()),
            Err(e) => Err(std::io::Error::other(e.to_string())),
        }
    }
}

impl std::fmt::Debug for Permuted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Permuted({} B, {:?} by {:?})", self.src.len(), self.src_shape, self.perm)
    }
}

impl PartialEq for Permuted {
    fn eq(&self, other: &Self) -> bool {
        (self.src.shares_owner(&other.src)
            && self.src.len() == other.src.len()
            && std::ptr::eq(self.src.as_ptr(), other.src.as_ptr())
            && self.src_shape == other.src_shape
            && self.perm == other.perm)
            || self.bytes() == other.bytes()
    }
}

#[cfg(test)]
mod tests {
    use crate::{Tensor, TensorData};

    fn t(shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 3.0).collect();
        Tensor::from_f32(shape.to_vec(), &v).unwrap()
    }

    /// The permuted bytes made eagerly from `x`'s materialized bytes.
    fn eager(x: &Tensor, perm: &[usize]) -> Vec<u8> {
        crate::permute::permute_bytes(x.raw().unwrap(), 4, &x.shape, perm).unwrap()
    }

    #[test]
    fn written_streamed_and_read_bytes_agree_and_orders_compose() {
        let w = t(&[3, 3, 5, 7]); // HWIO
        let oihw = w.permuted(&[3, 2, 0, 1]).unwrap();
        assert!(matches!(oihw.data, TensorData::Permuted(_)));
        assert_eq!(oihw.shape, vec![7, 5, 3, 3]);
        let want = eager(&w, &[3, 2, 0, 1]);
        let mut streamed = Vec::new();
        oihw.write_raw(&mut streamed).unwrap();
        assert_eq!(streamed, want);
        // OIHW → OHWI composed over the HWIO source equals doing both in turn.
        let ohwi = oihw.permuted(&[0, 2, 3, 1]).unwrap();
        let mut composed = Vec::new();
        ohwi.write_raw(&mut composed).unwrap();
        assert_eq!(
            composed,
            crate::permute::permute_bytes(&want, 4, &[7, 5, 3, 3], &[0, 2, 3, 1]).unwrap()
        );
        // Reading makes the bytes once; writing afterwards gives the same.
        assert_eq!(&oihw.raw().unwrap()[..], &want[..]);
        let mut again = Vec::new();
        oihw.write_raw(&mut again).unwrap();
        assert_eq!(again, want);
        assert_eq!(oihw.nbytes(), want.len());
    }

    #[test]
    fn a_reshaped_permuted_tensor_permutes_its_made_bytes() {
        let w = t(&[3, 3, 4, 2]); // depthwise H, W, C, M
        let mut p = w.permuted(&[2, 3, 0, 1]).unwrap();
        p.shape = vec![8, 1, 3, 3];
        let q = p.permuted(&[0, 2, 3, 1]).unwrap();
        let want = crate::permute::permute_bytes(&eager(&w, &[2, 3, 0, 1]), 4, &[8, 1, 3, 3], &[0, 2, 3, 1]).unwrap();
        assert_eq!(&q.raw().unwrap()[..], &want[..]);
    }

    #[test]
    fn bad_orders_and_sub_byte_tensors_are_errors() {
        let w = t(&[2, 3]);
        assert!(w.permuted(&[0, 0]).is_err());
        assert!(w.permuted(&[0]).is_err());
        let s = Tensor::from_strings(vec![2, 2], vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec(), b"d".to_vec()]).unwrap();
        let st = s.permuted(&[1, 0]).unwrap();
        match &st.data {
            TensorData::Strings(v) => assert_eq!(**v, vec![b"a".to_vec(), b"c".to_vec(), b"b".to_vec(), b"d".to_vec()]),
            _ => panic!("strings stay strings"),
        }
        let i4 = Tensor::from_bytes(crate::DType::I4, vec![2, 2], crate::Bytes::from_vec(vec![0x12, 0x34])).unwrap();
        assert!(i4.permuted(&[1, 0]).is_err());
    }
}
