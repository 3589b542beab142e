//! Vectorised f32 transcendental kernels: `exp`, `tanh`, `sigmoid`, GELU (erf and tanh forms),
//! SiLU and the derivatives of the activations, each a short branch-free formula in f32 that the
//! compiler turns into SIMD code (no per-element libm call). The F32 unary ops `exp`, `tanh`,
//! `sigmoid`, `gelu`, `silu` run them (`cpu/unary.rs`), and so do the fused activation gradients
//! (`cpu/activation.rs`); F64 keeps the exact scalar functions.
//!
//! Each kernel is a type implementing [`Unary`] or [`Binary`], generic over how `a * b + c` is
//! evaluated ([`Fm`]): the loops are compiled for AVX-512 and for AVX2, both with fused
//! multiply-adds (`mul_add` becomes `vfmadd`), and for the baseline with a separate multiply and
//! add (there `mul_add` would be a libm call); the widest the CPU has is chosen at run time (the
//! crate itself is built for baseline x86-64). `objdump -d` of the release build shows the AVX-512
//! loops on `zmm` registers with `vfmadd` and no calls.
//!
//! Accuracy over dense ranges against f64 references is checked in `vmath_tests.rs`.

// the published coefficients, as printed (f32 rounds them)
#![allow(clippy::excessive_precision)]

use std::mem::MaybeUninit;

use super::elementwise::{par_filled, par_worth};
use crate::Result;

const LOG2E: f32 = std::f32::consts::LOG2_E;
// ln 2 split in a part exact in f32 (its low bits zero) and the rest (Cody and Waite)
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;

/// `e^r · 2^n` from the reduced argument `r` (`|r| <= ln2 / 2`) and `big = n + 1.5 · 2^23` (the
/// rounding trick's sum, `n` in its low mantissa bits), with `M`'s fused multiply-add: the end of
/// [`exp`] and [`exp_parts`]. A macro, not an `#[inline(always)]` function: the function changed
/// the instructions LLVM picks for the GELU kernels (checked on the emitted assembly), the macro
/// leaves them exactly as written out twice.
macro_rules! exp_reduced {
    ($M:ty, $r:expr, $big:expr) => {{
        let (r, big): (f32, f32) = ($r, $big);
        // e^r on |r| <= ln2 / 2 (Cephes expf's polynomial)
        let p = 1.987_569_1e-4_f32;
        let p = <$M>::fma(p, r, 1.398_199_9e-3);
        let p = <$M>::fma(p, r, 8.333_452e-3);
        let p = <$M>::fma(p, r, 4.166_579_6e-2);
        let p = <$M>::fma(p, r, 1.666_666_5e-1);
        let p = <$M>::fma(p, r, 5e-1);
        let y = p * r * r + r + 1.0;
        // 2^n as two factors, so that n in [-150, 129] neither overflows nor flushes the exponent
        // n sits in the low mantissa bits of `big` (no float-to-int conversion, which would not
        // vectorise: `as` saturates); a NaN gives any scale, and NaN times it stays NaN
        let ni = (big.to_bits() as i32).wrapping_sub(0x4b40_0000);
        let n1 = ni >> 1;
        let n2 = ni.wrapping_sub(n1);
        let s1 = f32::from_bits((n1.wrapping_add(127) as u32) << 23);
        let s2 = f32::from_bits((n2.wrapping_add(127) as u32) << 23);
        y * s1 * s2
    }};
}

/// `e^x` in f32, within 2 ulp over the whole range (0 below -104, inf above 89, NaN kept).
#[inline(always)]
pub fn exp<M: Fm>(x: f32) -> f32 {
    // NaN passes through the comparisons (both false)
    let x = if x < -104.0 { -104.0 } else { x };
    let x = if x > 89.0 { 89.0 } else { x };
    // n = round(x / ln 2), by the 1.5 * 2^23 trick (round to nearest even, vectorises)
    const MAGIC: f32 = 12_582_912.0;
    let big = x * LOG2E + MAGIC;
    let n = big - MAGIC;
    let r = x - n * LN2_HI - n * LN2_LO;
    exp_reduced!(M, r, big)
}

/// `1 / (1 + e^-x)`.
#[inline(always)]
pub fn sigmoid<M: Fm>(x: f32) -> f32 {
    1.0 / (1.0 + exp::<M>(-x))
}

/// `tanh x`: an odd polynomial below 0.625 (Cephes tanhf), `1 - 2 / (e^{2|x|} + 1)` above.
#[inline(always)]
pub fn tanh<M: Fm>(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let p = -5.704_988_7e-3_f32;
    let p = M::fma(p, z, 2.063_908_9e-2);
    let p = M::fma(p, z, -5.373_971_6e-2);
    let p = M::fma(p, z, 1.333_144_2e-1);
    let p = M::fma(p, z, -3.333_328_2e-1);
    let small = M::fma(p * z, x, x);
    let big = 1.0 - 2.0 / (exp::<M>(2.0 * a) + 1.0);
    // tanh is odd: the sign of x (so tanh(-0) is -0; a NaN keeps its bits)
    let y = if a < 0.625 { small } else { big };
    y.abs().copysign(x)
}

/// `e^(hi + lo)` where `hi` is exact and possibly large (down to about -200) and `lo` small: the
/// reduction `hi - n ln 2` is exact (Cody and Waite), `lo` is added to the reduced argument, so the
/// rounding of `hi + lo` costs no relative accuracy. Arguments below -104 give 0 (NaN kept).
#[inline(always)]
fn exp_parts<M: Fm>(hi: f32, lo: f32) -> f32 {
    let under = hi + lo < -104.0;
    let hi = if under { -104.0 } else { hi };
    let lo = if under { 0.0 } else { lo };
    const MAGIC: f32 = 12_582_912.0;
    let big = (hi + lo) * LOG2E + MAGIC;
    let n = big - MAGIC;
    let r = (hi - n * LN2_HI) - n * LN2_LO + lo;
    exp_reduced!(M, r, big)
}

/// The parts of `Φ(x)` (the standard normal CDF) from `erfc(z) = t e^{-z² + P(t)}` at
/// `z = |x|/√2`, `t = 1 / (1 + z/2)` (Numerical Recipes' `erfcc`: relative error below 1.2e-7 for
/// every `z`): `(t, P(t), head, tail)` with `x²/2 = head + tail`, the head exact (x's top 12 bits
/// squared) and the tail small, so the rounding of a large `x²` costs no relative accuracy.
#[inline(always)]
fn phi_parts<M: Fm>(x: f32) -> (f32, f32, f32, f32) {
    // beyond 20 Φ is 0 or 1 in f32; the bound keeps inf out of the split below (NaN passes)
    let ax = x.abs();
    let ax = if ax > 20.0 { 20.0 } else { ax };
    let z = ax * std::f32::consts::FRAC_1_SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * z);
    let p = 0.170_872_77_f32;
    let p = M::fma(p, t, -0.822_152_23);
    let p = M::fma(p, t, 1.488_515_9);
    let p = M::fma(p, t, -1.135_203_98);
    let p = M::fma(p, t, 0.278_868_07);
    let p = M::fma(p, t, -0.186_288_06);
    let p = M::fma(p, t, 0.096_784_18);
    let p = M::fma(p, t, 0.374_091_96);
    let p = M::fma(p, t, 1.000_023_7);
    let p = M::fma(p, t, -1.265_512_2);
    let xh = f32::from_bits(ax.to_bits() & 0xffff_f000);
    let xl = ax - xh;
    let head = 0.5 * xh * xh;
    let tail = xh * xl + 0.5 * xl * xl;
    (t, p, head, tail)
}

/// `Φ(x)` from `erfc(|x|/√2) = c`: `c/2` below 0, `1 - c/2` above.
#[inline(always)]
fn cdf_from(x: f32, c: f32) -> f32 {
    if x < 0.0 {
        0.5 * c
    } else {
        1.0 - 0.5 * c
    }
}

/// GELU with the exact erf form, `x Φ(x)` (one exponential).
#[inline(always)]
pub fn gelu<M: Fm>(x: f32) -> f32 {
    let (t, p, head, tail) = phi_parts::<M>(x);
    x * cdf_from(x, t * exp_parts::<M>(-head, p - tail))
}

/// `d/dx x Φ(x) = Φ(x) + x φ(x)`.
#[inline(always)]
pub fn gelu_grad<M: Fm>(x: f32) -> f32 {
    let (t, p, head, tail) = phi_parts::<M>(x);
    // e^{-x²/2}; erfc = t e^{-x²/2} e^{P}, with P in [-1.27, 0]
    let e = exp_parts::<M>(-head, -tail);
    let cdf = cdf_from(x, t * e * exp::<M>(p));
    // φ(x) = e^{-x²/2} / √(2π)
    cdf + x * (e * 0.398_942_3)
}

const K_TANH: f32 = 0.797_884_6; // sqrt(2 / pi)
const C_TANH: f32 = 0.044_715;

/// GELU with the tanh approximation, `x/2 (1 + tanh(√(2/π) (x + 0.044715 x³)))`.
#[inline(always)]
pub fn gelu_tanh<M: Fm>(x: f32) -> f32 {
    // (1 + tanh u) / 2 = sigmoid(2u), without the cancellation of 1 + tanh u for negative u
    let u = K_TANH * (x + C_TANH * x * x * x);
    x * sigmoid::<M>(2.0 * u)
}

/// The derivative of [`gelu_tanh`].
#[inline(always)]
pub fn gelu_tanh_grad<M: Fm>(x: f32) -> f32 {
    // with s = sigmoid(2u): (1 + tanh u) / 2 = s and (1 - tanh² u) / 2 = 2 s (1 - s)
    // 1 - s is e s with e = exp(-2u), exact where s rounds to 1
    let u = K_TANH * (x + C_TANH * x * x * x);
    let e = exp::<M>(-2.0 * u);
    let s = 1.0 / (1.0 + e);
    s + x * (2.0 * s * (e * s)) * K_TANH * (1.0 + 3.0 * C_TANH * x * x)
}

/// `x sigmoid(x)`.
#[inline(always)]
pub fn silu<M: Fm>(x: f32) -> f32 {
    x * sigmoid::<M>(x)
}

/// `d/dx x s(x) = s (1 + x (1 - s))`.
#[inline(always)]
pub fn silu_grad<M: Fm>(x: f32) -> f32 {
    // 1 - s = e s with e = exp(-x), exact where s rounds to 1
    let e = exp::<M>(-x);
    let s = 1.0 / (1.0 + e);
    s * (1.0 + x * (e * s))
}

/// `g · gelu'(x)`.
#[inline(always)]
pub fn gelu_backward<M: Fm>(g: f32, x: f32) -> f32 {
    g * gelu_grad::<M>(x)
}

/// `g · gelu_tanh'(x)`.
#[inline(always)]
pub fn gelu_tanh_backward<M: Fm>(g: f32, x: f32) -> f32 {
    g * gelu_tanh_grad::<M>(x)
}

/// `g · silu'(x)`.
#[inline(always)]
pub fn silu_backward<M: Fm>(g: f32, x: f32) -> f32 {
    g * silu_grad::<M>(x)
}

/// `g · s (1 - s)` from the sigmoid's output `s`.
#[inline(always)]
pub fn sigmoid_backward<M: Fm>(g: f32, s: f32) -> f32 {
    g * (s * (1.0 - s))
}

/// `g · (1 - t²)` from tanh's output `t`.
#[inline(always)]
pub fn tanh_backward<M: Fm>(g: f32, t: f32) -> f32 {
    g * (1.0 - t * t)
}

/// How `a * b + c` is evaluated: fused (one rounding, `vfmadd` where the CPU has FMA) or as a
/// multiply and an add (the baseline, where a fused form would be a library call).
pub trait Fm {
    /// `a * b + c`.
    fn fma(a: f32, b: f32, c: f32) -> f32;
}

/// Fused multiply-add (`f32::mul_add`), for code compiled with the `fma` target feature.
pub struct Fused;

impl Fm for Fused {
    #[inline(always)]
    fn fma(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

/// A multiply then an add (two roundings), for the baseline.
pub struct Plain;

impl Fm for Plain {
    #[inline(always)]
    fn fma(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
}

/// An elementwise f32 function of one operand, run over slices by [`map`].
pub trait Unary: Copy + Send + Sync {
    /// The function at one point.
    fn f<M: Fm>(x: f32) -> f32;
}

/// An elementwise f32 function of two operands (a gradient and a saved value), run by [`zip`].
pub trait Binary: Copy + Send + Sync {
    /// The function at one point.
    fn f<M: Fm>(a: f32, b: f32) -> f32;
}

macro_rules! kernels {
    ($trait:ident, $(($ty:ident, $fun:ident, ($($a:ident),*), $doc:literal)),* $(,)?) => {$(
        #[doc = $doc]
        #[derive(Clone, Copy, Debug)]
        pub struct $ty;
        impl $trait for $ty {
            #[inline(always)]
            fn f<M: Fm>($($a: f32),*) -> f32 {
                $fun::<M>($($a),*)
            }
        }
    )*};
}

kernels!(
    Unary,
    (Exp, exp, (x), "`e^x`."),
    (Sigmoid, sigmoid, (x), "`1 / (1 + e^-x)`."),
    (Tanh, tanh, (x), "`tanh x`."),
    (Gelu, gelu, (x), "GELU, erf form."),
    (GeluTanh, gelu_tanh, (x), "GELU, tanh form."),
    (Silu, silu, (x), "SiLU."),
);
kernels!(
    Binary,
    (GeluBackward, gelu_backward, (g, x), "`g · gelu'(x)`."),
    (GeluTanhBackward, gelu_tanh_backward, (g, x), "`g · gelu_tanh'(x)`."),
    (SiluBackward, silu_backward, (g, x), "`g · silu'(x)`."),
    (SigmoidBackward, sigmoid_backward, (g, s), "`g · s (1 - s)` from the output `s`."),
    (TanhBackward, tanh_backward, (g, t), "`g · (1 - t²)` from the output `t`."),
);

#[inline(always)]
fn run1<K: Unary, M: Fm>(src: &[f32], dst: &mut [MaybeUninit<f32>]) {
    for (o, &x) in dst.iter_mut().zip(src) {
        o.write(K::f::<M>(x));
    }
}

#[inline(always)]
fn run2<K: Binary, M: Fm>(a: &[f32], b: &[f32], dst: &mut [MaybeUninit<f32>]) {
    for ((o, &x), &y) in dst.iter_mut().zip(a).zip(b) {
        o.write(K::f::<M>(x, y));
    }
}

#[inline(always)]
fn run_inplace<K: Unary, M: Fm>(x: &mut [f32]) {
    for v in x.iter_mut() {
        *v = K::f::<M>(*v);
    }
}

/// The widest instruction set the CPU has, detected once.
#[derive(Clone, Copy, PartialEq)]
enum Level {
    Avx512,
    Avx2,
    Base,
}

fn level() -> Level {
    static LEVEL: std::sync::OnceLock<Level> = std::sync::OnceLock::new();
    *LEVEL.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("avx512f") && has!("avx512vl") && has!("avx512dq") && has!("avx2") && has!("fma") {
                return Level::Avx512;
            }
            if has!("avx2") && has!("fma") {
                return Level::Avx2;
            }
        }
        Level::Base
    })
}

/// One loop compiled for AVX-512, for AVX2+FMA and for the baseline; the widest available runs.
macro_rules! multiversion {
    ($name:ident, $run:ident, $tr:ident, ($($arg:ident: $ty:ty),*)) => {
        fn $name<K: $tr>($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
                unsafe fn v4<K: $tr>($($arg: $ty),*) {
                    $run::<K, Fused>($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn v3<K: $tr>($($arg: $ty),*) {
                    $run::<K, Fused>($($arg),*)
                }
                match level() {
                    // SAFETY: the CPU has the features the function is compiled for.
                    Level::Avx512 => return unsafe { v4::<K>($($arg),*) },
                    // SAFETY: as above.
                    Level::Avx2 => return unsafe { v3::<K>($($arg),*) },
                    Level::Base => {}
                }
            }
            $run::<K, Plain>($($arg),*)
        }
    };
}

multiversion!(apply1, run1, Unary, (src: &[f32], dst: &mut [MaybeUninit<f32>]));
multiversion!(apply2, run2, Binary, (a: &[f32], b: &[f32], dst: &mut [MaybeUninit<f32>]));
multiversion!(apply_inplace_impl, run_inplace, Unary, (x: &mut [f32]));

/// Kernel `K` applied in place to a short slice, on the calling thread (for row-wise kernels such
/// as the attention softmax).
pub fn apply_inplace<K: Unary>(x: &mut [f32], _k: K) {
    apply_inplace_impl::<K>(x);
}

/// Kernel `K` over a dense slice (in parallel chunks when large), with the widest SIMD the CPU
/// has. A large output that cannot be allocated is `Error::OutOfMemory`.
pub fn map<K: Unary>(src: &[f32], _k: K) -> Result<Vec<f32>> {
    let n = src.len();
    if par_worth(n) {
        // SAFETY: each chunk is written whole by `apply1` (it zips the chunk with its input).
        unsafe { par_filled(n, |start, o| apply1::<K>(&src[start..start + o.len()], o)) }
    } else {
        let mut out = super::alloc::try_vec_any::<f32>("elementwise", n)?;
        apply1::<K>(src, &mut out.spare_capacity_mut()[..n]);
        // SAFETY: `apply1` wrote all `n` elements.
        unsafe { out.set_len(n) };
        Ok(out)
    }
}

/// Kernel `K` over two dense slices of one length, like [`map`].
pub fn zip<K: Binary>(a: &[f32], b: &[f32], _k: K) -> Result<Vec<f32>> {
    let n = a.len();
    assert_eq!(n, b.len(), "vmath::zip: lengths differ");
    if par_worth(n) {
        // SAFETY: as in `map`.
        unsafe {
            par_filled(n, |start, o| {
                let end = start + o.len();
                apply2::<K>(&a[start..end], &b[start..end], o)
            })
        }
    } else {
        let mut out = super::alloc::try_vec_any::<f32>("elementwise", n)?;
        apply2::<K>(a, b, &mut out.spare_capacity_mut()[..n]);
        // SAFETY: `apply2` wrote all `n` elements.
        unsafe { out.set_len(n) };
        Ok(out)
    }
}

#[cfg(test)]
#[path = "vmath_tests.rs"]
mod tests;
