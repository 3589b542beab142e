//! Creating tensors: `zeros ones full arange linspace eye` and the `*_like` forms.

use crate::tensor::ok;
use crate::{DType, Device, Result, Tensor};

/// A tensor of `shape` filled with `v` (converted to `dtype`) on `device`. **Panics** when the GPU
/// fails (out of memory).
#[track_caller]
pub(crate) fn full_on(shape: &[usize], v: f64, dtype: DType, device: Device) -> Tensor {
    ok(try_full_on(shape, v, dtype, device))
}

/// Checked form of [`full_on`]: filled on the device itself, without an upload.
pub(crate) fn try_full_on(shape: &[usize], v: f64, dtype: DType, device: Device) -> Result<Tensor> {
    match device {
        Device::Cpu => {
            let n: usize = shape.iter().product();
            Ok(with_dtype!(dtype, T, Tensor::from_vec_unchecked(vec![<T as crate::Element>::from_f64(v); n], shape)))
        }
        Device::Gpu(i) => crate::wgpu::fill::full(shape, v, dtype, i),
    }
}

/// # Creation
impl Tensor {
    /// An F32 tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Tensor {
        full_on(shape, 0.0, DType::F32, Device::Cpu)
    }

    /// An F32 tensor of ones.
    pub fn ones(shape: &[usize]) -> Tensor {
        full_on(shape, 1.0, DType::F32, Device::Cpu)
    }

    /// An F32 tensor filled with `v`.
    pub fn full(shape: &[usize], v: f64) -> Tensor {
        full_on(shape, v, DType::F32, Device::Cpu)
    }

    /// A tensor of zeros of `dtype`.
    pub fn zeros_dtype(shape: &[usize], dtype: DType) -> Tensor {
        full_on(shape, 0.0, dtype, Device::Cpu)
    }

    /// A tensor of ones of `dtype`.
    pub fn ones_dtype(shape: &[usize], dtype: DType) -> Tensor {
        full_on(shape, 1.0, dtype, Device::Cpu)
    }

    /// A tensor of `dtype` filled with `v`.
    pub fn full_dtype(shape: &[usize], v: f64, dtype: DType) -> Tensor {
        full_on(shape, v, dtype, Device::Cpu)
    }

    /// A tensor of `dtype` filled with `v`, created directly on `device` (no host copy for a GPU).
    ///
    /// Fails when the device is unavailable or out of memory.
    pub fn try_full_on(shape: &[usize], v: f64, dtype: DType, device: &Device) -> Result<Tensor> {
        try_full_on(shape, v, dtype, *device)
    }

    /// Zeros with this tensor's shape, dtype and device.
    #[must_use]
    pub fn zeros_like(&self) -> Tensor {
        full_on(self.shape(), 0.0, self.dtype(), self.device())
    }

    /// Ones with this tensor's shape, dtype and device.
    #[must_use]
    pub fn ones_like(&self) -> Tensor {
        full_on(self.shape(), 1.0, self.dtype(), self.device())
    }

    /// `v` with this tensor's shape, dtype and device.
    #[must_use]
    pub fn full_like(&self, v: f64) -> Tensor {
        full_on(self.shape(), v, self.dtype(), self.device())
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
        let n = ((end - start) / step).ceil().max(0.0) as usize;
        let v: Vec<f64> = (0..n).map(|i| start + i as f64 * step).collect();
        Ok(Tensor::from_vec_unchecked(v, &[n]).to_dtype(dtype))
    }

    /// `steps` F32 values evenly spaced from `start` to `end` inclusive (as `torch.linspace`).
    pub fn linspace(start: f64, end: f64, steps: usize) -> Tensor {
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
    pub fn eye(n: usize) -> Tensor {
        Tensor::eye_dtype(n, DType::F32)
    }

    /// The `n x n` identity matrix of `dtype`.
    pub fn eye_dtype(n: usize, dtype: DType) -> Tensor {
        let mut v = vec![0.0f64; n * n];
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
