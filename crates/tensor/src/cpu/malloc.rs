//! Optional settings of the C allocator for tensor workloads (glibc on Linux only), off unless
//! asked for: `EMBER_MALLOC_TUNE=1` in the environment, or a call to [`tune_malloc`].
//!
//! A training step frees and re-allocates the same few-MiB buffers every step. glibc's defaults
//! return such memory to the kernel almost at once: blocks above its (adaptive) mmap threshold are
//! unmapped on free, and the top of every thread's heap is trimmed past 128 KiB, so the next step
//! page-faults the same memory back in, and each unmap of a multi-threaded process interrupts the
//! other cores to flush their TLBs. Measured on the cnn-step benchmark (2 cores, when Ember applied
//! the settings by default): 27 ms per step with glibc's defaults, 18 ms with the settings below,
//! in alternating runs (`docs/performance.md`).
//!
//! The settings raise the mmap threshold to its maximum (32 MiB: larger blocks still map and unmap
//! directly) and the trim threshold to 512 MiB (freed memory up to that much is kept for reuse;
//! peak RSS is unchanged). They change the whole process's allocator, which is the application's
//! business, not a library's: so Ember leaves it alone unless told. Other allocators (musl, a
//! `#[global_allocator]`) are never touched: `mallopt` only configures glibc's own malloc.

use std::sync::Once;

static TUNED: Once = Once::new();
static FROM_ENV: Once = Once::new();

/// Called when the first CPU tensor is made: applies the settings if `EMBER_MALLOC_TUNE=1` is set
/// (a no-op after the first call, and off glibc).
#[inline]
pub fn tune_once() {
    FROM_ENV.call_once(|| {
        if std::env::var("EMBER_MALLOC_TUNE").is_ok_and(|v| v == "1") {
            tune_malloc();
        }
    });
}

/// Tunes glibc's malloc for training loops that free and re-allocate large buffers every step
/// (the mmap threshold raised to 32 MiB, the trim threshold to 512 MiB), once per process; the
/// same as setting `EMBER_MALLOC_TUNE=1`. Returns true when the settings were applied (glibc on
/// Linux), false elsewhere. Call it at the start of `main`, before the allocations it should
/// affect.
///
/// ```
/// // worth about a third of a CNN training step on 2 cores (docs/performance.md)
/// let tuned = ember_tensor::tune_malloc();
/// assert_eq!(tuned, cfg!(all(target_os = "linux", target_env = "gnu")));
/// ```
pub fn tune_malloc() -> bool {
    TUNED.call_once(apply);
    cfg!(all(target_os = "linux", target_env = "gnu"))
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn apply() {
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
