//! The portable GPU backend, on wgpu (Vulkan, Metal, DX12, WebGPU).
//!
//! - [`context`]: one lazily created device + queue per adapter index (`Device::Gpu(i)`).
//! - [`pool`]: a caching buffer pool; a GPU storage returns its buffer to the pool when dropped.
//! - [`pipeline`]: compiled pipelines cached by shader module, entry point and override constants.
//! - [`encoder`]: lazy submission; dispatches batch into one command encoder (consecutive ones into
//!   one compute pass), submitted on readback; bind groups cached by `bind_cache`.
//! - kernels, one file per op family, with their WGSL in the `ember-shaders` crate (top-level `shaders/`).
//!
//! Dtypes on the GPU: F32 as `f32`, F64 as `f64` (adapters with SHADER_F64 only), I64 as two u32
//! words (`vec2<u32>`, exact 64-bit two's complement), Bool as one u32 (0 or 1), F16 and BF16 packed
//! two per u32 word ([`convert`]; their ops widen to `f32` on the device, see `backend.rs`). See
//! `docs/gpu.md`.

pub(crate) mod argreduce;
pub(crate) mod backend;
pub(crate) mod binary;
mod bind_cache;
pub(crate) mod compare;
pub(crate) mod context;
pub(crate) mod conv;
pub(crate) mod convert;
pub(crate) mod copy;
pub(crate) mod counters;
pub(crate) mod cross_entropy;
pub(crate) mod encoder;
pub(crate) mod fill;
pub(crate) mod fused_foreach;
pub(crate) mod fused_map;
pub(crate) mod fusion;
mod fusion_kernel;
pub(crate) mod index;
pub(crate) mod index_misc;
pub(crate) mod join;
pub(crate) mod matmul;
pub(crate) mod matmul_half;
pub(crate) mod matmul_tune;
pub(crate) mod meta;
pub(crate) mod pipeline;
pub(crate) mod pool;
pub(crate) mod pooling;
pub(crate) mod profile;
pub(crate) mod random;
pub(crate) mod reduce;
mod runtime_dir;
pub(crate) mod scan;
pub(crate) mod scatter;
pub mod shaders;
pub use matmul_half::f16_storage;
pub(crate) mod softmax;
pub(crate) mod sort;
pub(crate) mod stats;
pub(crate) mod unary;

use std::sync::{Arc, Mutex, OnceLock};

use context::Context;

use crate::backend::{Backend, DeviceStorage};
use crate::shape::Layout;
use crate::storage::Storage;
use crate::{DType, Device, Error, Result, Tensor};

/// Bytes of one element of `dtype` in GPU storage (Bool takes a whole u32).
pub(crate) fn elem_bytes(dtype: DType) -> u64 {
    match dtype {
        DType::F32 | DType::Bool => 4,
        DType::F64 | DType::I64 => 8,
        // packed two per u32 word (`convert.rs`); see `buffer_bytes` for whole buffers
        DType::F16 | DType::BF16 => 2,
    }
}

/// Bytes of the GPU buffer of `len` elements of `dtype` (16-bit floats fill whole u32 words: an odd
/// count leaves half of the last word unused), or `None` on overflow.
pub(crate) fn buffer_bytes(dtype: DType, len: usize) -> Option<u64> {
    if dtype.is_half() {
        (len as u64).div_ceil(2).checked_mul(4)
    } else {
        (len as u64).checked_mul(elem_bytes(dtype))
    }
}

/// A tensor's storage in GPU memory: a pooled buffer of `len` elements of `dtype`, or, for the
/// result of a fusable elementwise op, a pending expression ([`fusion`]) computed into a buffer
/// when something first needs the buffer.
pub struct GpuStorage {
    buffer: OnceLock<::wgpu::Buffer>,
    /// The pending expression, until the buffer is computed (then `None`).
    pub(crate) lazy: Mutex<Option<Arc<fusion::Lazy>>>,
    dtype: DType,
    len: usize,
    ctx: Arc<Context>,
    /// The smallest and largest value of an I64 storage when the host knows them (an upload from
    /// host memory, or a copy of such a storage): bounds checks that the host can decide from them
    /// skip their readback, so an indexing op or a loss does not synchronise with the GPU. Sound
    /// because a storage's buffer never changes once written (see `ops/inplace.rs`).
    bounds: Option<(i64, i64)>,
}

impl GpuStorage {
    /// A storage of `len` uninitialised elements on `ctx`'s device.
    pub(crate) fn new(ctx: &Arc<Context>, op: &'static str, dtype: DType, len: usize) -> Result<GpuStorage> {
        let bytes = buffer_bytes(dtype, len)
            .ok_or_else(|| Error::OutOfMemory(format!("{op}: {len} elements of {dtype} do not fit a GPU buffer")))?;
        let buffer = ctx.acquire(op, bytes)?;
        Ok(GpuStorage {
            buffer: OnceLock::from(buffer),
            lazy: Mutex::new(None),
            dtype,
            len,
            ctx: ctx.clone(),
            bounds: None,
        })
    }

    /// A storage of `len` elements whose buffer is computed later from `lazy`.
    pub(crate) fn pending(ctx: &Arc<Context>, dtype: DType, len: usize, lazy: fusion::Lazy) -> GpuStorage {
        GpuStorage {
            buffer: OnceLock::new(),
            lazy: Mutex::new(Some(Arc::new(lazy))),
            dtype,
            len,
            ctx: ctx.clone(),
            bounds: None,
        }
    }

    /// This storage, recording that its values lie in `min..=max` (known on the host).
    pub(crate) fn with_bounds(mut self, bounds: Option<(i64, i64)>) -> GpuStorage {
        self.bounds = bounds;
        self
    }

    /// The host-known smallest and largest value, if any (see the field).
    pub(crate) fn bounds(&self) -> Option<(i64, i64)> {
        self.bounds
    }

    /// True while the buffer is still a pending expression.
    pub(crate) fn is_pending(&self) -> bool {
        self.buffer.get().is_none()
    }

    /// The buffer, computing a pending expression first (one fused dispatch).
    pub(crate) fn try_buffer(&self) -> Result<&::wgpu::Buffer> {
        if let Some(b) = self.buffer.get() {
            return Ok(b);
        }
        fusion::realize(self)?;
        Ok(self.buffer.get().expect("a realized storage holds its buffer"))
    }

    /// Stores the computed buffer of a pending storage; `false` (and the buffer is returned to the
    /// pool) when another thread computed it first.
    pub(crate) fn set_buffer(&self, b: ::wgpu::Buffer) -> bool {
        match self.buffer.set(b) {
            Ok(()) => true,
            Err(b) => {
                self.ctx.release(b);
                false
            }
        }
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the storage holds no element.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The device (`Device::Gpu(index)`).
    pub fn device(&self) -> Device {
        Device::Gpu(self.ctx.index)
    }

    /// The buffer, computing a pending expression first. **Panics** when that computation fails
    /// (a device out of memory); paths that can report it use [`GpuStorage::try_buffer`].
    pub(crate) fn buffer(&self) -> &::wgpu::Buffer {
        match self.try_buffer() {
            Ok(b) => b,
            Err(e) => panic!("{e}"),
        }
    }

    pub(crate) fn ctx(&self) -> &Arc<Context> {
        &self.ctx
    }
}

impl Drop for GpuStorage {
    fn drop(&mut self) {
        if let Some(b) = self.buffer.take() {
            self.ctx.release(b);
        }
    }
}

// A panic never leaves a storage half-updated (buffers are immutable once written, and the pool and
// caches ignore mutex poisoning), so tensors stay usable across `catch_unwind` as CPU ones are.
impl std::panic::UnwindSafe for GpuStorage {}
impl std::panic::RefUnwindSafe for GpuStorage {}

impl std::fmt::Debug for GpuStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = if self.is_pending() { ", pending" } else { "" };
        write!(f, "GpuStorage({} x {} on {:?}{state})", self.len, self.dtype, self.ctx)
    }
}

impl DeviceStorage for GpuStorage {
    fn device(&self) -> Device {
        GpuStorage::device(self)
    }

    fn dtype(&self) -> DType {
        self.dtype
    }

    fn len(&self) -> usize {
        self.len
    }

    fn backend(&self) -> &'static dyn Backend {
        if self.dtype.is_half() {
            &backend::WGPU_HALF
        } else {
            &backend::WGPU
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The GPU storage of `t` (the backend is only called with its own tensors).
pub(crate) fn storage(t: &Tensor) -> &GpuStorage {
    match &*t.storage {
        Storage::Device(s) => s.as_any().downcast_ref().expect("wgpu kernels are only called with wgpu tensors"),
        Storage::Cpu(_) => unreachable!("wgpu kernels are only called with GPU tensors"),
    }
}

/// True when the host knows that every value of the I64 tensor `t` lies in `lo..hi` (its
/// storage's bounds: see [`GpuStorage`]), so a kernel's bounds flag need not be read back.
pub(crate) fn known_within(t: &Tensor, lo: i64, hi: i64) -> bool {
    t.numel() == 0 || storage(t).bounds().is_some_and(|(min, max)| min >= lo && max < hi)
}

/// A contiguous GPU tensor of `shape` over `s`.
pub(crate) fn tensor(s: GpuStorage, shape: &[usize]) -> Tensor {
    Tensor::from_parts(Arc::new(Storage::Device(Box::new(s))), Layout::contiguous(shape))
}

/// Checks that `n` fits the kernels' 32-bit indices.
pub(crate) fn check_u32(op: &'static str, n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| Error::InvalidArgument {
        op,
        msg: format!("{n} elements exceed the GPU kernels' 32-bit indexing"),
    })
}

/// Metadata of a strided kernel (layout in `shaders/strided.wgsl`): `n` output elements of `shape`,
/// operands already broadcast to `shape`. Size-1 dims are dropped and dims contiguous for every
/// operand merged, so dense tensors index as rank 1.
pub(crate) fn strided_meta(op: &'static str, shape: &[usize], ops: &[&Layout]) -> Result<Vec<u32>> {
    debug_assert!(!ops.is_empty() && ops.len() <= 2);
    strided_meta_k::<2>(op, shape, ops)
}

/// [`strided_meta`] with `K` operand slots: `[n, rank, K offsets, shape, K stride blocks]` (slots
/// without an operand hold offset 0 and stride 0).
pub(crate) fn strided_meta_k<const K: usize>(op: &'static str, shape: &[usize], ops: &[&Layout]) -> Result<Vec<u32>> {
    let n: usize = shape.iter().product();
    let stride = |k: usize, d: usize| ops.get(k).map_or(0, |l| l.strides[d]);
    let mut dims: Vec<(usize, [usize; K])> = Vec::with_capacity(shape.len());
    for (d, &size) in shape.iter().enumerate() {
        if size == 1 {
            continue;
        }
        let st: [usize; K] = std::array::from_fn(|k| stride(k, d));
        if let Some(last) = dims.last_mut() {
            if (0..K).all(|k| last.1[k] == st[k] * size) {
                last.0 *= size;
                last.1 = st;
                continue;
            }
        }
        dims.push((size, st));
    }
    let r = dims.len();
    let mut meta = Vec::with_capacity(2 + K + (K + 1) * r);
    meta.push(check_u32(op, n)?);
    meta.push(r as u32);
    for k in 0..K {
        meta.push(check_u32(op, ops.get(k).map_or(0, |l| l.offset))?);
    }
    for &(s, _) in &dims {
        meta.push(check_u32(op, s)?);
    }
    for k in 0..K {
        for &(_, st) in &dims {
            meta.push(check_u32(op, st[k])?);
        }
    }
    Ok(meta)
}

/// Workgroups of 256 invocations covering `n` elements.
pub(crate) fn groups_for(n: usize) -> u32 {
    n.div_ceil(256) as u32
}

fn gpu_context(device: Device) -> Option<Arc<Context>> {
    match device {
        Device::Gpu(i) => context::get(i).ok(),
        Device::Cpu => None,
    }
}

/// The buffer pool's counters of `device` (`None` for the CPU or an unusable adapter).
pub(crate) fn memory_stats(device: Device) -> Option<crate::backend::GpuMemoryStats> {
    gpu_context(device).map(|c| c.memory_stats())
}

/// Submits pending GPU work, then frees the buffers cached by the pool of `device`.
pub(crate) fn empty_cache(device: Device) {
    if let Some(c) = gpu_context(device) {
        c.empty_cache();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn gpu_tensors_are_send_sync_and_unwind_safe() {
        fn check<T: Send + Sync + std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
        check::<crate::Tensor>();
        check::<super::GpuStorage>();
    }

    #[test]
    fn strided_meta_merges_dense_dims() {
        use crate::shape::Layout;
        let l = Layout::contiguous(&[4, 5, 6]);
        assert_eq!(super::strided_meta("t", &[4, 5, 6], &[&l]).unwrap(), vec![120, 1, 0, 0, 120, 1, 0]);
        // A transposed operand keeps two dims; a broadcast one gets stride 0.
        let t = Layout { shape: [5, 4].as_slice().into(), strides: [1, 5].as_slice().into(), offset: 3 };
        let b = Layout { shape: [5, 4].as_slice().into(), strides: [0, 1].as_slice().into(), offset: 0 };
        let m = super::strided_meta("t", &[5, 4], &[&t, &b]).unwrap();
        assert_eq!(m, vec![20, 2, 3, 0, 5, 4, 1, 5, 0, 1]);
        // Size-1 dims vanish; a 0-d tensor is rank 0.
        let s = Layout::contiguous(&[1, 1]);
        assert_eq!(super::strided_meta("t", &[1, 1], &[&s]).unwrap(), vec![1, 0, 0, 0]);
    }
}
