//! Rayon's workers pinned to distinct CPUs, once, before the first product split between them.
//!
//! Measured on the 2-core machine of `docs/performance.md` (`perf sched timehist`): in about half
//! of all processes both workers of rayon's pool ran on one CPU for the whole run while the other
//! stayed idle, so every split product ran its blocks one after the other (matmul-256 at 98-112
//! GFLOP/s instead of 180-210, mlp-step up to 5.6 ms instead of 3.3). An idle worker spins with
//! `sched_yield` between jobs, so it is never placed anew on waking, and the kernel's load
//! balancer does not move a task that ran within the last half millisecond (cache hot): a bad
//! placement lasts. Moving each worker once and giving its old affinity back did not help (the
//! same placement came back); pinning did, in every process measured. PyTorch's OpenMP team has
//! the same shape (the caller plus one spinning worker on two cores) without a third thread.
//!
//! Pinned only when the pool has at least 2 and at most as many workers as the process may use
//! CPUs (worker `i` to the `i`-th allowed CPU), and never a worker whose affinity already names
//! fewer CPUs than that (pinned by its owner). The calling threads are left alone.
//! `EMBER_NO_PIN=1` turns it off.

use std::sync::Once;

/// Pins each worker of the current rayon pool to its own allowed CPU, once per process (see the
/// module docs for when it does nothing).
pub fn pin_workers_once() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let workers = rayon::current_num_threads();
        if workers < 2 || std::env::var_os("EMBER_NO_PIN").is_some() {
            return;
        }
        // Queued, not waited for: a worker busy with someone else's long job pins itself when
        // it gets to this, and the product does not stall behind that job.
        rayon::spawn_broadcast(move |ctx| imp::pin_to_nth_allowed(ctx.index(), workers));
    });
}

#[cfg(target_os = "linux")]
mod imp {
    /// A `cpu_set_t` of 1024 CPUs (glibc's size).
    type CpuSet = [u64; 16];

    extern "C" {
        fn sched_getaffinity(pid: i32, size: usize, mask: *mut CpuSet) -> i32;
        fn sched_setaffinity(pid: i32, size: usize, mask: *const CpuSet) -> i32;
    }

    /// Pins the calling thread (worker `n` of `workers`) to the `n`-th CPU of its allowed set when
    /// that set has at least `workers` CPUs. Errors (a sandbox refusing the calls) leave the
    /// thread as it was.
    pub(super) fn pin_to_nth_allowed(n: usize, workers: usize) {
        let size = std::mem::size_of::<CpuSet>();
        let mut all: CpuSet = [0; 16];
        // SAFETY: `all` is a writable buffer of `size` bytes; pid 0 is the calling thread.
        if unsafe { sched_getaffinity(0, size, &mut all) } != 0 {
            return;
        }
        let cpus: Vec<usize> = (0..1024).filter(|&c| all[c / 64] >> (c % 64) & 1 == 1).collect();
        if cpus.len() < workers.max(2) {
            return;
        }
        let cpu = cpus[n];
        let mut one: CpuSet = [0; 16];
        one[cpu / 64] |= 1 << (cpu % 64);
        // SAFETY: `one` is a readable buffer of `size` bytes; pid 0 is the calling thread.
        unsafe { sched_setaffinity(0, size, &one) };
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    /// No affinity calls off Linux.
    pub(super) fn pin_to_nth_allowed(_n: usize, _workers: usize) {}
}
