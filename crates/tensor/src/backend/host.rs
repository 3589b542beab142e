//! The host fallback: how an op without a kernel on its backend still runs there.
//!
//! The provided methods of [`Backend`](super::Backend) call [`host`]: it takes the op's operands and a closure calling its CPU kernel. When every operand is on
//! the CPU the closure runs on them directly (no copy, no allocation). Otherwise each device operand is
//! downloaded (which waits for the GPU work producing it), the closure runs on the host copies, and
//! every tensor it returns is uploaded to the operands' device. So no op panics on a device tensor:
//! ops without a kernel are only slower, and return exactly the CPU's values and errors.
//!
//! Each fallback is counted per op ([`host_fallbacks`]), so tests can check that an op with a
//! native kernel never takes this path.
//!
//! A backend whose storage is 16-bit floats on a device (the wgpu backend's F16/BF16 tensors)
//! names, in [`Backend::widened`](super::Backend::widened), the backend of that device that
//! computes in `F32`; its ops never come here: [`fallback`] widens the operands on the device
//! instead ([`widened`]), runs that backend's method (a kernel or its own host fallback) and
//! rounds the results back.

use std::collections::HashMap;
use std::sync::Mutex;

use super::Backend;
use crate::cpu::backend::CPU;
use crate::{DType, Device, Result, Tensor};

/// What an op returns, moved to a device after a host fallback.
pub(crate) trait HostOutput: Sized {
    /// `self` with every tensor moved to `device`.
    fn to_device(self, device: Device) -> Result<Self>;
    /// `self` with every `F32` tensor rounded to the 16-bit float `dtype` (other dtypes kept).
    fn round_to(self, dtype: DType) -> Result<Self>;
}

/// `t` rounded to the 16-bit `dtype` when it is `F32` (the widened result of a 16-bit op).
fn round(t: Tensor, dtype: DType) -> Result<Tensor> {
    if t.dtype() == DType::F32 {
        t.try_to_dtype(dtype)
    } else {
        Ok(t)
    }
}

impl HostOutput for Tensor {
    fn to_device(self, device: Device) -> Result<Self> {
        self.try_to(&device)
    }
    fn round_to(self, dtype: DType) -> Result<Self> {
        round(self, dtype)
    }
}

impl<T: HostOutput> HostOutput for Option<T> {
    fn to_device(self, device: Device) -> Result<Self> {
        self.map(|t| t.to_device(device)).transpose()
    }
    fn round_to(self, dtype: DType) -> Result<Self> {
        self.map(|t| t.round_to(dtype)).transpose()
    }
}

impl<A: HostOutput, B: HostOutput> HostOutput for (A, B) {
    fn to_device(self, device: Device) -> Result<Self> {
        Ok((self.0.to_device(device)?, self.1.to_device(device)?))
    }
    fn round_to(self, dtype: DType) -> Result<Self> {
        Ok((self.0.round_to(dtype)?, self.1.round_to(dtype)?))
    }
}

impl<A: HostOutput, B: HostOutput, C: HostOutput> HostOutput for (A, B, C) {
    fn to_device(self, device: Device) -> Result<Self> {
        Ok((self.0.to_device(device)?, self.1.to_device(device)?, self.2.to_device(device)?))
    }
    fn round_to(self, dtype: DType) -> Result<Self> {
        Ok((self.0.round_to(dtype)?, self.1.round_to(dtype)?, self.2.round_to(dtype)?))
    }
}

impl<T: HostOutput> HostOutput for Vec<T> {
    fn to_device(self, device: Device) -> Result<Self> {
        self.into_iter().map(|t| t.to_device(device)).collect()
    }
    fn round_to(self, dtype: DType) -> Result<Self> {
        self.into_iter().map(|t| t.round_to(dtype)).collect()
    }
}

/// The device of the first operand not on the CPU, if any.
fn gpu_device(inputs: &[&Tensor]) -> Option<Device> {
    inputs.iter().map(|t| t.device()).find(|d| !d.is_cpu())
}

/// The 16-bit float dtype of the first operand that has one, if any.
fn half_dtype(inputs: &[&Tensor]) -> Option<DType> {
    inputs.iter().map(|t| t.dtype()).find(|d| d.is_half())
}

/// Runs the CPU kernel `f` of `op` on `inputs`: directly when all are on the CPU and none is a
/// 16-bit float, else on host copies of the device operands, with the result moved back to their
/// device. 16-bit float operands are widened to `f32` for `f` and its `F32` results rounded back
/// to the first such operand's dtype (see `cpu/half.rs`).
pub(crate) fn host<R: HostOutput>(
    op: &'static str,
    inputs: &[&Tensor],
    f: impl FnOnce(&[&Tensor]) -> Result<R>,
) -> Result<R> {
    let device = gpu_device(inputs);
    let half = half_dtype(inputs);
    if device.is_none() && half.is_none() {
        return f(inputs);
    }
    if device.is_some() {
        record(op);
    }
    let copies: Vec<Tensor> = inputs
        .iter()
        .map(|t| {
            let c = t.try_to(&Device::Cpu)?;
            if c.dtype().is_half() {
                c.try_to_dtype(DType::F32)
            } else {
                Ok(c)
            }
        })
        .collect::<Result<_>>()?;
    let refs: Vec<&Tensor> = copies.iter().collect();
    let mut out = f(&refs)?;
    if let Some(h) = half {
        out = out.round_to(h)?;
    }
    match device {
        Some(d) => out.to_device(d),
        None => Ok(out),
    }
}

/// How a provided method of [`Backend`] runs `op` where the backend has no kernel of its own:
/// with `widen` (the [`Backend::widened`] of the backend: 16-bit GPU storage) on the device, the
/// 16-bit operands widened to `F32` there and `f` called with that backend ([`widened`]); else on
/// the host, `f` called with the CPU backend ([`host`]).
pub(crate) fn fallback<R: HostOutput>(
    widen: Option<&'static dyn Backend>,
    op: &'static str,
    inputs: &[&Tensor],
    f: impl FnOnce(&dyn Backend, &[&Tensor]) -> Result<R>,
) -> Result<R> {
    match widen {
        Some(b) => widened(inputs, |w| f(b, w)),
        None => host(op, inputs, |h| f(&CPU, h)),
    }
}

/// `t` widened to `F32` on its device when it is a 16-bit float (exact), else `t` shared.
pub(crate) fn widen(t: &Tensor) -> Result<Tensor> {
    if t.dtype().is_half() {
        t.try_to_dtype(DType::F32)
    } else {
        Ok(t.clone())
    }
}

/// Runs `f` on `inputs` with every 16-bit float operand widened to `F32` where it lives (one
/// conversion each, on a GPU one dispatch; an operand passed twice, as in `x * x`, once) and rounds
/// every `F32` result back to the first such operand's dtype (round-to-nearest-even, one
/// conversion each): the semantics of [`host`] for 16-bit operands (compute in `f32`, round once),
/// without leaving the device.
pub(crate) fn widened<R: HostOutput>(inputs: &[&Tensor], f: impl FnOnce(&[&Tensor]) -> Result<R>) -> Result<R> {
    let half = half_dtype(inputs);
    let mut wide: Vec<Tensor> = Vec::with_capacity(inputs.len());
    for (i, t) in inputs.iter().enumerate() {
        let seen = (0..i).find(|&j| inputs[j].shares_storage(t) && inputs[j].layout == t.layout);
        let w = match seen {
            Some(j) => wide[j].clone(),
            None => widen(t)?,
        };
        wide.push(w);
    }
    let refs: Vec<&Tensor> = wide.iter().collect();
    let out = f(&refs)?;
    match half {
        Some(h) => out.round_to(h),
        None => Ok(out),
    }
}

static COUNTS: Mutex<Option<HashMap<&'static str, usize>>> = Mutex::new(None);

fn record(op: &'static str) {
    let mut c = COUNTS.lock().unwrap_or_else(|e| e.into_inner());
    *c.get_or_insert_with(HashMap::new).entry(op).or_insert(0) += 1;
}

/// How many times each op has run through the host fallback in this process, sorted by op name
/// (ops never seen are absent). For tests and profiling: an op listed here moved its GPU operands
/// to the host and back.
pub fn host_fallbacks() -> Vec<(&'static str, usize)> {
    let c = COUNTS.lock().unwrap_or_else(|e| e.into_inner());
    let mut v: Vec<(&'static str, usize)> =
        c.as_ref().map(|m| m.iter().map(|(&k, &n)| (k, n)).collect()).unwrap_or_default();
    v.sort_unstable();
    v
}

/// How many times `op` has run through the host fallback (see [`host_fallbacks`]).
pub fn host_fallback_count(op: &str) -> usize {
    let c = COUNTS.lock().unwrap_or_else(|e| e.into_inner());
    c.as_ref().and_then(|m| m.get(op).copied()).unwrap_or(0)
}
