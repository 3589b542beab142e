//! A 10,000-step training loop on the GPU keeps a flat memory footprint (the buffer pool is reused)
//! and a flat host resident memory (VmRSS; on lavapipe this includes the "GPU" memory too).
//! Alone in its own test binary: the pool's statistics are per device, so another test training
//! on the same device in a parallel thread would count its buffers in this loop's measurement.
//! Without an adapter it prints one skip line, unless `EMBER_REQUIRE_GPU=1`.

use ember::prelude::*;
use ember_tests::gpu;

#[test]
fn long_gpu_training_loop_reuses_its_buffers() {
    let Some(dev) = gpu() else { return };
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
    for _ in 0..10_000 {
        last = step().data().item::<f32>();
    }
    let after = ember::tensor::gpu_memory_stats(dev).expect("stats of a live GPU");
    let rss_after = ember_tests::rss_bytes();
    assert!(last.is_finite());
    if let (Some(a), Some(b)) = (rss_warm, rss_after) {
        let mib = |v: u64| v as f64 / (1 << 20) as f64;
        println!("host RSS over 10,000 GPU steps: {:.2} -> {:.2} MiB", mib(a), mib(b));
        assert!(
            b <= a + (16 << 20),
            "host resident memory grew over 10,000 GPU steps: {:.2} -> {:.2} MiB",
            mib(a),
            mib(b)
        );
    }
    assert!(
        after.buffers <= warm.buffers + 8 && after.bytes <= warm.bytes + (1 << 16),
        "GPU memory grew over 10,000 steps: {warm:?} -> {after:?}"
    );
}
