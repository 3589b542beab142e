//! Creating tensors: `zeros ones full arange linspace eye` and the `*_like` forms.

use crate::tensor::ok;
use crate::{DType, Device, Result, Tensor};

/// A tensor of `shape` filled with `v` (converted to `dtype`) on `device`. **Panics** when the size
/// overflows or the allocation fails (out of memory), with the message of [`try_fill_named`].
#[track_caller]
pub(crate) fn full_on(op: &'static str, shape: &[usize], v: f64, dtype: DType, device: Device) -> Tensor {
    ok(try_fill_named(op, shape, v, dtype, device))
}

/// Checked form of [`full_on`]: filled on the device itself, without an upload. The size is checked
/// (an overflowing shape is an error naming it) and the CPU buffer reserved fallibly
/// (`OutOfMemory` naming the op, the bytes and the device).
pub(crate) fn try_full_on(shape: &[usize], v: f64, dtype: DType, device: Device) -> Result<Tensor> {
    try_fill_named("full", shape, v, dtype, device)
}

/// [`try_full_on`] with the op named in errors (`zeros`, `ones`, `zeros_like`, ...).
pub(crate) fn try_fill_named(
    op: &'static str,
    shape: &[usize],
    v: f64,
    dtype: DType,
    device: Device,
) -> Result<Tensor> {
    crate::shape::checked_bytes(op, shape, dtype)?;
    crate::backend::registry::for_device(device)?.full(op, shape, v, dtype, device)
}

/// # Creation
impl Tensor {
    /// An F32 tensor of zeros.
    ///
    /// **Panics** when the element count overflows or the memory cannot be allocated; see
    /// [`Tensor::try_zeros`].
    #[track_caller]
    pub fn zeros(shape: &[usize]) -> Tensor {
        full_on("zeros", shape, 0.0, DType::F32, Device::Cpu)
    }

    /// Checked form of [`Tensor::zeros`]: an overflowing shape or an allocation the system cannot
    /// satisfy is an `Err` (`Error::OutOfMemory` names the op, the bytes and the device).
    ///
    /// ```
    /// # use ember_tensor::{Error, Tensor};
    /// assert!(matches!(Tensor::try_zeros(&[1 << 46]), Err(Error::OutOfMemory(_)))); // 256 TiB
    /// assert!(Tensor::try_zeros(&[1 << 32, 1 << 32]).is_err()); // 2^64 elements: overflow
    /// ```
    pub fn try_zeros(shape: &[usize]) -> Result<Tensor> {
        try_fill_named("zeros", shape, 0.0, DType::F32, Device::Cpu)
    }

    /// An F32 tensor of ones. **Panics** as [`Tensor::zeros`]; see [`Tensor::try_ones`].
    #[track_caller]
    pub fn ones(shape: &[usize]) -> Tensor {
        full_on("ones", shape, 1.0, DType::F32, Device::Cpu)
    }

    /// Checked form of [`Tensor::ones`].
    pub fn try_ones(shape: &[usize]) -> Result<Tensor> {
        try_fill_named("ones", shape, 1.0, DType::F32, Device::Cpu)
    }

    /// An F32 tensor filled with `v`. **Panics** as [`Tensor::zeros`]; see [`Tensor::try_full`].
    #[track_caller]
    pub fn full(shape: &[usize], v: f64) -> Tensor {
        full_on("full", shape, v, DType::F32, Device::Cpu)
    }

    /// Checked form of [`Tensor::full`].
    pub fn try_full(shape: &[usize], v: f64) -> Result<Tensor> {
        try_fill_named("full", shape, v, DType::F32, Device::Cpu)
    }

    /// A tensor of zeros of `dtype`.
    #[track_caller]
    pub fn zeros_dtype(shape: &[usize], dtype: DType) -> Tensor {
        full_on("zeros", shape, 0.0, dtype, Device::Cpu)
    }

    /// A tensor of ones of `dtype`.
    #[track_caller]
    pub fn ones_dtype(shape: &[usize], dtype: DType) -> Tensor {
        full_on("ones", shape, 1.0, dtype, Device::Cpu)
    }

    /// A tensor of `dtype` filled with `v`.
    #[track_caller]
    pub fn full_dtype(shape: &[usize], v: f64, dtype: DType) -> Tensor {
        full_on("full", shape, v, dtype, Device::Cpu)
    }

    /// A tensor of `dtype` filled with `v`, created directly on `device` (no host copy for a GPU).
    ///
    /// Fails when the device is unavailable or out of memory.
    pub fn try_full_on(shape: &[usize], v: f64, dtype: DType, device: &Device) -> Result<Tensor> {
        try_full_on(shape, v, dtype, *device)
    }

    /// Zeros with this tensor's shape, dtype and device.
    #[must_use]
    #[track_caller]
    pub fn zeros_like(&self) -> Tensor {
        full_on("zeros_like", self.shape(), 0.0, self.dtype(), self.device())
    }

    /// Ones with this tensor's shape, dtype and device.
    #[must_use]
    #[track_caller]
    pub fn ones_like(&self) -> Tensor {
        full_on("ones_like", self.shape(), 1.0, self.dtype(), self.device())
    }

    /// `v` with this tensor's shape, dtype and device.
    #[must_use]
    #[track_caller]
    pub fn full_like(&self, v: f64) -> Tensor {
        full_on("full_like", self.shape(), v, self.dtype(), self.device())
    }

    /// Values `start, start + step, ...` below `end` (above, for a negative step), as
    /// `torch.arange(start, end, step)`: `I64` when all three arguments are integers
    /// (`arange(0, 5, 1)`), else F32 (`arange(0.0, 5.0, 1.0)`, `arange(0, 2, 0.5)`).
    ///
    /// ```
    /// use ember_tensor::{DType, Tensor};
    /// let i = Tensor::arange(0, 5, 1);
    /// assert_eq!(i.dtype(), DType::I64);
    /// assert_eq!(i.to_vec::<i64>(), vec![0, 1, 2, 3, 4]);
    /// let f = Tensor::arange(0, 2, 0.5);
    /// assert_eq!(f.dtype(), DType::F32);
    /// assert_eq!(f.to_vec::<f32>(), vec![0.0, 0.5, 1.0, 1.5]);
    /// ```
    ///
    /// **Panics** when `step` is 0 or has the wrong sign; see [`Tensor::try_arange`].
    #[track_caller]
    pub fn arange(start: impl ArangeArg, end: impl ArangeArg, step: impl ArangeArg) -> Tensor {
        if let (Some(a), Some(b), Some(c)) = (start.as_i64(), end.as_i64(), step.as_i64()) {
            return ok(Tensor::try_arange_i64(a, b, c));
        }
        ok(Tensor::try_arange(start.as_f64(), end.as_f64(), step.as_f64(), DType::F32))
    }

    /// Checked integer `arange` (`I64`, computed in integers: exact beyond 2^53).
    pub fn try_arange_i64(start: i64, end: i64, step: i64) -> Result<Tensor> {
        if step == 0 {
            crate::bail!("arange", "invalid range: start {start}, end {end}, step {step} (step must be nonzero)");
        }
        if (end as i128 - start as i128) * (step as i128) < 0 {
            crate::bail!(
                "arange",
                "upper bound and lower bound inconsistent with step sign (start {start}, end {end}, step {step})"
            );
        }
        let span = end as i128 - start as i128;
        let n = ((span + step as i128 - step.signum() as i128) / step as i128).max(0) as usize;
        let v: Vec<i64> = (0..n).map(|i| (start as i128 + i as i128 * step as i128) as i64).collect();
        Ok(Tensor::from_vec_unchecked(v, &[n]))
    }

    /// Checked `arange` of any numeric dtype (`I64` gives PyTorch's integer `arange`).
    pub fn try_arange(start: f64, end: f64, step: f64, dtype: DType) -> Result<Tensor> {
        if step == 0.0 || !step.is_finite() || !start.is_finite() || !end.is_finite() {
            crate::bail!("arange", "invalid range: start {start}, end {end}, step {step}");
        }
        if (end - start) * step < 0.0 {
            crate::bail!(
                "arange",
                "upper bound and lower bound inconsistent with step sign (start {start}, end {end}, step {step})"
            );
        }
        let n = ((end - start) / step).ceil().max(0.0);
        if n >= usize::MAX as f64 {
            crate::bail!(
                "arange",
                "storage size calculation overflowed with sizes=[{n}] (start {start}, end {end}, step {step})"
            );
        }
        let n = n as usize;
        crate::shape::checked_bytes("arange", &[n], DType::F64)?;
        let v = crate::cpu::alloc::try_collect::<f64>("arange", n, (0..n).map(|i| start + i as f64 * step))?;
        Tensor::from_vec_unchecked(v, &[n]).try_to_dtype(dtype)
    }

    /// `steps` F32 values evenly spaced from `start` to `end` inclusive (as `torch.linspace`).
    ///
    /// **Panics** when `steps` values cannot be allocated.
    #[track_caller]
    pub fn linspace(start: f64, end: f64, steps: usize) -> Tensor {
        ok(crate::shape::checked_bytes("linspace", &[steps], DType::F32));
        let v: Vec<f32> = match steps {
            0 => vec![],
            1 => vec![start as f32],
            _ => {
                let step = (end - start) / (steps - 1) as f64;
                let half = steps / 2;
                // PyTorch fills the first half from start and the second from end, for symmetry.
                (0..steps)
                    .map(
                        |i| if i < half { start + step * i as f64 } else { end - step * (steps - 1 - i) as f64 } as f32,
                    )
                    .collect()
            }
        };
        Tensor::from_vec_unchecked(v, &[steps])
    }

    /// The `n x n` F32 identity matrix.
    #[track_caller]
    pub fn eye(n: usize) -> Tensor {
        Tensor::eye_dtype(n, DType::F32)
    }

    /// The `n x n` identity matrix of `dtype`.
    ///
    /// **Panics** when `n * n` overflows or cannot be allocated.
    #[track_caller]
    pub fn eye_dtype(n: usize, dtype: DType) -> Tensor {
        let nn = ok(crate::shape::checked_bytes("eye", &[n, n], DType::F64)) / 8;
        let mut v = crate::cpu::alloc::filled("eye", nn, 0.0f64);
        for i in 0..n {
            v[i * n + i] = 1.0;
        }
        Tensor::from_vec_unchecked(v, &[n, n]).to_dtype(dtype)
    }
}

/// An argument of [`Tensor::arange`]: an integer (all three integers give `I64`, as PyTorch's
/// `arange`) or a float (any float gives F32).
pub trait ArangeArg: Copy {
    /// The value as an integer, `None` for a float type.
    fn as_i64(self) -> Option<i64>;
    /// The value as a float.
    fn as_f64(self) -> f64;
}

macro_rules! arange_int {
    ($($t:ty),*) => {$(
        impl ArangeArg for $t {
            fn as_i64(self) -> Option<i64> {
                Some(self as i64)
            }
            fn as_f64(self) -> f64 {
                self as f64
            }
        }
    )*};
}
arange_int!(i32, i64, u32, usize, isize);

macro_rules! arange_float {
    ($($t:ty),*) => {$(
        impl ArangeArg for $t {
            fn as_i64(self) -> Option<i64> {
                None
            }
            fn as_f64(self) -> f64 {
                self as f64
            }
        }
    )*};
}
arange_float!(f32, f64);
