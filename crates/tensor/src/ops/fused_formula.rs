//! Formulas written once, run two ways: a [`Formula`] is an elementwise rule written as generic
//! Rust over [`MapValue`]. Instantiated with [`Expr`] it builds the [`FusedMap`]'s program (the
//! GPU kernel and the CPU interpreter); instantiated with packs of numbers it is a native CPU loop
//! that the compiler vectorises with every intermediate in registers, as fast as a hand-written
//! fused loop. Both run the same operations in the same order in the tensor's dtype, so they agree
//! bit for bit (tested).

use std::ops::{Add, Div, Mul, Neg, Sub};

use crate::{Expr, Float, FusedMap, Numeric};

/// A value a [`Formula`] computes with: an [`Expr`] (building a program) or a pack of numbers
/// (the native CPU loop). `max` and `min` propagate NaN, as PyTorch's `maximum`/`minimum`.
pub trait MapValue:
    Clone + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self> + Neg<Output = Self>
{
    /// A constant of the formula (part of the program: a changed value is another GPU kernel).
    fn constant(v: f64) -> Self;
    /// `√self`.
    #[must_use]
    fn sqrt(self) -> Self;
    /// `|self|`.
    #[must_use]
    fn abs(self) -> Self;
    /// `e^self`.
    #[must_use]
    fn exp(self) -> Self;
    /// The natural logarithm.
    #[must_use]
    fn ln(self) -> Self;
    /// The elementwise maximum, NaN if either is NaN.
    #[must_use]
    fn max(self, other: Self) -> Self;
    /// The elementwise minimum, NaN if either is NaN.
    #[must_use]
    fn min(self, other: Self) -> Self;
}

impl MapValue for Expr {
    fn constant(v: f64) -> Expr {
        Expr::constant(v)
    }
    fn sqrt(self) -> Expr {
        Expr::sqrt(&self)
    }
    fn abs(self) -> Expr {
        Expr::abs(&self)
    }
    fn exp(self) -> Expr {
        Expr::exp(&self)
    }
    fn ln(self) -> Expr {
        Expr::ln(&self)
    }
    fn max(self, other: Expr) -> Expr {
        Expr::max(&self, other)
    }
    fn min(self, other: Expr) -> Expr {
        Expr::min(&self, other)
    }
}

/// An elementwise rule of `N` input tensors and `S` scalars giving `M` outputs, written once as
/// generic Rust; [`FusedMap::from_formula`] compiles it.
///
/// ```
/// use ember_tensor::{Formula, FusedMap, MapValue, Tensor};
/// /// `(a - b·s, |a|)`
/// struct F;
/// impl Formula<2, 1, 2> for F {
///     fn eval<V: MapValue>(&self, [a, b]: [V; 2], [s]: &[V; 1]) -> [V; 2] {
///         [a.clone() - b * s.clone(), a.abs()]
///     }
/// }
/// let map = FusedMap::from_formula("example", F);
/// let x = Tensor::from_vec(vec![-1.0f32, 2.0], &[2]);
/// let out = map.run(&[&x, &x], &[0.5]);
/// assert_eq!(out[0].to_vec::<f32>(), vec![-0.5, 1.0]);
/// assert_eq!(out[1].to_vec::<f32>(), vec![1.0, 2.0]);
/// ```
pub trait Formula<const N: usize, const S: usize, const M: usize>:
    Send + Sync + std::panic::RefUnwindSafe + 'static
{
    /// The outputs from the inputs' elements and the scalars.
    fn eval<V: MapValue>(&self, inputs: [V; N], scalars: &[V; S]) -> [V; M];
}

/// `L` numbers of one dtype that a formula runs on at once: each operation is a loop over the
/// lanes, which the compiler turns into SIMD instructions.
#[derive(Clone, Copy)]
pub(crate) struct Lanes<T, const L: usize>(pub(crate) [T; L]);

impl<T: Float, const L: usize> Lanes<T, L> {
    #[inline(always)]
    fn map(self, f: impl Fn(T) -> T) -> Self {
        Lanes(std::array::from_fn(|j| f(self.0[j])))
    }
    #[inline(always)]
    fn zip(self, o: Self, f: impl Fn(T, T) -> T) -> Self {
        Lanes(std::array::from_fn(|j| f(self.0[j], o.0[j])))
    }
    /// One value in every lane.
    #[inline(always)]
    pub(crate) fn splat(v: T) -> Self {
        Lanes([v; L])
    }
}

macro_rules! lanes_op {
    ($tr:ident, $m:ident, $op:tt) => {
        impl<T: Float, const L: usize> $tr for Lanes<T, L> {
            type Output = Self;
            #[inline(always)]
            fn $m(self, o: Self) -> Self {
                self.zip(o, |x, y| x $op y)
            }
        }
    };
}
lanes_op!(Add, add, +);
lanes_op!(Sub, sub, -);
lanes_op!(Mul, mul, *);
lanes_op!(Div, div, /);

impl<T: Float, const L: usize> Neg for Lanes<T, L> {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        self.map(|x| -x)
    }
}

impl<T: Float, const L: usize> MapValue for Lanes<T, L> {
    #[inline(always)]
    fn constant(v: f64) -> Self {
        Lanes::splat(T::from_f64(v))
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        self.map(T::sqrt)
    }
    #[inline(always)]
    fn abs(self) -> Self {
        self.map(|x| Numeric::abs(x))
    }
    #[inline(always)]
    fn exp(self) -> Self {
        self.map(T::exp)
    }
    #[inline(always)]
    fn ln(self) -> Self {
        self.map(T::ln)
    }
    // the same branch-free forms as the interpreter (`cpu/fused_map.rs`)
    #[inline(always)]
    fn max(self, o: Self) -> Self {
        self.zip(o, |x, y| if x > y || x.is_nan() { x } else { y })
    }
    #[inline(always)]
    fn min(self, o: Self) -> Self {
        self.zip(o, |x, y| if x < y || x.is_nan() { x } else { y })
    }
}

/// A formula's native CPU loop, behind an object-safe face so a [`FusedMap`] can hold it.
pub(crate) trait NativeKernel: Send + Sync + std::panic::RefUnwindSafe {
    /// Runs elements `r` of F32 buffers.
    ///
    /// # Safety
    /// `ins` (N pointers) and `outs` (M pointers) are valid for the elements of `r`; no other
    /// thread touches `r` of an output; an output may share memory only with an input, element
    /// for element (each element is read before it is written).
    unsafe fn run_f32(&self, ins: &[*const f32], outs: &[*mut f32], scalars: &[f32], r: std::ops::Range<usize>);
    /// [`NativeKernel::run_f32`] for F64.
    ///
    /// # Safety
    /// As [`NativeKernel::run_f32`].
    unsafe fn run_f64(&self, ins: &[*const f64], outs: &[*mut f64], scalars: &[f64], r: std::ops::Range<usize>);
}

/// A [`Formula`] as a [`NativeKernel`].
struct Native<F, const N: usize, const S: usize, const M: usize>(F);

/// Lanes per step of the native loop (two SSE registers of F32, four of F64).
const LANES: usize = 8;

/// The native loop: `LANES` elements at a time, then one at a time for the rest.
///
/// # Safety
/// As [`NativeKernel::run_f32`].
#[inline(always)]
unsafe fn native_loop<T: Float, F: Formula<N, S, M>, const N: usize, const S: usize, const M: usize>(
    f: &F,
    ins: &[*const T],
    outs: &[*mut T],
    scalars: &[T],
    r: std::ops::Range<usize>,
) {
    let ins: [*const T; N] = std::array::from_fn(|k| ins[k]);
    let outs: [*mut T; M] = std::array::from_fn(|k| outs[k]);
    let wide: [Lanes<T, LANES>; S] = std::array::from_fn(|k| Lanes::splat(scalars[k]));
    let one: [Lanes<T, 1>; S] = std::array::from_fn(|k| Lanes::splat(scalars[k]));
    let mut i = r.start;
    while i + LANES <= r.end {
        // SAFETY: the caller's contract; all loads of these lanes happen before their stores.
        unsafe {
            let x = ins.map(|p| Lanes(p.add(i).cast::<[T; LANES]>().read_unaligned()));
            let y = f.eval(x, &wide);
            for (p, v) in outs.iter().zip(y) {
                p.add(i).cast::<[T; LANES]>().write_unaligned(v.0);
            }
        }
        i += LANES;
    }
    while i < r.end {
        // SAFETY: as above, one element.
        unsafe {
            let x = ins.map(|p| Lanes([*p.add(i)]));
            let y = f.eval(x, &one);
            for (p, v) in outs.iter().zip(y) {
                *p.add(i) = v.0[0];
            }
        }
        i += 1;
    }
}

impl<F: Formula<N, S, M>, const N: usize, const S: usize, const M: usize> NativeKernel for Native<F, N, S, M> {
    unsafe fn run_f32(&self, ins: &[*const f32], outs: &[*mut f32], scalars: &[f32], r: std::ops::Range<usize>) {
        // SAFETY: the caller's contract.
        unsafe { native_loop::<f32, F, N, S, M>(&self.0, ins, outs, scalars, r) }
    }
    unsafe fn run_f64(&self, ins: &[*const f64], outs: &[*mut f64], scalars: &[f64], r: std::ops::Range<usize>) {
        // SAFETY: the caller's contract.
        unsafe { native_loop::<f64, F, N, S, M>(&self.0, ins, outs, scalars, r) }
    }
}

impl FusedMap {
    /// Compiles the [`Formula`] `f` as the map `name` of `N` tensors and `S` scalars giving `M`
    /// outputs: its program (the GPU kernel, [`FusedMap::structure`]) is `f` evaluated on
    /// [`Expr`]s, and on the CPU F32/F64 it runs as a native vectorised loop of `f` itself, with
    /// the same results bit for bit as the program. **Panics** when `N` or `M` is 0.
    #[track_caller]
    pub fn from_formula<F: Formula<N, S, M>, const N: usize, const S: usize, const M: usize>(
        name: &'static str,
        f: F,
    ) -> FusedMap {
        let outs = f.eval(std::array::from_fn(Expr::input), &std::array::from_fn(Expr::scalar));
        let map = FusedMap::new(name, N, S, &outs);
        map.with_native(std::sync::Arc::new(Native::<F, N, S, M>(f)))
    }
}
