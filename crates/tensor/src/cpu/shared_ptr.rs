//! [`SharedPtr`]: one output buffer written by several threads at once, each in its own elements.

/// A raw pointer into an output buffer that the parallel parts of one kernel share, each part
/// writing only its own elements (disjoint column blocks of a product, chunks of an update), where
/// the parts are not contiguous slices that `split_at_mut` could hand out.
#[derive(Clone, Copy)]
pub(crate) struct SharedPtr<T>(pub(crate) *mut T);

// SAFETY: a `SharedPtr` is only dereferenced through the unsafe methods below, whose callers
// promise that no two threads touch the same element.
unsafe impl<T: Send> Send for SharedPtr<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for SharedPtr<T> {}

impl<T> SharedPtr<T> {
    /// The pointer `i` elements on (a method, so closures capture the whole `SharedPtr`).
    ///
    /// # Safety
    /// As `pointer::add`.
    pub(crate) unsafe fn add(self, i: usize) -> *mut T {
        // SAFETY: the caller's contract.
        unsafe { self.0.add(i) }
    }

    /// The elements `r` as a mutable slice.
    ///
    /// # Safety
    /// `r` lies in the buffer, and no other live reference covers any of its elements.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn slice(&self, r: std::ops::Range<usize>) -> &mut [T] {
        // SAFETY: the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(r.start), r.len()) }
    }
}
