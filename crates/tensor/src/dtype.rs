//! Element types: the runtime [`DType`] tag and the Rust types behind it.

use std::fmt;

use crate::storage::CpuStorage;

/// The element type of a tensor, checked at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit IEEE float (PyTorch's default `torch.float32`).
    F32,
    /// 64-bit IEEE float.
    F64,
    /// 64-bit signed integer (indices, class targets).
    I64,
    /// Boolean (results of comparisons, masks).
    Bool,
    /// 16-bit IEEE half float (`torch.float16`, [`half::f16`]). On the CPU, ops compute in `f32`
    /// and round the result back (see [`DType::is_half`]).
    F16,
    /// 16-bit brain float (`torch.bfloat16`, [`half::bf16`]): `f32`'s range, 8 bits of precision.
    BF16,
}

impl DType {
    /// True for the floating dtypes: `F32`, `F64`, `F16`, `BF16`.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64 | DType::F16 | DType::BF16)
    }

    /// True for the 16-bit floats `F16` and `BF16`. Ops on them run as PyTorch's CPU kernels do:
    /// the operands are widened to `f32` (exactly), the `f32` kernel runs (reductions and matmul
    /// accumulate in `f32`), and the floating results are rounded back to nearest-even.
    pub fn is_half(self) -> bool {
        matches!(self, DType::F16 | DType::BF16)
    }

    /// Size of one element in bytes.
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 | DType::I64 => 8,
            DType::Bool => 1,
            DType::F16 | DType::BF16 => 2,
        }
    }

    /// The name PyTorch prints for this dtype (`torch.float32`, ...).
    pub fn torch_name(self) -> &'static str {
        match self {
            DType::F32 => "torch.float32",
            DType::F64 => "torch.float64",
            DType::I64 => "torch.int64",
            DType::Bool => "torch.bool",
            DType::F16 => "torch.float16",
            DType::BF16 => "torch.bfloat16",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            DType::F32 => "F32",
            DType::F64 => "F64",
            DType::I64 => "I64",
            DType::Bool => "Bool",
            DType::F16 => "F16",
            DType::BF16 => "BF16",
        };
        f.write_str(s)
    }
}

/// A Rust type that can be the element of a [`Tensor`](crate::Tensor).
pub trait Element: Copy + Send + Sync + PartialEq + PartialOrd + fmt::Debug + Default + 'static {
    /// The runtime tag of this type.
    const DTYPE: DType;
    /// Additive identity.
    const ZERO: Self;
    /// Multiplicative identity.
    const ONE: Self;
    /// Converts to `f64` (`true` is 1).
    fn to_f64(self) -> f64;
    /// Converts from `f64` as PyTorch's casts do (float to int truncates toward zero).
    fn from_f64(v: f64) -> Self;
    /// Borrows the typed vector inside a storage, if its dtype is this one.
    fn slice(s: &CpuStorage) -> Option<&[Self]>;
    /// Mutable access to the typed vector inside a storage, if its dtype is this one.
    fn slice_mut(s: &mut CpuStorage) -> Option<&mut Vec<Self>>;
    /// Wraps a typed vector as a storage.
    fn wrap(v: Vec<Self>) -> CpuStorage;
}

/// Element types with arithmetic: `f32`, `f64`, `i64`.
pub trait Numeric:
    Element
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::AddAssign
    + std::iter::Sum
{
    /// The largest value of the type (`inf` for floats).
    const MAX: Self;
    /// The smallest value of the type (`-inf` for floats).
    const MIN: Self;
    /// Negation (wrapping for integers).
    fn neg(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// `x ** e` for a float exponent, computed in the type's precision.
    fn powf(self, e: f64) -> Self;
    /// True when the value is NaN (never for integers).
    fn is_nan(self) -> bool;
}

/// Floating-point element types: `f32` and `f64`.
pub trait Float: Numeric + std::ops::Neg<Output = Self> {
    /// Machine epsilon.
    const EPSILON: Self;
    /// NaN.
    const NAN: Self;
    /// Positive infinity.
    const INFINITY: Self;
    /// Negative infinity.
    const NEG_INFINITY: Self;
    /// `e^x`.
    fn exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// `ln(1 + x)`, accurate near zero.
    fn ln_1p(self) -> Self;
    /// `e^x - 1`, accurate near zero.
    fn exp_m1(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Sine.
    fn sin(self) -> Self;
    /// Cosine.
    fn cos(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// Largest integer not above.
    fn floor(self) -> Self;
    /// Smallest integer not below.
    fn ceil(self) -> Self;
    /// Round half to even (as `torch.round`).
    fn round_half_even(self) -> Self;
    /// `self ** e`.
    fn powt(self, e: Self) -> Self;
    /// The error function.
    fn erf(self) -> Self;
    /// Larger of two values, NaN-propagating as PyTorch's `maximum`.
    fn max_nan(self, o: Self) -> Self;
    /// Smaller of two values, NaN-propagating as PyTorch's `minimum`.
    fn min_nan(self, o: Self) -> Self;
    /// True when finite.
    fn is_finite(self) -> bool;
}

/// `Element` for a type stored as `CpuStorage::$dt`, with its zero and one and its conversions
/// from and to f64 (`|x| to`, `|v| from`).
macro_rules! impl_element {
    ($t:ty, $dt:ident, $zero:expr, $one:expr, |$x:ident| $to:expr, |$v:ident| $from:expr) => {
        impl Element for $t {
            const DTYPE: DType = DType::$dt;
            const ZERO: Self = $zero;
            const ONE: Self = $one;
            #[inline]
            fn slice(s: &CpuStorage) -> Option<&[Self]> {
                match s {
                    CpuStorage::$dt(v) => Some(v),
                    _ => None,
                }
            }
            #[inline]
            fn slice_mut(s: &mut CpuStorage) -> Option<&mut Vec<Self>> {
                match s {
                    CpuStorage::$dt(v) => Some(v),
                    _ => None,
                }
            }
            #[inline]
            fn wrap(v: Vec<Self>) -> CpuStorage {
                CpuStorage::$dt(v)
            }
            #[inline]
            #[allow(clippy::unnecessary_cast)]
            fn to_f64(self) -> f64 {
                let $x = self;
                $to
            }
            #[inline]
            #[allow(clippy::unnecessary_cast)]
            fn from_f64($v: f64) -> Self {
                $from
            }
        }
    };
}

impl_element!(f32, F32, 0.0, 1.0, |x| x as f64, |v| v as f32);
impl_element!(f64, F64, 0.0, 1.0, |x| x as f64, |v| v as f64);
impl_element!(i64, I64, 0, 1, |x| x as f64, |v| v as i64);
// the 16-bit floats convert from f64 through `f32` first, as PyTorch's `c10::Half(float)` /
// `c10::BFloat16(float)` constructors do (a `float64` tensor cast to a half dtype rounds twice),
// then round-to-nearest-even
impl_element!(half::f16, F16, half::f16::ZERO, half::f16::ONE, |x| x.to_f64(), |v| half::f16::from_f32(v as f32));
impl_element!(half::bf16, BF16, half::bf16::ZERO, half::bf16::ONE, |x| x.to_f64(), |v| half::bf16::from_f32(v as f32));

impl Element for bool {
    const DTYPE: DType = DType::Bool;
    const ZERO: Self = false;
    const ONE: Self = true;
    fn slice(s: &CpuStorage) -> Option<&[Self]> {
        match s {
            CpuStorage::Bool(v) => Some(v),
            _ => None,
        }
    }
    fn slice_mut(s: &mut CpuStorage) -> Option<&mut Vec<Self>> {
        match s {
            CpuStorage::Bool(v) => Some(v),
            _ => None,
        }
    }
    fn wrap(v: Vec<Self>) -> CpuStorage {
        CpuStorage::Bool(v)
    }
    fn to_f64(self) -> f64 {
        if self {
            1.0
        } else {
            0.0
        }
    }
    fn from_f64(v: f64) -> Self {
        v != 0.0
    }
}

macro_rules! impl_float {
    ($t:ident) => {
        impl Numeric for $t {
            const MAX: Self = $t::INFINITY;
            const MIN: Self = $t::NEG_INFINITY;
            #[inline]
            fn neg(self) -> Self {
                -self
            }
            #[inline]
            fn abs(self) -> Self {
                $t::abs(self)
            }
            #[inline]
            fn powf(self, e: f64) -> Self {
                $t::powf(self, e as $t)
            }
            #[inline]
            fn is_nan(self) -> bool {
                $t::is_nan(self)
            }
        }
        impl Float for $t {
            const EPSILON: Self = $t::EPSILON;
            const NAN: Self = $t::NAN;
            const INFINITY: Self = $t::INFINITY;
            const NEG_INFINITY: Self = $t::NEG_INFINITY;
            #[inline]
            fn exp(self) -> Self {
                $t::exp(self)
            }
            #[inline]
            fn ln(self) -> Self {
                $t::ln(self)
            }
            #[inline]
            fn ln_1p(self) -> Self {
                $t::ln_1p(self)
            }
            #[inline]
            fn exp_m1(self) -> Self {
                $t::exp_m1(self)
            }
            #[inline]
            fn sqrt(self) -> Self {
                $t::sqrt(self)
            }
            #[inline]
            fn sin(self) -> Self {
                $t::sin(self)
            }
            #[inline]
            fn cos(self) -> Self {
                $t::cos(self)
            }
            #[inline]
            fn tanh(self) -> Self {
                $t::tanh(self)
            }
            #[inline]
            fn floor(self) -> Self {
                $t::floor(self)
            }
            #[inline]
            fn ceil(self) -> Self {
                $t::ceil(self)
            }
            #[inline]
            fn round_half_even(self) -> Self {
                $t::round_ties_even(self)
            }
            #[inline]
            fn powt(self, e: Self) -> Self {
                $t::powf(self, e)
            }
            #[inline]
            fn erf(self) -> Self {
                crate::cpu::math::erf(self as f64) as $t
            }
            #[inline]
            fn max_nan(self, o: Self) -> Self {
                if self.is_nan() || o.is_nan() {
                    $t::NAN
                } else if self >= o {
                    self
                } else {
                    o
                }
            }
            #[inline]
            fn min_nan(self, o: Self) -> Self {
                if self.is_nan() || o.is_nan() {
                    $t::NAN
                } else if self <= o {
                    self
                } else {
                    o
                }
            }
            #[inline]
            fn is_finite(self) -> bool {
                $t::is_finite(self)
            }
        }
    };
}

impl_float!(f32);
impl_float!(f64);

impl Numeric for i64 {
    const MAX: Self = i64::MAX;
    const MIN: Self = i64::MIN;
    #[inline]
    fn neg(self) -> Self {
        self.wrapping_neg()
    }
    #[inline]
    fn abs(self) -> Self {
        self.wrapping_abs()
    }
    #[inline]
    fn powf(self, e: f64) -> Self {
        (self as f64).powf(e) as i64
    }
    #[inline]
    fn is_nan(self) -> bool {
        false
    }
}
