//! 16-bit floats in modules: a BF16 checkpoint saved by PyTorch loads into an F32 model (converted,
//! as `load_state_dict` copies), `Module::to_dtype`, and autograd on BF16/F16 parameters.

use std::collections::HashMap;

use ember_autograd::Variable;
use ember_nn::{BatchNorm1d, Linear, Module};
use ember_tensor::{io, DType, Tensor};

fn fixtures() -> HashMap<String, Tensor> {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../tensor/tests/fixtures/half.safetensors");
    io::load(p).unwrap().into_iter().collect()
}

#[test]
fn bf16_checkpoint_loads_into_f32_linear() {
    let f = fixtures();
    let fc = Linear::new(3, 2);
    fc.load_safetensors(concat!(env!("CARGO_MANIFEST_DIR"), "/../tensor/tests/fixtures/half_bf16.safetensors"))
        .unwrap();
    let sd: HashMap<String, Tensor> = fc.state_dict().into_iter().collect();
    assert_eq!(sd["weight"].dtype(), DType::F32);
    assert_eq!(sd["weight"].to_vec::<f32>(), f["linear.weight"].to_vec::<f32>());
    assert_eq!(sd["bias"].to_vec::<f32>(), f["linear.bias"].to_vec::<f32>());
    let y = fc.forward(&Variable::new(f["linear.x"].reshape(&[1, 3]), false)).data().to_vec::<f32>();
    for (a, b) in y.iter().zip(f["linear.y"].to_vec::<f32>()) {
        assert!((a - b).abs() < 1e-6, "{a} vs PyTorch {b}");
    }
}

#[test]
fn to_dtype_converts_floating_state_only() {
    let bn = BatchNorm1d::new(4);
    bn.to_dtype(DType::BF16);
    for (name, t) in bn.state_dict() {
        let want = if name == "num_batches_tracked" { DType::I64 } else { DType::BF16 };
        assert_eq!(t.dtype(), want, "{name}");
    }
    bn.to_dtype(DType::F32);
    assert!(bn
        .state_dict()
        .iter()
        .all(|(n, t)| t.dtype() == if n == "num_batches_tracked" { DType::I64 } else { DType::F32 }));
}

#[test]
fn autograd_on_half_parameters_matches_f32() {
    for dt in [DType::BF16, DType::F16] {
        ember_tensor::manual_seed(3);
        let fc = Linear::new(8, 4);
        let x = Tensor::randn(&[5, 8]);
        // Reference: the same (rounded) weights and input in f32.
        fc.to_dtype(dt);
        fc.to_dtype(DType::F32);
        let xr = x.to_dtype(dt).to_dtype(DType::F32);
        fc.forward(&Variable::new(xr.clone(), false)).tanh().sum().backward();
        let g32: Vec<Tensor> = fc.parameters().iter().map(|p| p.grad().unwrap()).collect();
        fc.zero_grad();
        fc.to_dtype(dt);
        for p in fc.parameters() {
            p.set_grad(None);
        }
        let y = fc.forward(&Variable::new(xr.to_dtype(dt), false)).tanh().sum();
        assert_eq!(y.data().dtype(), dt);
        y.backward();
        let tol = if dt == DType::BF16 { 0.05 } else { 0.01 };
        for (p, g) in fc.parameters().iter().zip(&g32) {
            let gh = p.grad().unwrap();
            assert_eq!(gh.dtype(), dt, "gradient dtype");
            let d = gh.to_dtype(DType::F32).sub(g).abs().max().item::<f32>();
            let scale = g.abs().max().item::<f32>().max(1.0);
            assert!(d <= tol * scale, "{dt}: gradient differs from f32 by {d}");
        }
    }
}
