//! The backend seam: one object-safe trait that every device implements, dispatched once per op.
//!
//! `ops/` checks an op's arguments and computes its shapes, then calls the method of the operands'
//! backend ([`Tensor::backend`], one virtual call). The CPU backend (`cpu/backend.rs`) implements
//! every method with its kernels. Any other backend implements only memory ([`Backend::download`],
//! [`Backend::upload`]) and inherits the rest as *host fallbacks*: the provided methods download
//! the operands, run the CPU backend's method on the host copies and upload the results
//! ([`host`]), so a new backend runs every op from its first day and gains speed kernel by kernel
//! by overriding methods. The wgpu backend (`wgpu/backend.rs`) overrides those it has kernels for.
//!
//! 16-bit floats (F16, BF16) compute in `f32` and round once. Their host storage has its own backend
//! (`cpu/half.rs`) whose inherited methods widen on the host. Their GPU storage has one too
//! (`wgpu/backend.rs`: memory and conversions only) that names the `f32` wgpu backend in
//! [`Backend::widened`]: the provided methods then widen the 16-bit operands on the device (one
//! conversion dispatch each), call that backend's method and round its `F32` results back (one
//! dispatch each) — every op, once, here in the dispatch layer ([`fallback`]).
//!
//! Backends are stateless `'static` objects; the buffer of a tensor is its storage
//! ([`crate::storage::Storage`]): host memory for the CPU, a [`DeviceStorage`] for other backends.
//! [`registry`] is the one place that names the backends and maps a [`Device`] to one.

use std::any::Any;
use std::fmt::Debug;
use std::panic::{RefUnwindSafe, UnwindSafe};

mod host;
pub(crate) mod registry;

pub(crate) use host::{fallback, host, widen, widened, HostOutput};
pub use host::{host_fallback_count, host_fallbacks};
pub use registry::{
    adapter_names, gpu_counters, gpu_dispatch_tally, gpu_empty_cache, gpu_kernel_times, gpu_memory_stats,
    gpu_synchronize, reset_gpu_kernel_times, set_gpu_dispatch_tally, GpuCounters, GpuMemoryStats, KernelTime,
};
pub use registry::{gpu_dispatch_count, gpu_fusion_enabled, gpu_realize, with_gpu_fusion};

use crate::cpu::backend::CPU;
use crate::op_desc::{Axis, BinaryOp, CmpOp, ConvGeom, Pool2dPlan, ReduceKind, ScatterMode, UnaryOp};
use crate::ops::cross_entropy::CrossEntropyOpts;
use crate::ops::fused_expr::Flat;
use crate::{DType, Device, Result, Tensor};

/// The buffer of a tensor held by a backend other than the CPU (a GPU buffer, say).
pub(crate) trait DeviceStorage: Send + Sync + Debug + UnwindSafe + RefUnwindSafe + 'static {
    /// The device holding the buffer.
    fn device(&self) -> Device;
    /// The element type.
    fn dtype(&self) -> DType;
    /// Number of elements.
    fn len(&self) -> usize;
    /// The backend that runs ops on this storage.
    fn backend(&self) -> &'static dyn Backend;
    /// `self` for downcasting to the backend's own storage type.
    #[cfg_attr(not(feature = "gpu"), allow(dead_code))]
    fn as_any(&self) -> &dyn Any;
}

/// Three tensors (the fused updates and row norms return these).
pub(crate) type Three = (Tensor, Tensor, Tensor);

/// The operations a device provides. Operands have been checked by `ops/` (shapes, dims, dtypes,
/// one device); every method returns new tensors on the operands' device. Only memory is required;
/// every op is provided as a host fallback over the CPU backend (see the module docs).
pub(crate) trait Backend: Send + Sync {
    // ----- memory (required)

    /// A contiguous CPU copy of `t` (the CPU backend returns `t` itself).
    fn download(&self, t: &Tensor) -> Result<Tensor>;

    /// The CPU tensor `t` copied to `device` (one of this backend's).
    fn upload(&self, t: &Tensor, device: Device) -> Result<Tensor>;

    // ----- memory and creation (provided)

    /// For the storage of 16-bit floats on a device: the backend of that device that computes in
    /// `F32`. Every provided op method then widens the 16-bit operands to `F32` on the device, runs
    /// that backend's method and rounds the `F32` results back (see [`fallback`]); `None` (the
    /// default) sends ops without a kernel here to the host instead ([`host`]).
    fn widened(&self) -> Option<&'static dyn Backend> {
        None
    }

    /// A contiguous copy of `t` on its device.
    fn contiguous(&self, t: &Tensor) -> Result<Tensor> {
        self.upload(&self.download(t)?.try_contiguous()?, t.device())
    }

    /// `t` converted to `dtype` (float to int truncates toward zero, nonzero to `true`).
    fn cast(&self, t: &Tensor, dtype: DType) -> Result<Tensor> {
        host("to_dtype", &[t], |h| CPU.cast(h[0], dtype))
    }

    /// A tensor of `shape` filled with `v` (converted to `dtype`) on `device`; `op` names errors.
    fn full(&self, op: &'static str, shape: &[usize], v: f64, dtype: DType, device: Device) -> Result<Tensor> {
        self.upload(&CPU.full(op, shape, v, dtype, Device::Cpu)?, device)
    }

    /// Uniform (or, with `normal`, standard-normal) samples drawn on the device by the process
    /// generator, when the backend has a generator for `dtype`; `None` draws on the host.
    fn random(&self, _shape: &[usize], _dtype: DType, _device: Device, _normal: bool) -> Option<Tensor> {
        None
    }

    // ----- elementwise

    /// A unary elementwise op (integer inputs already promoted where the op needs it).
    fn unary(&self, op: UnaryOp, x: &Tensor) -> Result<Tensor> {
        fallback(self.widened(), op.name(), &[x], |be, h| be.unary(op, h[0]))
    }

    /// A binary elementwise op of `a` and `b` broadcast to `shape` (dtypes already promoted).
    fn binary(&self, op: BinaryOp, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
        fallback(self.widened(), op.name(), &[a, b], |be, h| be.binary(op, h[0], h[1], shape))
    }

    /// A comparison of `a` and `b` (one dtype) broadcast to `shape`, as Bool.
    fn compare(&self, op: CmpOp, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
        fallback(self.widened(), op.name(), &[a, b], |be, h| be.compare(op, h[0], h[1], shape))
    }

    /// `a` where the Bool `cond` holds, else `b`, all broadcast to `shape`.
    fn where_(&self, cond: &Tensor, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
        fallback(self.widened(), "where", &[cond, a, b], |be, h| be.where_(h[0], h[1], h[2], shape))
    }

    /// `value` where the Bool `mask` holds, else `x`, broadcast to `shape`.
    fn masked_fill(&self, x: &Tensor, mask: &Tensor, value: f64, shape: &[usize]) -> Result<Tensor> {
        fallback(self.widened(), "masked_fill", &[x, mask], |be, h| be.masked_fill(h[0], h[1], value, shape))
    }

    /// `x == 0` as Bool (NaN is nonzero).
    fn logical_not(&self, x: &Tensor) -> Result<Tensor> {
        fallback(self.widened(), "logical_not", &[x], |be, h| be.logical_not(h[0]))
    }

    /// Logical and (or, without `and`) of two Bool tensors broadcast to `shape`.
    fn logical(&self, a: &Tensor, b: &Tensor, and: bool, shape: &[usize]) -> Result<Tensor> {
        fallback(self.widened(), if and { "logical_and" } else { "logical_or" }, &[a, b], |be, h| {
            be.logical(h[0], h[1], and, shape)
        })
    }

    /// `isnan` (or, with `finite`, `isfinite`) as Bool.
    fn float_test(&self, x: &Tensor, finite: bool) -> Result<Tensor> {
        fallback(self.widened(), if finite { "isfinite" } else { "isnan" }, &[x], |be, h| be.float_test(h[0], finite))
    }

    // ----- reductions (over the dims flagged in `mask`, result shaped `out`)

    /// Sum, mean, product, max or min (values only; Bool already converted where needed).
    fn reduce(&self, kind: ReduceKind, t: &Tensor, mask: &[bool], out: &[usize]) -> Result<Tensor> {
        fallback(self.widened(), kind.name(), &[t], |be, h| be.reduce(kind, h[0], mask, out))
    }

    /// `all` (or `any`) as Bool.
    fn all_any(&self, t: &Tensor, mask: &[bool], all: bool, out: &[usize]) -> Result<Tensor> {
        fallback(self.widened(), if all { "all" } else { "any" }, &[t], |be, h| be.all_any(h[0], mask, all, out))
    }

    /// Max or min with the index of its first occurrence (`t` not Bool).
    fn extreme(
        &self,
        op: &'static str,
        t: &Tensor,
        mask: &[bool],
        max: bool,
        out: &[usize],
    ) -> Result<(Tensor, Tensor)> {
        fallback(self.widened(), op, &[t], |be, h| be.extreme(op, h[0], mask, max, out))
    }

    /// Variance (or, with `sqrt`, standard deviation) of a float tensor.
    fn var(
        &self,
        op: &'static str,
        t: &Tensor,
        mask: &[bool],
        unbiased: bool,
        sqrt: bool,
        out: &[usize],
    ) -> Result<Tensor> {
        fallback(self.widened(), op, &[t], |be, h| be.var(op, h[0], mask, unbiased, sqrt, out))
    }

    /// `log(sum(exp(t)))` of a float tensor, computed stably.
    fn logsumexp(&self, t: &Tensor, mask: &[bool], out: &[usize]) -> Result<Tensor> {
        fallback(self.widened(), "logsumexp", &[t], |be, h| be.logsumexp(h[0], mask, out))
    }

    /// The running sum (or, with `prod`, product) along `ax` (`t` not Bool).
    fn cumulative(&self, t: &Tensor, ax: Axis, prod: bool) -> Result<Tensor> {
        fallback(self.widened(), if prod { "cumprod" } else { "cumsum" }, &[t], |be, h| be.cumulative(h[0], ax, prod))
    }

    /// Softmax (or log-softmax) along `ax`.
    fn softmax(&self, t: &Tensor, ax: Axis, log: bool) -> Result<Tensor> {
        fallback(self.widened(), if log { "log_softmax" } else { "softmax" }, &[t], |be, h| be.softmax(h[0], ax, log))
    }

    /// The fused cross-entropy of logits `[N, C]` against class indices `[N]` (operands checked,
    /// `weight` in the logits' dtype): the 0-d loss and its statistics (`ops/cross_entropy.rs`).
    fn cross_entropy(
        &self,
        x: &Tensor,
        target: &Tensor,
        weight: Option<&Tensor>,
        o: &CrossEntropyOpts,
    ) -> Result<(Tensor, Tensor)> {
        let ins: Vec<&Tensor> = [Some(x), Some(target), weight].into_iter().flatten().collect();
        fallback(self.widened(), "cross_entropy", &ins, |be, h| be.cross_entropy(h[0], h[1], h.get(2).copied(), o))
    }

    /// The gradient of [`Backend::cross_entropy`] with respect to the logits.
    fn cross_entropy_backward(
        &self,
        x: &Tensor,
        target: &Tensor,
        weight: Option<&Tensor>,
        stats: &Tensor,
        grad: &Tensor,
        o: &CrossEntropyOpts,
    ) -> Result<Tensor> {
        let ins: Vec<&Tensor> =
            [Some(x), Some(target), Some(stats), Some(grad), weight].into_iter().flatten().collect();
        fallback(self.widened(), "cross_entropy_backward", &ins, |be, h| {
            be.cross_entropy_backward(h[0], h[1], h.get(4).copied(), h[2], h[3], o)
        })
    }

    /// Values and indices sorted along `dim`.
    fn sort(&self, t: &Tensor, dim: usize, descending: bool) -> Result<(Tensor, Tensor)> {
        fallback(self.widened(), "sort", &[t], |be, h| be.sort(h[0], dim, descending))
    }

    /// The `k` largest (or smallest) values along `dim` and their indices (`t` not Bool).
    fn topk(
        &self,
        op: &'static str,
        t: &Tensor,
        k: usize,
        dim: usize,
        largest: bool,
        sorted: bool,
    ) -> Result<(Tensor, Tensor)> {
        fallback(self.widened(), op, &[t], |be, h| be.topk(op, h[0], k, dim, largest, sorted))
    }

    // ----- joins and indexing

    /// The concatenation of `tensors` (two or more, one dtype) along `dim`, shaped `shape`.
    fn cat(&self, op: &'static str, tensors: &[&Tensor], dim: usize, shape: &[usize]) -> Result<Tensor> {
        fallback(self.widened(), op, tensors, |be, h| be.cat(op, h, dim, shape))
    }

    /// The slices of `t` at `index` (1-d I64) along `dim`.
    fn index_select(&self, op: &'static str, t: &Tensor, dim: usize, index: &Tensor) -> Result<Tensor> {
        fallback(self.widened(), op, &[t, index], |be, h| be.index_select(op, h[0], dim, h[1]))
    }

    /// `t` with `source`'s slices added at `index` along `dim`.
    fn index_add(&self, op: &'static str, t: &Tensor, dim: usize, index: &Tensor, source: &Tensor) -> Result<Tensor> {
        fallback(self.widened(), op, &[t, index, source], |be, h| be.index_add(op, h[0], dim, h[1], h[2]))
    }

    /// `torch.gather` along `dim` (operands of one rank).
    fn gather(&self, t: &Tensor, dim: usize, index: &Tensor) -> Result<Tensor> {
        fallback(self.widened(), "gather", &[t, index], |be, h| be.gather(h[0], dim, h[1]))
    }

    /// `scatter` (or `scatter_add`) of `src` into `t` at `index` along `dim` (one rank).
    fn scatter(
        &self,
        op: &'static str,
        t: &Tensor,
        dim: usize,
        index: &Tensor,
        src: &Tensor,
        mode: ScatterMode,
    ) -> Result<Tensor> {
        fallback(self.widened(), op, &[t, index, src], |be, h| be.scatter(op, h[0], dim, h[1], h[2], mode))
    }

    /// One-hot rows of `num_classes` I64 values for the I64 `t`.
    fn one_hot(&self, t: &Tensor, num_classes: i64) -> Result<Tensor> {
        fallback(self.widened(), "one_hot", &[t], |be, h| be.one_hot(h[0], num_classes))
    }

    /// The elements of `t` where `mask` holds (both broadcast to `shape`), as a 1-d tensor.
    fn masked_select(&self, t: &Tensor, mask: &Tensor, shape: &[usize]) -> Result<Tensor> {
        fallback(self.widened(), "masked_select", &[t, mask], |be, h| be.masked_select(h[0], h[1], shape))
    }

    /// A copy of `t` reversed along the dims flagged in `flip`.
    fn flip(&self, t: &Tensor, flip: &[bool]) -> Result<Tensor> {
        fallback(self.widened(), "flip", &[t], |be, h| be.flip(h[0], flip))
    }

    /// `t` tiled `repeats[i]` times along dim `i` (one entry per dim).
    fn repeat(&self, t: &Tensor, repeats: &[usize]) -> Result<Tensor> {
        fallback(self.widened(), "repeat", &[t], |be, h| be.repeat(h[0], repeats))
    }

    // ----- products, convolutions, pooling

    /// The batched product of `a` `[.., m, k]` and `b` `[.., k, n]` (rank ≥ 2, `batch` the
    /// broadcast batch dims): a contiguous `[batch.., m, n]` tensor.
    fn matmul(
        &self,
        op: &'static str,
        a: &Tensor,
        b: &Tensor,
        batch: &[usize],
        mkn: (usize, usize, usize),
    ) -> Result<Tensor> {
        fallback(self.widened(), op, &[a, b], |be, h| be.matmul(op, h[0], h[1], batch, mkn))
    }

    /// `x @ weight^T (+ bias)` for `x` of shape `[rows, in]` and `weight` `[out, in]`.
    fn linear(&self, x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        let ins: Vec<&Tensor> = [Some(x), Some(weight), bias].into_iter().flatten().collect();
        fallback(self.widened(), "linear", &ins, |be, h| be.linear(h[0], h[1], h.get(2).copied()))
    }

    /// The convolution `[n, c, h, w] * [o, c/groups, kh, kw] (+ bias) -> [n, o, oh, ow]`.
    fn conv(&self, op: &'static str, x: &Tensor, w: &Tensor, bias: Option<&Tensor>, g: &ConvGeom) -> Result<Tensor> {
        let ins: Vec<&Tensor> = [Some(x), Some(w), bias].into_iter().flatten().collect();
        fallback(self.widened(), op, &ins, |be, h| be.conv(op, h[0], h[1], h.get(2).copied(), g))
    }

    /// The input gradient of [`Backend::conv`] (the transposed convolution), plus a per-channel
    /// `init` of `c` values.
    fn conv_backward_input(
        &self,
        op: &'static str,
        dy: &Tensor,
        w: &Tensor,
        init: Option<&Tensor>,
        g: &ConvGeom,
    ) -> Result<Tensor> {
        let ins: Vec<&Tensor> = [Some(dy), Some(w), init].into_iter().flatten().collect();
        fallback(self.widened(), op, &ins, |be, h| be.conv_backward_input(op, h[0], h[1], h.get(2).copied(), g))
    }

    /// The weight gradient of [`Backend::conv`] from `dy` and the input `x`, and with `with_bias`
    /// the bias gradient (`dy` `[n, o, oh, ow]` summed over all dims but `o`) too: the GPU gives
    /// both from one product.
    fn conv_backward_weight(
        &self,
        op: &'static str,
        dy: &Tensor,
        x: &Tensor,
        g: &ConvGeom,
        with_bias: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let dw =
            fallback(self.widened(), op, &[dy, x], |be, h| Ok(be.conv_backward_weight(op, h[0], h[1], g, false)?.0))?;
        Ok((dw, with_bias.then(|| dy.try_sum_dims(&[0, 2, 3], false)).transpose()?))
    }

    /// A max pool (float `x`), with the flat in-plane indices of the maxima when asked.
    fn max_pool(
        &self,
        op: &'static str,
        x: &Tensor,
        plan: &Pool2dPlan,
        indices: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        fallback(self.widened(), op, &[x], |be, h| be.max_pool(op, h[0], plan, indices))
    }

    /// An average (fixed or adaptive) pool of a float `x`.
    fn avg_pool(&self, op: &'static str, x: &Tensor, plan: &Pool2dPlan) -> Result<Tensor> {
        fallback(self.widened(), op, &[x], |be, h| be.avg_pool(op, h[0], plan))
    }

    /// The max pool's input gradient: `grad_out` added at `indices` (checked to lie in the
    /// `h * w` planes) into zeros of `input_shape` (`planes` planes).
    fn max_pool_backward(
        &self,
        op: &'static str,
        grad_out: &Tensor,
        indices: &Tensor,
        input_shape: &[usize],
        planes: usize,
        hw: usize,
    ) -> Result<Tensor> {
        fallback(self.widened(), op, &[grad_out, indices], |be, h| {
            be.max_pool_backward(op, h[0], h[1], input_shape, planes, hw)
        })
    }

    /// A pool's input gradient (of `input_shape`) knowing its windows (`plan`). With the max
    /// pool's `indices`, each input element sums, in output order, the `grad_out` of the outputs
    /// whose index names it as a tap of their window; without, the average pool's gradient.
    fn pool_backward(
        &self,
        op: &'static str,
        grad_out: &Tensor,
        indices: Option<&Tensor>,
        plan: &Pool2dPlan,
        input_shape: &[usize],
    ) -> Result<Tensor> {
        let inputs: Vec<&Tensor> = std::iter::once(grad_out).chain(indices).collect();
        fallback(self.widened(), op, &inputs, |be, h| be.pool_backward(op, h[0], h.get(1).copied(), plan, input_shape))
    }

    // ----- fused kernels

    /// A [`FusedMap`](crate::FusedMap) as one generated kernel on this backend's device:
    /// `Ok(None)` where the backend has none, and the map then runs as the composite of tensor ops
    /// (each dispatched to the backend). The CPU runs maps in `cpu::fused_map` before reaching here.
    /// A backend with a [`Backend::widened`] runs the map there on widened inputs, rounding its
    /// outputs once.
    fn fused_map(
        &self,
        op: &'static str,
        key: &str,
        flat: &Flat,
        inputs: &[Tensor],
        values: &[f64],
    ) -> Result<Option<Vec<Tensor>>> {
        let Some(be) = self.widened() else { return Ok(None) };
        let refs: Vec<&Tensor> = inputs.iter().collect();
        widened(&refs, |w| {
            let w: Vec<Tensor> = w.iter().map(|&t| t.clone()).collect();
            be.fused_map(op, key, flat, &w, values)
        })
    }

    /// A [`FusedMap`](crate::FusedMap) over several tuples of inputs (`run_foreach`) in one
    /// dispatch: `Ok(None)` where the backend has no such kernel, and each tuple then runs alone.
    fn fused_map_foreach(
        &self,
        op: &'static str,
        key: &str,
        flat: &Flat,
        tuples: &[Vec<Tensor>],
        values: &[f64],
    ) -> Result<Option<Vec<Vec<Tensor>>>> {
        let Some(be) = self.widened() else { return Ok(None) };
        let Some(half) = tuples.first().and_then(|t| t.first()).map(Tensor::dtype) else { return Ok(None) };
        let wide: Vec<Vec<Tensor>> =
            tuples.iter().map(|t| t.iter().map(widen).collect::<Result<_>>()).collect::<Result<_>>()?;
        let out = be.fused_map_foreach(op, key, flat, &wide, values)?;
        if half.is_half() {
            out.round_to(half)
        } else {
            Ok(out)
        }
    }

    /// Row normalisation (`Tensor::norm_rows`): `(out, mean, rstd)`.
    fn norm_rows(
        &self,
        x: &Tensor,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        cols: usize,
        eps: f64,
        center: bool,
    ) -> Result<Three> {
        let (hw, hb) = (weight.is_some(), bias.is_some());
        let ins: Vec<&Tensor> = [Some(x), weight, bias].into_iter().flatten().collect();
        fallback(self.widened(), "norm_rows", &ins, |be, h| {
            let (w, b) = (hw.then(|| h[1]), hb.then(|| h[1 + usize::from(hw)]));
            be.norm_rows(h[0], w, b, cols, eps, center)
        })
    }

    /// The gradients of [`Backend::norm_rows`]: `(dx, dweight, dbias)`.
    #[allow(clippy::too_many_arguments)]
    fn norm_rows_backward(
        &self,
        g: &Tensor,
        x: &Tensor,
        weight: Option<&Tensor>,
        mean: &Tensor,
        rstd: &Tensor,
        cols: usize,
        center: bool,
    ) -> Result<Three> {
        let ins: Vec<&Tensor> = [Some(g), Some(x), Some(mean), Some(rstd), weight].into_iter().flatten().collect();
        fallback(self.widened(), "norm_rows_backward", &ins, |be, h| {
            be.norm_rows_backward(h[0], h[1], h.get(4).copied(), h[2], h[3], cols, center)
        })
    }

    /// The relu gradient from its output: `grad` where `out > 0` (or NaN), else 0.
    fn relu_backward(&self, grad: &Tensor, out: &Tensor) -> Result<Tensor> {
        fallback(self.widened(), "relu_backward", &[grad, out], |be, h| be.relu_backward(h[0], h[1]))
    }
}
