//! Kernel metadata (shapes, strides, offsets, scalars) without a buffer per dispatch: a
//! [`Meta`] holds its words on the host until its dispatch is recorded, when they are staged into
//! the pending batch's [`Arena`]; the submission writes the whole arena with one
//! `Queue::write_buffer` into one device buffer that every dispatch of the batch binds at its own
//! offset. The queue orders that write after the previous submission and before this one, so
//! the next batch reuses the same buffer (and the same offsets, when it records the same
//! dispatches: their cached bind groups serve it, `bind_cache.rs`).
//!
//! A batch whose metadata would outgrow the arena is submitted first; a dispatch whose own
//! metadata is larger than the arena grows it (a new buffer, the next power of two). The
//! initial size is [`ARENA_BYTES`], or `EMBER_GPU_ARENA_BYTES` (tests set it small to exercise
//! both paths).

/// The arena's initial size in bytes: 32 dispatches of a few hundred bytes each fit many times.
pub(crate) const ARENA_BYTES: u64 = 64 * 1024;

/// The least bytes a metadata slot binds (as the pool's smallest buffer did before): kernels
/// never see a binding shorter than this.
const MIN_SLOT: u64 = 256;

/// Host-side metadata of one dispatch (a multiple of 4 bytes), bound as a read-only storage
/// buffer.
pub(crate) struct Meta(Vec<u8>);

impl Meta {
    /// Metadata of `words`.
    pub(crate) fn words(words: &[u32]) -> Meta {
        Meta(bytemuck::cast_slice(words).to_vec())
    }

    /// Metadata of `bytes` (scalars of any width; the length is padded to a multiple of 4).
    pub(crate) fn bytes(mut bytes: Vec<u8>) -> Meta {
        bytes.resize(bytes.len().next_multiple_of(4), 0);
        Meta(bytes)
    }
}

/// What one binding of a dispatch is: a device buffer bound whole, or metadata to stage.
pub(crate) enum Bound<'a> {
    /// A device buffer (a tensor's storage, a pooled scratch buffer).
    Buffer(&'a ::wgpu::Buffer),
    /// Metadata bytes, staged into the arena.
    Meta(&'a [u8]),
}

/// Anything a dispatch can bind (see [`Bound`]).
pub(crate) trait Binding {
    /// This binding's kind and contents.
    fn bound(&self) -> Bound<'_>;
}

impl Binding for ::wgpu::Buffer {
    fn bound(&self) -> Bound<'_> {
        Bound::Buffer(self)
    }
}

impl Binding for Meta {
    fn bound(&self) -> Bound<'_> {
        Bound::Meta(&self.0)
    }
}

/// The bytes a slot of `len` metadata bytes takes at alignment `align`.
pub(crate) fn slot_size(len: usize, align: u64) -> u64 {
    (len as u64).max(MIN_SLOT).next_multiple_of(align.max(4))
}

/// The pending batch's metadata: staged bytes, the device buffer they go to, its capacity.
#[derive(Default)]
pub(crate) struct Arena {
    pub(crate) staged: Vec<u8>,
    pub(crate) buffer: Option<::wgpu::Buffer>,
    pub(crate) capacity: u64,
}

impl Arena {
    /// Whether `need` more bytes fit after the staged ones.
    pub(crate) fn fits(&self, need: u64) -> bool {
        self.staged.len() as u64 + need <= self.capacity
    }

    /// Stages `data` in a slot of `slot` bytes; returns its offset (the caller checked [`fits`]
    /// and keeps offsets aligned: every slot size is a multiple of the alignment).
    ///
    /// [`fits`]: Arena::fits
    pub(crate) fn place(&mut self, data: &[u8], slot: u64) -> u64 {
        let offset = self.staged.len();
        self.staged.extend_from_slice(data);
        self.staged.resize(offset + slot as usize, 0);
        offset as u64
    }
}

/// The arena's initial capacity: [`ARENA_BYTES`] or `EMBER_GPU_ARENA_BYTES`.
pub(crate) fn initial_capacity() -> u64 {
    std::env::var("EMBER_GPU_ARENA_BYTES").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(ARENA_BYTES).max(MIN_SLOT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_aligned_and_at_least_the_minimum() {
        assert_eq!(slot_size(4, 32), 256);
        assert_eq!(slot_size(300, 32), 320);
        assert_eq!(slot_size(300, 256), 512);
        assert_eq!(slot_size(0, 1), 256);
    }

    #[test]
    fn placing_stages_padded_slots_back_to_back() {
        let mut a = Arena { capacity: 1024, ..Arena::default() };
        assert!(a.fits(1024) && !a.fits(1025));
        assert_eq!(a.place(&[1, 2, 3, 4], 256), 0);
        assert_eq!(a.place(&[5; 8], 256), 256);
        assert_eq!(a.staged.len(), 512);
        assert_eq!(&a.staged[256..264], &[5; 8]);
        assert!(a.staged[4..256].iter().all(|&b| b == 0));
        assert!(a.fits(512) && !a.fits(513));
        assert_eq!(Meta::bytes(vec![1, 2, 3, 4, 5]).0.len(), 8);
        assert_eq!(Meta::words(&[7, 8]).0, vec![7, 0, 0, 0, 8, 0, 0, 0]);
    }
}
