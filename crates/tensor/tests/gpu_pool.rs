//! The buffer pool reuses freed buffers (alone in its test binary, so other tests' allocations do not
//! count).

mod gpu_util;

use ember_tensor::{gpu_empty_cache, gpu_memory_stats, Tensor};
use gpu_util::gpu;

#[test]
fn pool_reuses_buffers() {
    let Some(dev) = gpu() else { return };
    let x = Tensor::ones(&[4096]).to(&dev);
    let mut y = x.clone();
    // Warm-up: fills the pool with one submission's worth of buffers (with fusion these 1000 ops
    // are ~60 kernels, less than two batches, so a shorter warm-up would leave it half filled).
    for _ in 0..1000 {
        y = (&y * 0.5 + &x).exp().neg();
    }
    let _ = y.to_vec::<f32>();
    let before = gpu_memory_stats(dev).unwrap();
    for _ in 0..1000 {
        y = (&y * 0.5 + &x).tanh();
    }
    let _ = y.to_vec::<f32>();
    let after = gpu_memory_stats(dev).unwrap();
    // Without reuse the loop would allocate ~4000 buffers (outputs and kernel metadata).
    assert!(
        after.total_allocations - before.total_allocations < 20,
        "1000 ops allocated {} new buffers ({before:?} -> {after:?})",
        after.total_allocations - before.total_allocations
    );
    assert!(after.buffers <= before.buffers + 20, "{before:?} -> {after:?}");

    // Emptying the cache frees the free lists; live tensors keep their buffers. (One test, so the
    // two checks do not run in parallel on the shared pool.)
    drop(y);
    gpu_empty_cache(dev);
    let s = gpu_memory_stats(dev).unwrap();
    assert_eq!((s.free_buffers, s.free_bytes), (0, 0), "{s:?}");
    assert!(s.buffers >= 1, "x is still alive: {s:?}");
    assert!((x.exp().to_vec::<f32>()[0] - 1f32.exp()).abs() < 1e-6);
}
