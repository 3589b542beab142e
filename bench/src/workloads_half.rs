//! The half-precision workloads of issue 17: `matmul-N-bf16` / `matmul-N-f16` (a 16-bit
//! `[N,N] @ [N,N]`, GFLOP/s; on the CPU and, through the native 16-bit kernel, on a GPU) and
//! `mlp-step-amp` (CPU: mlp-step with its forward and loss under `autocast(BF16)` and the backward
//! and step through `GradScaler`, ms).

use ember::prelude::*;

use crate::workloads::mlp_model;

/// Reads one element back (as F32) so the work finishes inside the timed region.
fn sync(t: &Tensor) {
    std::hint::black_box(t.narrow(0, 0, 1).to_dtype(DType::F32).to_vec::<f32>().first().copied());
}

/// `[n,n] @ [n,n]` in the 16-bit `dtype` (operands made in f32 and rounded once).
pub fn matmul_half(device: &Device, n: usize, dtype: DType) -> impl FnMut() {
    let a = Tensor::randn(&[n, n]).to_dtype(dtype).to(device);
    let b = Tensor::randn(&[n, n]).to_dtype(dtype).to(device);
    move || sync(&a.matmul(&b).narrow(1, 0, 1))
}

/// mlp-step under mixed precision: `autocast(BF16)` around the forward and the loss (the linears
/// run in BF16, cross-entropy in F32), `GradScaler` around backward and the Adam step.
pub fn mlp_step_amp(device: &Device) -> impl FnMut() {
    let model = mlp_model();
    model.to_device(device);
    let mut opt = optim::Adam::new(model.parameters(), 1e-3);
    let mut scaler = optim::GradScaler::new();
    let x = Variable::from(Tensor::randn(&[128, 784]).to(device));
    let y = Variable::from(Tensor::randint(0, 10, &[128]).to(device));
    move || {
        let loss = ember::autocast(DType::BF16, || nn::functional::cross_entropy(&model.forward(&x), &y));
        opt.zero_grad();
        scaler.scale(&loss).backward();
        scaler.step(&mut opt);
        scaler.update();
        sync(&loss.data().reshape(&[1]));
    }
}
