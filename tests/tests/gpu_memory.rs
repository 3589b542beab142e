//! A long training loop on the GPU keeps a flat memory footprint (the buffer pool is reused) and a
//! flat host resident memory (VmRSS; on lavapipe this includes the "GPU" memory too): 10,000 steps
//! on every `cargo test`, and the GPU soak, `gpu_training_100k_steps_memory_is_flat`, an ignored
//! test of 100,000 steps (or `EMBER_GPU_SOAK_STEPS`) that `cargo xtask soak` runs in release and
//! `cargo xtask test` runs with 30,000 steps where a GPU is required (lavapipe runs the "GPU" on
//! the CPU, about 10 times slower than a real one: 100,000 steps would take minutes of CI time).
//! Alone in its own test binary: the pool's statistics are per device, so another test training
//! on the same device in a parallel thread would count its buffers in this loop's measurement.
//! Without an adapter it prints one skip line, unless `EMBER_REQUIRE_GPU=1`.

use std::sync::Mutex;

use ember::prelude::*;
use ember_tests::gpu;

#[test]
fn long_gpu_training_loop_reuses_its_buffers() {
    gpu_soak(10_000);
}

#[test]
#[ignore = "the GPU soak: run in release by `cargo xtask soak` (and `cargo xtask test` with a required GPU)"]
fn gpu_training_100k_steps_memory_is_flat() {
    let steps = std::env::var("EMBER_GPU_SOAK_STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    gpu_soak(steps);
}

/// Trains an MLP on the GPU for `steps` steps after a warm-up of 100; the pool's buffers and bytes
/// may not grow, nor host RSS by more than 16 MiB, and the loss must stay finite.
fn gpu_soak(steps: usize) {
    // the pool's statistics are per device: one loop at a time (`--include-ignored` runs both)
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(dev) = gpu() else { return };
    let start = std::time::Instant::now();
    ember::manual_seed(3);
    let model = nn::Sequential::new().add(nn::Linear::new(8, 16)).add(nn::Relu::new()).add(nn::Linear::new(16, 1));
    model.to_device(&dev);
    let mut opt = optim::Sgd::new(model.parameters(), 0.01).momentum(0.9);
    let x = Variable::from(Tensor::randn(&[32, 8]).to(&dev));
    let y = Variable::from(Tensor::randn(&[32, 1]).to(&dev));
    let mut step = || {
        let loss = nn::functional::mse_loss(&model.forward(&x), &y);
        opt.zero_grad();
        loss.backward();
        opt.step();
        loss
    };
    for _ in 0..100 {
        step();
    }
    let _ = step().data().item::<f32>(); // wait for the GPU
    let warm = ember::tensor::gpu_memory_stats(dev).expect("stats of a live GPU");
    let rss_warm = ember_tests::rss_bytes();
    let mut last = 0.0;
    for _ in 0..steps {
        last = step().data().item::<f32>();
    }
    let after = ember::tensor::gpu_memory_stats(dev).expect("stats of a live GPU");
    let rss_after = ember_tests::rss_bytes();
    assert!(last.is_finite());
    if let (Some(a), Some(b)) = (rss_warm, rss_after) {
        let mib = |v: u64| v as f64 / (1 << 20) as f64;
        println!(
            "GPU soak: {steps} steps in {:.1} s, loss {last:.4}, host RSS {:.2} -> {:.2} MiB, pool {warm:?} -> {after:?}",
            start.elapsed().as_secs_f64(),
            mib(a),
            mib(b)
        );
        assert!(
            b <= a + (16 << 20),
            "host resident memory grew over {steps} GPU steps: {:.2} -> {:.2} MiB",
            mib(a),
            mib(b)
        );
    }
    assert!(
        after.buffers <= warm.buffers + 8 && after.bytes <= warm.bytes + (1 << 16),
        "GPU memory grew over {steps} steps: {warm:?} -> {after:?}"
    );
}
