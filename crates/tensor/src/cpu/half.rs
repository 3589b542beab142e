//! The 16-bit floats (`F16`, `BF16`) on the CPU: the backend of host storage of those dtypes.
//!
//! It owns memory (its storage is ordinary host memory, so `download`, `upload`, `contiguous`,
//! `cast` and `full` are the CPU backend's, which moves and converts 16-bit elements directly) and
//! inherits every other op as a host fallback: [`host`](crate::backend::host) widens each 16-bit
//! operand to `f32` (exact), runs the CPU backend's `f32` kernel and rounds each `f32` result back
//! to the operands' 16-bit dtype (round-to-nearest-even); integer and Bool results (indices,
//! comparisons) are returned as they are. That is PyTorch's CPU semantics for most ops on
//! `float16`/`bfloat16`: compute in `f32`, accumulate reductions and matmul in `f32`, round once.
//! BF16 products on CPUs with AVX512-BF16 have a native kernel instead (`bf16_gemm.rs`).

use crate::backend::fallback;
use crate::backend::Backend;
use crate::cpu::backend::CPU;
use crate::{DType, Device, Result, Tensor};

/// The backend of host tensors of dtype `F16` or `BF16`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HalfBackend;

/// The one instance, returned by `Storage::backend` for 16-bit host storage.
pub(crate) static HALF: HalfBackend = HalfBackend;

impl Backend for HalfBackend {
    fn download(&self, t: &Tensor) -> Result<Tensor> {
        CPU.download(t)
    }

    fn upload(&self, t: &Tensor, device: Device) -> Result<Tensor> {
        CPU.upload(t, device)
    }

    fn contiguous(&self, t: &Tensor) -> Result<Tensor> {
        CPU.contiguous(t)
    }

    fn cast(&self, t: &Tensor, dtype: DType) -> Result<Tensor> {
        CPU.cast(t, dtype)
    }

    fn full(&self, op: &'static str, shape: &[usize], v: f64, dtype: DType, device: Device) -> Result<Tensor> {
        CPU.full(op, shape, v, dtype, device)
    }

    /// BF16 on a CPU with AVX512-BF16: the native kernel (`bf16_gemm.rs`); else widened.
    fn matmul(
        &self,
        op: &'static str,
        a: &Tensor,
        b: &Tensor,
        batch: &[usize],
        mkn: (usize, usize, usize),
    ) -> Result<Tensor> {
        if let Some(c) = super::bf16_gemm::matmul(op, a, b, batch, mkn)? {
            return Ok(c);
        }
        fallback(None, op, &[a, b], |be, h| be.matmul(op, h[0], h[1], batch, mkn))
    }

    /// As [`HalfBackend::matmul`].
    fn linear(&self, x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        if let Some(c) = super::bf16_gemm::linear(x, weight, bias)? {
            return Ok(c);
        }
        let ins: Vec<&Tensor> = [Some(x), Some(weight), bias].into_iter().flatten().collect();
        fallback(None, "linear", &ins, |be, h| be.linear(h[0], h[1], h.get(2).copied()))
    }
}
