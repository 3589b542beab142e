//! Dispatch, submission, compute-pass and bind-group counters: relaxed atomics bumped where a
//! dispatch is recorded, a batch submitted, a pass begun and a bind group created (`encoder.rs`), so
//! counting costs one atomic add per event. A
//! per-kernel tally (a mutex and a map, for finding which kernels a step issues) is kept only while
//! switched on with [`set_tally`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use super::context::lock;

static DISPATCHES: AtomicU64 = AtomicU64::new(0);
static SUBMISSIONS: AtomicU64 = AtomicU64::new(0);
static PASSES: AtomicU64 = AtomicU64::new(0);
static BIND_GROUPS: AtomicU64 = AtomicU64::new(0);
static TALLY_ON: AtomicBool = AtomicBool::new(false);

fn tally() -> &'static Mutex<HashMap<String, u64>> {
    static TALLY: OnceLock<Mutex<HashMap<String, u64>>> = OnceLock::new();
    TALLY.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Counts one recorded dispatch of kernel `entry` of shader module `module`.
pub(crate) fn count_dispatch(module: &str, entry: &str) {
    DISPATCHES.fetch_add(1, Ordering::Relaxed);
    if TALLY_ON.load(Ordering::Relaxed) {
        *lock(tally()).entry(format!("{module}: {entry}")).or_insert(0) += 1;
    }
}

/// Counts one submission of a command buffer to a queue.
pub(crate) fn count_submission() {
    SUBMISSIONS.fetch_add(1, Ordering::Relaxed);
}

/// Counts one compute pass begun.
pub(crate) fn count_pass() {
    PASSES.fetch_add(1, Ordering::Relaxed);
}

/// Counts one bind group created (a miss of the bind-group cache).
pub(crate) fn count_bind_group() {
    BIND_GROUPS.fetch_add(1, Ordering::Relaxed);
}

/// Dispatches, submissions, compute passes and bind groups created since the process started,
/// over every GPU device.
pub(crate) fn totals() -> [u64; 4] {
    [&DISPATCHES, &SUBMISSIONS, &PASSES, &BIND_GROUPS].map(|c| c.load(Ordering::Relaxed))
}

/// Switches the per-kernel tally on or off (it keeps its counts either way).
pub(crate) fn set_tally(on: bool) {
    TALLY_ON.store(on, Ordering::Relaxed);
}

/// The per-kernel tally, most dispatches first (ties by name), and clears it.
pub(crate) fn take_tally() -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = lock(tally()).drain().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}
