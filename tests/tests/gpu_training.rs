//! Training runs unchanged on the GPU: the MLP and CNN of the benchmarks give the same losses on the
//! GPU as on the CPU, and a long training loop on the GPU reuses its buffers (flat memory).
//! Without an adapter these tests print one skip line, unless `EMBER_REQUIRE_GPU=1`.

use ember::prelude::*;

fn gpu() -> Option<Device> {
    match Device::gpu() {
        Ok(d) => Some(d),
        Err(e) => {
            if std::env::var("EMBER_REQUIRE_GPU").is_ok_and(|v| v == "1") {
                panic!("EMBER_REQUIRE_GPU=1 but no GPU is usable: {e}");
            }
            println!("skipping GPU test: no adapter (set EMBER_REQUIRE_GPU=1 to fail instead)");
            None
        }
    }
}

/// Losses of `steps` training steps of `make()` on `device`, starting from the weights `init`
/// (not from a seed: tests in other threads draw from the same process-wide generator).
fn losses(
    device: &Device,
    make: &dyn Fn() -> nn::Sequential,
    init: &[(String, Tensor)],
    opt: &dyn Fn(Vec<Variable>) -> Box<dyn Optimizer>,
    x: &Tensor,
    y: &Tensor,
    steps: usize,
) -> Vec<f32> {
    let model = make();
    model.load_state_dict(init).expect("same architecture");
    model.to_device(device);
    let mut opt = opt(model.parameters());
    let (x, y) = (Variable::from(x.to(device)), Variable::from(y.to(device)));
    (0..steps)
        .map(|_| {
            let loss = nn::functional::cross_entropy(&model.forward(&x), &y);
            opt.zero_grad();
            loss.backward();
            opt.step();
            loss.data().item::<f32>()
        })
        .collect()
}

fn assert_same(cpu: &[f32], gpu: &[f32], what: &str) {
    for (i, (a, b)) in cpu.iter().zip(gpu).enumerate() {
        assert!((a - b).abs() <= 1e-4 * (1.0 + a.abs()), "{what}: step {i}: cpu loss {a}, gpu loss {b}");
    }
}

#[test]
fn mlp_trains_the_same_on_gpu_and_cpu() {
    let Some(dev) = gpu() else { return };
    ember::manual_seed(1);
    let x = Tensor::randn(&[128, 784]);
    let y = Tensor::randint(0, 10, &[128]);
    let make = || {
        nn::Sequential::new()
            .add(nn::Linear::new(784, 512))
            .add(nn::Relu::new())
            .add(nn::Linear::new(512, 512))
            .add(nn::Relu::new())
            .add(nn::Linear::new(512, 10))
    };
    let adam = |p: Vec<Variable>| Box::new(optim::Adam::new(p, 1e-3)) as Box<dyn Optimizer>;
    let init = make().state_dict();
    let c = losses(&Device::Cpu, &make, &init, &adam, &x, &y, 3);
    let g = losses(&dev, &make, &init, &adam, &x, &y, 3);
    assert!(c[2] < c[0], "the loss falls: {c:?}");
    assert_same(&c, &g, "mlp");
}

#[test]
fn cnn_trains_the_same_on_gpu_and_cpu() {
    let Some(dev) = gpu() else { return };
    ember::manual_seed(2);
    let x = Tensor::randn(&[8, 1, 28, 28]);
    let y = Tensor::randint(0, 10, &[8]);
    let make = || {
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
    };
    let sgd = |p: Vec<Variable>| Box::new(optim::Sgd::new(p, 0.01).momentum(0.9)) as Box<dyn Optimizer>;
    let init = make().state_dict();
    let c = losses(&Device::Cpu, &make, &init, &sgd, &x, &y, 3);
    let g = losses(&dev, &make, &init, &sgd, &x, &y, 3);
    assert_same(&c, &g, "cnn");
}

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
    let mut last = 0.0;
    for _ in 0..10_000 {
        last = step().data().item::<f32>();
    }
    let after = ember::tensor::gpu_memory_stats(dev).expect("stats of a live GPU");
    assert!(last.is_finite());
    assert!(
        after.buffers <= warm.buffers + 8 && after.bytes <= warm.bytes + (1 << 16),
        "GPU memory grew over 10,000 steps: {warm:?} -> {after:?}"
    );
}
