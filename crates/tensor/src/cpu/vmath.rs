//! Vectorised f32 transcendental kernels: `exp`, `tanh`, `sigmoid`, GELU (erf and tanh forms),
//! SiLU and the derivatives of the activations, each a short branch-free formula in f32 that the
//! compiler turns into SIMD code (no per-element libm call).
//!
//! The loops are compiled three times, for AVX-512, AVX2+FMA and the baseline, and the widest the
//! CPU has is chosen at run time (the crate itself is built for baseline x86-64).
//!
//! **Not yet used by the ops**: measured in a release build (`bench/examples/act_ops.rs`), these
//! loops did not vectorise (the compiler left them scalar: GELU on 1280 x 1536 took 40 ms against
//! 20 ms for the f64-`erf` kernel it was to replace), so the unary ops keep their previous kernels
//! until the loops are made to vectorise (explicit 16-lane blocks or `std::arch` intrinsics). Accuracy over a
//! dense range against f64 references is checked in the tests below (`exp`, `sigmoid`, `tanh`,
//! `silu`: within 4 ulp; GELU within 6e-7 relative; the gradients within 1e-6 relative to
//! `max(1, |f'|)`).

// the published coefficients, as printed (f32 rounds them)
#![allow(clippy::excessive_precision)]

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::elementwise::{par_filled, PAR_THRESHOLD};
use crate::Result;

const LOG2E: f32 = std::f32::consts::LOG2_E;
// ln 2 split in a part exact in f32 (its low bits zero) and the rest (Cody and Waite)
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;

/// `e^x` in f32, within 2 ulp over the whole range (0 below -104, inf above 89, NaN kept).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    // NaN passes through the comparisons (both false)
    let x = if x < -104.0 { -104.0 } else { x };
    let x = if x > 89.0 { 89.0 } else { x };
    // n = round(x / ln 2), by the 1.5 * 2^23 trick (round to nearest even, vectorises)
    const MAGIC: f32 = 12_582_912.0;
    let big = x * LOG2E + MAGIC;
    let n = big - MAGIC;
    let r = x - n * LN2_HI - n * LN2_LO;
    // e^r on |r| <= ln2 / 2 (Cephes expf's polynomial)
    let p = 1.987_569_1e-4_f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 5e-1;
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
}

/// `1 / (1 + e^-x)`.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// `tanh x`: an odd polynomial below 0.625 (Cephes tanhf), `1 - 2 / (e^{2|x|} + 1)` above.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let p = -5.704_988_7e-3_f32;
    let p = p * z + 2.063_908_9e-2;
    let p = p * z - 5.373_971_6e-2;
    let p = p * z + 1.333_144_2e-1;
    let p = p * z - 3.333_328_2e-1;
    let small = p * z * x + x;
    let big = 1.0 - 2.0 / (exp(2.0 * a) + 1.0);
    let big = if x < 0.0 { -big } else { big };
    if a < 0.625 {
        small
    } else {
        big
    }
}

/// `Φ(x)` (the standard normal CDF) and `e^{-x²/2}`, from `erfc(z) = t e^{-z² + P(t)}` at
/// `z = |x|/√2`, `t = 1 / (1 + z/2)` (Numerical Recipes' `erfcc`: relative error below 1.2e-7 for
/// every `z`). `x²/2` is split in an exact head (x's top 12 bits squared) and a small tail, so the
/// rounding of a large `x²` costs no relative accuracy in the exponential.
#[inline(always)]
fn phi_parts(x: f32) -> (f32, f32, f32) {
    // beyond 20 Φ is 0 or 1 in f32; the bound keeps inf out of the split below (NaN passes)
    let ax = x.abs();
    let ax = if ax > 20.0 { 20.0 } else { ax };
    let z = ax * std::f32::consts::FRAC_1_SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * z);
    let p = 0.170_872_77_f32;
    let p = p * t - 0.822_152_23;
    let p = p * t + 1.488_515_9;
    let p = p * t - 1.135_203_98;
    let p = p * t + 0.278_868_07;
    let p = p * t - 0.186_288_06;
    let p = p * t + 0.096_784_18;
    let p = p * t + 0.374_091_96;
    let p = p * t + 1.000_023_7;
    let p = p * t - 1.265_512_2;
    let xh = f32::from_bits(ax.to_bits() & 0xffff_f000);
    let xl = ax - xh;
    let head = 0.5 * xh * xh;
    let tail = xh * xl + 0.5 * xl * xl;
    let e_head = exp(-head);
    let c = t * e_head * exp(p - tail);
    // Φ(x) = erfc(-x/√2) / 2
    let cdf = if x < 0.0 { 0.5 * c } else { 1.0 - 0.5 * c };
    (cdf, e_head, tail)
}

/// GELU with the exact erf form, `x Φ(x)`.
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    x * phi_parts(x).0
}

/// `d/dx x Φ(x) = Φ(x) + x φ(x)`.
#[inline(always)]
pub fn gelu_grad(x: f32) -> f32 {
    let (cdf, e_head, tail) = phi_parts(x);
    // φ(x) = e^{-x²/2} / √(2π)
    cdf + x * (e_head * exp(-tail) * 0.398_942_3)
}

const K_TANH: f32 = 0.797_884_6; // sqrt(2 / pi)
const C_TANH: f32 = 0.044_715;

/// GELU with the tanh approximation, `x/2 (1 + tanh(√(2/π) (x + 0.044715 x³)))`.
#[inline(always)]
pub fn gelu_tanh(x: f32) -> f32 {
    // (1 + tanh u) / 2 = sigmoid(2u), without the cancellation of 1 + tanh u for negative u
    let u = K_TANH * (x + C_TANH * x * x * x);
    x * sigmoid(2.0 * u)
}

/// The derivative of [`gelu_tanh`].
#[inline(always)]
pub fn gelu_tanh_grad(x: f32) -> f32 {
    // with s = sigmoid(2u): (1 + tanh u) / 2 = s and (1 - tanh² u) / 2 = 2 s (1 - s)
    // 1 - s is e s with e = exp(-2u), exact where s rounds to 1
    let u = K_TANH * (x + C_TANH * x * x * x);
    let e = exp(-2.0 * u);
    let s = 1.0 / (1.0 + e);
    s + x * (2.0 * s * (e * s)) * K_TANH * (1.0 + 3.0 * C_TANH * x * x)
}

/// `x sigmoid(x)`.
#[inline(always)]
pub fn silu(x: f32) -> f32 {
    x * sigmoid(x)
}

/// `d/dx x s(x) = s (1 + x (1 - s))`.
#[inline(always)]
pub fn silu_grad(x: f32) -> f32 {
    // 1 - s = e s with e = exp(-x), exact where s rounds to 1
    let e = exp(-x);
    let s = 1.0 / (1.0 + e);
    s * (1.0 + x * (e * s))
}

/// `g · gelu'(x)`.
#[inline(always)]
pub fn gelu_backward(g: f32, x: f32) -> f32 {
    g * gelu_grad(x)
}

/// `g · gelu_tanh'(x)`.
#[inline(always)]
pub fn gelu_tanh_backward(g: f32, x: f32) -> f32 {
    g * gelu_tanh_grad(x)
}

/// `g · silu'(x)`.
#[inline(always)]
pub fn silu_backward(g: f32, x: f32) -> f32 {
    g * silu_grad(x)
}

/// `g · s (1 - s)` from the sigmoid's output `s`.
#[inline(always)]
pub fn sigmoid_backward(g: f32, s: f32) -> f32 {
    g * (s * (1.0 - s))
}

/// `g · (1 - t²)` from tanh's output `t`.
#[inline(always)]
pub fn tanh_backward(g: f32, t: f32) -> f32 {
    g * (1.0 - t * t)
}

#[inline(always)]
fn run1(src: &[f32], dst: &mut [MaybeUninit<f32>], f: impl Fn(f32) -> f32) {
    for (o, &x) in dst.iter_mut().zip(src) {
        o.write(f(x));
    }
}

#[inline(always)]
fn run2(a: &[f32], b: &[f32], dst: &mut [MaybeUninit<f32>], f: impl Fn(f32, f32) -> f32) {
    for ((o, &x), &y) in dst.iter_mut().zip(a).zip(b) {
        o.write(f(x, y));
    }
}

/// One loop compiled for AVX-512, for AVX2+FMA and for the baseline; the widest available runs.
macro_rules! multiversion {
    ($name:ident, $run:ident, ($($arg:ident: $ty:ty),*), $f:ident: $fty:path) => {
        fn $name<F: $fty>($($arg: $ty,)* $f: F) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
                unsafe fn v4<F: $fty>($($arg: $ty,)* $f: F) {
                    $run($($arg,)* $f)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn v3<F: $fty>($($arg: $ty,)* $f: F) {
                    $run($($arg,)* $f)
                }
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("avx512dq")
                {
                    // SAFETY: the CPU has the features the function is compiled for.
                    return unsafe { v4($($arg,)* $f) };
                }
                if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                    // SAFETY: as above.
                    return unsafe { v3($($arg,)* $f) };
                }
            }
            $run($($arg,)* $f)
        }
    };
}

multiversion!(apply1, run1, (src: &[f32], dst: &mut [MaybeUninit<f32>]), f: Fn(f32) -> f32);
multiversion!(apply2, run2, (a: &[f32], b: &[f32], dst: &mut [MaybeUninit<f32>]), f: Fn(f32, f32) -> f32);

/// `f` over a dense slice (in parallel chunks when large), with the widest SIMD the CPU has.
/// A large output that cannot be allocated is `Error::OutOfMemory`.
pub fn map(src: &[f32], f: impl Fn(f32) -> f32 + Copy + Sync + Send) -> Result<Vec<f32>> {
    let n = src.len();
    if n >= PAR_THRESHOLD {
        // SAFETY: each chunk is written whole by `apply1` (it zips the chunk with its input).
        unsafe { par_filled(n, |start, o| apply1(&src[start..start + o.len()], o, f)) }
    } else {
        let mut out = Vec::with_capacity(n);
        apply1(src, &mut out.spare_capacity_mut()[..n], f);
        // SAFETY: `apply1` wrote all `n` elements.
        unsafe { out.set_len(n) };
        Ok(out)
    }
}

/// `f(a, b)` over two dense slices of one length, like [`map`].
pub fn zip(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32 + Copy + Sync + Send) -> Result<Vec<f32>> {
    let n = a.len();
    assert_eq!(n, b.len(), "vmath::zip: lengths differ");
    if n >= PAR_THRESHOLD {
        // SAFETY: as in `map`.
        unsafe {
            par_filled(n, |start, o| {
                let end = start + o.len();
                apply2(&a[start..end], &b[start..end], o, f)
            })
        }
    } else {
        let mut out = Vec::with_capacity(n);
        apply2(a, b, &mut out.spare_capacity_mut()[..n], f);
        // SAFETY: `apply2` wrote all `n` elements.
        unsafe { out.set_len(n) };
        Ok(out)
    }
}

/// Rows of `x` (each `cols` long) mapped in parallel by `f(row_index, row, out_row)`; a helper for
/// the row-wise fused kernels (norms, softmax), which write every element of `out_row`.
pub fn rows_par(n_rows: usize, cols: usize, f: impl Fn(usize, &mut [MaybeUninit<f32>]) + Sync + Send) -> Vec<f32> {
    let n = n_rows * cols;
    let mut out: Vec<f32> = Vec::with_capacity(n);
    if let Some(q) = PAR_THRESHOLD.checked_div(cols) {
        let rows_per = q.max(1);
        out.spare_capacity_mut()[..n].par_chunks_mut(rows_per * cols).enumerate().for_each(|(c, chunk)| {
            for (i, row) in chunk.chunks_mut(cols).enumerate() {
                f(c * rows_per + i, row);
            }
        });
    }
    // SAFETY: every row of every chunk is written by `f` (its contract).
    unsafe { out.set_len(n) };
    out
}

#[cfg(test)]
#[path = "vmath_tests.rs"]
mod tests;
