//! The workloads themselves; each returns a closure that runs one unit of work.

use ember::prelude::*;

/// Reads a result back so lazy backends finish the work inside the timed region.
fn sync(t: &Tensor) {
    std::hint::black_box(t.to_vec::<f32>().first().copied());
}

/// f32 `[n,n] @ [n,n]`.
pub fn matmul(device: &Device, n: usize) -> impl FnMut() {
    let a = Tensor::randn(&[n, n]).to(device);
    let b = Tensor::randn(&[n, n]).to(device);
    move || sync(&a.matmul(&b).narrow(0, 0, 1).narrow(1, 0, 1))
}

/// The mlp-step model: Linear 784-512-512-10 with ReLU between.
pub fn mlp_model() -> nn::Sequential {
    nn::Sequential::new()
        .add(nn::Linear::new(784, 512))
        .add(nn::Relu::new())
        .add(nn::Linear::new(512, 512))
        .add(nn::Relu::new())
        .add(nn::Linear::new(512, 10))
}

/// Linear 784-512-512-10, ReLU, batch 128, cross-entropy, Adam: one training step.
pub fn mlp_step(device: &Device) -> impl FnMut() {
    let model = mlp_model();
    model.to_device(device);
    let mut opt = optim::Adam::new(model.parameters(), 1e-3);
    let x = Variable::from(Tensor::randn(&[128, 784]).to(device));
    let y = Variable::from(Tensor::randint(0, 10, &[128]).to(device));
    move || {
        let loss = nn::functional::cross_entropy(&model.forward(&x), &y);
        opt.zero_grad();
        loss.backward();
        opt.step();
        sync(&loss.data());
    }
}

/// `steps` mlp steps (for the peak-memory measurement).
pub fn mlp_loop(device: &Device, steps: usize) {
    let mut step = mlp_step(device);
    for _ in 0..steps {
        step();
    }
}

/// The cnn-step model of API.md: two 3x3 convolutions with ReLU and 2x2 max pools, then
/// Linear 1568-128-10.
pub fn cnn_model() -> nn::Sequential {
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

/// The CNN of API.md on a batch of 64 1x28x28 images, SGD with momentum 0.9: one training step.
pub fn cnn_step(device: &Device) -> impl FnMut() {
    let model = cnn_model();
    model.to_device(device);
    let mut opt = optim::Sgd::new(model.parameters(), 0.01).momentum(0.9);
    let x = Variable::from(Tensor::randn(&[64, 1, 28, 28]).to(device));
    let y = Variable::from(Tensor::randint(0, 10, &[64]).to(device));
    move || {
        let loss = nn::functional::cross_entropy(&model.forward(&x), &y);
        opt.zero_grad();
        loss.backward();
        opt.step();
        sync(&loss.data());
    }
}

/// `a + b` on two 16-element tensors, `inner` times.
pub fn small_op(device: &Device, inner: usize) -> impl FnMut() {
    let a = Tensor::randn(&[16]).to(device);
    let b = Tensor::randn(&[16]).to(device);
    move || {
        let mut c = a.clone();
        for _ in 0..inner {
            c = std::hint::black_box(&a + &b);
        }
        sync(&c);
    }
}

/// `(w * x).sum().backward()` on 16 elements, `inner` times.
pub fn small_autograd(device: &Device, inner: usize) -> impl FnMut() {
    let w = Variable::new(Tensor::randn(&[16]).to(device), true);
    let x = Variable::from(Tensor::randn(&[16]).to(device));
    move || {
        for _ in 0..inner {
            (&w * &x).sum().backward();
        }
        sync(&w.grad().expect("grad"));
        w.zero_grad();
    }
}
