//! The C allocator's settings for tensor workloads (glibc on Linux only).
//!
//! A training step frees and re-allocates the same few-MiB buffers every step. glibc's defaults
//! return such memory to the kernel almost at once: blocks above its (adaptive) mmap threshold are
//! unmapped on free, and the top of every thread's heap is trimmed past 128 KiB, so the next step
//! page-faults the same memory back in, and each unmap of a multi-threaded process interrupts the
//! other cores to flush their TLBs. Measured on the cnn-step benchmark (2 cores): 27 ms per step
//! with the defaults, 18 ms with the settings below, in alternating runs.
//!
//! So, once, when the first CPU tensor is made, Ember raises the mmap threshold to its maximum
//! (32 MiB: larger blocks still map and unmap directly) and the trim threshold to 512 MiB (freed
//! memory up to that much is kept for reuse; peak RSS is unchanged). `EMBER_MALLOC_TUNING=0`
//! leaves the allocator alone. Other allocators (musl, a `#[global_allocator]`) are not touched:
//! `mallopt` only configures glibc's own malloc.

use std::sync::Once;

static TUNED: Once = Once::new();

/// Applies the settings once per process (a no-op after the first call, and off glibc).
#[inline]
pub fn tune_once() {
    TUNED.call_once(apply);
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn apply() {
    if std::env::var("EMBER_MALLOC_TUNING").is_ok_and(|v| v == "0") {
        return;
    }
    // glibc's <malloc.h>
    const M_TRIM_THRESHOLD: i32 = -1;
    const M_MMAP_THRESHOLD: i32 = -3;
    extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
    }
    // SAFETY: mallopt only changes glibc malloc's tuning parameters; any value is accepted or
    // rejected (returning 0) by glibc itself, and it is safe to call while other threads allocate.
    unsafe {
        mallopt(M_MMAP_THRESHOLD, 32 << 20);
        mallopt(M_TRIM_THRESHOLD, 512 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply() {}
