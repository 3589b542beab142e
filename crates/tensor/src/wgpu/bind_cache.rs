//! The bind-group cache: a bind group is looked up by its layout (the read-only pattern that keys the
//! layout in `pipeline.rs`) and its buffers, and created only when that combination is new. Pooled
//! buffers come back to the same tensors step after step (the pool hands out the most recently
//! freed buffer of a class first), so a training loop's dispatches find their bind groups here from
//! the second step on and the host skips the driver's descriptor allocation and wgpu's validation.
//!
//! A cached bind group holds its buffers alive; every bound buffer belongs to the pool, which never
//! drops one except when it frees its cache (`Pool::trim`), so [`BindGroupCache::clear`] runs there.
//! The cache is bounded: at [`CAPACITY`] entries it starts over.

use std::collections::HashMap;

use smallvec::SmallVec;

/// Bind groups kept at most (a training step binds a few hundred combinations at most).
pub(crate) const CAPACITY: usize = 4096;

/// What identifies a bind group: the layout's read-only pattern and the buffers in binding order.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    read_only: SmallVec<[bool; 8]>,
    /// (buffer, offset, size; 0 = the whole buffer) per binding.
    buffers: SmallVec<[(::wgpu::Buffer, u64, u64); 8]>,
}

/// Bind groups by layout and buffers (misses are counted by `counters::count_bind_group`).
#[derive(Default)]
pub(crate) struct BindGroupCache {
    map: HashMap<Key, ::wgpu::BindGroup>,
}

impl BindGroupCache {
    /// The bind group of `buffers` (each with its offset and size, 0 for the whole buffer) for the
    /// layout of `read_only`, made by `create` when new.
    pub(crate) fn get_or_create(
        &mut self,
        read_only: &[bool],
        buffers: &[(&::wgpu::Buffer, u64, u64)],
        create: impl FnOnce() -> ::wgpu::BindGroup,
    ) -> ::wgpu::BindGroup {
        let key = Key {
            read_only: read_only.iter().copied().collect(),
            buffers: buffers.iter().map(|&(b, o, s)| (b.clone(), o, s)).collect(),
        };
        if let Some(bg) = self.map.get(&key) {
            return bg.clone();
        }
        if self.map.len() >= CAPACITY {
            self.map.clear();
        }
        let bg = create();
        self.map.insert(key, bg.clone());
        bg
    }

    /// Drops every cached bind group (and with them the references to their buffers).
    pub(crate) fn clear(&mut self) {
        self.map.clear();
    }
}
