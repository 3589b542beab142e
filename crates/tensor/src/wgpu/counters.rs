//! A process-wide count of recorded GPU dispatches (every `Context::dispatch`), read through
//! [`crate::gpu_dispatch_count`]: what the fusion tests and the step budgets count.

use std::sync::atomic::{AtomicU64, Ordering};

static DISPATCHES: AtomicU64 = AtomicU64::new(0);

/// Counts one recorded dispatch.
pub(crate) fn count_dispatch() {
    DISPATCHES.fetch_add(1, Ordering::Relaxed);
}

/// Dispatches recorded since the process started, over every device.
pub(crate) fn dispatches() -> u64 {
    DISPATCHES.load(Ordering::Relaxed)
}
