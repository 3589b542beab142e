//! The metadata arena of the GPU backend (`crates/tensor/src/wgpu/meta.rs`) under pressure: this
//! binary sets `EMBER_GPU_ARENA_BYTES` to 300 before the GPU is first used, so the arena holds one
//! metadata slot. Every dispatch with metadata then submits the batch before it (the staged
//! words of the earlier dispatches must reach the device first), and every dispatch with two
//! metadata bindings (the optimizer's fused map: offsets and scalars) needs more than the arena
//! holds: the first such dispatch grows it (to the next power of two, two slots). A few
//! training steps (forward, cross-entropy, backward, Adam; matmuls, reductions, fused maps,
//! copies) must still give the CPU's losses, and the counters must show the extra submissions.
//! Without an adapter the test prints one skip line, unless `EMBER_REQUIRE_GPU=1`.

use ember::prelude::*;
use ember::tensor::gpu_counters;
use ember_tests::gpu;

fn losses(device: &Device, init: &[(String, Tensor)], x: &Tensor, y: &Tensor) -> Vec<f32> {
    let model = nn::Sequential::new()
        .add(nn::Linear::new(37, 29))
        .add(nn::Relu::new())
        .add(nn::Linear::new(29, 5))
        .add(nn::LogSoftmax::new(-1));
    model.load_state_dict(init).expect("same architecture");
    model.to_device(device);
    let mut opt = optim::Adam::new(model.parameters(), 1e-2);
    let (x, y) = (Variable::from(x.to(device)), Variable::from(y.to(device)));
    (0..4)
        .map(|_| {
            let out = model.forward(&x);
            let loss = nn::functional::nll_loss(&out, &y) + out.sum() * 1e-3;
            opt.zero_grad();
            loss.backward();
            opt.step();
            loss.data().item::<f32>()
        })
        .collect()
}

#[test]
fn a_one_slot_arena_flushes_and_grows_and_keeps_results_right() {
    // Before any GPU use in this process (the context reads it once).
    std::env::set_var("EMBER_GPU_ARENA_BYTES", "300");
    let Some(dev) = gpu() else { return };
    ember::manual_seed(7);
    let init = nn::Sequential::new()
        .add(nn::Linear::new(37, 29))
        .add(nn::Relu::new())
        .add(nn::Linear::new(29, 5))
        .add(nn::LogSoftmax::new(-1))
        .state_dict();
    let (x, y) = (Tensor::randn(&[13, 37]), Tensor::randint(0, 5, &[13]));
    let cpu = losses(&Device::Cpu, &init, &x, &y);
    let before = gpu_counters();
    let gpu_losses = losses(&dev, &init, &x, &y);
    let counts = gpu_counters() - before;
    for (i, (a, b)) in cpu.iter().zip(&gpu_losses).enumerate() {
        assert!((a - b).abs() <= 1e-4 * (1.0 + a.abs()), "step {i}: cpu loss {a}, gpu loss {b}");
    }
    println!("4 steps with a one-slot arena: {counts:?}");
    // With the default arena a step submits twice (a readback and the end of the step); with one
    // slot nearly every dispatch ends a batch.
    assert!(
        counts.submissions * 2 >= counts.dispatches,
        "expected a submission for about every dispatch with metadata: {counts:?}"
    );
}
