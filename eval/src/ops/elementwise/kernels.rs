//! Generic elementwise kernels: the [`Num`] element trait (wrapping integer and IEEE float
//! arithmetic, f16/bf16 computed via f32), dtype-dispatch macros, and helpers that map floats,
//! zip two broadcast tensors and fold variadic inputs.

use crate::error::OpError;
use crate::ops::util::zip_broadcast;
use crate::tensor::Tensor;
use half::{bf16, f16};
use ndarray::ArrayD;

/// A binary arithmetic op over one element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bin {
    Add,
    Sub,
    Mul,
    /// Integer division truncates toward zero; division by zero gives 0 for integers.
    Div,
    /// NaN-propagating maximum.
    Max,
    /// NaN-propagating minimum.
    Min,
    /// Floored modulo (sign of the divisor), numpy's `mod`.
    Mod,
    /// Truncated remainder (sign of the dividend), C's `fmod`.
    FMod,
}

/// A numeric element type.
pub trait Num: Copy + PartialOrd + 'static {
    const ZERO: Self;
    fn bin(op: Bin, a: Self, b: Self) -> Self;
    fn to_f64(self) -> f64;
    /// From f64, as a numpy `astype` would (floats round, integers truncate and saturate).
    fn from_f64(x: f64) -> Self;
    /// Absolute value (wrapping for the minimum signed integer).
    fn abs_(self) -> Self;
    /// Negation (wrapping).
    fn neg_(self) -> Self;
    /// -1, 0 or 1 (NaN stays NaN).
    fn sign_(self) -> Self;
    /// `self < 0` (false for unsigned types and NaN).
    fn lt_zero(self) -> bool;
}

macro_rules! int_common {
    ($t:ty) => {
        const ZERO: Self = 0;
        fn to_f64(self) -> f64 {
            self as f64
        }
        fn from_f64(x: f64) -> Self {
            x as $t
        }
        fn neg_(self) -> Self {
            self.wrapping_neg()
        }
    };
}

macro_rules! int_bin {
    ($op:expr, $a:expr, $b:expr, $mod:expr) => {
        match $op {
            Bin::Add => $a.wrapping_add($b),
            Bin::Sub => $a.wrapping_sub($b),
            Bin::Mul => $a.wrapping_mul($b),
            Bin::Div => {
                if $b == 0 {
                    0
                } else {
                    $a.wrapping_div($b)
                }
            }
            Bin::Max => {
                if $a >= $b {
                    $a
                } else {
                    $b
                }
            }
            Bin::Min => {
                if $a <= $b {
                    $a
                } else {
                    $b
                }
            }
            Bin::FMod => {
                if $b == 0 {
                    0
                } else {
                    $a.wrapping_rem($b)
                }
            }
            Bin::Mod => $mod,
        }
    };
}

macro_rules! signed_num {
    ($($t:ty),*) => {$(
        impl Num for $t {
            int_common!($t);
            fn lt_zero(self) -> bool {
                self < 0
            }
            fn bin(op: Bin, a: Self, b: Self) -> Self {
                let floored = || {
                    if b == 0 {
                        return 0;
                    }
                    let r = a.wrapping_rem(b);
                    if r != 0 && ((r < 0) != (b < 0)) { r.wrapping_add(b) } else { r }
                };
                int_bin!(op, a, b, floored())
            }
            fn abs_(self) -> Self {
                self.wrapping_abs()
            }
            fn sign_(self) -> Self {
                self.signum()
            }
        }
    )*};
}

macro_rules! unsigned_num {
    ($($t:ty),*) => {$(
        impl Num for $t {
            int_common!($t);
            fn lt_zero(self) -> bool {
                false
            }
            fn bin(op: Bin, a: Self, b: Self) -> Self {
                int_bin!(op, a, b, if b == 0 { 0 } else { a % b })
            }
            fn abs_(self) -> Self {
                self
            }
            fn sign_(self) -> Self {
                (self > 0) as $t
            }
        }
    )*};
}

signed_num!(i8, i16, i32, i64);
unsigned_num!(u8, u16, u32, u64);

macro_rules! float_num {
    ($($t:ty),*) => {$(
        impl Num for $t {
            const ZERO: Self = 0.0;
            fn bin(op: Bin, a: Self, b: Self) -> Self {
                match op {
                    Bin::Add => a + b,
                    Bin::Sub => a - b,
                    Bin::Mul => a * b,
                    Bin::Div => a / b,
                    Bin::Max => if a.is_nan() || b.is_nan() { <$t>::NAN } else { a.max(b) },
                    Bin::Min => if a.is_nan() || b.is_nan() { <$t>::NAN } else { a.min(b) },
                    Bin::FMod => a % b,
                    Bin::Mod => {
                        let r = a % b;
                        if r != 0.0 && ((r < 0.0) != (b < 0.0)) {
                            r + b
                        } else if r == 0.0 {
                            (0.0 as $t).copysign(b)
                        } else {
                            r
                        }
                    }
                }
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            fn abs_(self) -> Self {
                self.abs()
            }
            fn neg_(self) -> Self {
                -self
            }
            fn sign_(self) -> Self {
                if self.is_nan() || self == 0.0 { self } else { self.signum() }
            }
            fn lt_zero(self) -> bool {
                self < Self::ZERO
            }
        }
    )*};
}

float_num!(f32, f64);

macro_rules! half_num {
    ($($t:ty),*) => {$(
        impl Num for $t {
            const ZERO: Self = <$t>::ZERO;
            fn bin(op: Bin, a: Self, b: Self) -> Self {
                <$t>::from_f32(f32::bin(op, a.to_f32(), b.to_f32()))
            }
            fn to_f64(self) -> f64 {
                self.to_f64()
            }
            fn from_f64(x: f64) -> Self {
                <$t>::from_f64(x)
            }
            fn abs_(self) -> Self {
                <$t>::from_f32(self.to_f32().abs())
            }
            fn neg_(self) -> Self {
                -self
            }
            fn sign_(self) -> Self {
                <$t>::from_f32(self.to_f32().sign_())
            }
            fn lt_zero(self) -> bool {
                self < Self::ZERO
            }
        }
    )*};
}

half_num!(f16, bf16);

/// Maps every numeric variant of a tensor to the same variant; `$body` sees the array as `$a`
/// and must yield an array of the same element type. Non-numeric tensors are a dtype error.
macro_rules! num_map {
    ($t:expr, $a:ident => $body:expr) => {
        match $t {
            Tensor::F32($a) => Tensor::F32($body),
            Tensor::F64($a) => Tensor::F64($body),
            Tensor::F16($a) => Tensor::F16($body),
            Tensor::BF16($a) => Tensor::BF16($body),
            Tensor::I8($a) => Tensor::I8($body),
            Tensor::I16($a) => Tensor::I16($body),
            Tensor::I32($a) => Tensor::I32($body),
            Tensor::I64($a) => Tensor::I64($body),
            Tensor::U8($a) => Tensor::U8($body),
            Tensor::U16($a) => Tensor::U16($body),
            Tensor::U32($a) => Tensor::U32($body),
            Tensor::U64($a) => Tensor::U64($body),
            other => return Err($crate::ops::elementwise::kernels::dtype_err(other)),
        }
    };
}
pub(crate) use num_map;

/// Matches two tensors of the same numeric dtype, binding their arrays as `$p`/`$q`.
/// With `=> wrap`, `$body` yields an array of that element type, wrapped in the same variant;
/// with `=> raw`, `$body` is the arm's value as is.
macro_rules! num_pair {
    ($a:expr, $b:expr, $p:ident, $q:ident => wrap $body:expr) => {
        $crate::ops::elementwise::kernels::num_pair!(@arms $a, $b, $p, $q, $body,
            F32 F64 F16 BF16 I8 I16 I32 I64 U8 U16 U32 U64; wrap)
    };
    ($a:expr, $b:expr, $p:ident, $q:ident => raw $body:expr) => {
        $crate::ops::elementwise::kernels::num_pair!(@arms $a, $b, $p, $q, $body,
            F32 F64 F16 BF16 I8 I16 I32 I64 U8 U16 U32 U64; raw)
    };
    (@arms $a:expr, $b:expr, $p:ident, $q:ident, $body:expr, $($v:ident)*; wrap) => {
        match ($a, $b) {
            $( (Tensor::$v($p), Tensor::$v($q)) => Tensor::$v($body), )*
            (x, y) => return Err($crate::ops::elementwise::kernels::pair_err(x, y)),
        }
    };
    (@arms $a:expr, $b:expr, $p:ident, $q:ident, $body:expr, $($v:ident)*; raw) => {
        match ($a, $b) {
            $( (Tensor::$v($p), Tensor::$v($q)) => $body, )*
            (x, y) => return Err($crate::ops::elementwise::kernels::pair_err(x, y)),
        }
    };
}
pub(crate) use num_pair;

/// A dtype error naming the tensor's dtype.
pub fn dtype_err(t: &Tensor) -> OpError {
    OpError::DType(t.dtype().to_string())
}

/// An error for two inputs whose dtypes do not fit the op.
pub fn pair_err(a: &Tensor, b: &Tensor) -> OpError {
    if a.dtype() == b.dtype() {
        dtype_err(a)
    } else {
        OpError::invalid(format!("input dtypes differ: {} and {}", a.dtype(), b.dtype()))
    }
}

/// Applies `f` to every element of a float tensor (f32/f64/f16/bf16). `f` computes in f64;
/// f16 and bf16 results are rounded via f32 as ONNX implementations compute them.
pub fn map_float(t: &Tensor, f: impl Fn(f64) -> f64) -> Result<Tensor, OpError> {
    Ok(match t {
        Tensor::F64(a) => Tensor::F64(a.mapv(&f)),
        Tensor::F32(a) => Tensor::F32(a.mapv(|x| f(x as f64) as f32)),
        Tensor::F16(a) => Tensor::F16(a.mapv(|x| f16::from_f32(f(x.to_f64()) as f32))),
        Tensor::BF16(a) => Tensor::BF16(a.mapv(|x| bf16::from_f32(f(x.to_f64()) as f32))),
        other => return Err(dtype_err(other)),
    })
}

/// Applies `f` to every element of a numeric tensor through f64, converting back to the
/// input's dtype (integers truncate and saturate).
pub fn map_via_f64(t: &Tensor, f: impl Fn(f64) -> f64) -> Result<Tensor, OpError> {
    if t.dtype().is_float() {
        return map_float(t, f);
    }
    Ok(num_map!(t, a => a.mapv(|x| Num::from_f64(f(x.to_f64())))))
}

/// Applies a [`Bin`] op over two broadcast tensors of the same numeric dtype.
pub fn binary(a: &Tensor, b: &Tensor, op: Bin) -> Result<Tensor, OpError> {
    Ok(num_pair!(a, b, p, q => wrap zip_broadcast(p, q, |x, y| Num::bin(op, *x, *y))?))
}

/// Folds a [`Bin`] op over one or more broadcast tensors (Sum, Max, Min).
pub fn fold(inputs: &[&Tensor], op: Bin) -> Result<Tensor, OpError> {
    let (first, rest) = inputs
        .split_first()
        .ok_or_else(|| OpError::invalid("at least one input is required"))?;
    let mut acc: Tensor = (*first).clone();
    for t in rest {
        acc = binary(&acc, t, op)?;
    }
    Ok(acc)
}

/// Compares two broadcast tensors of the same numeric dtype into a bool tensor.
pub fn compare<F>(a: &Tensor, b: &Tensor, f: F) -> Result<Tensor, OpError>
where
    F: Fn(std::cmp::Ordering) -> bool + Copy,
{
    fn go<T: PartialOrd + Clone>(p: &ArrayD<T>, q: &ArrayD<T>, f: impl Fn(std::cmp::Ordering) -> bool) -> Result<ArrayD<bool>, OpError> {
        zip_broadcast(p, q, |x, y| x.partial_cmp(y).is_some_and(&f))
    }
    Ok(Tensor::Bool(num_pair!(a, b, p, q => raw go(p, q, f)?)))
}
