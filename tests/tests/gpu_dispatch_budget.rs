//! The dispatch budgets of issue 18: after two warm-up steps, one mlp-step (Linear 784-512-512-10,
//! ReLU, batch 128, cross-entropy, Adam) issues at most 20 GPU dispatches and one cnn-step (the
//! CNN of the benchmarks, batch 64, SGD with momentum) at most 30 (the budgets; this build
//! issues 18 and 28, and the cnn-step assertion holds it to 28) in one submission, and both give
//! the CPU's losses.
//! Counts come from `ember::tensor::gpu_counters` (process-wide), so the steps run in one test,
//! one after the other; the per-kernel tally is printed for finding what a step spends.
//! Without an adapter the test prints one skip line, unless `EMBER_REQUIRE_GPU=1`.

use ember::prelude::*;
use ember::tensor::{gpu_counters, gpu_dispatch_tally, set_gpu_dispatch_tally, GpuCounters};
use ember_tests::gpu;

/// The mlp-step model (bench/src/workloads.rs).
fn mlp() -> nn::Sequential {
    nn::Sequential::new()
        .add(nn::Linear::new(784, 512))
        .add(nn::Relu::new())
        .add(nn::Linear::new(512, 512))
        .add(nn::Relu::new())
        .add(nn::Linear::new(512, 10))
}

/// The cnn-step model (bench/src/workloads.rs).
fn cnn() -> nn::Sequential {
    nn::Sequential::new()
        .add(nn::Conv2d::new(1, 16, 3).padding(1))
        .add(nn::Relu::new())
        .add(nn::MaxPool2d::new(2))
        .add(nn::Conv2d::new(16, 32, 3).padding(1))
        .add(nn::Relu::new())
        .add(nn::MaxPool2d::new(2))
        .add(nn::Flatten::new())
        .add(nn::Linear::new(1568, 128))
        .add(nn::Relu::new())
        .add(nn::Linear::new(128, 10))
}

type MakeOpt = dyn Fn(Vec<Variable>) -> Box<dyn Optimizer>;

/// Two training steps of `make()` from `init` on `device`: the losses, and the GPU work of the
/// second step (the first warms caches: pipelines, optimizer state).
fn two_steps(
    device: &Device,
    make: &dyn Fn() -> nn::Sequential,
    init: &[(String, Tensor)],
    opt: &MakeOpt,
    x: &Tensor,
    y: &Tensor,
) -> ([f32; 2], GpuCounters, Vec<(String, u64)>) {
    let model = make();
    model.load_state_dict(init).expect("same architecture");
    model.to_device(device);
    let mut opt = opt(model.parameters());
    let (x, y) = (Variable::from(x.to(device)), Variable::from(y.to(device)));
    let mut step = || {
        let loss = nn::functional::cross_entropy(&model.forward(&x), &y);
        opt.zero_grad();
        loss.backward();
        opt.step();
        loss.data().item::<f32>()
    };
    let first = step();
    // A second warm-up step: the first step's plain updates (before any momentum buffer exists) are
    // pending fused expressions computed when the next step first reads the parameters, so the
    // steady state starts at the third step.
    let _ = step();
    let before = gpu_counters();
    set_gpu_dispatch_tally(true);
    let _ = gpu_dispatch_tally();
    let second = step();
    set_gpu_dispatch_tally(false);
    ([first, second], gpu_counters() - before, gpu_dispatch_tally())
}

/// Runs one workload on the CPU and the GPU; returns the GPU's dispatches for its second step.
fn check(name: &str, make: &dyn Fn() -> nn::Sequential, opt: &MakeOpt, x: &Tensor, y: &Tensor) -> u64 {
    let dev = gpu().expect("checked by the caller");
    let init = make().state_dict();
    let (cpu, _, _) = two_steps(&Device::Cpu, make, &init, opt, x, y);
    let (gpu_loss, counts, tally) = two_steps(&dev, make, &init, opt, x, y);
    println!(
        "{name}: {} dispatches, {} submissions, {} compute passes, {} bind groups created per step",
        counts.dispatches, counts.submissions, counts.passes, counts.bind_groups
    );
    for (kernel, n) in &tally {
        println!("  {n:>4}  {kernel}");
    }
    for (i, (a, b)) in cpu.iter().zip(&gpu_loss).enumerate() {
        assert!((a - b).abs() <= 1e-4 * (1.0 + a.abs()), "{name}: step {i}: cpu loss {a}, gpu loss {b}");
    }
    assert_eq!(tally.iter().map(|t| t.1).sum::<u64>(), counts.dispatches, "{name}: the tally counts every dispatch");
    // Consecutive dispatches share a compute pass: a step's passes are ended only by its
    // submissions and buffer copies (the optimizer packing its gradients), not one per dispatch.
    assert!(counts.passes <= 3, "{name}: {} compute passes for {} dispatches", counts.passes, counts.dispatches);
    // One submission per step: the loss's readback at its end. The targets were uploaded from host
    // memory, so the cross-entropy's target check is decided on the host (no mid-step readback).
    assert_eq!(counts.submissions, 1, "{name}: {} submissions per step", counts.submissions);
    counts.dispatches
}

#[test]
fn mlp_and_cnn_steps_keep_to_their_dispatch_budgets() {
    if gpu().is_none() {
        return;
    }
    ember::manual_seed(18);
    let adam = |p: Vec<Variable>| Box::new(optim::Adam::new(p, 1e-3)) as Box<dyn Optimizer>;
    let sgd = |p: Vec<Variable>| Box::new(optim::Sgd::new(p, 0.01).momentum(0.9)) as Box<dyn Optimizer>;
    let (x, y) = (Tensor::randn(&[128, 784]), Tensor::randint(0, 10, &[128]));
    let mlp_dispatches = check("mlp-step", &mlp, &adam, &x, &y);
    let (x, y) = (Tensor::randn(&[64, 1, 28, 28]), Tensor::randint(0, 10, &[64]));
    let cnn_dispatches = check("cnn-step", &cnn, &sgd, &x, &y);
    assert!(mlp_dispatches <= 20, "mlp-step issues {mlp_dispatches} dispatches, over its budget of 20");
    // Issue 18's cnn-step budget is 30 (from 80); this build issues 28 (convolutions as implicit
    // GEMMs with the bias gradient in the weight gradient's product, the max-pool backward as one
    // gather, relu gradients read masked by the products, the weights read in place): the reached
    // count guards regressions.
    assert!(cnn_dispatches <= 28, "cnn-step issues {cnn_dispatches} dispatches, over this build's 28 (budget 30)");
}
