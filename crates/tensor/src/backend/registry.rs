//! The one place that names the backends: the backend of a [`Device`], and the functions about
//! GPU devices that the crate exports (answered without a GPU when built without the `gpu` feature).

use super::Backend;
use crate::cpu::backend::CPU;
#[cfg(not(feature = "gpu"))]
use crate::Error;
use crate::{Device, Result};

#[cfg(feature = "gpu")]
use crate::wgpu as gpu;

/// The backend that holds and computes tensors on `device`.
pub(crate) fn for_device(device: Device) -> Result<&'static dyn Backend> {
    match device {
        Device::Cpu => Ok(&CPU),
        #[cfg(feature = "gpu")]
        Device::Gpu(_) => Ok(&gpu::backend::WGPU),
        #[cfg(not(feature = "gpu"))]
        Device::Gpu(i) => Err(no_gpu(i)),
    }
}

/// The error of every GPU request in a build without the `gpu` feature.
#[cfg(not(feature = "gpu"))]
fn no_gpu(index: usize) -> Error {
    Error::Device(format!(
        "gpu:{index} is unavailable: ember-tensor was built without the `gpu` feature (enable it to use wgpu adapters)"
    ))
}

/// Opens GPU adapter `index` (its context is created once and cached), or says why it is unusable.
pub(crate) fn gpu_open(index: usize) -> Result<()> {
    #[cfg(feature = "gpu")]
    return gpu::context::get(index).map(|_| ());
    #[cfg(not(feature = "gpu"))]
    Err(no_gpu(index))
}

/// True when `Device::best` should take the first GPU: a hardware adapter, or one that
/// `EMBER_ADAPTER` names.
pub(crate) fn gpu_preferred() -> bool {
    #[cfg(feature = "gpu")]
    return gpu::context::is_hardware(0) || gpu::context::adapter_forced();
    #[cfg(not(feature = "gpu"))]
    false
}

/// Names and kinds of the usable adapters, in `Device::Gpu` index order (empty without the `gpu`
/// feature).
pub fn adapter_names() -> Vec<String> {
    #[cfg(feature = "gpu")]
    return gpu::context::adapter_names();
    #[cfg(not(feature = "gpu"))]
    Vec::new()
}

/// Memory use of one GPU's buffer pool (see [`gpu_memory_stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GpuMemoryStats {
    /// Buffers currently allocated on the device (in use, cached or waiting for reuse).
    pub buffers: usize,
    /// Bytes of those buffers.
    pub bytes: u64,
    /// Of these, buffers cached in the pool's free lists, ready for reuse.
    pub free_buffers: usize,
    /// Bytes of the free buffers.
    pub free_bytes: u64,
    /// Buffers created since the context was made (each miss of the free lists adds one).
    pub total_allocations: u64,
}

/// The buffer pool's counters for a GPU device (`None` for the CPU, an unusable adapter, or a build
/// without the `gpu` feature).
///
/// ```no_run
/// use ember_tensor::{gpu_memory_stats, Device, Tensor};
/// let dev = Device::gpu().unwrap();
/// let x = Tensor::ones(&[1000]).to(&dev);
/// let s = gpu_memory_stats(dev).unwrap();
/// assert!(s.buffers >= 1);
/// # drop(x);
/// ```
pub fn gpu_memory_stats(device: Device) -> Option<GpuMemoryStats> {
    #[cfg(feature = "gpu")]
    return gpu::memory_stats(device);
    #[cfg(not(feature = "gpu"))]
    {
        let _ = device;
        None
    }
}

/// Submits pending GPU work, then frees the buffers cached by the pool of `device` (a no-op on the
/// CPU).
pub fn gpu_empty_cache(device: Device) {
    #[cfg(feature = "gpu")]
    gpu::empty_cache(device);
    #[cfg(not(feature = "gpu"))]
    let _ = device;
}

/// Waits until all work submitted to `device` has finished (a no-op on the CPU).
pub fn gpu_synchronize(device: Device) -> Result<()> {
    match device {
        Device::Cpu => Ok(()),
        #[cfg(feature = "gpu")]
        Device::Gpu(i) => gpu::context::get(i)?.synchronize(),
        #[cfg(not(feature = "gpu"))]
        Device::Gpu(i) => Err(no_gpu(i)),
    }
}

/// Time spent in one kernel (module and entry point) since the last reset.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelTime {
    /// `"<module>: <entry point>"`, e.g. `"matmul (f32): matmul_big"`.
    pub kernel: String,
    /// Dispatches timed.
    pub calls: usize,
    /// Total GPU time of those dispatches, in milliseconds.
    pub total_ms: f64,
}

/// Per-kernel GPU times over every device since the last [`reset_gpu_kernel_times`], longest first.
/// Empty unless `EMBER_GPU_PROFILE=1` and the adapter supports timestamp queries.
pub fn gpu_kernel_times() -> Vec<KernelTime> {
    #[cfg(feature = "gpu")]
    return gpu::profile::kernel_times();
    #[cfg(not(feature = "gpu"))]
    Vec::new()
}

/// Clears the totals of [`gpu_kernel_times`].
pub fn reset_gpu_kernel_times() {
    #[cfg(feature = "gpu")]
    gpu::profile::reset_kernel_times();
}

/// GPU work issued since the process started, over every GPU device (see [`gpu_counters`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GpuCounters {
    /// Compute dispatches recorded (one per kernel launch).
    pub dispatches: u64,
    /// Command buffers submitted to a queue (batches of dispatches, readbacks included).
    pub submissions: u64,
    /// Compute passes begun (consecutive dispatches share one; a copy or a submission ends it).
    pub passes: u64,
    /// Bind groups created: dispatches whose buffers the bind-group cache had not seen bound
    /// together (a steady training loop creates none after its first steps).
    pub bind_groups: u64,
}

impl std::ops::Sub for GpuCounters {
    type Output = GpuCounters;

    /// The work issued between two readings (`later - earlier`).
    fn sub(self, earlier: GpuCounters) -> GpuCounters {
        GpuCounters {
            dispatches: self.dispatches - earlier.dispatches,
            submissions: self.submissions - earlier.submissions,
            passes: self.passes - earlier.passes,
            bind_groups: self.bind_groups - earlier.bind_groups,
        }
    }
}

/// Dispatches, submissions, compute passes and bind groups created so far (zero without the `gpu`
/// feature); counting is relaxed atomic adds, always on. Subtract two readings to count a piece of work:
///
/// ```
/// use ember_tensor::{gpu_counters, Device, Tensor};
/// let before = gpu_counters();
/// if let Ok(dev) = Device::gpu() {
///     let x = Tensor::ones(&[8]).to(&dev);
///     let _ = (&x + &x).to_vec::<f32>();
///     assert!((gpu_counters() - before).dispatches >= 1);
/// }
/// ```
pub fn gpu_counters() -> GpuCounters {
    #[cfg(feature = "gpu")]
    {
        let [dispatches, submissions, passes, bind_groups] = gpu::counters::totals();
        GpuCounters { dispatches, submissions, passes, bind_groups }
    }
    #[cfg(not(feature = "gpu"))]
    GpuCounters::default()
}

/// Switches on (or off) a per-kernel count of dispatches, read with [`gpu_dispatch_tally`]
/// (off by default: it takes a lock per dispatch).
pub fn set_gpu_dispatch_tally(on: bool) {
    #[cfg(feature = "gpu")]
    gpu::counters::set_tally(on);
    #[cfg(not(feature = "gpu"))]
    let _ = on;
}

/// Dispatches per kernel (`"<module>: <entry point>"`, most first) counted while the tally was on
/// since the last call, and clears them.
pub fn gpu_dispatch_tally() -> Vec<(String, u64)> {
    #[cfg(feature = "gpu")]
    return gpu::counters::take_tally();
    #[cfg(not(feature = "gpu"))]
    Vec::new()
}

/// GPU dispatches recorded since the process started, over every device (0 without the `gpu`
/// feature): what a fused elementwise chain saves is visible here (a chain of N fusable ops costs
/// one dispatch when its result is needed).
pub fn gpu_dispatch_count() -> u64 {
    gpu_counters().dispatches
}

/// True when elementwise ops recorded on this thread are fused on the GPU: the default, turned off
/// for the process by `EMBER_GPU_FUSION=0` and for a closure by [`with_gpu_fusion`].
pub fn gpu_fusion_enabled() -> bool {
    #[cfg(feature = "gpu")]
    return gpu::fusion::enabled();
    #[cfg(not(feature = "gpu"))]
    false
}

/// Runs `f` with GPU elementwise fusion on or off for the ops this thread records (tests compare
/// both; results are the same, only the number of dispatches differs).
pub fn with_gpu_fusion<R>(enabled: bool, f: impl FnOnce() -> R) -> R {
    #[cfg(feature = "gpu")]
    return gpu::fusion::with_fusion(enabled, f);
    #[cfg(not(feature = "gpu"))]
    {
        let _ = enabled;
        f()
    }
}

/// Computes `t` now if it is a pending fused GPU expression (one dispatch, recorded into the
/// pending batch); a no-op for other tensors. Reading a tensor, or any op that is not elementwise,
/// does this by itself.
pub fn gpu_realize(t: &crate::Tensor) -> Result<()> {
    #[cfg(feature = "gpu")]
    if let Device::Gpu(_) = t.device() {
        gpu::storage(t).try_buffer()?;
    }
    #[cfg(not(feature = "gpu"))]
    let _ = t;
    Ok(())
}
