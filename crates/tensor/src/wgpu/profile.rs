//! Kernel timing for finding where GPU time goes. With `EMBER_GPU_PROFILE=1`, on adapters with
//! `TIMESTAMP_QUERY`, every dispatch's compute pass is bracketed by two GPU timestamps; when a batch
//! is submitted, its timestamps are resolved, read back and added to per-kernel totals
//! (`gpu_kernel_times`). Reading them back makes every submission wait for the GPU, so a profiled
//! run measures the kernels themselves, not how well they overlap with the host.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use super::context::{lock, Context};
use super::encoder::MAX_PENDING;
use crate::backend::KernelTime;

/// True when `EMBER_GPU_PROFILE=1` (read once).
pub(crate) fn requested() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var("EMBER_GPU_PROFILE").is_ok_and(|v| v == "1"))
}

fn totals() -> &'static Mutex<HashMap<String, (usize, f64)>> {
    static TOTALS: OnceLock<Mutex<HashMap<String, (usize, f64)>>> = OnceLock::new();
    TOTALS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Per-kernel GPU times over every device since the last reset, longest first (the crate's
/// `gpu_kernel_times`).
pub(crate) fn kernel_times() -> Vec<KernelTime> {
    let mut v: Vec<KernelTime> = lock(totals())
        .iter()
        .map(|(k, &(calls, total_ms))| KernelTime { kernel: k.clone(), calls, total_ms })
        .collect();
    v.sort_by(|a, b| b.total_ms.total_cmp(&a.total_ms));
    v
}

/// Clears the totals of [`kernel_times`].
pub(crate) fn reset_kernel_times() {
    lock(totals()).clear();
}

/// The timestamp query set of one context and the kernels of the pending batch.
pub(crate) struct Profiler {
    set: ::wgpu::QuerySet,
    resolve: ::wgpu::Buffer,
    readback: ::wgpu::Buffer,
    pending: Vec<String>,
}

impl Profiler {
    /// A profiler for `device`, room for one batch of dispatches.
    pub(crate) fn new(device: &::wgpu::Device) -> Profiler {
        let n = 2 * MAX_PENDING as u32;
        let bytes = 8 * n as u64;
        let set = device.create_query_set(&::wgpu::QuerySetDescriptor {
            label: Some("ember profile"),
            ty: ::wgpu::QueryType::Timestamp,
            count: n,
        });
        let buffer = |usage| {
            device.create_buffer(&::wgpu::BufferDescriptor {
                label: Some("ember profile"),
                size: bytes,
                usage,
                mapped_at_creation: false,
            })
        };
        Profiler {
            set,
            resolve: buffer(::wgpu::BufferUsages::QUERY_RESOLVE | ::wgpu::BufferUsages::COPY_SRC),
            readback: buffer(::wgpu::BufferUsages::MAP_READ | ::wgpu::BufferUsages::COPY_DST),
            pending: Vec::new(),
        }
    }

    /// The timestamp writes for the next dispatch of the batch (the `slot`-th), named `kernel`.
    pub(crate) fn writes(&mut self, slot: usize, kernel: String) -> ::wgpu::ComputePassTimestampWrites<'_> {
        debug_assert_eq!(slot, self.pending.len());
        self.pending.push(kernel);
        ::wgpu::ComputePassTimestampWrites {
            query_set: &self.set,
            beginning_of_pass_write_index: Some(2 * slot as u32),
            end_of_pass_write_index: Some(2 * slot as u32 + 1),
        }
    }

    /// Records the resolve of the batch's timestamps into `enc` (before it is finished).
    pub(crate) fn resolve(&self, enc: &mut ::wgpu::CommandEncoder) {
        let n = 2 * self.pending.len() as u32;
        if n == 0 {
            return;
        }
        enc.resolve_query_set(&self.set, 0..n, &self.resolve, 0);
        enc.copy_buffer_to_buffer(&self.resolve, 0, &self.readback, 0, 8 * n as u64);
    }
}

impl Context {
    /// After a submission that carried [`Profiler::resolve`]: waits for it, reads the timestamps
    /// and adds each kernel's time to the totals.
    pub(crate) fn collect_profile(&self, p: &mut Profiler) {
        if p.pending.is_empty() {
            return;
        }
        let n = 2 * p.pending.len() as u64;
        let slice = p.readback.slice(..8 * n);
        slice.map_async(::wgpu::MapMode::Read, |_| {});
        if self.device.poll(::wgpu::PollType::wait_indefinitely()).is_ok() {
            if let Ok(view) = slice.get_mapped_range() {
                let ticks: &[u64] = bytemuck::cast_slice(&view);
                let period = self.queue.get_timestamp_period() as f64;
                let mut t = lock(totals());
                for (i, name) in p.pending.iter().enumerate() {
                    let ns = ticks[2 * i + 1].saturating_sub(ticks[2 * i]) as f64 * period;
                    let e = t.entry(name.clone()).or_insert((0, 0.0));
                    e.0 += 1;
                    e.1 += ns / 1e6;
                }
                drop(view);
                p.readback.unmap();
            }
        }
        p.pending.clear();
    }
}
