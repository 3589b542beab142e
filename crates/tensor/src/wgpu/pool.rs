//! The caching buffer pool: storage buffers are allocated in power-of-two size classes (from 256
//! bytes) and, when a tensor's storage drops, returned to the free list of their class for reuse.
//!
//! A returned buffer may still be read by dispatches recorded in the pending (unsubmitted) batch, and
//! `Queue::write_buffer` runs at the start of the next submission, before those dispatches. So freed
//! buffers wait in a quarantine until the batch is submitted; only then can an upload or a new
//! dispatch reuse them (queue order then puts the new use after the old one).

use std::collections::HashMap;

use super::context::{lock, Context};
use crate::backend::GpuMemoryStats;
use crate::{Error, Result};

/// The smallest buffer the pool hands out, in bytes.
const MIN_CLASS: u64 = 256;

/// Usage of every storage buffer: bound to kernels, copied to staging, written by uploads.
const STORAGE_USAGE: ::wgpu::BufferUsages =
    ::wgpu::BufferUsages::STORAGE.union(::wgpu::BufferUsages::COPY_SRC).union(::wgpu::BufferUsages::COPY_DST);
const STAGING_USAGE: ::wgpu::BufferUsages = ::wgpu::BufferUsages::MAP_READ.union(::wgpu::BufferUsages::COPY_DST);

#[derive(Default)]
pub(crate) struct Pool {
    free: HashMap<u64, Vec<::wgpu::Buffer>>,
    quarantine: Vec<::wgpu::Buffer>,
    staging: HashMap<u64, Vec<::wgpu::Buffer>>,
    stats: GpuMemoryStats,
}

impl Pool {
    /// Frees every cached buffer (the device memory goes back to the driver).
    fn trim(&mut self) {
        for (_, v) in self.free.drain().chain(self.staging.drain()) {
            for b in v {
                self.stats.buffers -= 1;
                self.stats.bytes -= b.size();
                b.destroy();
            }
        }
        self.stats.free_buffers = 0;
        self.stats.free_bytes = 0;
    }

    /// Makes quarantined buffers reusable: called right after a submission.
    pub(crate) fn after_submit(&mut self) {
        for b in self.quarantine.drain(..) {
            self.stats.free_buffers += 1;
            self.stats.free_bytes += b.size();
            self.free.entry(b.size()).or_default().push(b);
        }
    }

    fn take(map: &mut HashMap<u64, Vec<::wgpu::Buffer>>, class: u64) -> Option<::wgpu::Buffer> {
        map.get_mut(&class).and_then(Vec::pop)
    }
}

impl Context {
    /// The size class for `bytes`: the next power of two from 256, or the size rounded up to 256 when
    /// that power of two would exceed the device's buffer or binding limits.
    pub(crate) fn size_class(&self, op: &'static str, bytes: u64) -> Result<u64> {
        let limit = self.limits.max_buffer_size.min(self.limits.max_storage_buffer_binding_size);
        let p = bytes.max(MIN_CLASS).next_power_of_two();
        if p <= limit {
            return Ok(p);
        }
        let r = bytes.div_ceil(MIN_CLASS) * MIN_CLASS;
        if r > limit {
            return Err(Error::OutOfMemory(format!(
                "{op}: a buffer of {bytes} bytes exceeds the largest storage buffer of gpu:{} ({}): {limit} bytes",
                self.index, self.info.name
            )));
        }
        Ok(r)
    }

    fn create(&self, op: &'static str, size: u64, usage: ::wgpu::BufferUsages) -> Result<::wgpu::Buffer> {
        let desc = ::wgpu::BufferDescriptor { label: Some("ember"), size, usage, mapped_at_creation: false };
        for attempt in 0..2 {
            let scope = self.device.push_error_scope(::wgpu::ErrorFilter::OutOfMemory);
            let buf = self.device.create_buffer(&desc);
            match pollster::block_on(scope.pop()) {
                None => {
                    let mut p = lock(&self.pool);
                    p.stats.buffers += 1;
                    p.stats.bytes += size;
                    p.stats.total_allocations += 1;
                    return Ok(buf);
                }
                Some(e) if attempt == 0 => {
                    // Give the cached buffers back to the driver and try once more.
                    let _ = e;
                    buf.destroy();
                    self.trim();
                }
                Some(e) => {
                    buf.destroy();
                    return Err(Error::OutOfMemory(format!(
                        "{op}: allocating {size} bytes on gpu:{} ({}): {e}",
                        self.index, self.info.name
                    )));
                }
            }
        }
        unreachable!("the loop returns on its second attempt")
    }

    /// A storage buffer of at least `bytes` bytes, from the pool when one is free.
    pub(crate) fn acquire(&self, op: &'static str, bytes: u64) -> Result<::wgpu::Buffer> {
        let class = self.size_class(op, bytes)?;
        {
            let mut p = lock(&self.pool);
            if let Some(b) = Pool::take(&mut p.free, class) {
                p.stats.free_buffers -= 1;
                p.stats.free_bytes -= class;
                return Ok(b);
            }
        }
        self.create(op, class, STORAGE_USAGE)
    }

    /// Returns a storage buffer to the pool (reusable once the pending batch is submitted).
    pub(crate) fn release(&self, buf: ::wgpu::Buffer) {
        lock(&self.pool).quarantine.push(buf);
    }

    /// A MAP_READ staging buffer of at least `bytes` bytes.
    pub(crate) fn acquire_staging(&self, bytes: u64) -> Result<::wgpu::Buffer> {
        let p = bytes.max(MIN_CLASS).next_power_of_two();
        let class = if p <= self.limits.max_buffer_size { p } else { bytes.div_ceil(MIN_CLASS) * MIN_CLASS };
        {
            let mut p = lock(&self.pool);
            if let Some(b) = Pool::take(&mut p.staging, class) {
                p.stats.free_buffers -= 1;
                p.stats.free_bytes -= class;
                return Ok(b);
            }
        }
        self.create("to", class, STAGING_USAGE)
    }

    /// Returns an unmapped staging buffer to the pool.
    pub(crate) fn release_staging(&self, buf: ::wgpu::Buffer) {
        let mut p = lock(&self.pool);
        p.stats.free_buffers += 1;
        p.stats.free_bytes += buf.size();
        p.staging.entry(buf.size()).or_default().push(buf);
    }

    /// The pool's counters.
    pub(crate) fn memory_stats(&self) -> GpuMemoryStats {
        lock(&self.pool).stats
    }

    /// Submits pending work and frees every cached buffer.
    pub(crate) fn empty_cache(&self) {
        self.flush();
        self.trim();
    }

    /// Frees every cached buffer, first dropping the cached bind groups that reference them.
    fn trim(&self) {
        lock(&self.bind_groups).clear();
        lock(&self.pool).trim();
    }
}
