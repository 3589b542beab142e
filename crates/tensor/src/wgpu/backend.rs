//! The wgpu backend: the [`Backend`] methods this folder has kernels for. Every other method (the
//! row norms, and the cases below that return to the host: I64 products, index kernels declining an
//! operand) runs the CPU backend through the host fallback.
//!
//! GPU tensors of the 16-bit floats (F16, BF16: packed words, `convert.rs`) have their own backend,
//! [`WGPU_HALF`]: memory and conversions only, with [`WGPU`] as its [`Backend::widened`]. So every
//! op on them widens its 16-bit operands to F32 on the device, runs the F32 method below (kernel,
//! fusion or host fallback alike) and rounds the F32 results back: the CPU's semantics for 16-bit
//! floats (compute and accumulate in `f32`, round once), one conversion dispatch per operand and
//! result, without a trip to the host. Matrix products (`matmul`, `linear` with its bias) are the
//! exception: they run the native 16-bit kernel (`matmul_half.rs`: 16-bit operands read directly,
//! f32 sums, one rounding), one dispatch instead of four or five. The lazy fusion never holds a
//! 16-bit tensor (it records F32, F64 and I64 only); the widened operands and the F32 results fuse
//! as any other.

use super::compare::Test;
use super::{
    argreduce, binary, compare, conv, copy, fill, fused_map, fusion, index, index_misc, join, matmul, matmul_half,
};
use super::{pooling, random, reduce, scan, scatter, softmax, sort, stats, unary};
use crate::backend::{fallback, host, Backend};
use crate::cpu::backend::CPU;
use crate::op_desc::{Axis, BinaryOp, CmpOp, ConvGeom, Pool2dPlan, ReduceKind, ScatterMode, UnaryOp};
use crate::ops::creation::try_full_on;
use crate::ops::cross_entropy::CrossEntropyOpts;
use crate::{DType, Device, Error, Result, Tensor};

/// The wgpu backend (buffers in a per-adapter pool, WGSL kernels from `ember-shaders`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct WgpuBackend;

/// The one instance, returned by `GpuStorage`'s `DeviceStorage::backend`.
pub(crate) static WGPU: WgpuBackend = WgpuBackend;

/// The backend of 16-bit float GPU storage (see the module docs).
#[derive(Clone, Copy, Debug)]
pub(crate) struct WgpuHalfBackend;

/// The one instance, returned by `GpuStorage`'s `DeviceStorage::backend` for F16 and BF16.
pub(crate) static WGPU_HALF: WgpuHalfBackend = WgpuHalfBackend;

impl Backend for WgpuHalfBackend {
    fn download(&self, t: &Tensor) -> Result<Tensor> {
        copy::download(t)
    }

    fn upload(&self, t: &Tensor, device: Device) -> Result<Tensor> {
        WGPU.upload(t, device)
    }

    fn contiguous(&self, t: &Tensor) -> Result<Tensor> {
        copy::contiguous(t)
    }

    fn cast(&self, t: &Tensor, dtype: DType) -> Result<Tensor> {
        copy::cast(t, dtype)
    }

    fn full(&self, op: &'static str, shape: &[usize], v: f64, dtype: DType, device: Device) -> Result<Tensor> {
        WGPU.full(op, shape, v, dtype, device)
    }

    fn random(&self, shape: &[usize], dtype: DType, device: Device, normal: bool) -> Option<Tensor> {
        WGPU.random(shape, dtype, device, normal)
    }

    fn widened(&self) -> Option<&'static dyn Backend> {
        Some(&WGPU)
    }

    /// The native 16-bit product (`matmul_half.rs`); the widened F32 product only where that
    /// kernel does not cover the product (K split over few output tiles).
    fn matmul(
        &self,
        op: &'static str,
        a: &Tensor,
        b: &Tensor,
        batch: &[usize],
        mkn: (usize, usize, usize),
    ) -> Result<Tensor> {
        match matmul_half::product(a, b, None)? {
            Some(t) => Ok(t),
            None => fallback(self.widened(), op, &[a, b], |be, h| be.matmul(op, h[0], h[1], batch, mkn)),
        }
    }

    /// `x @ weight^T` plus the bias in the native 16-bit product's epilogue (one dispatch); the
    /// widened path where [`WgpuHalfBackend::matmul`] takes it.
    fn linear(&self, x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        match matmul_half::product(x, &weight.t(), bias)? {
            Some(t) => Ok(t),
            None => {
                let ins: Vec<&Tensor> = [Some(x), Some(weight), bias].into_iter().flatten().collect();
                fallback(self.widened(), "linear", &ins, |be, h| be.linear(h[0], h[1], h.get(2).copied()))
            }
        }
    }
}

/// The adapter index of a GPU device.
fn adapter(op: &'static str, device: Device) -> Result<usize> {
    match device {
        Device::Gpu(i) => Ok(i),
        Device::Cpu => Err(Error::Device(format!("{op}: the wgpu backend was asked for the CPU"))),
    }
}

impl Backend for WgpuBackend {
    fn download(&self, t: &Tensor) -> Result<Tensor> {
        copy::download(t)
    }

    fn upload(&self, t: &Tensor, device: Device) -> Result<Tensor> {
        copy::upload(t, adapter("to", device)?)
    }

    fn contiguous(&self, t: &Tensor) -> Result<Tensor> {
        copy::contiguous(t)
    }

    fn cast(&self, t: &Tensor, dtype: DType) -> Result<Tensor> {
        copy::cast(t, dtype)
    }

    fn full(&self, op: &'static str, shape: &[usize], v: f64, dtype: DType, device: Device) -> Result<Tensor> {
        let index = adapter(op, device)?;
        match fusion::full(shape, v, dtype, index)? {
            Some(t) => Ok(t),
            None => fill::full(shape, v, dtype, index),
        }
    }

    fn random(&self, shape: &[usize], dtype: DType, device: Device, normal: bool) -> Option<Tensor> {
        if dtype.is_half() {
            // drawn in f32 and rounded, as the CPU rounds its f64 draws
            return self.random(shape, DType::F32, device, normal)?.try_to_dtype(dtype).ok();
        }
        random::random(shape, dtype, adapter("rand", device).ok()?, normal).ok()
    }

    fn unary(&self, op: UnaryOp, x: &Tensor) -> Result<Tensor> {
        match fusion::unary(op, x)? {
            Some(t) => Ok(t),
            None => unary::unary(op, x),
        }
    }

    fn binary(&self, op: BinaryOp, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
        match fusion::binary(op, a, b, shape)? {
            Some(t) => Ok(t),
            None => binary::binary(op, a, b, shape),
        }
    }

    fn compare(&self, op: CmpOp, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
        compare::compare(Test::Cmp(op), a, b, shape)
    }

    fn where_(&self, cond: &Tensor, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
        compare::where_("where", cond, a, b, shape)
    }

    fn masked_fill(&self, x: &Tensor, mask: &Tensor, value: f64, shape: &[usize]) -> Result<Tensor> {
        // value where mask, else x: a `where` with the value as a broadcast scalar.
        let v = try_full_on(&[], value, x.dtype(), x.device())?;
        compare::where_("masked_fill", mask, &v, x, shape)
    }

    fn logical_not(&self, x: &Tensor) -> Result<Tensor> {
        // x == 0, NaN being nonzero (true) as on the CPU.
        let zero = try_full_on(&[], 0.0, x.dtype(), x.device())?;
        compare::compare(Test::Cmp(CmpOp::Eq), x, &zero, x.shape())
    }

    fn logical(&self, a: &Tensor, b: &Tensor, and: bool, shape: &[usize]) -> Result<Tensor> {
        compare::compare(if and { Test::And } else { Test::Or }, a, b, shape)
    }

    fn float_test(&self, x: &Tensor, finite: bool) -> Result<Tensor> {
        if x.dtype().is_float() {
            compare::compare(if finite { Test::IsFinite } else { Test::IsNan }, x, x, x.shape())
        } else {
            // Integers are always finite and never NaN.
            try_full_on(x.shape(), f64::from(u8::from(finite)), DType::Bool, x.device())
        }
    }

    fn reduce(&self, kind: ReduceKind, t: &Tensor, mask: &[bool], out: &[usize]) -> Result<Tensor> {
        reduce::reduce_dims(kind, t, mask, out)
    }

    fn all_any(&self, t: &Tensor, mask: &[bool], all: bool, out: &[usize]) -> Result<Tensor> {
        // The min (all) or max (any) of the values as Bool then I64, cast back to Bool.
        let empty = t.shape().iter().zip(mask).any(|(&s, &m)| m && s == 0);
        if empty || t.numel() == 0 {
            return try_full_on(out, f64::from(u8::from(all)), DType::Bool, t.device());
        }
        let i = t.try_to_dtype(DType::Bool)?.try_to_dtype(DType::I64)?;
        let kind = if all { ReduceKind::Min } else { ReduceKind::Max };
        reduce::reduce_dims(kind, &i, mask, out)?.try_to_dtype(DType::Bool)
    }

    fn extreme(
        &self,
        op: &'static str,
        t: &Tensor,
        mask: &[bool],
        max: bool,
        out: &[usize],
    ) -> Result<(Tensor, Tensor)> {
        argreduce::extreme(op, t, mask, max, out)
    }

    fn var(
        &self,
        _op: &'static str,
        t: &Tensor,
        mask: &[bool],
        unbiased: bool,
        sqrt: bool,
        out: &[usize],
    ) -> Result<Tensor> {
        stats::var(t, mask, unbiased, sqrt, out)
    }

    fn logsumexp(&self, t: &Tensor, mask: &[bool], out: &[usize]) -> Result<Tensor> {
        stats::logsumexp(t, mask, out)
    }

    fn cumulative(&self, t: &Tensor, ax: Axis, prod: bool) -> Result<Tensor> {
        scan::cumulative(t, ax, prod)
    }

    fn cross_entropy(
        &self,
        x: &Tensor,
        target: &Tensor,
        weight: Option<&Tensor>,
        o: &CrossEntropyOpts,
    ) -> Result<(Tensor, Tensor)> {
        super::cross_entropy::forward(x, target, weight, o)
    }

    fn cross_entropy_backward(
        &self,
        x: &Tensor,
        target: &Tensor,
        weight: Option<&Tensor>,
        stats: &Tensor,
        grad: &Tensor,
        o: &CrossEntropyOpts,
    ) -> Result<Tensor> {
        super::cross_entropy::backward(x, target, weight, stats, grad, o)
    }

    fn softmax(&self, t: &Tensor, ax: Axis, log: bool) -> Result<Tensor> {
        softmax::softmax(t, ax, log)
    }

    fn sort(&self, t: &Tensor, dim: usize, descending: bool) -> Result<(Tensor, Tensor)> {
        sort::sort(t, dim, descending)
    }

    fn topk(
        &self,
        _op: &'static str,
        t: &Tensor,
        k: usize,
        dim: usize,
        largest: bool,
        sorted: bool,
    ) -> Result<(Tensor, Tensor)> {
        sort::topk(t, k, dim, largest, sorted)
    }

    fn cat(&self, op: &'static str, tensors: &[&Tensor], dim: usize, shape: &[usize]) -> Result<Tensor> {
        join::cat(op, tensors, dim, shape)
    }

    fn index_select(&self, op: &'static str, t: &Tensor, dim: usize, idx: &Tensor) -> Result<Tensor> {
        match index::index_select(op, t, dim, idx)? {
            Some(r) => Ok(r),
            None => host(op, &[t, idx], |h| CPU.index_select(op, h[0], dim, h[1])),
        }
    }

    fn index_add(&self, op: &'static str, t: &Tensor, dim: usize, idx: &Tensor, source: &Tensor) -> Result<Tensor> {
        match index::index_add(op, t, dim, idx, source)? {
            Some(r) => Ok(r),
            None => host(op, &[t, idx, source], |h| CPU.index_add(op, h[0], dim, h[1], h[2])),
        }
    }

    fn gather(&self, t: &Tensor, dim: usize, idx: &Tensor) -> Result<Tensor> {
        index::gather(t, dim, idx)
    }

    fn scatter(
        &self,
        op: &'static str,
        t: &Tensor,
        dim: usize,
        idx: &Tensor,
        src: &Tensor,
        mode: ScatterMode,
    ) -> Result<Tensor> {
        let native = match mode {
            ScatterMode::Add => index::scatter_add(op, t, dim, idx, src)?,
            ScatterMode::Set => Some(scatter::scatter(op, t, dim, idx, src)?),
        };
        match native {
            Some(r) => Ok(r),
            None => host(op, &[t, idx, src], |h| CPU.scatter(op, h[0], dim, h[1], h[2], mode)),
        }
    }

    fn one_hot(&self, t: &Tensor, num_classes: i64) -> Result<Tensor> {
        index_misc::one_hot(t, num_classes)
    }

    fn masked_select(&self, t: &Tensor, mask: &Tensor, shape: &[usize]) -> Result<Tensor> {
        index_misc::masked_select(t, mask, shape)
    }

    fn flip(&self, t: &Tensor, flip: &[bool]) -> Result<Tensor> {
        index_misc::flip(t, flip)
    }

    fn repeat(&self, t: &Tensor, repeats: &[usize]) -> Result<Tensor> {
        index_misc::repeat(t, repeats)
    }

    fn matmul(
        &self,
        op: &'static str,
        a: &Tensor,
        b: &Tensor,
        batch: &[usize],
        mkn: (usize, usize, usize),
    ) -> Result<Tensor> {
        if a.dtype().is_float() {
            return matmul::matmul(a, b);
        }
        host(op, &[a, b], |h| CPU.matmul(op, h[0], h[1], batch, mkn))
    }

    fn linear(&self, x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        if !x.dtype().is_float() {
            let ins: Vec<&Tensor> = [Some(x), Some(weight), bias].into_iter().flatten().collect();
            return host("linear", &ins, |h| CPU.linear(h[0], h[1], h.get(2).copied()));
        }
        // x @ w^T through the transposed view (the kernel reads strides), the bias added by the
        // product's epilogue (one dispatch).
        match bias {
            Some(t) => matmul::matmul_bias(x, &weight.t(), matmul::Bias { t, per_row: false }),
            None => matmul::matmul(x, &weight.t()),
        }
    }

    fn conv(&self, op: &'static str, x: &Tensor, w: &Tensor, bias: Option<&Tensor>, g: &ConvGeom) -> Result<Tensor> {
        conv::forward(op, x, w, bias, g)
    }

    fn conv_backward_input(
        &self,
        op: &'static str,
        dy: &Tensor,
        w: &Tensor,
        init: Option<&Tensor>,
        g: &ConvGeom,
    ) -> Result<Tensor> {
        conv::backward_input(op, dy, w, init, g)
    }

    fn conv_backward_weight(
        &self,
        op: &'static str,
        dy: &Tensor,
        x: &Tensor,
        g: &ConvGeom,
        with_bias: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        conv::backward_weight_bias(op, dy, x, g, with_bias)
    }

    fn max_pool(
        &self,
        op: &'static str,
        x: &Tensor,
        plan: &Pool2dPlan,
        _indices: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        pooling::pool(op, x, plan, true)
    }

    fn avg_pool(&self, op: &'static str, x: &Tensor, plan: &Pool2dPlan) -> Result<Tensor> {
        Ok(pooling::pool(op, x, plan, false)?.0)
    }

    fn max_pool_backward(
        &self,
        op: &'static str,
        grad_out: &Tensor,
        indices: &Tensor,
        input_shape: &[usize],
        planes: usize,
        hw: usize,
    ) -> Result<Tensor> {
        // Zero planes scatter-added at the indices (the index kernels check the bounds).
        let out_plane: usize = grad_out.shape()[grad_out.rank() - 2..].iter().product();
        let zeros = try_full_on(&[planes, hw], 0.0, grad_out.dtype(), grad_out.device())?;
        let (g2, i2) = (grad_out.try_reshape(&[planes, out_plane])?, indices.try_reshape(&[planes, out_plane])?);
        match index::scatter_add(op, &zeros, 1, &i2, &g2)? {
            Some(r) => r.try_reshape(input_shape),
            None => host(op, &[grad_out, indices], |h| CPU.max_pool_backward(op, h[0], h[1], input_shape, planes, hw)),
        }
    }

    fn pool_backward(
        &self,
        op: &'static str,
        grad_out: &Tensor,
        indices: Option<&Tensor>,
        plan: &Pool2dPlan,
        input_shape: &[usize],
    ) -> Result<Tensor> {
        pooling::pool_backward(op, grad_out, indices, plan, input_shape)
    }

    fn fused_map(
        &self,
        op: &'static str,
        key: &str,
        flat: &crate::ops::fused_expr::Flat,
        inputs: &[Tensor],
        values: &[f64],
    ) -> Result<Option<Vec<Tensor>>> {
        fused_map::run(op, key, flat, inputs, values)
    }

    fn fused_map_foreach(
        &self,
        op: &'static str,
        key: &str,
        flat: &crate::ops::fused_expr::Flat,
        tuples: &[Vec<Tensor>],
        values: &[f64],
    ) -> Result<Option<Vec<Vec<Tensor>>>> {
        super::fused_foreach::run(op, key, flat, tuples, values)
    }

    fn relu_backward(&self, grad: &Tensor, out: &Tensor) -> Result<Tensor> {
        if let Some(t) = fusion::relu_grad(grad, out)? {
            return Ok(t);
        }
        grad.try_masked_fill(&out.try_le_scalar(0.0)?, 0.0)
    }
}
