//! The seeded random generator behind `rand`, `randn`, `randint` and nn init.
//!
//! One process-wide generator, as PyTorch's default generator: `manual_seed(s)` makes every later draw
//! repeat exactly. The stream is xoshiro256++ seeded by SplitMix64; normals by Box-Muller. Values differ
//! from PyTorch's Mersenne Twister stream (no library matches it bit for bit), but are as reproducible.

use std::sync::Mutex;

use crate::tensor::ok;
use crate::{DType, Result, Tensor};

/// xoshiro256++: fast, small state, passes BigCrush.
#[derive(Clone, Debug)]
pub struct Generator {
    s: [u64; 4],
}

impl Generator {
    /// A generator seeded with `seed` (SplitMix64 expands it to the full state).
    pub fn new(seed: u64) -> Generator {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Generator { s: [next(), next(), next(), next()] }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let r = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        r
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal (Box-Muller; both values of each pair are used in sequence by `fill_normal`).
    pub fn fill_normal(&mut self, out: &mut [f64]) {
        let mut i = 0;
        while i < out.len() {
            let u1 = 1.0 - self.uniform(); // (0, 1]: log is finite
            let u2 = self.uniform();
            let r = (-2.0 * u1.ln()).sqrt();
            let th = 2.0 * std::f64::consts::PI * u2;
            out[i] = r * th.cos();
            if i + 1 < out.len() {
                out[i + 1] = r * th.sin();
            }
            i += 2;
        }
    }

    /// Uniform integer in `[low, high)`; `high > low` checked by the caller.
    pub fn int_below(&mut self, low: i64, high: i64) -> i64 {
        let span = (high as i128 - low as i128) as u128;
        // Lemire-style widening multiply: unbiased enough for spans far below 2^64.
        let x = self.next_u64() as u128;
        low + ((x * span) >> 64) as i64
    }
}

static GLOBAL: Mutex<Option<Generator>> = Mutex::new(None);

/// Seeds the process-wide generator, so every later random tensor and init repeats exactly.
pub fn manual_seed(seed: u64) {
    *GLOBAL.lock().unwrap_or_else(|e| e.into_inner()) = Some(Generator::new(seed));
}

/// Runs `f` with the process-wide generator (seeded with 0 if never seeded... unless
/// `manual_seed` was called).
pub fn with_generator<R>(f: impl FnOnce(&mut Generator) -> R) -> R {
    let mut g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
    let gen = g.get_or_insert_with(|| Generator::new(0x005E_ED0F_E3B3));
    f(gen)
}

/// # Random tensors (from the generator seeded by [`manual_seed`])
impl Tensor {
    /// F32 uniform samples in `[0, 1)`.
    ///
    /// **Panics** when the element count overflows or the memory cannot be allocated; see
    /// [`Tensor::try_rand`].
    #[track_caller]
    pub fn rand(shape: &[usize]) -> Tensor {
        ok(Tensor::try_rand_dtype(shape, DType::F32))
    }

    /// Uniform samples in `[0, 1)` of a float dtype. **Panics** as [`Tensor::rand`].
    #[track_caller]
    pub fn rand_dtype(shape: &[usize], dtype: DType) -> Tensor {
        ok(Tensor::try_rand_dtype(shape, dtype))
    }

    /// Checked form of [`Tensor::rand`]: an overflowing shape or an impossible allocation is an
    /// `Err`.
    pub fn try_rand(shape: &[usize]) -> Result<Tensor> {
        Tensor::try_rand_dtype(shape, DType::F32)
    }

    /// Checked form of [`Tensor::rand_dtype`].
    pub fn try_rand_dtype(shape: &[usize], dtype: DType) -> Result<Tensor> {
        let n = crate::shape::checked_bytes("rand", shape, DType::F64)? / 8;
        let mut v = crate::cpu::alloc::try_vec::<f64>("rand", n)?;
        with_generator(|g| v.extend((0..n).map(|_| g.uniform())));
        Tensor::from_vec_unchecked(v, shape).try_to_dtype(dtype)
    }

    /// F32 standard-normal samples. **Panics** as [`Tensor::rand`]; see [`Tensor::try_randn`].
    #[track_caller]
    pub fn randn(shape: &[usize]) -> Tensor {
        ok(Tensor::try_randn_dtype(shape, DType::F32))
    }

    /// Standard-normal samples of a float dtype. **Panics** as [`Tensor::rand`].
    #[track_caller]
    pub fn randn_dtype(shape: &[usize], dtype: DType) -> Tensor {
        ok(Tensor::try_randn_dtype(shape, dtype))
    }

    /// Checked form of [`Tensor::randn`].
    pub fn try_randn(shape: &[usize]) -> Result<Tensor> {
        Tensor::try_randn_dtype(shape, DType::F32)
    }

    /// Checked form of [`Tensor::randn_dtype`].
    pub fn try_randn_dtype(shape: &[usize], dtype: DType) -> Result<Tensor> {
        let n = crate::shape::checked_bytes("randn", shape, DType::F64)? / 8;
        let mut v = crate::cpu::alloc::try_filled("randn", n, 0.0f64)?;
        with_generator(|g| g.fill_normal(&mut v));
        Tensor::from_vec_unchecked(v, shape).try_to_dtype(dtype)
    }

    /// I64 integers uniform in `[low, high)`. **Panics** when `high <= low`.
    #[track_caller]
    pub fn randint(low: i64, high: i64, shape: &[usize]) -> Tensor {
        ok(Tensor::try_randint(low, high, shape))
    }

    /// Checked form of [`Tensor::randint`].
    pub fn try_randint(low: i64, high: i64, shape: &[usize]) -> Result<Tensor> {
        if high <= low {
            crate::bail!("randint", "random_ expects 'from' to be less than 'to', but got from={low} >= to={high}");
        }
        let n = crate::shape::checked_bytes("randint", shape, DType::I64)? / 8;
        let mut v = crate::cpu::alloc::try_vec::<i64>("randint", n)?;
        with_generator(|g| v.extend((0..n).map(|_| g.int_below(low, high))));
        Ok(Tensor::from_vec_unchecked(v, shape))
    }

    /// Uniform samples in `[0, 1)` with this tensor's shape, dtype and device. On a GPU the samples
    /// are generated there (Philox, keyed from the seeded generator: reproducible, but not the
    /// CPU's values).
    #[must_use]
    #[track_caller]
    pub fn rand_like(&self) -> Tensor {
        self.random_like(false)
    }

    /// Standard-normal samples with this tensor's shape, dtype and device (generated on a GPU as
    /// [`Tensor::rand_like`]).
    #[must_use]
    #[track_caller]
    pub fn randn_like(&self) -> Tensor {
        self.random_like(true)
    }

    #[track_caller]
    fn random_like(&self, normal: bool) -> Tensor {
        // Dtypes the device has a generator for are drawn there; anything else is drawn on the
        // CPU and uploaded.
        if let Some(t) = self.backend().random(self.shape(), self.dtype(), self.device(), normal) {
            return t;
        }
        let t = if normal {
            Tensor::randn_dtype(self.shape(), self.dtype())
        } else {
            Tensor::rand_dtype(self.shape(), self.dtype())
        };
        t.to(&self.device())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_repeats() {
        let mut a = Generator::new(7);
        let mut b = Generator::new(7);
        for _ in 0..10 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let mut g = Generator::new(1);
        let mut v = vec![0.0; 20000];
        g.fill_normal(&mut v);
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
        assert!(mean.abs() < 0.03 && (var - 1.0).abs() < 0.05, "mean {mean} var {var}");
    }
}
