//! Thread-local switches: gradient recording (`no_grad`, `enable_grad`) and anomaly detection.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

static ANOMALY: AtomicBool = AtomicBool::new(false);

/// True when ops on this thread record the graph (the default).
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

struct Restore(bool);

impl Drop for Restore {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.0));
    }
}

fn with_grad_mode<R>(enabled: bool, f: impl FnOnce() -> R) -> R {
    let prev = GRAD_ENABLED.with(|g| g.replace(enabled));
    let _restore = Restore(prev); // restored even if `f` panics
    f()
}

/// Runs `f` without recording the graph (PyTorch's `with torch.no_grad():`). Nests; thread-local.
///
/// ```
/// use ember_autograd::{no_grad, Variable};
/// use ember_tensor::Tensor;
/// let w = Variable::new(Tensor::ones(&[2]), true);
/// let y = no_grad(|| &w * 2.0);
/// assert!(!y.requires_grad());
/// ```
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    with_grad_mode(false, f)
}

/// Runs `f` with graph recording on, even inside [`no_grad`].
pub fn enable_grad<R>(f: impl FnOnce() -> R) -> R {
    with_grad_mode(true, f)
}

/// Turns anomaly detection on or off (process-wide). When on, the first backward rule that produces a
/// NaN or infinite gradient makes `backward` fail with an error naming the op.
pub fn detect_anomaly(on: bool) {
    ANOMALY.store(on, Ordering::SeqCst);
}

/// True while anomaly detection is on.
pub fn is_anomaly_enabled() -> bool {
    ANOMALY.load(Ordering::SeqCst)
}
