//! Training runs unchanged on the GPU: the MLP and CNN of the benchmarks give the same losses on the
//! GPU as on the CPU (the flat-memory loop is in `gpu_memory.rs`).
//! Without an adapter these tests print one skip line, unless `EMBER_REQUIRE_GPU=1`.

use ember::prelude::*;
use ember_tests::gpu;

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
