//! Lazy submission: dispatches are recorded into one pending `CommandEncoder` and submitted when a
//! result is read back, or every [`MAX_PENDING`] dispatches so the GPU starts early on long op
//! chains. Reads go through pooled MAP_READ staging buffers.
//!
//! Host work per dispatch is kept small: consecutive dispatches share one compute pass (a buffer
//! copy or the submission ends it; wgpu still orders each dispatch after the writes it reads), and
//! bind groups come from the cache of `bind_cache.rs`. With `EMBER_GPU_PROFILE=1` each dispatch gets
//! its own pass, which carries its timestamps.

use smallvec::SmallVec;

use super::context::{lock, Context};
use super::meta::{slot_size, Arena, Binding, Bound};
use super::pipeline::{KernelSpec, Pipeline};
use crate::{Error, Result};

/// Dispatches recorded before the batch is submitted.
pub(crate) const MAX_PENDING: usize = 32;

/// The pending commands of one context.
#[derive(Default)]
pub(crate) struct Batch {
    /// The open compute pass of `encoder` (declared first: it ends before the encoder drops).
    pass: Option<::wgpu::ComputePass<'static>>,
    encoder: Option<::wgpu::CommandEncoder>,
    ops: usize,
    /// The metadata of the recorded dispatches (`meta.rs`), written at submission.
    arena: Arena,
}

impl Context {
    /// The pending encoder, with its compute pass ended (for copies, resolves and finishing).
    fn encoder<'a>(&self, b: &'a mut Batch) -> &'a mut ::wgpu::CommandEncoder {
        b.pass = None;
        b.encoder.get_or_insert_with(|| {
            self.device.create_command_encoder(&::wgpu::CommandEncoderDescriptor { label: Some("ember") })
        })
    }

    /// The open compute pass of the pending encoder, begun when there is none; `timestamps` (when
    /// profiling) always begins a pass of its own, which the caller ends after its one dispatch.
    fn pass<'a>(
        &self,
        b: &'a mut Batch,
        timestamps: Option<::wgpu::ComputePassTimestampWrites<'_>>,
    ) -> &'a mut ::wgpu::ComputePass<'static> {
        if b.pass.is_none() || timestamps.is_some() {
            let enc = self.encoder(b);
            let pass = enc.begin_compute_pass(&::wgpu::ComputePassDescriptor {
                label: Some("ember"),
                timestamp_writes: timestamps,
            });
            super::counters::count_pass();
            b.pass = Some(pass.forget_lifetime());
        }
        b.pass.as_mut().expect("a pass was just begun")
    }

    fn submit(&self, b: &mut Batch) {
        b.pass = None;
        if let (Some(buf), false) = (&b.arena.buffer, b.arena.staged.is_empty()) {
            self.queue.write_buffer(buf, 0, &b.arena.staged);
            b.arena.staged.clear();
        }
        let mut profiler = self.profiler.as_ref().map(lock);
        if let (Some(p), Some(enc)) = (profiler.as_mut(), b.encoder.as_mut()) {
            p.resolve(enc);
        }
        let cmd = b.encoder.take().map(|e| e.finish());
        if cmd.is_some() {
            super::counters::count_submission();
        }
        self.queue.submit(cmd);
        b.ops = 0;
        lock(&self.pool).after_submit();
        if let Some(p) = profiler.as_mut() {
            self.collect_profile(p);
        }
    }

    /// Submits the pending batch (if any) without waiting for it.
    pub(crate) fn flush(&self) {
        let mut b = lock(&self.batch);
        self.submit(&mut b);
    }

    /// Workgroup counts covering `groups` workgroups, split over x and y when above the device's
    /// per-dimension limit (kernels rebuild the linear index from `num_workgroups`).
    pub(crate) fn grid(&self, op: &'static str, groups: u32) -> Result<[u32; 3]> {
        let max = self.limits.max_compute_workgroups_per_dimension.max(1);
        if groups <= max {
            return Ok([groups, 1, 1]);
        }
        let y = groups.div_ceil(max);
        if y > max {
            return Err(Error::InvalidArgument {
                op,
                msg: format!("{groups} workgroups exceed the dispatch limit of gpu:{} ({max} x {max})", self.index),
            });
        }
        Ok([max, y, 1])
    }

    /// A read-only storage buffer holding `words` (metadata, scalar parameters).
    pub(crate) fn upload_words(&self, op: &'static str, words: &[u32]) -> Result<::wgpu::Buffer> {
        self.upload_bytes(op, bytemuck::cast_slice(words))
    }

    /// A storage buffer holding `bytes` (length a multiple of 4), from the pool.
    pub(crate) fn upload_bytes(&self, op: &'static str, bytes: &[u8]) -> Result<::wgpu::Buffer> {
        let buf = self.acquire(op, bytes.len() as u64)?;
        if !bytes.is_empty() {
            self.queue.write_buffer(&buf, 0, bytes);
        }
        Ok(buf)
    }

    /// Makes room for `need` bytes of metadata in the batch's arena: submits the batch when they
    /// would not fit after its staged bytes, and grows the arena when they exceed it.
    fn reserve(&self, b: &mut Batch, need: u64) {
        if b.arena.capacity == 0 {
            b.arena.capacity = super::meta::initial_capacity();
        }
        if need > 0 && !b.arena.fits(need) {
            self.submit(b);
        }
        if need > b.arena.capacity {
            b.arena.capacity = need.next_power_of_two();
            b.arena.buffer = None;
        }
        if need > 0 && b.arena.buffer.is_none() {
            b.arena.buffer = Some(self.device.create_buffer(&::wgpu::BufferDescriptor {
                label: Some("ember metadata"),
                size: b.arena.capacity,
                usage: ::wgpu::BufferUsages::STORAGE | ::wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }));
        }
    }

    /// Records one dispatch of `spec` over `grid` workgroups with `bindings` bound in order:
    /// buffers whole, metadata at its slot of the batch's arena.
    pub(crate) fn dispatch(&self, spec: &KernelSpec<'_>, bindings: &[&dyn Binding], grid: [u32; 3]) {
        debug_assert_eq!(bindings.len(), spec.read_only.len());
        let Pipeline { pipeline, layout } = self.pipeline(spec);
        let align = u64::from(self.limits.min_storage_buffer_offset_alignment);
        let mut b = lock(&self.batch);
        let need: u64 = bindings
            .iter()
            .map(|x| match x.bound() {
                Bound::Meta(m) => slot_size(m.len(), align),
                Bound::Buffer(_) => 0,
            })
            .sum();
        self.reserve(&mut b, need);
        let mut placed: SmallVec<[(u64, u64); 8]> = SmallVec::new();
        for x in bindings {
            placed.push(match x.bound() {
                Bound::Meta(m) => {
                    let slot = slot_size(m.len(), align);
                    (b.arena.place(m, slot), slot)
                }
                Bound::Buffer(_) => (0, 0),
            });
        }
        let resolved: SmallVec<[(&::wgpu::Buffer, u64, u64); 8]> = bindings
            .iter()
            .zip(&placed)
            .map(|(x, &(offset, size))| match x.bound() {
                Bound::Buffer(buf) => (buf, 0, 0),
                Bound::Meta(_) => (b.arena.buffer.as_ref().expect("reserved above"), offset, size),
            })
            .collect();
        let bg = lock(&self.bind_groups).get_or_create(spec.read_only, &resolved, || {
            super::counters::count_bind_group();
            let entries: Vec<::wgpu::BindGroupEntry> = resolved
                .iter()
                .enumerate()
                .map(|(i, &(buf, offset, size))| ::wgpu::BindGroupEntry {
                    binding: i as u32,
                    resource: if size == 0 {
                        buf.as_entire_binding()
                    } else {
                        ::wgpu::BindingResource::Buffer(::wgpu::BufferBinding {
                            buffer: buf,
                            offset,
                            size: ::wgpu::BufferSize::new(size),
                        })
                    },
                })
                .collect();
            self.device.create_bind_group(&::wgpu::BindGroupDescriptor {
                label: Some(spec.entry),
                layout: &layout,
                entries: &entries,
            })
        });
        drop(resolved);
        {
            let slot = b.ops;
            let mut profiler = self.profiler.as_ref().map(lock);
            let timestamps = profiler.as_mut().map(|p| p.writes(slot, format!("{}: {}", spec.module, spec.entry)));
            let own_pass = timestamps.is_some();
            let pass = self.pass(&mut b, timestamps);
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bg, &[]);
            pass.dispatch_workgroups(grid[0], grid[1], grid[2]);
            if own_pass {
                b.pass = None;
            }
        }
        b.ops += 1;
        super::counters::count_dispatch(spec.module, spec.entry);
        if b.ops >= MAX_PENDING {
            self.submit(&mut b);
        }
    }

    /// Records a copy of `len` bytes from `src` at `src_offset` to `dst` at `dst_offset`, in
    /// order with the dispatches (a copy command, not a dispatch; offsets and `len` multiples of 4).
    pub(crate) fn copy_buffer(
        &self,
        src: &::wgpu::Buffer,
        src_offset: u64,
        dst: &::wgpu::Buffer,
        dst_offset: u64,
        len: u64,
    ) {
        if len > 0 {
            let mut b = lock(&self.batch);
            self.encoder(&mut b).copy_buffer_to_buffer(src, src_offset, dst, dst_offset, len);
        }
    }

    /// Copies `len` bytes from `offset` of `buf` back to the host (submitting pending work first).
    pub(crate) fn read(&self, buf: &::wgpu::Buffer, offset: u64, len: u64) -> Result<Vec<u8>> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let staging = self.acquire_staging(len)?;
        {
            let mut b = lock(&self.batch);
            self.encoder(&mut b).copy_buffer_to_buffer(buf, offset, &staging, 0, len);
            self.submit(&mut b);
        }
        let (tx, rx) = std::sync::mpsc::channel();
        staging.slice(..len).map_async(::wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        let dev_err =
            |e: String| Error::Device(format!("gpu:{} ({}): reading a buffer: {e}", self.index, self.info.name));
        self.device.poll(::wgpu::PollType::wait_indefinitely()).map_err(|e| dev_err(e.to_string()))?;
        rx.recv().map_err(|e| dev_err(e.to_string()))?.map_err(|e| dev_err(e.to_string()))?;
        let out = {
            let view = staging.slice(..len).get_mapped_range().map_err(|e| dev_err(e.to_string()))?;
            view.to_vec()
        };
        staging.unmap();
        self.release_staging(staging);
        Ok(out)
    }

    /// Waits until every submitted dispatch has finished.
    pub(crate) fn synchronize(&self) -> Result<()> {
        self.flush();
        self.device
            .poll(::wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| Error::Device(format!("gpu:{} ({}): {e}", self.index, self.info.name)))
    }
}
