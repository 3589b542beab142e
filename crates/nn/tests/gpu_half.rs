//! 16-bit models on the GPU: a BF16 checkpoint saved by PyTorch loads into a BF16 model on the GPU,
//! autograd through a BF16/F16 Linear on the GPU gives the CPU's 16-bit gradients, a small MLP
//! trains in BF16 on the GPU, and `autocast` runs on the GPU as on the CPU. Skipped without an
//! adapter unless `EMBER_REQUIRE_GPU=1`.

use std::collections::HashMap;

use ember_autograd::Variable;
use ember_nn::{Linear, Module};
use ember_tensor::{io, DType, Device, Tensor};

fn gpu() -> Option<Device> {
    match Device::gpu() {
        Ok(d) => Some(d),
        Err(e) => {
            assert!(std::env::var("EMBER_REQUIRE_GPU").map_or(true, |v| v != "1"), "EMBER_REQUIRE_GPU=1: {e}");
            println!("skipping GPU test: no adapter ({e})");
            None
        }
    }
}

fn fixtures() -> HashMap<String, Tensor> {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../tensor/tests/fixtures/half.safetensors");
    io::load(p).unwrap().into_iter().collect()
}

#[test]
fn bf16_checkpoint_loads_into_a_bf16_model_on_the_gpu() {
    let Some(dev) = gpu() else { return };
    let f = fixtures();
    let fc = Linear::new(3, 2);
    fc.to_device(&dev);
    fc.to_dtype(DType::BF16);
    fc.load_safetensors(concat!(env!("CARGO_MANIFEST_DIR"), "/../tensor/tests/fixtures/half_bf16.safetensors"))
        .unwrap();
    let sd: HashMap<String, Tensor> = fc.state_dict().into_iter().collect();
    for (name, key) in [("weight", "linear.weight"), ("bias", "linear.bias")] {
        let t = &sd[name];
        assert_eq!((t.dtype(), t.device()), (DType::BF16, dev), "{name}");
        // PyTorch's BF16 values, widened exactly
        assert_eq!(t.to_dtype(DType::F32).to_vec::<f32>(), f[key].to_vec::<f32>(), "{name}");
    }
    let x = f["linear.x"].reshape(&[1, 3]).to(&dev).to_dtype(DType::BF16);
    let y = fc.forward(&Variable::new(x, false)).data();
    assert_eq!((y.dtype(), y.device()), (DType::BF16, dev));
    // PyTorch's f32 output, within BF16's rounding of x and y
    for (a, b) in y.to_vec::<f32>().iter().zip(f["linear.y"].to_vec::<f32>()) {
        assert!((a - b).abs() <= 0.02 * b.abs().max(1.0), "{a} vs PyTorch {b}");
    }
}

#[test]
fn autograd_through_a_half_linear_on_the_gpu_matches_the_cpu() {
    let Some(dev) = gpu() else { return };
    for dt in [DType::BF16, DType::F16] {
        ember_tensor::manual_seed(3);
        let fc = Linear::new(8, 4);
        fc.to_dtype(dt);
        let x = Tensor::randn(&[5, 8]).to_dtype(dt);
        let run = |x: &Tensor| -> Vec<Tensor> {
            for p in fc.parameters() {
                p.set_grad(None);
            }
            let y = fc.forward(&Variable::new(x.clone(), false)).tanh().sum();
            assert_eq!(y.data().dtype(), dt);
            y.backward();
            fc.parameters().iter().map(|p| p.grad().unwrap()).collect()
        };
        let cpu = run(&x);
        fc.to_device(&dev);
        let on_gpu = run(&x.to(&dev));
        let tol = if dt == DType::BF16 { 2f32.powi(-6) } else { 2f32.powi(-9) };
        for (g, c) in on_gpu.iter().zip(&cpu) {
            assert_eq!((g.dtype(), g.device(), g.shape()), (dt, dev, c.shape()), "{dt} gradient");
            let (g, c) = (g.to_vec::<f32>(), c.to_vec::<f32>());
            let scale = c.iter().fold(1f32, |m, v| m.max(v.abs()));
            for (a, b) in g.iter().zip(&c) {
                assert!((a - b).abs() <= tol * scale, "{dt}: GPU gradient {a}, CPU {b}");
            }
        }
    }
}

#[test]
fn an_mlp_trains_in_bf16_on_the_gpu() {
    let Some(dev) = gpu() else { return };
    ember_tensor::manual_seed(7);
    let (l1, l2) = (Linear::new(4, 16), Linear::new(16, 1));
    for l in [&l1, &l2] {
        l.to_device(&dev);
        l.to_dtype(DType::BF16);
    }
    // y = sum of x: a target a small MLP fits quickly
    let x = Tensor::randn(&[64, 4]);
    let y = x.sum_dim(1, true);
    let (x, y) = (x.to(&dev).to_dtype(DType::BF16), y.to(&dev).to_dtype(DType::BF16));
    let mut losses = Vec::new();
    for _ in 0..60 {
        let h = l1.forward(&Variable::new(x.clone(), false)).relu();
        let d = l2.forward(&h) - Variable::new(y.clone(), false);
        let loss = (&d * &d).mean();
        losses.push(loss.data().to_dtype(DType::F32).item::<f32>());
        loss.backward();
        for p in l1.parameters().into_iter().chain(l2.parameters()) {
            let g = p.grad().unwrap();
            assert_eq!((g.dtype(), g.device()), (DType::BF16, dev));
            p.set_data(p.data().sub(&g.mul_scalar(0.05)));
            p.set_grad(None);
        }
    }
    let (first, last) = (losses[0], *losses.last().unwrap());
    assert!(last.is_finite() && last < 0.2 * first, "BF16 training on the GPU: loss {first} -> {last}");
}

#[test]
fn autocast_runs_on_the_gpu_as_on_the_cpu() {
    let Some(dev) = gpu() else { return };
    ember_tensor::manual_seed(11);
    let fc = Linear::new(6, 3);
    let x = Tensor::randn(&[4, 6]);
    // F32 parameters; inside autocast the product runs in BF16, the gradients stay F32
    let run = |x: &Tensor| -> (Tensor, Vec<Tensor>) {
        for p in fc.parameters() {
            p.set_grad(None);
        }
        let y = ember_autograd::autocast(DType::BF16, || fc.forward(&Variable::new(x.clone(), false)));
        assert_eq!(y.data().dtype(), DType::BF16);
        y.to_dtype(DType::F32).tanh().sum().backward();
        (y.data(), fc.parameters().iter().map(|p| p.grad().unwrap()).collect())
    };
    let (y_cpu, g_cpu) = run(&x);
    fc.to_device(&dev);
    let (y_gpu, g_gpu) = run(&x.to(&dev));
    assert_eq!(y_gpu.device(), dev);
    let close = |a: &Tensor, b: &Tensor, what: &str| {
        let (a, b) = (a.to_dtype(DType::F32).to_vec::<f32>(), b.to_dtype(DType::F32).to_vec::<f32>());
        let scale = b.iter().fold(1f32, |m, v| m.max(v.abs()));
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 2f32.powi(-6) * scale, "{what}: GPU {x}, CPU {y}");
        }
    };
    close(&y_gpu, &y_cpu, "autocast output");
    for (g, c) in g_gpu.iter().zip(&g_cpu) {
        assert_eq!((g.dtype(), g.device()), (DType::F32, dev), "gradient of an F32 parameter");
        close(g, c, "autocast gradient");
    }
}
