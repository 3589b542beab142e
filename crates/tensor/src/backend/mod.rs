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
//! Backends are stateless `'static` objects; the buffer of a tensor is its storage
//! ([`crate::storage::Storage`]): host memory for the CPU, a [`DeviceStorage`] for other backends.
//! [`registry`] is the one place that names the backends and maps a [`Device`] to one.

use std::any::Any;
use std::fmt::Debug;
use std::panic::{RefUnwindSafe, UnwindSafe};

mod host;
pub(crate) mod registry;

pub(crate) use host::host;
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
        host(op.name(), &[x], |h| CPU.unary(op, h[0]))
    }

    /// A binary elementwise op of `a` and `b` broadcast to `shape` (dtypes already promoted).
    fn binary(&self, op: BinaryOp, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
        host(op.name(), &[a, b], |h| CPU.binary(op, h[0], h[1], shape))
    }

    /// A comparison of `a` and `b` (one dtype) broadcast to `shape`, as Bool.
    fn compare(&self, op: CmpOp, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
        host(op.name(), &[a, b], |h| CPU.compare(op, h[0], h[1], shape))
    }

    /// `a` where the Bool `cond` holds, else `b`, all broadcast to `shape`.
    fn where_(&self, cond: &Tensor, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
        host("where", &[cond, a, b], |h| CPU.where_(h[0], h[1], h[2], shape))
    }

    /// `value` where the Bool `mask` holds, else `x`, broadcast to `shape`.
    fn masked_fill(&self, x: &Tensor, mask: &Tensor, value: f64, shape: &[usize]) -> Result<Tensor> {
        host("masked_fill", &[x, mask], |h| CPU.masked_fill(h[0], h[1], value, shape))
    }

    /// `x == 0` as Bool (NaN is nonzero).
    fn logical_not(&self, x: &Tensor) -> Result<Tensor> {
        host("logical_not", &[x], |h| CPU.logical_not(h[0]))
    }

    /// Logical and (or, without `and`) of two Bool tensors broadcast to `shape`.
    fn logical(&self, a: &Tensor, b: &Tensor, and: bool, shape: &[usize]) -> Result<Tensor> {
        host(if and { "logical_and" } else { "logical_or" }, &[a, b], |h| CPU.logical(h[0], h[1], and, shape))
    }

    /// `isnan` (or, with `finite`, `isfinite`) as Bool.
    fn float_test(&self, x: &Tensor, finite: bool) -> Result<Tensor> {
        host(if finite { "isfinite" } else { "isnan" }, &[x], |h| CPU.float_test(h[0], finite))
    }

    // ----- reductions (over the dims flagged in `mask`, result shaped `out`)

    /// Sum, mean, product, max or min (values only; Bool already converted where needed).
    fn reduce(&self, kind: ReduceKind, t: &Tensor, mask: &[bool], out: &[usize]) -> Result<Tensor> {
        host(kind.name(), &[t], |h| CPU.reduce(kind, h[0], mask, out))
    }

    /// `all` (or `any`) as Bool.
    fn all_any(&self, t: &Tensor, mask: &[bool], all: bool, out: &[usize]) -> Result<Tensor> {
        host(if all { "all" } else { "any" }, &[t], |h| CPU.all_any(h[0], mask, all, out))
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
        host(op, &[t], |h| CPU.extreme(op, h[0], mask, max, out))
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
        host(op, &[t], |h| CPU.var(op, h[0], mask, unbiased, sqrt, out))
    }

    /// `log(sum(exp(t)))` of a float tensor, computed stably.
    fn logsumexp(&self, t: &Tensor, mask: &[bool], out: &[usize]) -> Result<Tensor> {
        host("logsumexp", &[t], |h| CPU.logsumexp(h[0], mask, out))
    }

    /// The running sum (or, with `prod`, product) along `ax` (`t` not Bool).
    fn cumulative(&self, t: &Tensor, ax: Axis, prod: bool) -> Result<Tensor> {
        host(if prod { "cumprod" } else { "cumsum" }, &[t], |h| CPU.cumulative(h[0], ax, prod))
    }

    /// Softmax (or log-softmax) along `ax`.
    fn softmax(&self, t: &Tensor, ax: Axis, log: bool) -> Result<Tensor> {
        host(if log { "log_softmax" } else { "softmax" }, &[t], |h| CPU.softmax(h[0], ax, log))
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
        host("cross_entropy", &ins, |h| CPU.cross_entropy(h[0], h[1], h.get(2).copied(), o))
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
        host("cross_entropy_backward", &ins, |h| {
            CPU.cross_entropy_backward(h[0], h[1], h.get(4).copied(), h[2], h[3], o)
        })
    }

    /// Values and indices sorted along `dim`.
    fn sort(&self, t: &Tensor, dim: usize, descending: bool) -> Result<(Tensor, Tensor)> {
        host("sort", &[t], |h| CPU.sort(h[0], dim, descending))
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
        host(op, &[t], |h| CPU.topk(op, h[0], k, dim, largest, sorted))
    }

    // ----- joins and indexing

    /// The concatenation of `tensors` (two or more, one dtype) along `dim`, shaped `shape`.
    fn cat(&self, op: &'static str, tensors: &[&Tensor], dim: usize, shape: &[usize]) -> Result<Tensor> {
        host(op, tensors, |h| CPU.cat(op, h, dim, shape))
    }

    /// The slices of `t` at `index` (1-d I64) along `dim`.
    fn index_select(&self, op: &'static str, t: &Tensor, dim: usize, index: &Tensor) -> Result<Tensor> {
        host(op, &[t, index], |h| CPU.index_select(op, h[0], dim, h[1]))
    }

    /// `t` with `source`'s slices added at `index` along `dim`.
    fn index_add(&self, op: &'static str, t: &Tensor, dim: usize, index: &Tensor, source: &Tensor) -> Result<Tensor> {
        host(op, &[t, index, source], |h| CPU.index_add(op, h[0], dim, h[1], h[2]))
    }

    /// `torch.gather` along `dim` (operands of one rank).
    fn gather(&self, t: &Tensor, dim: usize, index: &Tensor) -> Result<Tensor> {
        host("gather", &[t, index], |h| CPU.gather(h[0], dim, h[1]))
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
        host(op, &[t, index, src], |h| CPU.scatter(op, h[0], dim, h[1], h[2], mode))
    }

    /// One-hot rows of `num_classes` I64 values for the I64 `t`.
    fn one_hot(&self, t: &Tensor, num_classes: i64) -> Result<Tensor> {
        host("one_hot", &[t], |h| CPU.one_hot(h[0], num_classes))
    }

    /// The elements of `t` where `mask` holds (both broadcast to `shape`), as a 1-d tensor.
    fn masked_select(&self, t: &Tensor, mask: &Tensor, shape: &[usize]) -> Result<Tensor> {
        host("masked_select", &[t, mask], |h| CPU.masked_select(h[0], h[1], shape))
    }

    /// A copy of `t` reversed along the dims flagged in `flip`.
    fn flip(&self, t: &Tensor, flip: &[bool]) -> Result<Tensor> {
        host("flip", &[t], |h| CPU.flip(h[0], flip))
    }

    /// `t` tiled `repeats[i]` times along dim `i` (one entry per dim).
    fn repeat(&self, t: &Tensor, repeats: &[usize]) -> Result<Tensor> {
        host("repeat", &[t], |h| CPU.repeat(h[0], repeats))
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
        host(op, &[a, b], |h| CPU.matmul(op, h[0], h[1], batch, mkn))
    }

    /// `x @ weight^T (+ bias)` for `x` of shape `[rows, in]` and `weight` `[out, in]`.
    fn linear(&self, x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        let ins: Vec<&Tensor> = [Some(x), Some(weight), bias].into_iter().flatten().collect();
        host("linear", &ins, |h| CPU.linear(h[0], h[1], h.get(2).copied()))
    }

    /// The convolution `[n, c, h, w] * [o, c/groups, kh, kw] (+ bias) -> [n, o, oh, ow]`.
    fn conv(&self, op: &'static str, x: &Tensor, w: &Tensor, bias: Option<&Tensor>, g: &ConvGeom) -> Result<Tensor> {
        let ins: Vec<&Tensor> = [Some(x), Some(w), bias].into_iter().flatten().collect();
        host(op, &ins, |h| CPU.conv(op, h[0], h[1], h.get(2).copied(), g))
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
        host(op, &ins, |h| CPU.conv_backward_input(op, h[0], h[1], h.get(2).copied(), g))
    }

    /// The weight gradient of [`Backend::conv`] from `dy` and the input `x`.
    fn conv_backward_weight(&self, op: &'static str, dy: &Tensor, x: &Tensor, g: &ConvGeom) -> Result<Tensor> {
        host(op, &[dy, x], |h| CPU.conv_backward_weight(op, h[0], h[1], g))
    }

    /// The weight gradient and the bias gradient (`dy` `[n, o, oh, ow]` summed over all dims but
    /// `o`) of [`Backend::conv`] together: the GPU gives both from one product.
    fn conv_backward_weight_bias(
        &self,
        op: &'static str,
        dy: &Tensor,
        x: &Tensor,
        g: &ConvGeom,
    ) -> Result<(Tensor, Tensor)> {
        Ok((self.conv_backward_weight(op, dy, x, g)?, dy.try_sum_dims(&[0, 2, 3], false)?))
    }

    /// A max pool (float `x`), with the flat in-plane indices of the maxima when asked.
    fn max_pool(
        &self,
        op: &'static str,
        x: &Tensor,
        plan: &Pool2dPlan,
        indices: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        host(op, &[x], |h| CPU.max_pool(op, h[0], plan, indices))
    }

    /// An average (fixed or adaptive) pool of a float `x`.
    fn avg_pool(&self, op: &'static str, x: &Tensor, plan: &Pool2dPlan) -> Result<Tensor> {
        host(op, &[x], |h| CPU.avg_pool(op, h[0], plan))
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
        host(op, &[grad_out, indices], |h| CPU.max_pool_backward(op, h[0], h[1], input_shape, planes, hw))
    }

    /// The max pool's input gradient knowing its windows (`plan`): each input element sums, in
    /// output order, the `grad_out` of the outputs whose index names it as a tap of their window.
    fn max_pool_backward_windows(
        &self,
        op: &'static str,
        grad_out: &Tensor,
        indices: &Tensor,
        plan: &Pool2dPlan,
        input_shape: &[usize],
    ) -> Result<Tensor> {
        host(op, &[grad_out, indices], |h| CPU.max_pool_backward_windows(op, h[0], h[1], plan, input_shape))
    }

    /// The average pool's input gradient, of `input_shape`.
    fn avg_pool_backward(
        &self,
        op: &'static str,
        grad_out: &Tensor,
        plan: &Pool2dPlan,
        input_shape: &[usize],
    ) -> Result<Tensor> {
        host(op, &[grad_out], |h| CPU.avg_pool_backward(op, h[0], plan, input_shape))
    }

    // ----- fused kernels

    /// A [`FusedMap`](crate::FusedMap) as one generated kernel on this backend's device:
    /// `Ok(None)` where the backend has none, and the map then runs as the composite of tensor ops
    /// (each dispatched to the backend). The CPU runs maps in `cpu::fused_map` before reaching here.
    fn fused_map(
        &self,
        op: &'static str,
        key: &str,
        flat: &Flat,
        inputs: &[Tensor],
        values: &[f64],
    ) -> Result<Option<Vec<Tensor>>> {
        let _ = (op, key, flat, inputs, values);
        Ok(None)
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
        let _ = (op, key, flat, tuples, values);
        Ok(None)
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
        host("norm_rows", &ins, |h| {
            let (w, b) = (hw.then(|| h[1]), hb.then(|| h[1 + usize::from(hw)]));
            CPU.norm_rows(h[0], w, b, cols, eps, center)
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
        host("norm_rows_backward", &ins, |h| {
            CPU.norm_rows_backward(h[0], h[1], h.get(4).copied(), h[2], h[3], cols, center)
        })
    }

    /// The relu gradient from its output: `grad` where `out > 0` (or NaN), else 0.
    fn relu_backward(&self, grad: &Tensor, out: &Tensor) -> Result<Tensor> {
        host("relu_backward", &[grad, out], |h| CPU.relu_backward(h[0], h[1]))
    }
}
